"""Fine-tuning models, losses and metrics against independent references."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.bert.helpers import randomize, tiny_config
from tfmodels.metrics import classification as cm
from tfmodels.models.bert import save_tf1_checkpoint
from tfmodels.models.bert.checkpoint import resolve_checkpoint
from tfmodels.models.bert.classifier import BertClassifier, classifier_loss_fn, eval_batch_loss
from tfmodels.models.bert.span_labeler import BertSpanLabeler, position_loss, squad_loss_fn


def test_f1_mcc_match_sklearn():
    from sklearn.metrics import f1_score, matthews_corrcoef

    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    tp, fp = np.sum((p == 1) & (y == 1)), np.sum((p == 1) & (y == 0))
    fn, tn = np.sum((p == 0) & (y == 1)), np.sum((p == 0) & (y == 0))
    assert cm.f1_from_counts(tp, fp, fn) == pytest.approx(f1_score(y, p))
    assert cm.mcc_from_counts(tp, fp, fn, tn) == pytest.approx(matthews_corrcoef(y, p))
    # Fractions (what the distributed eval sums) give the same values.
    assert cm.mcc_from_counts(tp / 200, fp / 200, fn / 200, tn / 200) == pytest.approx(
        matthews_corrcoef(y, p))


def test_correlations_match_scipy():
    from scipy.stats import pearsonr, spearmanr

    rng = np.random.default_rng(1)
    x = rng.integers(0, 6, 50).astype(float)  # ties
    y = x + rng.normal(0, 1.5, 50)
    assert cm.pearson(x, y) == pytest.approx(pearsonr(x, y)[0])
    assert cm.spearman(x, y) == pytest.approx(spearmanr(x, y)[0])


def _features(config, batch=4, length=7, seed=0):
    rng = np.random.default_rng(seed)
    return {"input_ids": tf.constant(rng.integers(1, config.vocab_size, (batch, length)),
                                     tf.int32),
            "input_mask": tf.ones((batch, length), tf.int32),
            "segment_ids": tf.zeros((batch, length), tf.int32)}


def test_classifier_loss_and_metrics_hand_checked():
    config = tiny_config()
    model = BertClassifier(config, 2)
    model.build()
    randomize(model.bert, [model.classifier], seed=3)
    features = _features(config)
    features["label_ids"] = tf.constant([0, 1, 1, 0])
    features["is_real_example"] = tf.constant([1, 1, 1, 0])
    logits = model(features, training=False).numpy()
    log_probs = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    nll = -log_probs[np.arange(4), [0, 1, 1, 0]]
    loss, metrics = classifier_loss_fn(model, features, training=False)
    assert float(loss) == pytest.approx(nll.mean(), rel=1e-5)  # the original: batch mean
    total, count = metrics["per_example_loss"]
    assert float(count) == 3 and float(total) == pytest.approx(nll[:3].sum(), rel=1e-5)
    pred = logits.argmax(1)
    assert float(metrics["accuracy"][0]) == np.sum((pred == [0, 1, 1, 0])[:3])
    tp = np.sum((pred[:3] == 1) & (np.array([0, 1, 1]) == 1))
    assert float(metrics["tp"][0]) == tp
    batch = eval_batch_loss(metrics)["loss"]
    assert float(batch[0]) == pytest.approx(nll[:3].mean(), rel=1e-5)


def test_regression_loss_is_squared_error():
    config = tiny_config()
    model = BertClassifier(config, 1, regression=True)
    model.build()
    features = _features(config)
    features["label_ids"] = tf.constant([0.5, 1.0, 4.0, 2.5])
    scores = model(features, training=False).numpy()[:, 0]
    loss, metrics = classifier_loss_fn(model, features, training=False)
    expected = (scores - [0.5, 1.0, 4.0, 2.5]) ** 2
    assert float(loss) == pytest.approx(expected.mean(), rel=1e-5)
    assert "accuracy" not in metrics


def test_squad_loss_matches_numpy():
    config = tiny_config()
    model = BertSpanLabeler(config)
    model.build()
    randomize(model.bert, [model.squad], seed=4)
    features = _features(config)
    features["start_positions"] = tf.constant([0, 3, 6, 2])
    features["end_positions"] = tf.constant([0, 4, 6, 5])
    out = model(features, training=False)

    def nll(logits, pos):
        logits = logits.numpy()
        lp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        return -lp[np.arange(4), pos]

    expected = (nll(out["start_logits"], [0, 3, 6, 2]).mean()
                + nll(out["end_logits"], [0, 4, 6, 5]).mean()) / 2
    loss, _ = squad_loss_fn(model, features, training=False)
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    np.testing.assert_allclose(position_loss(out["start_logits"], [0, 3, 6, 2]),
                               nll(out["start_logits"], [0, 3, 6, 2]), rtol=1e-5)


@pytest.mark.parametrize("cls,args", [(BertClassifier, (3,)), (BertSpanLabeler, ())])
def test_keras_round_trip(tmp_path, cls, args):
    import keras

    config = tiny_config()
    model = cls(config, *args)
    model.build()
    randomize(model.bert, model.heads, seed=5)
    features = _features(config)
    before = model(features, training=False)
    path = str(tmp_path / "m.keras")
    model.save(path)
    again = keras.models.load_model(path)
    after = again(features, training=False)
    tf.nest.map_structure(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-6),
                          before, after)


def test_resolve_checkpoint(tmp_path):
    config = tiny_config()
    model = BertClassifier(config, 2)
    model.build()
    (tmp_path / "run").mkdir()
    prefix = save_tf1_checkpoint(str(tmp_path / "run" / "model.ckpt-7"), model.bert,
                                 model.heads)
    assert resolve_checkpoint(str(tmp_path / "run")) == prefix
    assert resolve_checkpoint(prefix) == prefix
    with pytest.raises(FileNotFoundError, match="holds no checkpoint"):
        resolve_checkpoint(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        resolve_checkpoint(str(tmp_path / "nope.ckpt"))


def test_run_classifier_eval_keys_per_task():
    """eval_results.txt keys: the original four, MCC for CoLA, F1 for MRPC, correlations
    (against scipy on the model's scores) for the STS-B regression."""
    from absl import flags

    from tests.finetune.fixtures import load_script

    before = set(flags.FLAGS)
    try:
        script = load_script("run_classifier")
        _check_eval_keys(script)
    finally:  # the script's absl flags must not clash with another script loaded later
        for name in set(flags.FLAGS) - before:
            delattr(flags.FLAGS, name)


def _check_eval_keys(script):
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import matthews_corrcoef

    result = {"per_example_loss": 0.5, "loss": 0.25, "global_step": 3, "accuracy": 0.75,
              "tp": 0.375, "fp": 0.125, "fn": 0.125, "tn": 0.375}
    cola = script.eval_results("cola", result, None, None, regression=False)
    assert sorted(cola) == ["eval_accuracy", "eval_loss", "eval_mcc", "global_step", "loss"]
    y = [1, 1, 1, 0, 1, 0, 0, 0]
    p = [1, 1, 1, 1, 0, 0, 0, 0]  # tp 3, fp 1, fn 1, tn 3 (the fractions above x 8)
    assert float(cola["eval_mcc"]) == pytest.approx(matthews_corrcoef(y, p), rel=1e-6)
    assert cola["eval_accuracy"] == "0.75" and cola["global_step"] == 3
    assert sorted(script.eval_results("mrpc", result, None, None, False))[1] == "eval_f1"

    config = tiny_config()
    model = BertClassifier(config, 1, regression=True)
    model.build()
    randomize(model.bert, model.heads, seed=6)
    features = _features(config, batch=10, seed=2)
    features["label_ids"] = tf.constant(np.linspace(0, 5, 10), tf.float32)
    features["is_real_example"] = tf.constant([1] * 9 + [0], tf.int32)
    dataset = tf.data.Dataset.from_tensor_slices(features).batch(4)
    stsb = script.eval_results("stsb", {"per_example_loss": 1.0, "loss": 1.0,
                                        "global_step": 0}, model, dataset, regression=True)
    assert sorted(stsb) == ["eval_loss", "eval_pearson", "eval_spearman", "global_step", "loss"]
    scores = model(features, training=False).numpy()[:9, 0]
    labels = np.linspace(0, 5, 10)[:9]
    assert float(stsb["eval_pearson"]) == pytest.approx(pearsonr(scores, labels)[0], abs=1e-5)
    assert float(stsb["eval_spearman"]) == pytest.approx(spearmanr(scores, labels)[0],
                                                         abs=1e-5)
