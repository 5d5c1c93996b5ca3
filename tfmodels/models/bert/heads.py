"""Output heads on top of BertModel, mirroring google-research/bert.

* :class:`MaskedLMHead` - ``run_pretraining.get_masked_lm_output``: gather the masked
  positions, Dense + activation + LayerNorm transform, decoder tied to the word
  embedding table plus ``output_bias``, log-softmax.
* :class:`NextSentenceHead` - ``get_next_sentence_output``: ``output_weights``
  [2, hidden] and ``output_bias`` on the pooled output, log-softmax.
* :class:`BertPretrainingHeads` - both, named ``cls/predictions`` / ``cls/seq_relationship``
  in original checkpoints.
* :class:`ClassifierHead` - ``run_classifier.create_model`` (dropout 0.1 on the pooled
  output, ``output_weights`` [num_labels, hidden]).
* :class:`SpanHead` - ``run_squad.create_model`` (``cls/squad/output_weights`` [2, hidden]).

The loss helpers reproduce the original formulas exactly, e.g. the masked LM loss
``sum(w * nll) / (sum(w) + 1e-5)``. Logits and log-probs are float32 under any policy.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from tfmodels.layers import LayerNorm, get_activation
from tfmodels.models.bert.config import BertConfig


def _as_config(config):
    """A BertConfig, also from its ``get_config`` dict form."""
    return BertConfig.from_dict(config) if isinstance(config, dict) else config


def _init(config):
    return keras.initializers.TruncatedNormal(stddev=config.initializer_range)


def gather_indexes(sequence_tensor, positions):
    """[B, T, H] gathered at positions [B, P] -> [B*P, H] (original ``gather_indexes``)."""
    positions = tf.cast(positions, tf.int32)
    gathered = tf.gather(sequence_tensor, positions, batch_dims=1)  # [B, P, H]
    width = sequence_tensor.shape[-1] or tf.shape(sequence_tensor)[-1]
    return tf.reshape(gathered, [-1, width])


def _table_getter(embedding_source):
    if hasattr(embedding_source, "get_embedding_table"):
        return embedding_source.get_embedding_table
    if callable(embedding_source):
        return embedding_source
    return lambda: embedding_source


_TIED_HELP = ("the masked LM decoder is tied to the BertModel's word embeddings: pass "
              "embedding_source, or call tie(bert_model) after from_config")


@keras.saving.register_keras_serializable(package="tfmodels")
class MaskedLMHead(keras.layers.Layer):
    """Masked LM output (original ``get_masked_lm_output``).

    Args:
      config: BertConfig (hidden size, activation, vocab size, initializer).
      embedding_source: the BertModel (or a callable / variable giving the
        [vocab, hidden] word embedding table); the decoder is tied to it.

    ``call(sequence_output [B, T, H], masked_lm_positions [B, P])`` returns
    log-probabilities [B*P, vocab_size], float32, as the original.

    Serialization: the tied table belongs to the BertModel, so ``get_config`` holds only
    the BertConfig; ``from_config`` gives an untied head and the model owning both
    (:class:`~tfmodels.models.bert.pretraining.BertPretrainer`) ties it again with
    :meth:`tie`.
    """

    def __init__(self, config, embedding_source=None, **kwargs):
        kwargs.setdefault("name", "predictions")
        super().__init__(**kwargs)
        config = _as_config(config)
        self.config = config
        self._embedding_table = None
        if embedding_source is not None:
            self.tie(embedding_source)
        h = config.hidden_size
        self.transform_dense = keras.layers.Dense(
            h, activation=get_activation(config.activation), kernel_initializer=_init(config),
            name="transform_dense")
        self.transform_layer_norm = LayerNorm(
            epsilon=config.layer_norm_eps, name="transform_layer_norm")

    def build(self, input_shape=None):
        if self.built:
            return
        h = self.config.hidden_size
        self.transform_dense.build((None, h))
        self.transform_layer_norm.build((None, h))
        self.output_bias = self.add_weight(
            name="output_bias", shape=(self.config.vocab_size,), initializer="zeros")
        self.built = True

    def tie(self, embedding_source):
        """Ties the decoder to ``embedding_source`` (a BertModel, callable or variable)."""
        # A bound method / closure is not tracked, so the tied table stays owned
        # by the BertModel and is not duplicated in this layer's weights.
        self._embedding_table = _table_getter(embedding_source)

    def call(self, sequence_output, masked_lm_positions):
        if self._embedding_table is None:
            raise ValueError(f"{self.name}: {_TIED_HELP}")
        x = gather_indexes(sequence_output, masked_lm_positions)
        x = self.transform_layer_norm(self.transform_dense(x))
        table = tf.cast(self._embedding_table(), x.dtype)
        logits = tf.matmul(x, table, transpose_b=True)
        logits = tf.cast(logits, tf.float32) + tf.cast(self.output_bias, tf.float32)
        return tf.nn.log_softmax(logits, axis=-1)

    def get_config(self):
        # The tied table belongs to the BertModel: see tie().
        return {**super().get_config(), "config": dataclasses.asdict(self.config)}


@keras.saving.register_keras_serializable(package="tfmodels")
class NextSentenceHead(keras.layers.Layer):
    """Next-sentence prediction (original ``get_next_sentence_output``)."""

    def __init__(self, config, **kwargs):
        kwargs.setdefault("name", "seq_relationship")
        super().__init__(**kwargs)
        self.config = _as_config(config)

    def build(self, input_shape=None):
        if self.built:
            return
        self.output_weights = self.add_weight(
            name="output_weights", shape=(2, self.config.hidden_size),
            initializer=_init(self.config))
        self.output_bias = self.add_weight(name="output_bias", shape=(2,), initializer="zeros")
        self.built = True

    def call(self, pooled_output):
        w = tf.cast(self.output_weights, pooled_output.dtype)
        logits = tf.cast(tf.matmul(pooled_output, w, transpose_b=True), tf.float32)
        return tf.nn.log_softmax(logits + tf.cast(self.output_bias, tf.float32), axis=-1)

    def get_config(self):
        return {**super().get_config(), "config": dataclasses.asdict(self.config)}


@keras.saving.register_keras_serializable(package="tfmodels")
class BertPretrainingHeads(keras.layers.Layer):
    """Masked LM + next sentence heads (the original ``cls/`` scope).

    ``call(bert_outputs, masked_lm_positions)`` with ``bert_outputs`` the dict from
    BertModel returns ``{"masked_lm_log_probs": [B*P, V], "next_sentence_log_probs":
    [B, 2]}``. As :class:`MaskedLMHead`, ``from_config`` gives untied heads; :meth:`tie`
    ties them to a BertModel.
    """

    def __init__(self, config, embedding_source=None, **kwargs):
        kwargs.setdefault("name", "cls")
        super().__init__(**kwargs)
        config = _as_config(config)
        self.config = config
        self.predictions = MaskedLMHead(config, embedding_source, name="predictions")
        self.seq_relationship = NextSentenceHead(config, name="seq_relationship")

    def build(self, input_shape=None):
        self.predictions.build()
        self.seq_relationship.build()
        self.built = True

    def tie(self, embedding_source):
        """Ties the masked LM decoder to ``embedding_source`` (a BertModel)."""
        self.predictions.tie(embedding_source)

    def call(self, bert_outputs, masked_lm_positions):
        return {
            "masked_lm_log_probs": self.predictions(
                bert_outputs["sequence_output"], masked_lm_positions),
            "next_sentence_log_probs": self.seq_relationship(bert_outputs["pooled_output"]),
        }

    def get_config(self):
        # The tied table belongs to the BertModel: see tie().
        return {**super().get_config(), "config": dataclasses.asdict(self.config)}


def masked_lm_loss(log_probs, label_ids, label_weights):
    """Original masked LM loss: sum(w * nll) / (sum(w) + 1e-5).

    Args: log_probs [B*P, V]; label_ids, label_weights [B, P].
    Returns (loss scalar, per_example_loss [B*P]).
    """
    label_ids = tf.reshape(tf.cast(label_ids, tf.int32), [-1])
    label_weights = tf.reshape(tf.cast(label_weights, tf.float32), [-1])
    log_probs = tf.cast(log_probs, tf.float32)
    per_example_loss = -tf.gather(log_probs, label_ids, axis=1, batch_dims=1)
    numerator = tf.reduce_sum(label_weights * per_example_loss)
    denominator = tf.reduce_sum(label_weights) + 1e-5
    return numerator / denominator, per_example_loss


def next_sentence_loss(log_probs, labels):
    """Original next sentence loss: mean NLL. Returns (loss, per_example_loss [B])."""
    labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
    per_example_loss = -tf.gather(tf.cast(log_probs, tf.float32), labels, axis=1, batch_dims=1)
    return tf.reduce_mean(per_example_loss), per_example_loss


@keras.saving.register_keras_serializable(package="tfmodels")
class ClassifierHead(keras.layers.Layer):
    """Sequence classifier of ``run_classifier.create_model``.

    ``call(pooled_output, training)`` -> logits [B, num_labels] (float32): dropout
    (``hidden_dropout_prob``, the original hard-codes 0.1 = the default) then
    ``pooled @ output_weights^T + output_bias``.
    """

    def __init__(self, num_labels, hidden_size, dropout=0.1, initializer_range=0.02, **kwargs):
        kwargs.setdefault("name", "classifier")
        super().__init__(**kwargs)
        if int(num_labels) < 1:
            raise ValueError(f"num_labels must be >= 1, got {num_labels}")
        self.num_labels = int(num_labels)
        self.hidden_size = int(hidden_size)
        self.dropout_rate = float(dropout)
        self.initializer_range = float(initializer_range)
        self.dropout = keras.layers.Dropout(self.dropout_rate)

    def build(self, input_shape=None):
        if self.built:
            return
        self.output_weights = self.add_weight(
            name="output_weights", shape=(self.num_labels, self.hidden_size),
            initializer=keras.initializers.TruncatedNormal(stddev=self.initializer_range))
        self.output_bias = self.add_weight(
            name="output_bias", shape=(self.num_labels,), initializer="zeros")
        self.built = True

    def call(self, pooled_output, training=None):
        x = self.dropout(pooled_output, training=training)
        logits = tf.matmul(x, tf.cast(self.output_weights, x.dtype), transpose_b=True)
        return tf.cast(logits, tf.float32) + tf.cast(self.output_bias, tf.float32)

    def get_config(self):
        return {
            **super().get_config(),
            "num_labels": self.num_labels,
            "hidden_size": self.hidden_size,
            "dropout": self.dropout_rate,
            "initializer_range": self.initializer_range,
        }


def classification_loss(logits, labels):
    """Mean NLL as ``run_classifier.create_model``; returns (loss, per_example, probs)."""
    log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
    labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
    per_example = -tf.gather(log_probs, labels, axis=1, batch_dims=1)
    return tf.reduce_mean(per_example), per_example, tf.exp(log_probs)


@keras.saving.register_keras_serializable(package="tfmodels")
class SpanHead(keras.layers.Layer):
    """SQuAD start/end logits of ``run_squad.create_model`` (``cls/squad``).

    ``call(sequence_output [B, T, H])`` -> (start_logits, end_logits), each [B, T] float32.
    """

    def __init__(self, hidden_size, initializer_range=0.02, **kwargs):
        kwargs.setdefault("name", "squad")
        super().__init__(**kwargs)
        self.hidden_size = int(hidden_size)
        self.initializer_range = float(initializer_range)

    def build(self, input_shape=None):
        if self.built:
            return
        self.output_weights = self.add_weight(
            name="output_weights", shape=(2, self.hidden_size),
            initializer=keras.initializers.TruncatedNormal(stddev=self.initializer_range))
        self.output_bias = self.add_weight(name="output_bias", shape=(2,), initializer="zeros")
        self.built = True

    def call(self, sequence_output):
        w = tf.cast(self.output_weights, sequence_output.dtype)
        logits = tf.cast(tf.einsum("bth,nh->bnt", sequence_output, w), tf.float32)
        logits += tf.cast(self.output_bias, tf.float32)[None, :, None]
        return logits[:, 0], logits[:, 1]

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_size": self.hidden_size,
            "initializer_range": self.initializer_range,
        }
