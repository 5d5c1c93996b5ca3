"""BERT for SQuAD: start/end logits of ``run_squad.create_model`` and its loss.

* :class:`BertSpanLabeler` - BertModel + :class:`SpanHead` (``cls/squad/output_weights``
  [2, hidden], ``cls/squad/output_bias``) on the sequence output.
* :func:`squad_loss_fn` - the :class:`tfmodels.training.Trainer` loss: the original
  ``compute_loss`` (mean over the batch of -log softmax at the gold position) for the
  start and the end, averaged.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from tfmodels.models.bert.checkpoint import original_names
from tfmodels.models.bert.classifier import bert_inputs
from tfmodels.models.bert.config import BertConfig
from tfmodels.models.bert.heads import SpanHead
from tfmodels.models.bert.model import BertModel


@keras.saving.register_keras_serializable(package="tfmodels")
class BertSpanLabeler(keras.Model):
    """``call(features, training)`` -> ``{"start_logits", "end_logits"}`` [B, T] float32."""

    def __init__(self, config, **kwargs):
        if isinstance(config, dict):
            config = BertConfig.from_dict(config)
        kwargs.setdefault("name", "bert_span_labeler")
        super().__init__(**kwargs)
        self.config = config
        self.bert = BertModel(config, output_all_layers=False)
        self.squad = SpanHead(config.hidden_size, initializer_range=config.initializer_range)

    def build(self, input_shape=None):
        if self.built:
            return
        self.bert.build()
        self.squad.build()
        self.built = True

    def call(self, features, training=None):
        sequence = self.bert(bert_inputs(features), training=training)["sequence_output"]
        start_logits, end_logits = self.squad(sequence)
        return {"start_logits": start_logits, "end_logits": end_logits}

    @property
    def heads(self):
        """The output head(s) on top of ``self.bert`` (for checkpoint loading)."""
        return [self.squad]

    def original_names(self):
        """{original TF1 name: variable}: ``bert/...`` plus ``cls/squad/...``."""
        return original_names(self.bert, [self.squad])

    def get_config(self):
        return {"name": self.name, "config": dataclasses.asdict(self.config)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(BertConfig(**config.pop("config")), **config)


def position_loss(logits, positions):
    """Per-example -log softmax(logits)[position] (the original ``compute_loss`` before
    its batch mean)."""
    log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
    positions = tf.reshape(tf.cast(positions, tf.int32), [-1])
    return -tf.gather(log_probs, positions, axis=1, batch_dims=1)


def squad_loss_fn(model, features, training):
    """Trainer loss: (start_loss + end_loss) / 2, each a batch mean, as the original."""
    outputs = model(features, training=training)
    start = position_loss(outputs["start_logits"], features["start_positions"])
    end = position_loss(outputs["end_logits"], features["end_positions"])
    per_example = (start + end) / 2.0
    count = tf.cast(tf.size(per_example), tf.float32)
    return tf.reduce_mean(per_example), {"loss": (tf.reduce_sum(per_example), count)}
