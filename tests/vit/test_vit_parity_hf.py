"""Parity with HF transformers ``ViTForImageClassification`` (torch, CPU) on real photographs.

HF's random weights are written in the original ``.npz`` naming by a converter written
here (independent of the library's name tables), loaded with ``load_vit`` and compared
logit by logit; the same weights also load straight from HF's ``model.safetensors``.
"""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
import tensorflow as tf

from tfmodels.models.vit import load_vit

pytestmark = pytest.mark.parity

ARCH = dict(patch_size=16, hidden_size=48, mlp_dim=96, num_heads=3, num_layers=2)
IMAGE = 64
CLASSES = 7


def hf_to_npz(state, num_layers, num_heads):
    """HF ViT state dict (transformers 5 in-memory names, torch layouts) -> original
    google-research names and flax layouts."""
    s = {k: v.detach().numpy().astype(np.float32) for k, v in state.items()}
    d = s["vit.embeddings.cls_token"].shape[-1]
    h = d // num_heads
    out = {
        "cls": s["vit.embeddings.cls_token"],
        "Transformer/posembed_input/pos_embedding": s["vit.embeddings.position_embeddings"],
        "embedding/kernel": s["vit.embeddings.patch_embeddings.projection.weight"]
        .transpose(2, 3, 1, 0),
        "embedding/bias": s["vit.embeddings.patch_embeddings.projection.bias"],
        "Transformer/encoder_norm/scale": s["vit.layernorm.weight"],
        "Transformer/encoder_norm/bias": s["vit.layernorm.bias"],
        "head/kernel": s["classifier.weight"].T,
        "head/bias": s["classifier.bias"],
    }
    for i in range(num_layers):
        hf, o = f"vit.layers.{i}.", f"Transformer/encoderblock_{i}/"
        for ln_hf, ln_o in (("layernorm_before", "LayerNorm_0"), ("layernorm_after",
                                                                  "LayerNorm_2")):
            out[o + ln_o + "/scale"] = s[hf + ln_hf + ".weight"]
            out[o + ln_o + "/bias"] = s[hf + ln_hf + ".bias"]
        att = o + "MultiHeadDotProductAttention_1/"
        for part, proj in (("query", "q_proj"), ("key", "k_proj"), ("value", "v_proj")):
            w = s[hf + f"attention.{proj}.weight"]  # [out = heads * h, in = d]
            out[att + part + "/kernel"] = w.T.reshape(d, num_heads, h)
            out[att + part + "/bias"] = s[hf + f"attention.{proj}.bias"].reshape(num_heads, h)
        out[att + "out/kernel"] = s[hf + "attention.o_proj.weight"].T.reshape(num_heads, h, d)
        out[att + "out/bias"] = s[hf + "attention.o_proj.bias"]
        out[o + "MlpBlock_3/Dense_0/kernel"] = s[hf + "mlp.fc1.weight"].T
        out[o + "MlpBlock_3/Dense_0/bias"] = s[hf + "mlp.fc1.bias"]
        out[o + "MlpBlock_3/Dense_1/kernel"] = s[hf + "mlp.fc2.weight"].T
        out[o + "MlpBlock_3/Dense_1/bias"] = s[hf + "mlp.fc2.bias"]
    return out


def photographs():
    """chelsea, coffee, astronaut at IMAGE x IMAGE, scaled to [-1, 1] as the original."""
    images = [skimage.data.chelsea(), skimage.data.coffee(), skimage.data.astronaut()]
    batch = tf.image.resize(tf.stack([tf.image.resize(i, (IMAGE, IMAGE)) for i in images]),
                            (IMAGE, IMAGE))
    return ((batch.numpy() - 127.5) / 127.5).astype(np.float32)


@pytest.fixture(scope="module")
def hf_model():
    import torch
    from transformers import ViTConfig as HFViTConfig
    from transformers import ViTForImageClassification

    torch.manual_seed(0)
    config = HFViTConfig(
        image_size=IMAGE, patch_size=ARCH["patch_size"], hidden_size=ARCH["hidden_size"],
        intermediate_size=ARCH["mlp_dim"], num_attention_heads=ARCH["num_heads"],
        num_hidden_layers=ARCH["num_layers"], hidden_act="gelu", layer_norm_eps=1e-6,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, num_labels=CLASSES,
        initializer_range=0.2)
    model = ViTForImageClassification(config).eval()
    with torch.no_grad():  # non-trivial values everywhere (HF zero-inits some of them)
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def hf_logits(model, images):
    import torch

    with torch.no_grad():
        pixel_values = torch.from_numpy(images.transpose(0, 3, 1, 2).copy())
        return model(pixel_values=pixel_values).logits.numpy()


def test_npz_in_original_naming_matches_hf(hf_model, tmp_path):
    path = str(tmp_path / "hf_random.npz")
    np.savez(path, **hf_to_npz(hf_model.state_dict(), ARCH["num_layers"], ARCH["num_heads"]))
    ours = load_vit(path, "testing", image_size=IMAGE, hidden_act="gelu", **ARCH)
    assert ours.load_report.ok
    images = photographs()
    want = hf_logits(hf_model, images)
    got = ours(images).numpy()
    assert got.shape == (3, CLASSES)
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    assert np.abs(want).max() > 0.1  # a real comparison, not of near-zero logits


def test_hf_in_memory_state_dict_loads(hf_model, tmp_path):
    state = {k: v.numpy() for k, v in hf_model.state_dict().items()}
    from safetensors.numpy import save_file

    path = str(tmp_path / "v5_names.safetensors")
    save_file(state, path)
    ours = load_vit(path, "testing", image_size=IMAGE, layer_norm_eps=1e-6, **ARCH)
    assert ours.load_report.ok, ours.load_report
    images = photographs()
    np.testing.assert_allclose(ours(images).numpy(), hf_logits(hf_model, images),
                               atol=1e-4, rtol=0)


def test_hf_safetensors_loads_directly(hf_model, tmp_path):
    hf_model.save_pretrained(str(tmp_path), safe_serialization=True)
    ours = load_vit(str(tmp_path / "model.safetensors"), "testing", image_size=IMAGE, **ARCH)
    assert ours.config.hidden_act == "gelu" and ours.config.layer_norm_eps == 1e-6
    assert ours.load_report.ok, ours.load_report
    assert "vit.encoder.layer.1.attention.attention.query.weight" in ours.load_report.loaded
    images = photographs()
    np.testing.assert_allclose(ours(images).numpy(), hf_logits(hf_model, images),
                               atol=1e-4, rtol=0)
