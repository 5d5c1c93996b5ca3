"""DETR model pieces: backbone layout/freezing/DC5, mask down-sampling vs PyTorch, position
encodings, Keras serialization, configuration errors."""

import numpy as np
import pytest
import tensorflow as tf

from tfmodels.models.detr import (
    DETR,
    DetrConfig,
    LearnedPositionEncoding2D,
    ResNetBackbone,
    downsample_mask,
)
from tfmodels.models.detr.checkpoint import build

TINY = dict(num_classes=5, hidden_dim=16, nheads=2, dim_feedforward=32, enc_layers=1,
            dec_layers=2, num_queries=4, backbone_layers=(1, 1, 1, 1), backbone_width=8)


def test_backbone_layout_freezing_and_dc5():
    bb = ResNetBackbone(depth=50, out_features=("res2", "res3", "res4", "res5"))
    bb.build((None, None, None, 3))
    # torchvision resnet50: 53 convolutions, 23.5 M parameters without the fc layer.
    convs = [w for w in bb.weights if w.path.endswith("kernel")]
    assert len(convs) == 53
    assert sum(int(np.prod(w.shape)) for w in bb.weights if "moving" not in w.path) == 23_508_032
    # Frozen: stem + layer1 and every batch norm (DETR's rule while the backbone trains).
    trainable = {w.path.split("/")[1] for w in bb.trainable_weights}
    assert not any(p.startswith(("conv1", "bn1", "layer1_")) for p in trainable)
    assert all(not w.path.split("/")[-1].startswith(("gamma", "moving")) or w.trainable is False
               for w in bb.weights if "bn" in w.path)
    assert len(ResNetBackbone(train_backbone=False).trainable_weights) == 0
    out = bb(tf.zeros([1, 65, 97, 3]))
    assert [tuple(out[k].shape[1:3]) for k in ("res2", "res3", "res4", "res5")] == [
        (17, 25), (9, 13), (5, 7), (3, 4)]  # ceil halvings, as torchvision
    dc5 = ResNetBackbone(layers=(1, 1, 1, 2), width=8, dilation=True)
    assert dc5(tf.zeros([1, 64, 64, 3]))["res5"].shape[1:] == (4, 4, 256)
    assert dc5.strides["res5"] == 16 and dc5.stages[3][1].dilation == 2
    assert ResNetBackbone(depth=101).layers_per_stage == (3, 4, 23, 3)
    with pytest.raises(ValueError, match="depth"):
        ResNetBackbone(depth=34)


@pytest.mark.parity
def test_downsample_mask_matches_torch_nearest():
    import torch

    rng = np.random.default_rng(0)
    mask = rng.random((2, 37, 53)) > 0.3
    for size in [(2, 2), (5, 7), (19, 27), (37, 53)]:
        ref = torch.nn.functional.interpolate(torch.from_numpy(mask)[None].float(),
                                              size=size).to(torch.bool)[0].numpy()
        np.testing.assert_array_equal(downsample_mask(mask, size).numpy(), ref)


def test_sine_encoding_matches_detr_formula():
    from tfmodels.models.detr import build_position_encoding

    mask = np.ones((1, 3, 4), np.float32)
    mask[0, :, 3] = 0  # padded last column
    pos = build_position_encoding(8, "sine")(mask).numpy()
    # By hand (PositionEmbeddingSine, normalize=True): x_embed = cumsum / (last + 1e-6) · 2π.
    x = np.cumsum(mask, 2)
    x = x / (x[:, :, -1:] + 1e-6) * 2 * np.pi
    dim_t = 10000 ** (2 * (np.arange(4) // 2) / 4)
    px = x[..., None] / dim_t
    want_x = np.stack([np.sin(px[..., 0::2]), np.cos(px[..., 1::2])], -1).reshape(1, 3, 4, 4)
    np.testing.assert_allclose(pos[..., 4:], want_x, atol=1e-6)
    learned = LearnedPositionEncoding2D(4)
    out = learned(tf.ones([2, 3, 5])).numpy()
    assert out.shape == (2, 3, 5, 8)
    np.testing.assert_allclose(out[1, 2, 4, :4], learned.col_embed.numpy()[4])
    np.testing.assert_allclose(out[1, 2, 4, 4:], learned.row_embed.numpy()[2])


def test_keras_save_load_round_trip(tmp_path):
    model = build(DETR(DetrConfig(**TINY)))
    x = {"pixel_values": np.random.default_rng(0).standard_normal((2, 64, 48, 3)).astype("f4"),
         "pixel_mask": np.ones((2, 64, 48), "f4")}
    want = model(x)
    assert set(want) == {"pred_logits", "pred_boxes", "aux_outputs"}
    assert want["pred_logits"].shape == (2, 4, 6) and len(want["aux_outputs"]) == 1
    path = str(tmp_path / "detr.keras")
    model.save(path)
    import keras

    again = keras.models.load_model(path)
    got = again(x)
    np.testing.assert_allclose(got["pred_boxes"].numpy(), want["pred_boxes"].numpy(), atol=1e-6)
    np.testing.assert_allclose(got["pred_logits"].numpy(), want["pred_logits"].numpy(), atol=1e-6)
    # No mask = all pixels valid.
    np.testing.assert_allclose(model(x["pixel_values"])["pred_boxes"].numpy(),
                               want["pred_boxes"].numpy(), atol=1e-6)


def test_config_errors_and_json(tmp_path):
    with pytest.raises(ValueError, match="multiple of nheads"):
        DetrConfig(hidden_dim=30, nheads=8)
    with pytest.raises(ValueError, match="backbone"):
        DetrConfig(backbone="vgg16")
    with pytest.raises(ValueError, match="unknown DetrConfig fields"):
        DetrConfig.from_dict({"hidden_dims": 3})
    cfg = DetrConfig(**TINY)
    cfg.to_json_file(str(tmp_path / "c.json"))
    assert DetrConfig.from_json_file(str(tmp_path / "c.json")) == cfg
    assert DetrConfig().num_queries == 100 and DetrConfig().hidden_dim == 256
