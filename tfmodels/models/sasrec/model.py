"""SASRec: self-attentive sequential recommendation (Kang & McAuley, ICDM 2018).

Mirrors kang205/SASRec ``model.py`` / ``modules.py``:

- item embedding [num_items + 1, d] with row 0 (padding) held at zero (``zero_pad=True``) and
  scaled by sqrt(d); a learned position embedding [maxlen, d] (not scaled) added; dropout; the
  sequence multiplied by the padding mask;
- ``num_blocks`` blocks, each (original order, neither pre- nor post-norm)::

      q = LN(x)                                  # only the queries are normalised
      a = Attention(q, keys=x, values=x) + q      # causal, padded keys masked, no out-projection
      f = LN(a)
      x = (Dropout(Conv1x1(Dropout(ReLU(Conv1x1(f))))) + f) * mask

- a final LN (every LN: epsilon 1e-8), scores = dot product with the (zero-padded) item table.

The attention masks with the original's constant −2^32+1, so a query whose keys are all padding
attends uniformly, as there. The original also multiplies the attention probabilities of
padded queries by zero ("query masking"); those rows are zeroed by the mask at the end of the
block, so only padded positions differ, and they are never scored: it is left out.

Options beyond the original (off by default): ``norm_first`` (pre-norm blocks,
x + Attention(LN(x)) then x + FFN(LN(x)), as pmixer/SASRec.pytorch ``--norm_first``); the
losses in :mod:`losses` (full-softmax cross-entropy, several negatives).

Every dropout is :class:`tfmodels.layers.Dropout`: ``keras.layers.Dropout`` outside XLA; under
``jit_compile`` a Threefry mask (another random stream than the original's ``tf.layers.dropout``,
same keep probability and scaling), because XLA's default generator is slow on CPU.

Inputs are left-padded item-id sequences [B, T] (0 = padding, ids 1..num_items). Shorter
widths than ``maxlen`` are left-padded to ``maxlen`` inside the model, so positions are always
counted from the right as in the original (the last item sits at position maxlen − 1).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfmodels.layers import Dropout, FeedForward, LayerNorm, MultiHeadAttention, PositionEmbedding
from tfmodels.layers.attention import head_size

# kang205/SASRec modules.multihead_attention: paddings = ones_like(outputs) * (-2**32 + 1)
MASK_VALUE = float(-(2**32) + 1)
LAYER_NORM_EPSILON = 1e-8


@keras.saving.register_keras_serializable(package="tfmodels")
class SASRecBlock(keras.layers.Layer):
    """One SASRec self-attention block (``num_blocks_i`` in the original).

    Args:
      hidden_units: model width d.
      num_heads: attention heads (d must split evenly).
      dropout_rate: dropout on attention probabilities and after both 1x1 convolutions.
      norm_first: pre-norm block instead of the original's.
      epsilon: LayerNorm epsilon (original 1e-8).
    """

    def __init__(self, hidden_units, num_heads=1, dropout_rate=0.0, norm_first=False,
                 epsilon=LAYER_NORM_EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = int(hidden_units)
        self.num_heads = int(num_heads)
        self.dropout_rate = float(dropout_rate)
        self.norm_first = bool(norm_first)
        self.epsilon = float(epsilon)
        size = head_size(self.hidden_units, self.num_heads)
        self.attention_norm = LayerNorm(epsilon=self.epsilon, name="attention_norm")
        self.attention = MultiHeadAttention(
            self.num_heads, size, dropout=self.dropout_rate, mask_value=MASK_VALUE,
            output_projection=False, name="self_attention")
        self.forward_norm = LayerNorm(epsilon=self.epsilon, name="forward_norm")
        # conv1d(kernel_size=1) == dense on the last axis; ReLU, dropout between them.
        self.feed_forward = FeedForward(self.hidden_units, self.hidden_units, activation="relu",
                                        inner_dropout=self.dropout_rate, name="feed_forward")
        self.output_dropout = Dropout(self.dropout_rate)

    def build(self, input_shape):
        self.attention_norm.build(input_shape)
        self.attention.build(input_shape, input_shape)
        self.forward_norm.build(input_shape)
        self.feed_forward.build(input_shape)
        self.built = True

    def call(self, x, mask, training=None):
        """x: [B, T, d] (padded rows zero); mask: [B, T] float, 1 for items."""
        key_mask = mask
        if self.norm_first:
            h = self.attention_norm(x)
            x = x + self.attention(h, h, attention_mask=key_mask, causal=True,
                                   training=training)
            h = self.forward_norm(x)
            x = x + self.output_dropout(self.feed_forward(h, training=training),
                                        training=training)
        else:
            q = self.attention_norm(x)
            a = self.attention(q, x, attention_mask=key_mask, causal=True,
                               training=training) + q
            f = self.forward_norm(a)
            x = self.output_dropout(self.feed_forward(f, training=training),
                                    training=training) + f
        return x * mask[..., None]

    def get_config(self):
        config = super().get_config()
        config.update(hidden_units=self.hidden_units, num_heads=self.num_heads,
                      dropout_rate=self.dropout_rate, norm_first=self.norm_first,
                      epsilon=self.epsilon)
        return config


@keras.saving.register_keras_serializable(package="tfmodels")
class SASRec(keras.Model):
    """The SASRec sequence encoder with a shared item table for scoring.

    Args (original ``main.py`` flag names):
      num_items: items are 1..num_items (the original's ``itemnum``); 0 is padding.
      maxlen: the longest history used (original default 50; ML-1M 200).
      hidden_units, num_blocks, num_heads, dropout_rate: as the original flags.
      l2_emb: L2 on both embedding tables, ``l2_emb * sum(w**2) / 2`` each (the original's
        ``tf.contrib.layers.l2_regularizer``); added by :meth:`regularization_loss`.
      norm_first: pre-norm blocks (off: the original).

    ``call(input_seq)`` returns the sequence features [B, maxlen, d] (after the final LN);
    :meth:`score_items`, :meth:`score_all` and :meth:`last_features` score them.
    """

    def __init__(self, num_items, maxlen=50, hidden_units=50, num_blocks=2, num_heads=1,
                 dropout_rate=0.5, l2_emb=0.0, norm_first=False, epsilon=LAYER_NORM_EPSILON,
                 **kwargs):
        super().__init__(**kwargs)
        for name, value in (("num_items", num_items), ("maxlen", maxlen),
                            ("hidden_units", hidden_units), ("num_heads", num_heads)):
            if int(value) < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if int(num_blocks) < 0:
            raise ValueError(f"num_blocks must be >= 0, got {num_blocks}")
        if not 0.0 <= float(dropout_rate) < 1.0:
            raise ValueError(f"dropout_rate must be in [0, 1), got {dropout_rate}")
        if float(l2_emb) < 0:
            raise ValueError(f"l2_emb must be >= 0, got {l2_emb}")
        self.num_items = int(num_items)
        self.maxlen = int(maxlen)
        self.hidden_units = int(hidden_units)
        self.num_blocks = int(num_blocks)
        self.num_heads = int(num_heads)
        self.dropout_rate = float(dropout_rate)
        self.l2_emb = float(l2_emb)
        self.norm_first = bool(norm_first)
        self.epsilon = float(epsilon)
        head_size(self.hidden_units, self.num_heads)
        self.position_embedding = PositionEmbedding(self.maxlen, initializer="glorot_uniform",
                                                    name="position_embedding")
        self.embedding_dropout = Dropout(self.dropout_rate)
        self.blocks = [
            SASRecBlock(self.hidden_units, self.num_heads, self.dropout_rate, self.norm_first,
                        self.epsilon, name=f"block_{i}")
            for i in range(self.num_blocks)
        ]
        self.final_norm = LayerNorm(epsilon=self.epsilon, name="final_norm")
        self._build_weights()

    def _build_weights(self):
        d = self.hidden_units
        # tf.get_variable's default initializer (glorot uniform), as the original.
        self.item_embedding = self.add_weight(
            name="item_embedding", shape=(self.num_items + 1, d), initializer="glorot_uniform")
        shape = (None, self.maxlen, d)
        self.position_embedding.build(shape)
        for block in self.blocks:
            block.build(shape)
        self.final_norm.build(shape)
        self.built = True

    def build(self, input_shape=None):
        self.built = True

    def item_table(self):
        """The item table with row 0 (padding) replaced by zeros: [num_items + 1, d]."""
        w = self.item_embedding
        return tf.concat([tf.zeros_like(w[:1]), w[1:]], axis=0)

    def pad_inputs(self, input_seq):
        """Left-pad [B, T<=maxlen] ids to [B, maxlen]; longer inputs raise."""
        input_seq = tf.cast(tf.convert_to_tensor(input_seq), tf.int32)
        width = input_seq.shape[-1]
        if width is not None and width > self.maxlen:
            raise ValueError(f"input_seq has {width} positions, more than maxlen={self.maxlen}; "
                             "keep the last maxlen items")
        pad = self.maxlen - tf.shape(input_seq)[1]
        tf.debugging.assert_non_negative(pad, message="input_seq is longer than maxlen")
        return tf.pad(input_seq, [[0, 0], [pad, 0]])

    def call(self, input_seq, training=None):
        input_seq = self.pad_inputs(input_seq)
        table = self.item_table()
        mask = tf.cast(tf.not_equal(input_seq, 0), self.compute_dtype)
        seq = tf.gather(tf.cast(table, self.compute_dtype), input_seq)
        seq = seq * (self.hidden_units ** 0.5)
        seq = seq + self.position_embedding(seq)
        seq = self.embedding_dropout(seq, training=training)
        seq = seq * mask[..., None]
        for block in self.blocks:
            seq = block(seq, mask, training=training)
        return self.final_norm(seq)

    def score_items(self, features, items):
        """Dot products of features [..., d] with the embeddings of ids items [..., n]."""
        emb = tf.gather(tf.cast(self.item_table(), features.dtype), items)
        return tf.einsum("...d,...nd->...n", features, emb)

    def score_all(self, features):
        """Scores of every item id 0..num_items: [..., num_items + 1] (column 0 is padding)."""
        table = tf.cast(self.item_table(), features.dtype)
        return tf.matmul(features, table, transpose_b=True)

    def last_features(self, input_seq, training=False):
        """Features of the last position [B, d]: what the original scores at test time."""
        return self(input_seq, training=training)[:, -1, :]

    def regularization_loss(self):
        """l2_emb * (sum(item_emb**2) + sum(pos_emb**2)) / 2, or 0 when l2_emb is 0."""
        if self.l2_emb == 0.0:
            return tf.constant(0.0)
        return self.l2_emb * (tf.nn.l2_loss(self.item_embedding)
                              + tf.nn.l2_loss(self.position_embedding.embeddings))

    def get_config(self):
        config = super().get_config()
        config.update(num_items=self.num_items, maxlen=self.maxlen,
                      hidden_units=self.hidden_units, num_blocks=self.num_blocks,
                      num_heads=self.num_heads, dropout_rate=self.dropout_rate,
                      l2_emb=self.l2_emb, norm_first=self.norm_first, epsilon=self.epsilon)
        return config
