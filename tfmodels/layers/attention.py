"""Multi-head scaled dot-product attention (Vaswani et al. 2017).

Mirrors ``attention_layer`` of google-research/bert ``modeling.py``: separate
``query``/``key``/``value`` dense projections (kernels ``[in, heads·size]``, so
the original ``attention/self/{query,key,value}`` variables map 1:1), an
additive mask (``mask_value`` · (1 − mask), −10000 in BERT) and dropout on the
attention probabilities (:class:`~tfmodels.layers.dropout.Dropout`: a cheap mask under XLA).
The output projection ``output_dense`` corresponds to
BERT's ``attention/output/dense`` and to PyTorch's ``out_proj``.

Speed (not maths): projections of the same input run as one matmul on the
concatenated kernels, and the 1/sqrt(size) logit scale is folded into the query
kernel and bias (equal up to float32 rounding).
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from tfmodels.layers.dense_ops import apply_dense
from tfmodels.layers.dropout import Dropout
from tfmodels.layers.dropout import in_xla_context as _in_xla_context


def head_size(hidden_size, num_heads):
    """Width of one head; raises if ``hidden_size`` does not split evenly."""
    if num_heads <= 0 or hidden_size % num_heads:
        raise ValueError(
            f"hidden_size ({hidden_size}) is not a multiple of num_heads ({num_heads})"
        )
    return hidden_size // num_heads


def _dense(units, use_bias, initializer, name):
    return keras.layers.Dense(
        units, use_bias=use_bias, kernel_initializer=initializer, name=name
    )


@keras.saving.register_keras_serializable(package="tfmodels")
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head attention with explicit q/k/v projections.

    Args:
      num_heads: number of attention heads.
      key_dim: size of each head for queries and keys.
      value_dim: size of each head for values (default ``key_dim``).
      output_dim: width of the output projection (default: query width).
      dropout: dropout rate on the attention probabilities.
      use_bias: whether the projections have biases.
      kernel_initializer: initializer of the four kernels.
      mask_value: added to the logits of masked positions (BERT: −10000; use a
        very large negative number for PyTorch ``-inf`` semantics).
      output_projection: False returns the concatenated heads without the output
        projection (SASRec's ``multihead_attention`` has none).
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        output_dim=None,
        dropout=0.0,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        mask_value=-10000.0,
        output_projection=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if num_heads <= 0 or key_dim <= 0:
            raise ValueError(
                f"num_heads and key_dim must be positive, got {num_heads}, {key_dim}"
            )
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.value_dim = int(value_dim or key_dim)
        self.output_dim = output_dim
        self.dropout_rate = float(dropout)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.mask_value = float(mask_value)
        self.output_projection = bool(output_projection)
        init = self.kernel_initializer
        self.query = _dense(self.num_heads * self.key_dim, use_bias, init, "query")
        self.key = _dense(self.num_heads * self.key_dim, use_bias, init, "key")
        self.value = _dense(self.num_heads * self.value_dim, use_bias, init, "value")
        self.output_dense = None
        self.dropout = Dropout(self.dropout_rate)

    def build(self, query_shape, value_shape=None, key_shape=None):
        value_shape = value_shape or query_shape
        key_shape = key_shape or value_shape
        self.query.build(query_shape)
        self.key.build(key_shape)
        self.value.build(value_shape)
        if self.output_projection:
            out = self.output_dim or int(query_shape[-1])
            self.output_dense = _dense(out, self.use_bias, self.kernel_initializer,
                                       "output_dense")
            self.output_dense.build(tuple(query_shape[:-1]) + (self.num_heads * self.value_dim,))
        self.built = True

    def _projections(self, query, key, value):
        """q, k, v as [B, H, T, S] tensors, q already scaled by 1/sqrt(key_dim).

        Outside XLA, projections that read the same tensor (self-attention: all
        three; DETR: query and key) run as ONE matmul on the kernels concatenated at call time
        ([in, 3·H·S]) and are split after it; the variables stay three separate
        [in, out] Dense kernels (checkpoint names do not change).
        The 1/sqrt(key_dim) scale is folded into the query columns of the
        concatenated kernel and bias (BERT scales the logits: same maths, a
        [in, H·S] multiply instead of one on [B, H, T, T]).
        """
        scale = 1.0 / math.sqrt(self.key_dim)
        if _in_xla_context():
            # XLA already schedules three projections well; the slices after a fused
            # matmul cost it more than they save (measured: bench_bert.py).
            query_is_key = key_is_value = False
        else:
            query_is_key, key_is_value = query is key, key is value
        if query_is_key and key_is_value:
            groups = [((self.query, scale, self.key_dim), (self.key, 1.0, self.key_dim),
                       (self.value, 1.0, self.value_dim), query)]
        elif query_is_key:
            groups = [((self.query, scale, self.key_dim), (self.key, 1.0, self.key_dim), query),
                      ((self.value, 1.0, self.value_dim), value)]
        else:
            groups = [((self.query, scale, self.key_dim), query),
                      ((self.key, 1.0, self.key_dim), key),
                      ((self.value, 1.0, self.value_dim), value)]
        heads = []
        for group in groups:
            *parts, x = group
            heads.extend(self._fused_projection(x, parts))
        return heads

    def _fused_projection(self, x, parts):
        x = tf.convert_to_tensor(x)
        dtype = x.dtype
        kernels, biases = [], []
        for dense, scale, _ in parts:
            k = tf.cast(dense.kernel, dtype)
            kernels.append(k * tf.cast(scale, dtype) if scale != 1.0 else k)
            if self.use_bias:
                b = tf.cast(dense.bias, dtype)
                biases.append(b * tf.cast(scale, dtype) if scale != 1.0 else b)
        kernel = kernels[0] if len(kernels) == 1 else tf.concat(kernels, axis=1)
        shape = tf.shape(x)
        b, t = shape[0], shape[1]
        y = tf.matmul(tf.reshape(x, [-1, x.shape[-1]]), kernel)
        if self.use_bias:
            y = tf.nn.bias_add(y, biases[0] if len(biases) == 1 else tf.concat(biases, 0))
        sizes = [size for _, _, size in parts]
        if len(parts) == 1:
            return [tf.transpose(tf.reshape(y, [b, t, self.num_heads, sizes[0]]), [0, 2, 1, 3])]
        # tf.split + 4-D transposes: cheaper under XLA and in the gradient than one
        # 5-D transpose of [B, T, n, H, S].
        outs = tf.split(y, [self.num_heads * s for s in sizes], axis=-1)
        return [tf.transpose(tf.reshape(o, [b, t, self.num_heads, s]), [0, 2, 1, 3])
                for o, s in zip(outs, sizes)]

    def call(
        self,
        query,
        value=None,
        key=None,
        attention_mask=None,
        causal=False,
        training=None,
        return_attention_scores=False,
    ):
        value = query if value is None else value
        key = value if key is None else key
        q, k, v = self._projections(query, key, value)  # [B, H, T, S]
        logits = tf.matmul(q, k, transpose_b=True)  # [B, H, Tq, Tk]
        # Softmax statistics in float32 (mixed precision keeps them exact).
        logits = tf.cast(logits, tf.float32)
        mask = self._combine_masks(attention_mask, causal, tf.shape(logits))
        if mask is not None:
            logits += (1.0 - mask) * self.mask_value
        probs = tf.nn.softmax(logits, axis=-1)
        probs = tf.cast(probs, v.dtype)
        probs_dropped = self.dropout(probs, training=training)
        context = tf.matmul(probs_dropped, v)  # [B, H, Tq, Sv]
        context = tf.transpose(context, [0, 2, 1, 3])
        b, t = tf.shape(context)[0], tf.shape(context)[1]
        context = tf.reshape(context, [b, t, self.num_heads * self.value_dim])
        out = context if self.output_dense is None else apply_dense(self.output_dense, context)
        if return_attention_scores:
            return out, probs
        return out

    @staticmethod
    def _combine_masks(attention_mask, causal, logits_shape):
        """Return a float32 mask broadcastable to [B, H, Tq, Tk] (1 keep, 0 drop)."""
        mask = None
        if attention_mask is not None:
            mask = tf.cast(attention_mask, tf.float32)
            rank = mask.shape.rank
            if rank == 2:  # [B, Tk]
                mask = mask[:, None, None, :]
            elif rank == 3:  # [B, Tq, Tk]
                mask = mask[:, None, :, :]
            elif rank != 4:
                raise ValueError(
                    "attention_mask must have rank 2 ([B, Tk]), 3 ([B, Tq, Tk]) or 4; "
                    f"got rank {rank}"
                )
        if causal:
            tq, tk = logits_shape[2], logits_shape[3]
            tri = tf.linalg.band_part(tf.ones([tq, tk], tf.float32), -1, tk - tq)
            tri = tri[None, None, :, :]
            mask = tri if mask is None else mask * tri
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            key_dim=self.key_dim,
            value_dim=self.value_dim,
            output_dim=self.output_dim,
            dropout=self.dropout_rate,
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            mask_value=self.mask_value,
            output_projection=self.output_projection,
        )
        return config
