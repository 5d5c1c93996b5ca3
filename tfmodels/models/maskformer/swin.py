"""Swin Transformer backbone as MaskFormer uses it (MaskFormer ``modeling/backbone/swin.py``).

Liu et al. 2021, "Swin Transformer: Hierarchical Vision Transformer using Shifted Windows",
as ``D2SwinTransformer`` of facebookresearch/MaskFormer (HF ``MaskFormerSwinBackbone``):

- patch embedding: the image is padded on the bottom/right to a multiple of the patch size,
  a ``patch_size`` × ``patch_size`` convolution with that stride, then LayerNorm;
- four stages of Swin blocks (pre-norm window attention + GELU MLP, stochastic depth),
  odd blocks shifting the windows by ``window_size // 2``; each block pads its input on the
  bottom/right to a window multiple (zeros after the first LayerNorm), masks attention
  between the regions that the cyclic shift brought together (−100, as the original) and
  crops the padding off again; attention adds a learned relative position bias;
- patch merging between stages (2×2 neighbours concatenated as x00, x10, x01, x11,
  LayerNorm, linear 4C → 2C without bias; odd sizes padded by one);
- each stage's output before merging goes through its own LayerNorm (``norm{i}``) and is
  returned as ``res2``..``res5`` (strides 4, 8, 16, 32), channels last.

No absolute position embedding (``ape=False`` in MaskFormer's configs). Channels last.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tfmodels.layers import LayerNorm

FEATURE_NAMES = ("res2", "res3", "res4", "res5")
_TRUNC = keras.initializers.TruncatedNormal(stddev=0.02)  # trunc_normal_(std=.02)


def relative_position_index(window_size):
    """``[w², w²]`` index into the ``(2w − 1)²`` bias table, as the original's buffer."""
    coords = np.stack(np.meshgrid(np.arange(window_size), np.arange(window_size),
                                  indexing="ij")).reshape(2, -1)
    rel = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0) + (window_size - 1)
    return (rel[..., 0] * (2 * window_size - 1) + rel[..., 1]).astype(np.int32)


def window_partition(x, ws):
    """[B, H, W, C] (H, W multiples of ``ws``) -> [B, nW, ws·ws, C]."""
    s = tf.shape(x)
    b, h, w, c = s[0], s[1], s[2], x.shape[-1]
    x = tf.reshape(x, [b, h // ws, ws, w // ws, ws, c])
    x = tf.transpose(x, [0, 1, 3, 2, 4, 5])
    return tf.reshape(x, [b, (h // ws) * (w // ws), ws * ws, c])


def window_reverse(windows, ws, h, w):
    """[B, nW, ws·ws, C] -> [B, H, W, C]."""
    b, c = tf.shape(windows)[0], windows.shape[-1]
    x = tf.reshape(windows, [b, h // ws, w // ws, ws, ws, c])
    x = tf.transpose(x, [0, 1, 3, 2, 4, 5])
    return tf.reshape(x, [b, h, w, c])


def shift_attention_mask(hp, wp, ws, shift):
    """[nW, ws², ws²] additive mask (0 or −100) of the shifted-window regions (original
    ``SwinTransformerBlock``'s ``attn_mask``, computed for the padded size ``hp`` × ``wp``)."""
    def region(n):
        i = tf.range(n)
        return tf.cast(i >= n - ws, tf.int32) + tf.cast(i >= n - shift, tf.int32)

    img = tf.cast(region(hp)[:, None] * 3 + region(wp)[None, :], tf.float32)
    windows = window_partition(img[None, :, :, None], ws)[0, :, :, 0]  # [nW, ws²]
    diff = windows[:, None, :] - windows[:, :, None]
    return tf.where(diff != 0, -100.0, 0.0)


@keras.saving.register_keras_serializable(package="tfmodels")
class DropPath(keras.layers.Layer):
    """Stochastic depth per sample (timm ``DropPath``): zero the branch with probability
    ``rate`` while training, scale survivors by 1 / (1 − rate)."""

    def __init__(self, rate=0.0, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)

    def call(self, x, training=None):
        if not training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        shape = tf.concat([tf.shape(x)[:1], tf.ones([tf.rank(x) - 1], tf.int32)], 0)
        mask = tf.floor(keep + tf.random.uniform(shape, dtype=x.dtype))
        return x / keep * mask

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate)
        return config


def _dense(units, name, use_bias=True):
    return keras.layers.Dense(units, use_bias=use_bias, kernel_initializer=_TRUNC, name=name)


@keras.saving.register_keras_serializable(package="tfmodels")
class WindowAttention(keras.layers.Layer):
    """Window multi-head self-attention with relative position bias (``WindowAttention``).

    ``call(x [B, nW, N, C], attn_mask [nW, N, N] or None)``. ``query``/``key``/``value`` are the
    three thirds of the original's fused ``qkv`` (HF keeps them apart).
    """

    def __init__(self, dim, num_heads, window_size, qkv_bias=True, attention_dropout=0.0,
                 dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        if dim % num_heads:
            raise ValueError(f"dim ({dim}) must be a multiple of num_heads ({num_heads})")
        self.dim, self.num_heads, self.window_size = int(dim), int(num_heads), int(window_size)
        self.qkv_bias = bool(qkv_bias)
        self.attention_dropout, self.dropout = float(attention_dropout), float(dropout)
        self.query = _dense(dim, "query", qkv_bias)
        self.key = _dense(dim, "key", qkv_bias)
        self.value = _dense(dim, "value", qkv_bias)
        self.proj = _dense(dim, "proj")
        self.attn_drop = keras.layers.Dropout(attention_dropout)
        self.proj_drop = keras.layers.Dropout(dropout)
        self.index = relative_position_index(self.window_size).reshape(-1)

    def build(self, input_shape):
        shape = (None, self.dim)
        for layer in (self.query, self.key, self.value, self.proj):
            layer.build(shape)
        self.relative_position_bias_table = self.add_weight(
            name="relative_position_bias_table",
            shape=((2 * self.window_size - 1) ** 2, self.num_heads), initializer=_TRUNC)
        self.built = True

    def call(self, x, attn_mask=None, training=None):
        s = tf.shape(x)
        b, nw, n = s[0], s[1], s[2]
        hd = self.dim // self.num_heads

        def heads(t):  # [B, nW, N, C] -> [B, nW, h, N, hd]
            return tf.transpose(tf.reshape(t, [b, nw, n, self.num_heads, hd]), [0, 1, 3, 2, 4])

        q = heads(self.query(x)) * (hd ** -0.5)
        k, v = heads(self.key(x)), heads(self.value(x))
        attn = tf.matmul(q, k, transpose_b=True)  # [B, nW, h, N, N]
        n2 = self.window_size ** 2
        bias = tf.gather(self.relative_position_bias_table, self.index)
        bias = tf.transpose(tf.reshape(bias, [n2, n2, self.num_heads]), [2, 0, 1])
        attn = attn + tf.cast(bias, attn.dtype)
        if attn_mask is not None:
            attn = attn + tf.cast(attn_mask, attn.dtype)[None, :, None]
        attn = self.attn_drop(tf.nn.softmax(attn, axis=-1), training=training)
        out = tf.transpose(tf.matmul(attn, v), [0, 1, 3, 2, 4])
        out = tf.reshape(out, [b, nw, n, self.dim])
        return self.proj_drop(self.proj(out), training=training)

    def get_config(self):
        config = super().get_config()
        config.update(dim=self.dim, num_heads=self.num_heads, window_size=self.window_size,
                      qkv_bias=self.qkv_bias, attention_dropout=self.attention_dropout,
                      dropout=self.dropout)
        return config


@keras.saving.register_keras_serializable(package="tfmodels")
class SwinBlock(keras.layers.Layer):
    """``SwinTransformerBlock``: x + DropPath(W-MSA(LN(x))); x + DropPath(MLP(LN(x))).

    ``call(x [B, H, W, C])``; any H, W (padded to window multiples inside, as the original).
    """

    def __init__(self, dim, num_heads, window_size=7, shift_size=0, mlp_ratio=4.0,
                 qkv_bias=True, dropout=0.0, attention_dropout=0.0, drop_path=0.0,
                 epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= shift_size < window_size:
            raise ValueError(f"shift_size must be in [0, window_size); got {shift_size}")
        self.dim, self.num_heads = int(dim), int(num_heads)
        self.window_size, self.shift_size = int(window_size), int(shift_size)
        self.mlp_ratio, self.qkv_bias = float(mlp_ratio), bool(qkv_bias)
        self.dropout, self.attention_dropout = float(dropout), float(attention_dropout)
        self.drop_path_rate, self.epsilon = float(drop_path), float(epsilon)
        self.norm1 = LayerNorm(epsilon=epsilon, name="norm1")
        self.attn = WindowAttention(dim, num_heads, window_size, qkv_bias, attention_dropout,
                                    dropout, name="attn")
        self.drop_path = DropPath(drop_path)
        self.norm2 = LayerNorm(epsilon=epsilon, name="norm2")
        self.fc1 = _dense(int(dim * mlp_ratio), "fc1")
        self.fc2 = _dense(dim, "fc2")
        self.mlp_drop = keras.layers.Dropout(dropout)

    def build(self, input_shape):
        shape = (None, self.dim)
        self.norm1.build(shape)
        self.attn.build((None, None, None, self.dim))
        self.norm2.build(shape)
        self.fc1.build(shape)
        self.fc2.build((None, int(self.dim * self.mlp_ratio)))
        self.built = True

    def call(self, x, training=None):
        ws, shift = self.window_size, self.shift_size
        s = tf.shape(x)
        h, w = s[1], s[2]
        y = self.norm1(x)
        pad_b, pad_r = (ws - h % ws) % ws, (ws - w % ws) % ws
        y = tf.pad(y, [[0, 0], [0, pad_b], [0, pad_r], [0, 0]])
        hp, wp = h + pad_b, w + pad_r
        mask = None
        if shift:
            y = tf.roll(y, shift=[-shift, -shift], axis=[1, 2])
            mask = shift_attention_mask(hp, wp, ws, shift)
        y = self.attn(window_partition(y, ws), mask, training=training)
        y = window_reverse(y, ws, hp, wp)
        if shift:
            y = tf.roll(y, shift=[shift, shift], axis=[1, 2])
        x = x + self.drop_path(y[:, :h, :w, :], training=training)
        y = self.fc1(self.norm2(x))
        y = self.mlp_drop(tf.nn.gelu(y, approximate=False), training=training)
        y = self.mlp_drop(self.fc2(y), training=training)
        return x + self.drop_path(y, training=training)

    def get_config(self):
        config = super().get_config()
        config.update(dim=self.dim, num_heads=self.num_heads, window_size=self.window_size,
                      shift_size=self.shift_size, mlp_ratio=self.mlp_ratio,
                      qkv_bias=self.qkv_bias, dropout=self.dropout,
                      attention_dropout=self.attention_dropout, drop_path=self.drop_path_rate,
                      epsilon=self.epsilon)
        return config


@keras.saving.register_keras_serializable(package="tfmodels")
class PatchMerging(keras.layers.Layer):
    """``PatchMerging``: [B, H, W, C] -> [B, ⌈H/2⌉, ⌈W/2⌉, 2C]."""

    def __init__(self, dim, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.epsilon = int(dim), float(epsilon)
        self.norm = LayerNorm(epsilon=epsilon, name="norm")
        self.reduction = _dense(2 * dim, "reduction", use_bias=False)

    def build(self, input_shape):
        self.norm.build((None, 4 * self.dim))
        self.reduction.build((None, 4 * self.dim))
        self.built = True

    def call(self, x):
        s = tf.shape(x)
        x = tf.pad(x, [[0, 0], [0, s[1] % 2], [0, s[2] % 2], [0, 0]])
        x = tf.concat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]],
                      axis=-1)
        return self.reduction(self.norm(x))

    def get_config(self):
        config = super().get_config()
        config.update(dim=self.dim, epsilon=self.epsilon)
        return config


@keras.saving.register_keras_serializable(package="tfmodels")
class SwinBackbone(keras.layers.Layer):
    """``D2SwinTransformer``: ``call(x [B, H, W, 3])`` -> ``{res2..res5: [B, h, w, C]}``.

    Defaults are Swin-T (embed 96, depths 2-2-6-2, heads 3-6-12-24, window 7); Swin-S has
    depths 2-2-18-2. ``drop_path_rate`` grows linearly over all blocks (0.3 in MaskFormer's
    Swin configs). ``strides``/``channels`` give each feature's stride and width.
    """

    def __init__(self, embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24),
                 window_size=7, patch_size=4, mlp_ratio=4.0, qkv_bias=True, dropout=0.0,
                 attention_dropout=0.0, drop_path_rate=0.3, epsilon=1e-5,
                 out_features=FEATURE_NAMES, **kwargs):
        super().__init__(**kwargs)
        depths, num_heads = tuple(int(d) for d in depths), tuple(int(h) for h in num_heads)
        if len(depths) != 4 or len(num_heads) != 4:
            raise ValueError(f"depths and num_heads need four stages; got {depths}, {num_heads}")
        out_features = tuple(out_features)
        if not out_features or any(f not in FEATURE_NAMES for f in out_features):
            raise ValueError(f"out_features must be a non-empty subset of {FEATURE_NAMES}; "
                             f"got {out_features}")
        self.embed_dim, self.depths, self.num_heads = int(embed_dim), depths, num_heads
        self.window_size, self.patch_size = int(window_size), int(patch_size)
        self.mlp_ratio, self.qkv_bias = float(mlp_ratio), bool(qkv_bias)
        self.dropout, self.attention_dropout = float(dropout), float(attention_dropout)
        self.drop_path_rate, self.epsilon = float(drop_path_rate), float(epsilon)
        self.out_features = out_features
        self.patch_embed = keras.layers.Conv2D(self.embed_dim, self.patch_size,
                                               strides=self.patch_size, name="patch_embed")
        self.patch_norm = LayerNorm(epsilon=epsilon, name="patch_norm")
        rates = np.linspace(0.0, self.drop_path_rate, sum(depths))
        self.stages, self.downsamples, self.norms = [], [], []
        self.strides, self.channels = {}, {}
        k = 0
        for i, (depth, heads) in enumerate(zip(depths, num_heads)):
            dim = self.embed_dim * 2 ** i
            self.stages.append([
                SwinBlock(dim, heads, self.window_size,
                          0 if j % 2 == 0 else self.window_size // 2, mlp_ratio, qkv_bias,
                          dropout, attention_dropout, float(rates[k + j]), epsilon,
                          name=f"layers_{i}_blocks_{j}")
                for j in range(depth)])
            k += depth
            self.downsamples.append(PatchMerging(dim, epsilon, name=f"layers_{i}_downsample")
                                    if i < 3 else None)
            self.norms.append(LayerNorm(epsilon=epsilon, name=f"norm{i}"))
            self.strides[FEATURE_NAMES[i]] = self.patch_size * 2 ** i
            self.channels[FEATURE_NAMES[i]] = dim

    def build(self, input_shape):
        self.patch_embed.build((None, None, None, int(input_shape[-1])))
        self.patch_norm.build((None, self.embed_dim))
        for i, blocks in enumerate(self.stages):
            dim = self.embed_dim * 2 ** i
            for block in blocks:
                block.build((None, None, None, dim))
            if self.downsamples[i] is not None:
                self.downsamples[i].build((None, None, None, dim))
            self.norms[i].build((None, dim))
        self.built = True

    def call(self, x, training=None):
        p = self.patch_size
        s = tf.shape(x)
        x = tf.pad(x, [[0, 0], [0, (p - s[1] % p) % p], [0, (p - s[2] % p) % p], [0, 0]])
        x = self.patch_norm(self.patch_embed(x))
        out = {}
        for i, name in enumerate(FEATURE_NAMES):
            for block in self.stages[i]:
                x = block(x, training=training)
            if name in self.out_features:
                out[name] = self.norms[i](x)
            if all(f in out for f in self.out_features):
                break
            x = self.downsamples[i](x)
        return out

    def get_config(self):
        config = super().get_config()
        config.update(embed_dim=self.embed_dim, depths=list(self.depths),
                      num_heads=list(self.num_heads), window_size=self.window_size,
                      patch_size=self.patch_size, mlp_ratio=self.mlp_ratio,
                      qkv_bias=self.qkv_bias, dropout=self.dropout,
                      attention_dropout=self.attention_dropout,
                      drop_path_rate=self.drop_path_rate, epsilon=self.epsilon,
                      out_features=list(self.out_features))
        return config
