"""run_classifier.py end to end: a tiny BERT learns a separable task; original outputs."""

from __future__ import annotations

import numpy as np


def eval_results(path):
    out = {}
    for line in path.read_text().splitlines():
        key, value = line.split(" = ")
        out[key] = value
    return out


def test_learns_separable_task_and_writes_original_outputs(clf_run):
    out, proc, test = clf_run["out"], clf_run["proc"], clf_run["test"]
    results = eval_results(out / "eval_results.txt")
    assert list(results) == ["eval_accuracy", "eval_loss", "global_step", "loss"]
    assert float(results["eval_accuracy"]) >= 0.95, proc.stdout[-2000:]
    assert int(results["global_step"]) == int(256 / 16 * 5)
    rows = [line.split("\t") for line in (out / "test_results.tsv").read_text().splitlines()]
    assert len(rows) == len(test) and all(len(r) == 2 for r in rows)
    probs = np.asarray(rows, np.float64)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    labels = np.asarray([int(r[1]) for r in test])
    assert (probs.argmax(1) == labels).mean() >= 0.9
    for name in ("train.tf_record", "eval.tf_record", "predict.tf_record", "checkpoint",
                 "model.ckpt-80.index"):
        assert (out / name).exists(), name
    # Loaded from the original-format init checkpoint: all but the new head.
    assert "loaded 39, missing 2" in proc.stdout
    assert "step 16/80" in proc.stdout and "examples/s" in proc.stdout


def test_checkpoint_has_original_names(clf_run):
    import tensorflow as tf

    names = dict(tf.train.list_variables(str(clf_run["out"] / "model.ckpt-80")))
    assert names["output_weights"] == [2, 32] and names["output_bias"] == [2]
    assert "bert/encoder/layer_1/output/LayerNorm/gamma" in names
    assert "output_weights/adam_m" in names and "global_step" in names
