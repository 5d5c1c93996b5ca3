"""BertModel against a float64 numpy re-derivation of the original modeling.py."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.bert import numpy_reference as ref
from tests.bert.helpers import random_inputs, tiny_config, tiny_model
from tfmodels.models.bert import BertModel


@pytest.mark.parametrize("hidden_act", ["gelu", "gelu_exact", "relu"])
def test_forward_matches_numpy(hidden_act):
    config, model, weights = tiny_model(hidden_act=hidden_act)
    ids, mask, types = random_inputs(config)
    out = model({"input_ids": ids, "input_mask": mask, "token_type_ids": types})
    layers, pooled = ref.bert_forward(weights, config, ids, mask, types)
    np.testing.assert_allclose(out["sequence_output"], layers[-1], atol=2e-5)
    np.testing.assert_allclose(out["pooled_output"], pooled, atol=2e-5)
    assert len(out["encoder_outputs"]) == config.num_hidden_layers
    for ours, theirs in zip(out["encoder_outputs"], layers):
        np.testing.assert_allclose(ours, theirs, atol=2e-5)
    assert out["embedding_output"].shape == (3, 11, config.hidden_size)


def test_padding_does_not_change_real_positions():
    config, model, _ = tiny_model()
    ids, mask, types = random_inputs(config, batch=2, length=6)
    mask[:] = 1
    short = model([ids, mask, types])["sequence_output"].numpy()
    pad = np.zeros((2, 5), np.int32)
    long_ids = np.concatenate([ids, pad + 7], 1)  # padded with a non-zero id on purpose
    long_mask = np.concatenate([mask, pad], 1)
    long_types = np.concatenate([types, pad], 1)
    longer = model([long_ids, long_mask, long_types])["sequence_output"].numpy()
    # -10000 leaves exp(-1e4) ~ 0 weight on padding: equal to float32 precision.
    np.testing.assert_allclose(longer[:, :6], short, atol=1e-5)


def test_default_mask_and_types_and_input_forms():
    config, model, _ = tiny_model()
    ids, _, _ = random_inputs(config)
    ones, zeros = np.ones_like(ids), np.zeros_like(ids)
    explicit = model({"input_ids": ids, "input_mask": ones, "token_type_ids": zeros})
    for out in (model(ids), model({"input_ids": ids}), model((ids,)),
                model(ids, input_mask=ones, token_type_ids=zeros)):
        np.testing.assert_allclose(out["sequence_output"], explicit["sequence_output"])


def test_eager_function_and_jit_agree():
    config, model, _ = tiny_model()
    ids, mask, types = random_inputs(config)
    inputs = {"input_ids": ids, "input_mask": mask, "token_type_ids": types}
    eager = model(inputs)["sequence_output"].numpy()
    graph = tf.function(lambda x: model(x)["sequence_output"])(inputs).numpy()
    jit = tf.function(lambda x: model(x)["sequence_output"], jit_compile=True)(inputs).numpy()
    np.testing.assert_allclose(graph, eager, atol=1e-5)
    np.testing.assert_allclose(jit, eager, atol=1e-5)


def test_dropout_only_in_training():
    config, model, _ = tiny_model()
    ids, mask, types = random_inputs(config)
    a = model([ids, mask, types], training=False)["sequence_output"]
    b = model([ids, mask, types], training=False)["sequence_output"]
    c = model([ids, mask, types], training=True)["sequence_output"]
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


def test_sequence_longer_than_max_positions_raises():
    config, model, _ = tiny_model()
    ids = np.ones((1, config.max_position_embeddings + 1), np.int32)
    with pytest.raises(ValueError, match="max_position_embeddings"):
        model(ids)


def test_truncated_normal_initialisation():
    config = tiny_config(vocab_size=500, hidden_size=64, num_attention_heads=4)
    model = BertModel(config)
    model.build()
    table = model.get_embedding_table().numpy()
    assert table.shape == (500, 64)
    # Truncated at 2 stddev; the std of N(0, s) truncated at +-2s is 0.8796 s.
    assert np.abs(table).max() <= 2 * 0.02 + 1e-7
    assert abs(table.std() - 0.8796 * 0.02) < 0.0005
    block = model.encoder_layers[0]
    np.testing.assert_array_equal(block.self_attention.query.bias.numpy(), 0.0)
    np.testing.assert_array_equal(block.output_layer_norm.gamma.numpy(), 1.0)


def test_output_all_layers_false_and_config_round_trip():
    config, model, _ = tiny_model()
    slim = BertModel.from_config(model.get_config())
    assert slim.config == config
    slim = BertModel(config, output_all_layers=False)
    out = slim(np.ones((1, 4), np.int32))
    assert "encoder_outputs" not in out and out["sequence_output"].shape == (1, 4, 32)


def test_mixed_precision_keeps_float32_statistics():
    config = tiny_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        mixed = BertModel(config)
        mixed.build()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    full = BertModel(config)
    full.build()
    for a, b in zip(mixed.weights, full.weights):
        assert a.dtype == "float32"
        b.assign(a)
    ids, mask, types = random_inputs(config)
    out16 = mixed([ids, mask, types])
    out32 = full([ids, mask, types])
    assert out16["sequence_output"].dtype == tf.float16
    np.testing.assert_allclose(
        tf.cast(out16["sequence_output"], tf.float32), out32["sequence_output"], atol=3e-2)
