"""SavedModel serving from a fresh process vs the in-process model; save/load round trip."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from tfmodels.models.gru4rec.checkpoint import load_model, save_model
from tfmodels.models.gru4rec.model import GRU4Rec
from tfmodels.models.gru4rec.params import GRU4RecParams

SESSION = [4, 17, 17, 2, 30]
OTHER = [9, 3, 3, 8, 1]

_CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    sm = tf.saved_model.load(sys.argv[1])
    items, other = json.loads(sys.argv[2]), json.loads(sys.argv[3])
    k = tf.constant(5, tf.int32)
    hist = sm.signatures["recommend_session"](items=tf.constant(items, tf.int32), k=k)
    step = sm.signatures["recommend_step"]
    width = hist["hidden"].shape[-1]
    h = tf.zeros((2, width))  # two live sessions served side by side, one state each
    for a, b in zip(items, other):
        out = step(hidden=h, item=tf.constant([a, b], tf.int32), k=k)
        h = out["hidden"]
    print(json.dumps({
        "hist_idx": hist["item_idx"].numpy().tolist(),
        "hist_scores": hist["scores"].numpy().tolist(),
        "hist_ids": hist["item_ids"].numpy().tolist(),
        "hist_hidden": hist["hidden"].numpy().tolist(),
        "step_idx": out["item_idx"].numpy().tolist(),
        "step_scores": out["scores"].numpy().tolist(),
    }))
""")


@pytest.fixture(scope="module")
def model():
    m = GRU4Rec(40, GRU4RecParams(layers=[12, 8], constrained_embedding=False, embedding=10,
                                  seed=5), item_ids=np.arange(40) * 100 + 7)
    m.By.assign(np.random.default_rng(0).normal(size=40).astype(np.float32))
    return m


def test_saved_model_in_fresh_process(model, tmp_path):
    from tfmodels.models.gru4rec.serving import export_saved_model

    export_dir = str(tmp_path / "sm")
    export_saved_model(model, export_dir)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    res = subprocess.run([sys.executable, "-c", _CHILD, export_dir, json.dumps(SESSION),
                          json.dumps(OTHER)],
                         capture_output=True, text=True, env=env, timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])

    ref_idx, ref_scores = model.recommend(SESSION, k=5)
    scores, hidden = model.session_state(SESSION)
    np.testing.assert_array_equal(got["hist_idx"], ref_idx)
    np.testing.assert_allclose(got["hist_scores"], ref_scores, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got["hist_ids"], model.item_ids[ref_idx])
    np.testing.assert_allclose(got["hist_hidden"],
                               np.concatenate([h.numpy()[0] for h in hidden]), atol=1e-6)
    # The stepwise signature, fed the same items, ends in the same state and ranking.
    np.testing.assert_array_equal(got["step_idx"][0], ref_idx)
    np.testing.assert_allclose(got["step_scores"][0], ref_scores, rtol=1e-5, atol=1e-6)
    other_idx, other_scores = model.recommend(OTHER, k=5)
    np.testing.assert_array_equal(got["step_idx"][1], other_idx)
    np.testing.assert_allclose(got["step_scores"][1], other_scores, rtol=1e-5, atol=1e-6)


def test_save_load_round_trip(model, tmp_path):
    path = str(tmp_path / "m.npz")
    save_model(model, path)
    loaded = load_model(path)
    assert loaded.params == model.params
    np.testing.assert_array_equal(loaded.item_ids, model.item_ids)
    a, sa = model.recommend(SESSION, 7)
    b, sb = loaded.recommend(SESSION, 7)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(sa, sb)


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(str(tmp_path / "missing.npz"))
    bad = tmp_path / "bad.npz"
    bad.write_text("not a model")
    with pytest.raises(ValueError, match="not a GRU4Rec model file"):
        load_model(str(bad))


def test_serving_step_checks_item_range(model, tmp_path):
    from tfmodels.models.gru4rec.serving import GRU4RecServing

    module = GRU4RecServing(model)
    with pytest.raises(tf.errors.InvalidArgumentError):
        module.recommend_step(tf.zeros((1, 20)), tf.constant([40]), tf.constant(3))


def test_save_load_and_export_on_ram_filesystem(model, monkeypatch):
    import uuid

    from tfmodels.models.gru4rec import serving

    root = f"ram://gru4rec-{uuid.uuid4().hex}"
    save_model(model, root + "/models/m.npz")  # the parent directory is created
    loaded = load_model(root + "/models/m.npz")
    np.testing.assert_array_equal(loaded.recommend(SESSION, 5)[0], model.recommend(SESSION, 5)[0])
    export_dir = root + "/export"
    serving.export_saved_model(model, export_dir)
    sm = tf.saved_model.load(export_dir)
    out = sm.signatures["recommend_session"](items=tf.constant(SESSION, tf.int32),
                                             k=tf.constant(5))
    np.testing.assert_array_equal(out["item_idx"].numpy(), model.recommend(SESSION, 5)[0])

    def failing_save(module, path, signatures=None):
        tf.io.gfile.makedirs(path + "/variables")  # a partial export, then a failure
        raise RuntimeError("export failed")

    monkeypatch.setattr(serving.tf.saved_model, "save", failing_save)
    with pytest.raises(RuntimeError, match="export failed"):
        serving.export_saved_model(model, export_dir)
    assert sorted(p.rstrip("/") for p in tf.io.gfile.listdir(root)) == ["export", "models"]
    sm = tf.saved_model.load(export_dir)  # the previous export is intact
    assert "recommend_step" in sm.signatures
