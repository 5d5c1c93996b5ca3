"""DETR against HF transformers' DetrForObjectDetection (torch) with the same random weights."""

import numpy as np
import pytest

from tfmodels.models.detr import DETR, DetrConfig, load_state_dict
from tfmodels.models.detr.checkpoint import build
from tfmodels.models.detr.weights import hf_table_for

pytestmark = pytest.mark.parity

SIZES = [(72, 56), (50, 64)]  # two images, padded to 72 x 64


def _hf_model(torch, small_backbone=False):
    """Random HF DETR; ``small_backbone``: a ResNet of one block per stage, width 16."""
    from transformers import DetrConfig as HFConfig
    from transformers import DetrForObjectDetection, ResNetConfig

    torch.manual_seed(0)
    extra = {}
    if small_backbone:
        extra["backbone_config"] = ResNetConfig(
            embedding_size=16, hidden_sizes=[64, 128, 256, 512], depths=[1, 1, 1, 1],
            layer_type="bottleneck", out_features=["stage4"])
    else:
        extra["use_timm_backbone"] = False
    cfg = HFConfig(use_pretrained_backbone=False, d_model=32,
                   encoder_layers=1, decoder_layers=2, encoder_ffn_dim=48, decoder_ffn_dim=48,
                   encoder_attention_heads=4, decoder_attention_heads=4, num_queries=6,
                   num_labels=7, auxiliary_loss=False, **extra)
    model = DetrForObjectDetection(cfg).eval()
    with torch.no_grad():  # non-trivial frozen statistics and biases (init leaves them 0/1)
        for name, t in model.named_buffers():
            if "running_mean" in name:
                t.copy_(torch.randn_like(t) * 0.1)
            elif "running_var" in name:
                t.copy_(torch.rand_like(t) + 0.5)
        for name, p in model.named_parameters():
            if name.endswith("bias") or "normalization.weight" in name:
                p.add_(torch.randn_like(p) * 0.1)
    return model


def _batch(rng):
    h, w = max(s[0] for s in SIZES), max(s[1] for s in SIZES)
    pixels = np.zeros((len(SIZES), h, w, 3), np.float32)
    mask = np.zeros((len(SIZES), h, w), np.float32)
    for i, (ih, iw) in enumerate(SIZES):
        pixels[i, :ih, :iw] = rng.standard_normal((ih, iw, 3))
        mask[i, :ih, :iw] = 1
    return pixels, mask


def test_hf_detr_parity():
    import torch

    hf = _hf_model(torch)
    state = {k: v.detach().numpy() for k, v in hf.state_dict().items()}
    model = build(DETR(DetrConfig(num_classes=7, hidden_dim=32, nheads=4, enc_layers=1,
                                  dec_layers=2, dim_feedforward=48, num_queries=6)))
    report = load_state_dict(model, state, hf_table_for(model, state), strict=True)
    assert not report.missing and not report.unexpected
    pixels, mask = _batch(np.random.default_rng(0))
    ours = model({"pixel_values": pixels, "pixel_mask": mask}, training=False)
    with torch.no_grad():
        ref = hf(pixel_values=torch.from_numpy(pixels.transpose(0, 3, 1, 2).copy()),
                 pixel_mask=torch.from_numpy(mask).long(), output_hidden_states=True)
        # transformers 5 feeds the normalised state to the next decoder layer when
        # auxiliary_loss=True (the original keeps the norm off the residual stream), so the
        # reference runs without it and the auxiliary heads are applied here to the first
        # layer's output, as the original's return_intermediate does.
        first = hf.model.decoder.layernorm(ref.decoder_hidden_states[1])
        aux_logits = hf.class_labels_classifier(first).numpy()
        aux_boxes = hf.bbox_predictor(first).sigmoid().numpy()
    np.testing.assert_allclose(ours["pred_logits"].numpy(), ref.logits.numpy(), atol=1e-4)
    np.testing.assert_allclose(ours["pred_boxes"].numpy(), ref.pred_boxes.numpy(), atol=1e-4)
    # Auxiliary outputs: every earlier decoder layer through the shared final norm.
    aux = ours["aux_outputs"]
    assert len(aux) == 1
    np.testing.assert_allclose(aux[0]["pred_logits"].numpy(), aux_logits, atol=1e-4)
    np.testing.assert_allclose(aux[0]["pred_boxes"].numpy(), aux_boxes, atol=1e-4)
    # The padding matters: the second image alone (unpadded) gives its own outputs.
    alone = model({"pixel_values": pixels[1:, :50, :64], "pixel_mask": mask[1:, :50, :64]})
    assert np.abs(alone["pred_boxes"].numpy() - ours["pred_boxes"].numpy()[1:]).max() < 1e-3
