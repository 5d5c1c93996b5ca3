"""BertConfig: original bert_config.json and HF config.json, each with its own gelu."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from tfmodels.layers import get_activation
from tfmodels.models.bert import BertConfig

ORIGINAL_BASE = {  # uncased_L-12_H-768_A-12/bert_config.json as released
    "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
    "hidden_size": 768, "initializer_range": 0.02, "intermediate_size": 3072,
    "max_position_embeddings": 512, "num_attention_heads": 12, "num_hidden_layers": 12,
    "type_vocab_size": 2, "vocab_size": 30522,
}


def test_original_file_round_trip(tmp_path):
    path = tmp_path / "bert_config.json"
    path.write_text(json.dumps(ORIGINAL_BASE))
    config = BertConfig.from_json_file(str(path))
    assert config.activation == "gelu_tanh"  # original "gelu" = tanh approximation
    out = tmp_path / "out.json"
    config.to_json_file(str(out))
    assert json.loads(out.read_text()) == ORIGINAL_BASE


def test_original_defaults():
    c = BertConfig(vocab_size=10)
    assert (c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.intermediate_size,
            c.hidden_act, c.hidden_dropout_prob, c.attention_probs_dropout_prob,
            c.max_position_embeddings, c.type_vocab_size, c.initializer_range) == (
        768, 12, 12, 3072, "gelu", 0.1, 0.1, 512, 16, 0.02)


@pytest.mark.parametrize("hf_act,ours,fn", [("gelu", "gelu_exact", "exact"),
                                            ("gelu_new", "gelu", "tanh")])
def test_hf_config_keeps_its_gelu_meaning(tmp_path, hf_act, ours, fn):
    d = dict(ORIGINAL_BASE, model_type="bert", hidden_act=hf_act, layer_norm_eps=1e-7)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(d))
    config = BertConfig.from_json_file(str(path))
    assert config.hidden_act == ours and config.layer_norm_eps == 1e-7
    x = np.linspace(-4, 4, 9)
    from scipy.special import erf
    expected = (0.5 * x * (1 + erf(x / np.sqrt(2))) if fn == "exact" else
                0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))))
    got = get_activation(config.activation)(tf.constant(x, tf.float64))
    np.testing.assert_allclose(got, expected, atol=1e-8)  # tanh vs erf differ by ~1e-3


def test_bad_configs(tmp_path):
    with pytest.raises(FileNotFoundError, match="bert_config_file"):
        BertConfig.from_json_file(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        BertConfig.from_json_file(str(bad))
    with pytest.raises(ValueError, match="multiple"):
        BertConfig(vocab_size=10, hidden_size=30, num_attention_heads=4)
    with pytest.raises(ValueError, match="hidden_act"):
        BertConfig(vocab_size=10, hidden_act="swishy")
    with pytest.raises(ValueError, match="position_embedding_type"):
        BertConfig.from_dict({"model_type": "bert", "vocab_size": 5,
                              "position_embedding_type": "relative_key"})


@pytest.mark.parametrize("scheme", ["ram", "file"])
def test_json_file_on_other_filesystems(tmp_path, scheme):
    import uuid

    root = f"ram://bert-config-{uuid.uuid4().hex}" if scheme == "ram" else f"file://{tmp_path}"
    tf.io.gfile.makedirs(root)
    path = root + "/bert_config.json"
    BertConfig.from_dict(ORIGINAL_BASE).to_json_file(path)
    assert tf.io.gfile.listdir(root) == ["bert_config.json"]  # no temporary left
    with tf.io.gfile.GFile(path) as f:
        assert json.loads(f.read()) == ORIGINAL_BASE
    assert BertConfig.from_json_file(path).to_dict() == ORIGINAL_BASE
    with pytest.raises(FileNotFoundError, match="bert_config_file not found"):
        BertConfig.from_json_file(root + "/missing.json")
    with pytest.raises(FileNotFoundError, match="bert_config_file not found"):
        BertConfig.from_json_file(root)  # a directory
