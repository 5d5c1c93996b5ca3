"""MaskFormer model tests: shapes, .keras round trip, detectron2 .pkl loading, bad input."""

import pickle

import keras
import numpy as np
import pytest

from tfmodels import weights as W
from tfmodels.models.maskformer import MaskFormer, MaskFormerConfig
from tfmodels.models.maskformer.swin import relative_position_index, shift_attention_mask
from tfmodels.models.maskformer.weights import load_maskformer, original_table
from tfmodels.torch_pickle import UnsafePickleError

TINY = dict(num_classes=5, backbone_layers=(1, 1, 1, 1), backbone_width=8, swin_embed_dim=32,
            swin_depths=(1, 2, 1, 1), swin_num_heads=(1, 2, 2, 4), conv_dim=32, mask_dim=16,
            hidden_dim=32, num_queries=6, nheads=2, dim_feedforward=64, dec_layers=2,
            transformer_enc_layers=1, dropout=0.0)


def _model(**kw):
    m = MaskFormer(MaskFormerConfig(**{**TINY, **kw}))
    m.build()
    return m


def _state_dict(table):
    """Invert a name table: the detectron2 state dict that loads into the model's values."""
    state = {}
    for name, entry in table.items():
        targets = W._targets(entry)
        values = []
        for t in targets:
            v = t.variable.numpy()
            fns = t.transforms
            if W.conv_oihw_to_hwio in fns:
                v = v.transpose(3, 2, 0, 1)
            elif W.transpose in fns:
                v = v.T
            values.append(v)
        state[name] = values[0] if len(values) == 1 else np.concatenate(values, 0)
    return state


def test_relative_position_index_by_hand():
    idx = relative_position_index(2)  # coords (0,0) (0,1) (1,0) (1,1); table 3x3
    # (dy+1)*3 + (dx+1): token 0 vs 3: dy=dx=-1 -> 0; 3 vs 0 -> 8; 1 vs 2: dy=-1, dx=1 -> 2.
    assert idx[0, 3] == 0 and idx[3, 0] == 8 and idx[1, 2] == 0 * 3 + 2 and idx[0, 0] == 4


def test_shift_mask_by_hand():
    # 4x4 padded map, window 2, shift 1: regions per axis [0,0,1,2]; window (1,1) holds
    # rows/cols 2..3 = regions (1,1),(1,2),(2,1),(2,2): all different -> masked off-diagonal.
    m = shift_attention_mask(4, 4, 2, 1).numpy()
    assert m.shape == (4, 4, 4)
    np.testing.assert_array_equal(m[0], np.zeros((4, 4)))
    np.testing.assert_array_equal(m[3], np.where(np.eye(4) > 0, 0.0, -100.0))


@pytest.mark.parametrize("backbone,decoder", [("swin", "BasePixelDecoder"),
                                              ("resnet50", "TransformerEncoderPixelDecoder")])
def test_shapes_and_keras_round_trip(backbone, decoder, tmp_path):
    m = _model(backbone=backbone, pixel_decoder=decoder)
    x = np.random.RandomState(0).randn(1, 45, 58, 3).astype(np.float32)
    out = m({"pixel_values": x})
    assert out["class_queries_logits"].shape == (1, 6, 6)
    assert out["masks_queries_logits"].shape == (1, 6, 12, 15)  # ceil(H/4), ceil(W/4)
    assert len(out["aux_outputs"]) == 1
    path = str(tmp_path / "m.keras")
    m.save(path)
    back = keras.models.load_model(path)
    again = back({"pixel_values": x})
    for k in ("class_queries_logits", "masks_queries_logits"):
        np.testing.assert_allclose(again[k].numpy(), out[k].numpy(), atol=1e-5)


@pytest.mark.parametrize("backbone,decoder", [("swin", "TransformerEncoderPixelDecoder"),
                                              ("resnet50", "BasePixelDecoder")])
def test_detectron2_pkl(backbone, decoder, tmp_path):
    m = _model(backbone=backbone, pixel_decoder=decoder, enforce_input_proj=True)
    for v in m.weights:  # non-trivial values everywhere (norms, statistics, bias tables)
        v.assign(v + np.random.RandomState(len(v.name)).uniform(0.1, 0.3, v.shape))
    state = _state_dict(original_table(m))
    assert any(k.startswith("sem_seg_head.predictor.transformer.decoder.layers.1.") for k in state)
    path = str(tmp_path / "model_final_test.pkl")
    with open(path, "wb") as f:
        pickle.dump({"model": state, "__author__": "test"}, f)
    loaded, report = load_maskformer(path, nheads=2, return_report=True,
                                     **({"swin_num_heads": (1, 2, 2, 4)}
                                        if backbone == "swin" else {}))
    assert report.ok
    assert loaded.config.backbone == backbone and loaded.config.pixel_decoder == decoder
    x = np.random.RandomState(1).randn(1, 40, 52, 3).astype(np.float32)
    a, b = m({"pixel_values": x}), loaded({"pixel_values": x})
    for k in ("class_queries_logits", "masks_queries_logits"):
        np.testing.assert_allclose(b[k].numpy(), a[k].numpy(), rtol=1e-5, atol=1e-5)


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_pkl_code_refused(tmp_path):
    path = str(tmp_path / "evil.pkl")
    with open(path, "wb") as f:
        pickle.dump({"model": {"x": _Evil()}}, f)
    with pytest.raises(UnsafePickleError):
        load_maskformer(path)


def test_config_errors(tmp_path):
    with pytest.raises(ValueError, match="backbone"):
        MaskFormerConfig(backbone="vgg")
    with pytest.raises(ValueError, match="pixel_decoder"):
        MaskFormerConfig(pixel_decoder="MSDeformAttn")
    with pytest.raises(ValueError, match="conv_dim"):
        MaskFormerConfig(conv_dim=48)
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_maskformer(str(tmp_path))
