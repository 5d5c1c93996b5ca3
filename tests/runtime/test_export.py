"""tfmodels.export: LayerNorm exports as standard ops and loads where our library never ran."""

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tfmodels import export
from tfmodels.layers import LayerNorm
from tfmodels.ops.layer_norm_op import OP_TYPE, active_implementation

_CHILD = """
import sys
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import op_def_registry
loaded = tf.saved_model.load(sys.argv[1])
x = np.load(sys.argv[2])
y = loaded.signatures["serving_default"](x=tf.constant(x))["y"].numpy()
np.save(sys.argv[3], y)
assert op_def_registry.get("TfmLayerNorm") is None, "our op library was loaded"
assert not any(m.startswith("tfmodels") for m in sys.modules), "tfmodels was imported"
"""


class _Norm(tf.Module):
    def __init__(self):
        super().__init__()
        self.norm = LayerNorm(epsilon=1e-5)
        self.norm.build((None, 16))
        self.norm.gamma.assign(np.linspace(0.5, 1.5, 16).astype("float32"))
        self.norm.beta.assign(np.linspace(-1, 1, 16).astype("float32"))

    @tf.function(input_signature=[tf.TensorSpec([None, 16], tf.float32, name="x")])
    def serve(self, x):
        return {"y": self.norm(x)}


def test_export_holds_no_op_of_ours_and_serves_in_fresh_process(tmp_path):
    module = _Norm()
    x = np.random.default_rng(0).normal(size=(3, 16)).astype("float32")
    expected = module.norm(x).numpy()
    if active_implementation() == "custom_op":  # the in-process layer runs our op
        graph = tf.function(module.norm).get_concrete_function(
            tf.TensorSpec([None, 16], tf.float32)).graph.as_graph_def()
        assert OP_TYPE in {n.op for n in graph.node}
    export_dir = str(tmp_path / "export")
    export.save(module, export_dir, signatures={"serving_default": module.serve})
    assert export.custom_op_types(export_dir) == set()
    np.save(tmp_path / "x.npy", x)
    proc = subprocess.run([sys.executable, "-c", _CHILD, export_dir, str(tmp_path / "x.npy"),
                           str(tmp_path / "y.npy")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    reference = (x - mean) / np.sqrt(var + 1e-5) * module.norm.gamma.numpy() + \
        module.norm.beta.numpy()
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), reference, atol=1e-5)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, atol=1e-5)


def test_trace_made_outside_is_refused(tmp_path):
    if active_implementation() != "custom_op":
        pytest.skip("the fused op library is not built here")
    module = _Norm()
    module.serve.get_concrete_function()  # traced with the fused op
    try:
        export.save(module, str(tmp_path / "e"), signatures={"serving_default": module.serve})
    except RuntimeError as e:
        assert "ops of ours" in str(e)
    else:
        raise AssertionError("an export holding TfmLayerNorm was accepted")
    assert not (tmp_path / "e").exists()
