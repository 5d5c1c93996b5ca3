"""tfmodels.weights: transforms against hand-computed numpy, the load report, readers
(TF checkpoint, safetensors, npz, registered), and the atomic TF1 writer on the local
disk, ``file://`` and ``ram://``."""

import uuid

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfmodels import io
from tfmodels import weights as W
from tfmodels.layers import MultiHeadAttention


@pytest.fixture(params=["local", "file", "ram"])
def root(request, tmp_path):
    if request.param == "local":
        return str(tmp_path)
    if request.param == "file":
        return "file://" + str(tmp_path)
    path = f"ram://weights-{uuid.uuid4().hex}"
    tf.io.gfile.makedirs(path)
    return path


def _rng(seed=0):
    return np.random.default_rng(seed)


def test_torch_linear_layout_is_transposed():
    rng = _rng()
    weight = rng.normal(size=(3, 4)).astype(np.float32)  # torch Linear: [out, in]
    bias = rng.normal(size=3).astype(np.float32)
    dense = keras.layers.Dense(3)
    dense.build((None, 4))
    report = W.load_weights({"fc.weight": weight, "fc.bias": bias},
                            {"fc.weight": W.Target(dense.kernel, W.transpose),
                             "fc.bias": dense.bias}, strict=True)
    assert report.loaded == ["fc.weight", "fc.bias"] and report.ok
    x = rng.normal(size=(2, 4)).astype(np.float32)
    np.testing.assert_allclose(dense(x), x @ weight.T + bias, atol=1e-5)  # torch's F.linear


def test_conv_oihw_to_hwio_matches_a_hand_convolution():
    rng = _rng(1)
    weight = rng.normal(size=(5, 3, 2, 2)).astype(np.float32)  # torch Conv2d [O, I, kh, kw]
    conv = keras.layers.Conv2D(5, 2, strides=2, use_bias=False)
    conv.build((None, 4, 6, 3))
    W.load_weights({"w": weight}, {"w": W.Target(conv.kernel, W.conv_oihw_to_hwio)},
                   strict=True)
    img = rng.normal(size=(1, 4, 6, 3)).astype(np.float32)
    got = conv(img).numpy()
    # output (i, j, o) = sum over c, u, v of img[2i+u, 2j+v, c] * weight[o, c, u, v]
    want = np.zeros((1, 2, 3, 5), np.float32)
    for i in range(2):
        for j in range(3):
            patch = img[0, 2 * i:2 * i + 2, 2 * j:2 * j + 2, :]  # [u, v, c]
            want[0, i, j] = np.einsum("uvc,ocuv->o", patch, weight)
    np.testing.assert_allclose(got, want, atol=1e-5)
    with pytest.raises(ValueError, match="4-D"):
        W.conv_oihw_to_hwio(np.zeros((2, 2)))


def test_fused_qkv_split_into_three_variables():
    e = 8
    rng = _rng(2)
    in_proj = rng.normal(size=(3 * e, e)).astype(np.float32)  # torch in_proj_weight
    in_bias = rng.normal(size=3 * e).astype(np.float32)
    mha = MultiHeadAttention(2, 4)
    mha.build((None, 3, e))
    parts = ("query", "key", "value")
    table = {
        "in_proj_weight": [W.Target(getattr(mha, p).kernel, W.split(i, 3), W.transpose)
                           for i, p in enumerate(parts)],
        "in_proj_bias": [W.Target(getattr(mha, p).bias, W.split(i, 3))
                         for i, p in enumerate(parts)],
    }
    report = W.load_weights({"in_proj_weight": in_proj, "in_proj_bias": in_bias}, table)
    assert report.loaded == ["in_proj_weight", "in_proj_bias"]
    for i, p in enumerate(parts):
        np.testing.assert_array_equal(getattr(mha, p).kernel.numpy(),
                                      in_proj[i * e:(i + 1) * e].T)
        np.testing.assert_array_equal(getattr(mha, p).bias.numpy(), in_bias[i * e:(i + 1) * e])
    with pytest.raises(ValueError, match="cannot split"):
        W.split(0, 3)(np.zeros((4, 2)))


def test_reshape_transform():
    var = keras.Variable(np.zeros((6, 4), np.float32))
    value = np.arange(24, dtype=np.float32).reshape(6, 2, 2)  # e.g. [E, heads, head_dim]
    W.load_weights({"k": value}, {"k": W.Target(var, W.reshape(6, 4))})
    np.testing.assert_array_equal(var.numpy(), value.reshape(6, 4))


def test_report_missing_unexpected_ignored_and_strict():
    a = keras.Variable(np.zeros(2, np.float32))
    b = keras.Variable(np.zeros(3, np.float32))
    source = {"module.a": np.ones(2), "module.extra": np.ones(1), "step": np.int64(4),
              "module.a/adam_m": np.ones(2)}
    report = W.load_weights(source, {"a": a, "b": b}, ignore=[r"^step$", r"/adam_m$"],
                            rename=lambda n: n[len("module."):] if n.startswith("module.")
                            else n)
    assert report.loaded == ["module.a"]
    assert report.missing == ["b"]
    assert report.unexpected == ["module.extra"]
    assert sorted(report.ignored) == ["module.a/adam_m", "step"]
    assert not report.ok
    assert report.summary() == "loaded 1, missing 1, unexpected 1, ignored 2"
    assert "  missing: b" in str(report) and "  unexpected: module.extra" in str(report)
    np.testing.assert_array_equal(a.numpy(), [1.0, 1.0])
    with pytest.raises(ValueError, match=r"(?s)does not match the model.*missing: b"):
        W.load_weights(source, {"a": a, "b": b}, strict=True, ignore=[r"^step$", "adam"],
                       rename=lambda n: n.replace("module.", ""))
    # rename -> None drops a tensor into ``ignored``
    report = W.load_weights({"x": np.ones(2)}, {}, rename=lambda n: None)
    assert report.ignored == ["x"] and report.ok


def test_shape_mismatch_names_the_tensor_and_both_shapes():
    var = keras.Variable(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"shape mismatch for w in <dict>: checkpoint "
                                         r"\(3, 2\), model \(2, 3\)"):
        W.load_weights({"w": np.zeros((3, 2))}, {"w": var})


def test_two_source_names_for_one_table_name_is_an_error():
    with pytest.raises(ValueError, match="both give a"):
        W.load_weights({"x.a": np.ones(1), "y.a": np.ones(1)}, {},
                       rename=lambda n: n.split(".")[1])


def test_table_from_variables_and_check_covers():
    dense = keras.layers.Dense(2, name="fc")
    dense.build((None, 3))
    other = keras.Variable(np.zeros(1, np.float32), name="stray")

    def torch_name(path):
        layer, kind = path.split("/")
        return (f"{layer}.weight", W.transpose) if kind == "kernel" else f"{layer}.bias"

    table = W.table_from_variables(dense.weights, torch_name)
    assert sorted(table) == ["fc.bias", "fc.weight"]
    W.check_covers(dense.weights, table)
    with pytest.raises(ValueError, match="stray"):
        W.check_covers([*dense.weights, other], table, what="fc table")
    w = _rng(3).normal(size=(2, 3)).astype(np.float32)
    W.load_weights({"fc.weight": w, "fc.bias": np.zeros(2)}, table, strict=True)
    np.testing.assert_array_equal(dense.kernel.numpy(), w.T)


def test_readers_on_every_filesystem(root):
    from safetensors.numpy import save

    tensors = {"a": np.arange(6, dtype=np.float32).reshape(2, 3),
               "b": np.array([1.5, -2.0], np.float32)}
    st = io.join(root, "model.safetensors")
    with io.atomic_write(st, "wb") as f:
        f.write(save(tensors))
    npz = io.join(root, "model.npz")
    with io.atomic_path(npz) as tmp:
        buf = __import__("io").BytesIO()
        np.savez(buf, **tensors)
        with io.open_file(tmp, "wb") as f:
            f.write(buf.getvalue())
    ckpt = W.save_tf1_checkpoint(io.join(root, "sub", "model.ckpt"), tensors)
    for path, kind in ((st, W.SafetensorsReader), (npz, W.NpzReader),
                       (ckpt, W.TF1CheckpointReader)):
        reader = W.open_reader(path)
        assert isinstance(reader, kind)
        assert sorted(reader.names()) == ["a", "b"]
        for name, value in tensors.items():
            np.testing.assert_array_equal(reader.read(name), value)
        a = keras.Variable(np.zeros((2, 3), np.float32))
        b = keras.Variable(np.zeros(2, np.float32))
        assert W.load_weights(path, {"a": a, "b": b}, strict=True).ok
        np.testing.assert_array_equal(b.numpy(), tensors["b"])
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        W.open_reader(io.join(root, "nope.ckpt"))
    with pytest.raises(FileNotFoundError, match="safetensors file not found"):
        W.open_reader(io.join(root, "nope.safetensors"))


def test_registered_reader_hook():
    class Reader:  # what a torch .pth reader provides: names(), read(), path
        def __init__(self, path):
            self.path = path

        def names(self):
            return ["w"]

        def read(self, name):
            return np.full(2, 7.0)

    W.register_reader(".fake-pth", Reader)
    var = keras.Variable(np.zeros(2, np.float32))
    report = W.load_weights("some/model.fake-pth", {"w": var}, strict=True)
    assert report.loaded == ["w"]
    np.testing.assert_array_equal(var.numpy(), [7.0, 7.0])


def test_tf1_writer_is_atomic_and_keeps_state(root):
    d = io.join(root, "run")
    first = W.save_tf1_checkpoint(io.join(d, "model.ckpt-1"),
                                  {"x": tf.constant([1.0]), "global_step": np.int64(1)})
    assert W.read_checkpoint_state(d) == [first]
    assert io.read_text(io.join(d, "checkpoint")).startswith(
        'model_checkpoint_path: "model.ckpt-1"')
    second = W.save_tf1_checkpoint(io.join(d, "model.ckpt-2"), {"x": tf.constant([2.0])},
                                   write_state=False)
    assert W.read_checkpoint_state(d) == [first]  # not named until the caller says so
    W.write_checkpoint_state(d, [first, second])
    assert W.read_checkpoint_state(d) == [first, second]
    assert W.TF1CheckpointReader(second).read("x")[0] == 2.0
    # a failing save leaves neither a temporary nor a partial bundle
    with pytest.raises((ValueError, TypeError)):
        W.save_tf1_checkpoint(io.join(d, "model.ckpt-3"), {"x": object()})
    names = io.listdir(d)
    assert not [n for n in names if n.startswith(".") or "ckpt-3" in n], names
    W.remove_checkpoint(first)
    assert not [n for n in io.listdir(d) if n.startswith("model.ckpt-1.")]
    with pytest.raises(ValueError, match="tensors"):
        W.save_tf1_checkpoint(io.join(d, "empty"), {})
