"""Shared layers against float64 numpy re-derivations (no dropout: inference)."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.layers import numpy_reference as ref
from tfmodels.layers import (
    FeedForward,
    MultiHeadAttention,
    PatchEmbedding,
    PositionEmbedding,
    SinePositionEncoding2D,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
    gelu_exact,
    gelu_tanh,
)

RNG = np.random.default_rng(0)
ATOL = 1e-5


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def randomise(layer):
    """Non-trivial weights everywhere (LayerNorm gammas included)."""
    for w in layer.weights:
        w.assign(0.3 * RNG.standard_normal(w.shape).astype(np.float32)
                 + (1.0 if "gamma" in w.path else 0.0))


def test_gelu_forms():
    x = np.linspace(-6, 6, 101).astype(np.float32)
    np.testing.assert_allclose(gelu_tanh(x), ref.gelu_tanh(x.astype(np.float64)), atol=1e-6)
    np.testing.assert_allclose(gelu_exact(x), ref.gelu_exact(x.astype(np.float64)), atol=1e-6)
    # The two forms really differ: parity bugs come from mixing them up.
    assert np.max(np.abs(gelu_tanh(x) - gelu_exact(x))) > 1e-4


@pytest.mark.parametrize("mask_rank", [None, 2, 3])
def test_attention_matches_numpy(mask_rank):
    b, tq, tk, width = 2, 5, 7, 12
    mha = MultiHeadAttention(num_heads=3, key_dim=4)
    q, kv = rand(b, tq, width), rand(b, tk, width)
    mha(q, value=kv)
    randomise(mha)
    mask = None
    if mask_rank == 2:
        mask = np.ones((b, tk), np.float32)
        mask[0, 4:] = 0
    elif mask_rank == 3:
        mask = (RNG.random((b, tq, tk)) > 0.3).astype(np.float32)
        mask[..., 0] = 1
    out, probs = mha(q, value=kv, attention_mask=mask, return_attention_scores=True)
    want, want_probs = ref.attention(mha, q, kv, kv, mask)
    np.testing.assert_allclose(out, want, atol=ATOL)
    np.testing.assert_allclose(probs, want_probs, atol=1e-6)
    if mask_rank == 2:  # masked keys get (numerically) zero probability
        assert np.max(np.asarray(probs)[0, :, :, 4:]) < 1e-3


def test_attention_causal_and_distinct_key():
    b, t, width = 2, 6, 8
    mha = MultiHeadAttention(num_heads=2, key_dim=4, value_dim=3, output_dim=5)
    x, k, v = rand(b, t, width), rand(b, t, width), rand(b, t, width)
    out, probs = mha(x, value=v, key=k, causal=True, return_attention_scores=True)
    assert out.shape == (b, t, 5)
    randomise(mha)
    out = mha(x, value=v, key=k, causal=True)
    want, _ = ref.attention(mha, x, v, k, causal=True)
    np.testing.assert_allclose(out, want, atol=ATOL)
    # causality: changing the last position leaves earlier outputs unchanged
    x2 = x.copy()
    x2[:, -1] += 5.0
    out2 = mha(x2, value=x2, causal=True)
    out1 = mha(x, value=x, causal=True)
    np.testing.assert_allclose(out1[:, :-1], out2[:, :-1], atol=1e-6)


def test_attention_rejects_bad_mask_rank():
    mha = MultiHeadAttention(num_heads=1, key_dim=4)
    with pytest.raises(ValueError, match="rank"):
        mha(rand(1, 3, 4), attention_mask=np.ones((1,), np.float32))


@pytest.mark.parametrize("activation,act", [("gelu_tanh", ref.gelu_tanh), ("gelu", ref.gelu_exact),
                                            ("relu", lambda z: np.maximum(z, 0))])
def test_feed_forward(activation, act):
    layer = FeedForward(16, activation=activation)
    x = rand(3, 4, 8)
    layer(x)
    randomise(layer)
    np.testing.assert_allclose(layer(x), ref.ffn(layer, x, act), atol=ATOL)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_block(norm_first):
    b, t, width = 2, 5, 8
    block = TransformerEncoderBlock(2, width, 16, norm_first=norm_first, epsilon=1e-12)
    x, pos = rand(b, t, width), rand(b, t, width)
    mask = np.ones((b, t), np.float32)
    mask[1, 3:] = 0
    block(x, attention_mask=mask)
    randomise(block)
    got = block(x, attention_mask=mask, pos=pos, training=False)

    def attn(h):
        out, _ = ref.attention(block.self_attention, h + pos, h, h + pos, mask)
        return out

    xf = x.astype(np.float64)
    if norm_first:
        h = xf + attn(ref.ln_of(block.self_attention_layer_norm, xf))
        h2 = ref.ln_of(block.output_layer_norm, h)
        want = h + ref.ffn(block.feed_forward, h2, ref.gelu_tanh)
    else:
        h = ref.ln_of(block.self_attention_layer_norm, xf + attn(xf))
        f = ref.ffn(block.feed_forward, h, ref.gelu_tanh)
        want = ref.ln_of(block.output_layer_norm, h + f)
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_encoder_block_dropout_only_in_training():
    block = TransformerEncoderBlock(2, 8, 16, hidden_dropout=0.5, attention_dropout=0.5)
    x = rand(2, 5, 8)
    a, b = block(x, training=False), block(x, training=False)
    np.testing.assert_array_equal(a, b)
    assert np.max(np.abs(block(x, training=True) - a)) > 1e-3


def test_encoder_block_validates_shapes():
    with pytest.raises(ValueError, match="multiple of num_heads"):
        TransformerEncoderBlock(3, 8, 16)
    block = TransformerEncoderBlock(2, 8, 16)
    with pytest.raises(ValueError, match="hidden_size"):
        block(rand(1, 2, 6))


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_block_detr_semantics(norm_first):
    b, nq, tm, width = 2, 4, 6, 8
    block = TransformerDecoderBlock(2, width, 16, dropout=0.0, norm_first=norm_first)
    tgt, mem = rand(b, nq, width), rand(b, tm, width)
    qpos, mpos = rand(b, nq, width), rand(b, tm, width)
    mmask = np.ones((b, tm), np.float32)
    mmask[0, 4:] = 0
    block(tgt, mem)
    randomise(block)
    got = block(tgt, mem, query_pos=qpos, memory_pos=mpos, memory_mask=mmask)

    def self_attn(x):
        return ref.attention(block.self_attention, x + qpos, x, x + qpos, mask_value=-1e9)[0]

    def cross(x):
        return ref.attention(block.cross_attention, x + qpos, mem, mem + mpos, mmask,
                             mask_value=-1e9)[0]

    relu = lambda z: np.maximum(z, 0)  # noqa: E731
    t = tgt.astype(np.float64)
    if norm_first:
        t = t + self_attn(ref.ln_of(block.self_attention_layer_norm, t))
        t = t + cross(ref.ln_of(block.cross_attention_layer_norm, t))
        want = t + ref.ffn(block.feed_forward, ref.ln_of(block.output_layer_norm, t), relu)
    else:
        t = ref.ln_of(block.self_attention_layer_norm, t + self_attn(t))
        t = ref.ln_of(block.cross_attention_layer_norm, t + cross(t))
        want = ref.ln_of(block.output_layer_norm, t + ref.ffn(block.feed_forward, t, relu))
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_position_embedding_slices_and_checks_length():
    layer = PositionEmbedding(max_length=10)
    x = rand(2, 6, 4)
    out = layer(x)
    np.testing.assert_array_equal(out[0], layer.embeddings.numpy()[:6])
    np.testing.assert_array_equal(out[1], layer.embeddings.numpy()[:6])
    with pytest.raises(ValueError, match="max_position_embeddings"):
        layer(rand(1, 11, 4))


def _detr_sine_reference(mask, num_pos_feats, temperature, scale):
    """DETR ``PositionEmbeddingSine.forward`` re-derived in numpy (channels last)."""
    not_mask = mask.astype(np.float64)
    y = np.cumsum(not_mask, 1)
    x = np.cumsum(not_mask, 2)
    y = y / (y[:, -1:, :] + 1e-6) * scale
    x = x / (x[:, :, -1:] + 1e-6) * scale
    dim_t = temperature ** (2 * (np.arange(num_pos_feats) // 2) / num_pos_feats)
    px, py = x[..., None] / dim_t, y[..., None] / dim_t
    out = []
    for p in (py, px):
        feats = np.empty_like(p)
        feats[..., 0::2] = np.sin(p[..., 0::2])
        feats[..., 1::2] = np.cos(p[..., 1::2])
        out.append(feats)
    return np.concatenate(out, -1)


def test_sine_position_encoding_2d():
    mask = np.ones((2, 5, 7), bool)
    mask[1, 3:, :] = False
    mask[1, :, 5:] = False
    got = SinePositionEncoding2D(num_pos_feats=16)(mask)
    want = _detr_sine_reference(mask, 16, 10000.0, 2 * math.pi)
    assert got.shape == (2, 5, 7, 32)
    np.testing.assert_allclose(got, want, atol=1e-5)
    with pytest.raises(ValueError, match="normalize"):
        SinePositionEncoding2D(normalize=False, scale=1.0)


def test_patch_embedding():
    layer = PatchEmbedding(patch_size=4, hidden_size=6)
    img = rand(2, 8, 12, 3)
    out = layer(img).numpy()
    assert out.shape == (2, 6, 6)
    kernel, bias = layer.conv.kernel.numpy(), layer.conv.bias.numpy()
    # patch (row 1, col 2) is token 1*3 + 2; a conv with stride = kernel is a dot per patch
    patch = img[:, 4:8, 8:12, :]
    want = np.einsum("bhwc,hwco->bo", patch, kernel) + bias
    np.testing.assert_allclose(out[:, 5], want, atol=1e-5)
    with pytest.raises(ValueError, match="multiple of patch_size"):
        PatchEmbedding(patch_size=5, hidden_size=2)(rand(1, 8, 10, 3))


@pytest.mark.parametrize(
    "make",
    [
        lambda: MultiHeadAttention(2, 4, dropout=0.1, mask_value=-1e9),
        lambda: FeedForward(16, activation="gelu"),
        lambda: TransformerEncoderBlock(2, 8, 16, norm_first=True, epsilon=1e-6),
        lambda: TransformerDecoderBlock(2, 8, 16),
        lambda: PositionEmbedding(12),
        lambda: SinePositionEncoding2D(8),
        lambda: PatchEmbedding(4, 6),
    ],
)
def test_get_config_round_trip(make):
    layer = make()
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_encoder_block_saves_and_reloads(tmp_path):
    inp = keras.Input((5, 8))
    model = keras.Model(inp, TransformerEncoderBlock(2, 8, 16, name="block")(inp))
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.models.load_model(path)
    x = rand(2, 5, 8)
    np.testing.assert_allclose(model(x), again(x), atol=1e-6)


def test_attention_under_jit_and_mixed_precision():
    mha = MultiHeadAttention(2, 4)
    x = rand(2, 5, 8)
    eager = mha(x)
    jit = tf.function(lambda z: mha(z), jit_compile=True)(x)
    np.testing.assert_allclose(eager, jit, atol=1e-5)
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        half = MultiHeadAttention(2, 4)
        out, probs = half(tf.cast(x, tf.float16), return_attention_scores=True)
        assert out.dtype == tf.float16
        np.testing.assert_allclose(np.asarray(probs, np.float32).sum(-1), 1.0, atol=2e-3)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_encoder_and_decoder_blocks_share_sublayer_names():
    enc = TransformerEncoderBlock(2, 8, 16)
    dec = TransformerDecoderBlock(2, 8, 16)
    enc(rand(1, 3, 8))
    dec(rand(1, 3, 8), rand(1, 4, 8))
    shared = ["self_attention", "self_attention_layer_norm", "self_attention_dropout",
              "feed_forward", "feed_forward_dropout", "output_layer_norm"]
    for block in (enc, dec):
        for attr in shared:
            assert getattr(block, attr).name == attr or attr.endswith("_dropout"), attr
    assert {v.path.split("/", 1)[1].split("/")[0] for v in enc.weights} == {
        "self_attention", "self_attention_layer_norm", "feed_forward", "output_layer_norm"}
    assert {v.path.split("/", 1)[1].split("/")[0] for v in dec.weights} == {
        "self_attention", "self_attention_layer_norm", "cross_attention",
        "cross_attention_layer_norm", "feed_forward", "output_layer_norm"}


def test_decoder_block_saves_and_reloads(tmp_path):
    tgt, mem = keras.Input((3, 8)), keras.Input((5, 8))
    model = keras.Model([tgt, mem], TransformerDecoderBlock(2, 8, 16, name="block")(tgt, mem))
    path = tmp_path / "d.keras"
    model.save(path)
    again = keras.models.load_model(path)
    x, m = rand(2, 3, 8), rand(2, 5, 8)
    np.testing.assert_allclose(model([x, m]), again([x, m]), atol=1e-6)
