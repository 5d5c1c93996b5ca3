"""Keras serialization: BertModel, the heads and the pretrainer round-trip through
``model.save("x.keras")`` + ``keras.models.load_model`` with identical outputs."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.bert.helpers import random_inputs, randomize, tiny_config
from tfmodels.models.bert import (
    BertModel,
    BertPretrainingHeads,
    ClassifierHead,
    MaskedLMHead,
    NextSentenceHead,
    SpanHead,
)
from tfmodels.models.bert.pretraining import BertPretrainer


def _reload(model, tmp_path, name):
    path = str(tmp_path / f"{name}.keras")
    model.save(path)
    return keras.models.load_model(path)


def test_bert_model_round_trip(tmp_path):
    config = tiny_config(hidden_act="gelu_exact", layer_norm_eps=1e-6)
    model = BertModel(config, output_all_layers=False, name="my_bert")
    randomize(model, seed=1)
    ids, mask, types = random_inputs(config)
    want = model([ids, mask, types])
    again = _reload(model, tmp_path, "bert")
    assert type(again) is BertModel and again.name == "my_bert"
    assert again.config == config and again.output_all_layers is False
    got = again([ids, mask, types])
    assert sorted(got) == sorted(want)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])


def _functional(head, width, time=None):
    shape = (width,) if time is None else (time, width)
    x = keras.Input(shape)
    out = head(x)
    return keras.Model(x, list(out) if isinstance(out, tuple) else out)


@pytest.mark.parametrize("make", [
    lambda: ClassifierHead(3, 32, dropout=0.2, initializer_range=0.05),
    lambda: SpanHead(32, initializer_range=0.05),
    lambda: NextSentenceHead(tiny_config()),
])
def test_self_contained_heads_round_trip(make, tmp_path):
    head = make()
    is_span = isinstance(head, SpanHead)
    model = _functional(head, 32, time=7 if is_span else None)
    rng = np.random.default_rng(0)
    for var in head.weights:  # non-trivial weights, biases included
        var.assign(rng.normal(size=tuple(var.shape)).astype(np.float32))
    x = rng.normal(size=(4, 7, 32) if is_span else (4, 32)).astype(np.float32)
    want = model(x, training=False)
    again = _reload(model, tmp_path, type(head).__name__)
    inner = again.layers[-1]
    assert type(inner) is type(head) and inner.get_config() == head.get_config()
    got = again(x, training=False)
    for a, b in zip(keras.tree.flatten(got), keras.tree.flatten(want)):
        np.testing.assert_array_equal(a, b)


def test_pretrainer_round_trip_keeps_the_tie(tmp_path):
    config = tiny_config()
    pretrainer = BertPretrainer(config, name="pretrainer")
    pretrainer.build()
    randomize(pretrainer.bert, [pretrainer.cls], seed=2)
    ids, mask, types = random_inputs(config)
    features = {"input_ids": ids, "input_mask": mask, "segment_ids": types,
                "masked_lm_positions": np.array([[1, 2], [0, 3], [1, 1]], np.int32)}
    want = pretrainer(features, training=False)
    again = _reload(pretrainer, tmp_path, "pretrainer")
    assert type(again) is BertPretrainer and again.config == config
    got = again(features, training=False)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])
    # the decoder still reads the (reloaded) word embeddings, not a copy
    assert len(again.weights) == len(pretrainer.weights)
    table = again.bert.word_embeddings.embeddings
    table.assign(table.numpy() * 0.5)
    changed = again(features, training=False)["masked_lm_log_probs"]
    assert np.abs(np.asarray(changed) - np.asarray(want["masked_lm_log_probs"])).max() > 1e-3


def test_pretraining_heads_config_round_trip_and_retie():
    config = tiny_config()
    bert = BertModel(config)
    heads = BertPretrainingHeads(config, bert)
    heads.build()
    randomize(bert, [heads], seed=3)
    ids, mask, types = random_inputs(config)
    outputs = bert([ids, mask, types])
    positions = np.array([[1, 2], [0, 3], [1, 1]], np.int32)
    want = heads(outputs, positions)

    clone = BertPretrainingHeads.from_config(heads.get_config())
    assert isinstance(clone.predictions, MaskedLMHead) and clone.config == config
    clone.build()
    clone.set_weights(heads.get_weights())
    with pytest.raises(ValueError, match="tie"):
        clone(outputs, positions)
    clone.tie(bert)
    got = clone(outputs, positions)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])
