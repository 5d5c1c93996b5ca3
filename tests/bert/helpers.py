"""Tiny BERT configs and weight randomisation shared by the BERT tests."""

from __future__ import annotations

import numpy as np

from tfmodels.models.bert import BertConfig, BertModel, original_names


def tiny_config(**overrides):
    kw = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
              intermediate_size=37, max_position_embeddings=24, type_vocab_size=3,
              hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    kw.update(overrides)
    return BertConfig(**kw)


def randomize(model, heads=(), seed=0, scale=0.2):
    """Random values for every variable (biases and LayerNorm too), so a wrong
    name, a missing bias or a transposed kernel changes the outputs."""
    rng = np.random.default_rng(seed)
    table = original_names(model, heads)
    for name in sorted(table):
        var = table[name]
        value = rng.normal(0.0, scale, tuple(var.shape))
        if name.endswith("/gamma"):
            value += 1.0
        var.assign(value.astype(np.float32))
    return {name: np.asarray(var) for name, var in table.items()}


def tiny_model(seed=0, **overrides):
    config = tiny_config(**overrides)
    model = BertModel(config)
    weights = randomize(model, seed=seed)
    return config, model, weights


def random_inputs(config, batch=3, length=11, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, config.vocab_size, (batch, length)).astype(np.int32)
    lengths = rng.integers(2, length + 1, batch)
    lengths[0] = length
    mask = (np.arange(length)[None] < lengths[:, None]).astype(np.int32)
    types = rng.integers(0, config.type_vocab_size, (batch, length)).astype(np.int32)
    return ids * mask, mask, types * mask
