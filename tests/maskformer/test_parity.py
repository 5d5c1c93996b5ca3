"""MaskFormer against HF ``transformers`` (torch) on random weights: Swin and ResNet
backbones, two real photographs whose size is not a multiple of the Swin window."""

import numpy as np
import pytest
import tensorflow as tf

from tfmodels.models.maskformer.inference import semantic_inference
from tfmodels.models.maskformer.weights import load_maskformer

pytestmark = pytest.mark.parity

SIZE = (75, 101)  # neither a multiple of the patch (4) nor of 4·window (28)


def _photos():
    from skimage import data

    out = []
    for img in (data.chelsea(), data.coffee()):
        x = tf.image.resize(tf.constant(img, tf.float32) / 255.0, SIZE).numpy()
        out.append((x - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225])
    return np.stack(out).astype(np.float32)


def _hf_model(backbone, tmp_path):
    import torch
    from transformers import (
        DetrConfig,
        MaskFormerConfig,
        MaskFormerForInstanceSegmentation,
        ResNetConfig,
        SwinConfig,
    )

    torch.manual_seed(0)
    if backbone == "swin":
        bc = SwinConfig(embed_dim=32, depths=[1, 2, 1, 1], num_heads=[1, 2, 2, 4],
                        window_size=7, image_size=64)
    else:
        bc = ResNetConfig(layer_type="bottleneck", embedding_size=8,
                          hidden_sizes=[32, 64, 128, 256], depths=[1, 2, 1, 1],
                          out_features=["stage1", "stage2", "stage3", "stage4"])
    dc = DetrConfig(d_model=32, decoder_layers=2, decoder_attention_heads=2, decoder_ffn_dim=64,
                    num_queries=6)
    config = MaskFormerConfig(backbone_config=bc, decoder_config=dc, num_labels=5,
                              fpn_feature_size=32, mask_feature_size=16)
    model = MaskFormerForInstanceSegmentation(config).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point() or name.endswith("relative_position_index"):
                continue
            noise = torch.randn(t.shape, generator=g) * 0.1
            if name.endswith("running_var"):
                t.copy_(0.5 + torch.rand(t.shape, generator=g))
            elif "norm" in name and name.endswith("weight") and t.ndim == 1:
                t.copy_(1.0 + noise)
            else:
                t.add_(noise)
    model.save_pretrained(tmp_path / backbone, safe_serialization=True)
    return model


@pytest.mark.parametrize("backbone", ["swin", "resnet"])
def test_hf_parity(backbone, tmp_path):
    import torch

    hf = _hf_model(backbone, tmp_path)
    ours, report = load_maskformer(str(tmp_path / backbone), return_report=True)
    assert report.ok
    x = _photos()
    with torch.no_grad():
        ref = hf(pixel_values=torch.from_numpy(x.transpose(0, 3, 1, 2)))
    out = ours({"pixel_values": x})
    for key in ("class_queries_logits", "masks_queries_logits"):
        want = getattr(ref, key).numpy()
        got = out[key].numpy()
        assert got.shape == want.shape, key
        scale = max(1.0, float(np.abs(want).max()))
        assert np.abs(got - want).max() <= 1e-4 * scale, (key, np.abs(got - want).max(), scale)
    # Semantic maps at the mask resolution (no resizing: both orders of operations agree).
    h, w = out["masks_queries_logits"].shape[2:]
    mine = semantic_inference(out["class_queries_logits"], out["masks_queries_logits"]).numpy()
    from transformers import MaskFormerImageProcessor

    theirs = MaskFormerImageProcessor().post_process_semantic_segmentation(
        ref, target_sizes=[(h, w)] * 2)
    np.testing.assert_array_equal(mine, np.stack([t.numpy() for t in theirs]))
