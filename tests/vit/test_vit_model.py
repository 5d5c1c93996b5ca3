"""ViT model: patch order, position-embedding interpolation, classifier modes, loading,
errors. References are numpy re-derivations and scipy.ndimage.zoom (the original's resize)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import scipy.ndimage
import tensorflow as tf

from tfmodels.layers import DropPath, PatchEmbedding
from tfmodels.models.vit import (
    VisionTransformer,
    get_config,
    interpolate_posembed,
    load_vit,
    save_npz,
)
from tfmodels.models.vit import weights as vit_names

SMALL = dict(patch_size=4, hidden_size=12, mlp_dim=24, num_heads=3, num_layers=2,
             dropout_rate=0.0, image_size=16, num_classes=5)


def _randomise(model, seed=0):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(rng.normal(0, 0.3, w.shape).astype("float32"))


def _images(n=2, hw=(16, 16), c=3, seed=1):
    return np.random.default_rng(seed).uniform(-1, 1, (n, *hw, c)).astype("float32")


def test_patch_embedding_shape_and_row_major_order():
    p, d = 4, 6
    layer = PatchEmbedding(p, d)
    x = _images(2, (8, 12))
    y = layer(x).numpy()
    assert y.shape == (2, (8 // p) * (12 // p), d)
    kernel = layer.conv.kernel.numpy().reshape(p * p * 3, d)
    bias = layer.conv.bias.numpy()
    for r in range(8 // p):
        for c in range(12 // p):
            patch = x[:, r * p:(r + 1) * p, c * p:(c + 1) * p, :].reshape(2, -1)
            np.testing.assert_allclose(y[:, r * (12 // p) + c], patch @ kernel + bias,
                                       atol=1e-5)


@pytest.mark.parametrize("grid", [7, (7, 7)])
def test_interpolation_identity(grid):
    posemb = np.random.default_rng(0).normal(size=(1, 50, 8)).astype("float32")
    np.testing.assert_array_equal(interpolate_posembed(posemb, grid, True), posemb)


@pytest.mark.parametrize("new", [(12, 12), (4, 10), (3, 3)])
@pytest.mark.parametrize("has_cls", [True, False])
def test_interpolation_matches_scipy_zoom_order1(new, has_cls):
    d, old = 5, 7
    posemb = np.random.default_rng(1).normal(size=(1, old * old + has_cls, d))
    got = interpolate_posembed(posemb, new, has_cls)
    grid = posemb[0, int(has_cls):].reshape(old, old, d)
    zoomed = scipy.ndimage.zoom(grid, (new[0] / old, new[1] / old, 1), order=1)
    want = np.concatenate([posemb[:, :int(has_cls)], zoomed.reshape(1, -1, d)], axis=1)
    assert got.shape == (1, new[0] * new[1] + has_cls, d)
    np.testing.assert_allclose(got, want, atol=1e-10)


def _numpy_head(features, model):
    return features @ model.head.kernel.numpy() + model.head.bias.numpy()


@pytest.mark.parametrize("classifier", ["token", "gap"])
def test_classifier_modes(classifier):
    model = VisionTransformer(get_config("testing", **SMALL, classifier=classifier))
    model.build()
    _randomise(model)
    x = _images()
    encoded = model.encode(x).numpy()
    if classifier == "token":
        assert model.cls is not None and encoded.shape[1] == 17
        pooled = encoded[:, 0]
    else:
        assert model.cls is None and encoded.shape[1] == 16
        pooled = encoded.mean(axis=1)
    np.testing.assert_allclose(model(x).numpy(), _numpy_head(pooled, model), atol=1e-5)


def test_pre_logits_and_zero_head():
    model = VisionTransformer(get_config("testing", **SMALL, representation_size=7))
    x = _images()
    assert np.all(model(x).numpy() == 0)  # head kernel and bias start at zero
    assert np.all(model.cls.numpy() == 0)
    _randomise(model)
    pooled = model.encode(x).numpy()[:, 0]
    pre = np.tanh(pooled @ model.pre_logits.kernel.numpy() + model.pre_logits.bias.numpy())
    np.testing.assert_allclose(model(x).numpy(), _numpy_head(pre, model), atol=1e-5)


def test_bad_inputs_raise_clear_errors():
    model = VisionTransformer(get_config("testing", **SMALL))
    with pytest.raises(ValueError, match="4 channels.*expects 3"):
        model(_images(c=4))
    with pytest.raises(ValueError, match="height 18 is not a multiple of patch_size 4"):
        model(_images(hw=(18, 16)))
    with pytest.raises(ValueError, match="image_size"):
        model(_images(hw=(20, 16)))
    with pytest.raises(ValueError, match="width 30 is not a multiple of patch_size 16"):
        get_config("ViT-B_16", image_size=(224, 30))
    with pytest.raises(ValueError, match="unknown model_name"):
        get_config("ViT-X_3")


def test_keras_round_trip_with_stochastic_depth(tmp_path):
    config = get_config("testing", **{**SMALL, "dropout_rate": 0.1}, stochastic_depth=0.2)
    model = VisionTransformer(config)
    x = _images()
    model(x)
    _randomise(model)
    rates = [b.drop_path_rate for b in model.encoder_layers]
    assert rates == pytest.approx([0.0, 0.2])
    path = str(tmp_path / "vit.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), atol=1e-6)
    assert loaded.config == config


def test_drop_path_drops_whole_examples():
    layer = DropPath(0.5, seed=3)
    x = tf.ones((64, 5, 4))
    y = layer(x, training=True).numpy()
    per_example = y.reshape(64, -1)
    assert set(np.unique(per_example)) <= {0.0, 2.0}
    assert np.all(per_example.min(1) == per_example.max(1))  # one draw per example
    assert 0 < (per_example[:, 0] == 0).sum() < 64
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x.numpy())


def test_npz_names_layouts_and_round_trip(tmp_path):
    model = VisionTransformer(get_config("testing", **SMALL))
    model.build()
    _randomise(model)
    path = str(tmp_path / "m.npz")
    save_npz(model, path)
    with np.load(path) as z:
        arrays = dict(z)
    assert arrays["Transformer/encoderblock_1/MultiHeadDotProductAttention_1/query/kernel"] \
        .shape == (12, 3, 4)
    assert arrays["Transformer/encoderblock_0/MultiHeadDotProductAttention_1/out/kernel"] \
        .shape == (3, 4, 12)
    assert arrays["Transformer/encoderblock_0/MultiHeadDotProductAttention_1/key/bias"] \
        .shape == (3, 4)
    assert arrays["embedding/kernel"].shape == (4, 4, 3, 12)
    assert set(arrays) == set(vit_names.original_names(model))
    loaded = load_vit(path, "testing", **{k: v for k, v in SMALL.items()
                                           if k not in ("num_classes", "image_size")},
                      image_size=16)
    assert loaded.load_report.ok and len(loaded.load_report.loaded) == len(arrays)
    x = _images()
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), atol=1e-5)


def _arch():
    return {k: v for k, v in SMALL.items() if k not in ("num_classes", "image_size")}


def test_load_at_new_size_interpolates_and_new_head(tmp_path):
    model = VisionTransformer(get_config("testing", **SMALL))
    model.build()
    _randomise(model)
    path = str(tmp_path / "m.npz")
    save_npz(model, path)
    big = load_vit(path, "testing", image_size=(24, 32), **_arch())
    want = interpolate_posembed(model.pos_embedding.numpy(), (6, 8), True)
    np.testing.assert_allclose(big.pos_embedding.numpy(), want, atol=1e-6)
    assert big(_images(hw=(24, 32))).shape == (2, 5)
    fresh = load_vit(path, "testing", num_classes=3, image_size=16, **_arch())
    assert fresh.head.kernel.shape == (12, 3) and np.all(fresh.head.kernel.numpy() == 0)
    assert sorted(fresh.load_report.ignored) == ["head/bias", "head/kernel"]
    np.testing.assert_allclose(fresh.encode(_images()).numpy(),
                               model.encode(_images()).numpy(), atol=1e-5)


def test_checkpoint_of_another_config_is_refused(tmp_path):
    model = VisionTransformer(get_config("testing", **SMALL))
    model.build()
    path = str(tmp_path / "m.npz")
    save_npz(model, path)
    with pytest.raises(ValueError, match=r"model_name=ViT-Ti_16.*hidden_size 12 "
                                         r"\(model_name=ViT-Ti_16 has 192\)"):
        load_vit(path, "ViT-Ti_16")
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_vit(str(tmp_path / "missing.npz"), "testing")
