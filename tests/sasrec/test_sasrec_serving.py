"""SASRec SavedModel: loaded and run in a fresh process without tfmodels."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tfmodels.models.sasrec import SASRec
from tfmodels.models.sasrec.serving import export_saved_model

CLIENT = """
import json, sys
import numpy as np
import pytest
import tensorflow as tf
m = tf.saved_model.load(sys.argv[1])
f = m.signatures["serving_default"]
hist = tf.constant(json.loads(sys.argv[2]), tf.int64)
out = {}
for ex in (False, True):
    r = f(history=hist, exclude_seen=tf.constant(ex))
    out[str(ex)] = {k: v.numpy().tolist() for k, v in r.items()}
out["tfmodels_loaded"] = "tfmodels" in sys.modules
print(json.dumps(out))
"""


@pytest.mark.slow
def test_export_runs_in_a_fresh_process_without_tfmodels(tmp_path):
    model = SASRec(30, maxlen=6, hidden_units=8, num_blocks=2, num_heads=2, dropout_rate=0.5)
    export = str(tmp_path / "export")
    export_saved_model(model, export, k=5)
    pb = open(os.path.join(export, "saved_model.pb"), "rb").read()
    assert b"TfmLayerNorm" not in pb
    # row 0: longer than maxlen, right-padded; row 1: short, left-padded
    hist = [[3, 9, 4, 4, 17, 2, 8, 11, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 5, 6]]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    proc = subprocess.run([sys.executable, "-c", CLIENT, export, json.dumps(hist)],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["tfmodels_loaded"] is False
    inputs = np.array([[4, 4, 17, 2, 8, 11], [0, 0, 0, 0, 5, 6]])
    scores = model.score_all(model.last_features(inputs)).numpy()
    scores[:, 0] = -np.inf
    for exclude in (False, True):
        s = scores.copy()
        if exclude:
            for r, h in enumerate(hist):
                s[r, [i for i in h if i]] = -np.inf
        want = np.argsort(-s, axis=1, kind="stable")[:, :5]
        got = out[str(exclude)]
        np.testing.assert_array_equal(got["item_ids"], want)
        np.testing.assert_allclose(got["scores"], np.take_along_axis(s, want, 1), atol=1e-4)
    assert not set(out["True"]["item_ids"][0]) & {3, 9, 4, 17, 2, 8, 11}
