"""Checkpoint compatibility: original TF1 names (written by tf.compat.v1 Saver, as
the original code does), the round trip back to them, and HF safetensors."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.bert.helpers import random_inputs, randomize, tiny_config
from tfmodels.models.bert import (
    BertModel,
    BertPretrainingHeads,
    ClassifierHead,
    load_checkpoint,
    load_tf1_checkpoint,
    original_names,
    save_tf1_checkpoint,
)

LAYER_NAMES = [  # per layer, as in google-research/bert modeling.py
    "attention/self/query/kernel", "attention/self/query/bias",
    "attention/self/key/kernel", "attention/self/key/bias",
    "attention/self/value/kernel", "attention/self/value/bias",
    "attention/output/dense/kernel", "attention/output/dense/bias",
    "attention/output/LayerNorm/gamma", "attention/output/LayerNorm/beta",
    "intermediate/dense/kernel", "intermediate/dense/bias",
    "output/dense/kernel", "output/dense/bias",
    "output/LayerNorm/gamma", "output/LayerNorm/beta",
]
OTHER_NAMES = [
    "bert/embeddings/word_embeddings", "bert/embeddings/token_type_embeddings",
    "bert/embeddings/position_embeddings", "bert/embeddings/LayerNorm/gamma",
    "bert/embeddings/LayerNorm/beta", "bert/pooler/dense/kernel", "bert/pooler/dense/bias",
    "cls/predictions/transform/dense/kernel", "cls/predictions/transform/dense/bias",
    "cls/predictions/transform/LayerNorm/gamma", "cls/predictions/transform/LayerNorm/beta",
    "cls/predictions/output_bias", "cls/seq_relationship/output_weights",
    "cls/seq_relationship/output_bias",
]


def _expected_names(num_layers):
    return set(OTHER_NAMES) | {f"bert/encoder/layer_{i}/{n}" for i in range(num_layers)
                               for n in LAYER_NAMES}


def _shapes(config):
    h, i, v = config.hidden_size, config.intermediate_size, config.vocab_size
    return {"bert/embeddings/word_embeddings": (v, h),
            "bert/embeddings/token_type_embeddings": (config.type_vocab_size, h),
            "bert/embeddings/position_embeddings": (config.max_position_embeddings, h),
            "bert/encoder/layer_1/intermediate/dense/kernel": (h, i),
            "bert/encoder/layer_1/output/dense/kernel": (i, h),
            "cls/predictions/output_bias": (v,),
            "cls/seq_relationship/output_weights": (2, h)}


def _build(config):
    model = BertModel(config)
    heads = BertPretrainingHeads(config, model)
    return model, heads


def test_name_table_is_the_original():
    config = tiny_config()
    model, heads = _build(config)
    table = original_names(model, heads)
    assert set(table) == _expected_names(config.num_hidden_layers)
    for name, shape in _shapes(config).items():
        assert tuple(table[name].shape) == shape
    assert len({id(v) for v in table.values()}) == len(table)
    assert len(table) == len(model.weights) + len(heads.weights)


def _write_like_tf1(prefix, values):
    """Save with tf.compat.v1 Saver in a graph, as the original run_pretraining does."""
    with tf.Graph().as_default():
        variables = [tf.compat.v1.get_variable(name, initializer=tf.constant(value))
                     for name, value in values.items()]
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.save(sess, prefix)


def test_load_original_tf1_checkpoint(tmp_path):
    config = tiny_config()
    rng = np.random.default_rng(0)
    values = {}
    ref_model, ref_heads = _build(config)
    for name, var in original_names(ref_model, ref_heads).items():
        values[name] = rng.normal(size=tuple(var.shape)).astype(np.float32)
    extra = {"global_step": np.int64(1000),
             "bert/pooler/dense/kernel/adam_m": np.zeros((32, 32), np.float32),
             "cls/squad/output_weights": np.zeros((2, 32), np.float32)}
    prefix = str(tmp_path / "uncased_tiny" / "bert_model.ckpt")
    _write_like_tf1(prefix, {**values, **extra})

    model, heads = _build(config)
    report = load_tf1_checkpoint(prefix, model, heads)
    assert sorted(report.loaded) == sorted(values)
    assert report.missing == []
    assert report.unexpected == ["cls/squad/output_weights"]
    assert sorted(report.ignored) == ["bert/pooler/dense/kernel/adam_m", "global_step"]
    table = original_names(model, heads)
    for name, value in values.items():
        np.testing.assert_array_equal(table[name].numpy(), value)
    with pytest.raises(ValueError, match="does not match"):
        load_tf1_checkpoint(prefix, BertModel(config), [ClassifierHead(2, 32)], strict=True)


def test_missing_and_mismatched_checkpoints(tmp_path):
    config = tiny_config()
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_checkpoint(str(tmp_path / "nope" / "bert_model.ckpt"), BertModel(config))
    model, heads = _build(config)
    prefix = save_tf1_checkpoint(str(tmp_path / "a" / "bert_model.ckpt"), model, heads)
    wider = BertModel(tiny_config(intermediate_size=40))
    with pytest.raises(ValueError, match="shape mismatch.*intermediate"):
        load_tf1_checkpoint(prefix, wider)


def test_round_trip_through_original_names(tmp_path):
    config = tiny_config()
    model, heads = _build(config)
    weights = randomize(model, heads, seed=5)
    prefix = save_tf1_checkpoint(str(tmp_path / "out" / "bert_model.ckpt"), model, heads,
                                 global_step=7)
    reader = tf.train.load_checkpoint(prefix)
    shapes = reader.get_variable_to_shape_map()
    assert set(shapes) == _expected_names(config.num_hidden_layers) | {"global_step"}
    for name, value in weights.items():
        np.testing.assert_array_equal(reader.get_tensor(name), value)
    assert reader.get_tensor("global_step") == 7
    assert (tmp_path / "out" / "checkpoint").read_text().startswith(
        'model_checkpoint_path: "bert_model.ckpt"')

    fresh, fresh_heads = _build(config)
    report = load_checkpoint(prefix, fresh, fresh_heads, strict=True)
    assert report.ignored == ["global_step"]
    ids, mask, types = random_inputs(config)
    a = model([ids, mask, types])["sequence_output"]
    b = fresh([ids, mask, types])["sequence_output"]
    np.testing.assert_array_equal(a, b)
