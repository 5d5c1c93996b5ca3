"""BERT sentence(-pair) classifier and regressor of ``run_classifier.create_model``.

* :class:`BertClassifier` - BertModel + :class:`ClassifierHead` (dropout 0.1 on the
  pooled output, ``output_weights`` [num_labels, hidden] and ``output_bias``, the
  original's top-level checkpoint names); ``num_labels=1`` with ``regression=True`` gives
  one score (STS-B), which the original lacks.
* :func:`classifier_loss_fn` - the :class:`tfmodels.training.Trainer` loss: the mean NLL
  of the original (mean squared error for regression); metrics as (numerator,
  denominator) sums weighted by ``is_real_example`` (the original's eval ``metric_fn``:
  ``accuracy``, ``per_example_loss``) plus the confusion fractions ``tp``/``fp``/``fn``/
  ``tn`` of a two-class task, from which F1 and MCC follow exactly (both are unchanged
  when the four counts are scaled).
* :func:`eval_batch_loss` - the Estimator's eval ``loss`` (mean over batches of the batch
  mean).
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from tfmodels.models.bert.checkpoint import original_names
from tfmodels.models.bert.config import BertConfig
from tfmodels.models.bert.heads import ClassifierHead, classification_loss
from tfmodels.models.bert.model import BertModel


def bert_inputs(features):
    """BertModel inputs from run_classifier/run_squad features (``segment_ids``) or the
    TF Hub names (``input_word_ids``, ``input_type_ids``)."""
    ids = features["input_ids"] if "input_ids" in features else features["input_word_ids"]
    for key in ("segment_ids", "token_type_ids", "input_type_ids"):
        if key in features:
            types = features[key]
            break
    else:
        types = tf.zeros_like(ids)
    return {"input_ids": ids, "input_mask": features["input_mask"], "token_type_ids": types}


@keras.saving.register_keras_serializable(package="tfmodels")
class BertClassifier(keras.Model):
    """``call(features, training)`` -> logits [B, num_labels] (float32).

    ``features``: a dict with ``input_ids``, ``input_mask`` and ``segment_ids`` (or
    ``token_type_ids``), int [B, T].
    """

    def __init__(self, config, num_labels, regression=False, dropout=0.1, **kwargs):
        if isinstance(config, dict):
            config = BertConfig.from_dict(config)
        kwargs.setdefault("name", "bert_classifier")
        super().__init__(**kwargs)
        self.config = config
        self.num_labels = int(num_labels)
        self.regression = bool(regression)
        if self.regression and self.num_labels != 1:
            raise ValueError(f"a regression has num_labels=1; got {num_labels}")
        self.dropout = float(dropout)
        self.bert = BertModel(config, output_all_layers=False)
        self.classifier = ClassifierHead(self.num_labels, config.hidden_size, dropout=dropout,
                                         initializer_range=config.initializer_range)

    def build(self, input_shape=None):
        if self.built:
            return
        self.bert.build()
        self.classifier.build()
        self.built = True

    def call(self, features, training=None):
        pooled = self.bert(bert_inputs(features), training=training)["pooled_output"]
        return self.classifier(pooled, training=training)

    @property
    def heads(self):
        """The output head(s) on top of ``self.bert`` (for checkpoint loading)."""
        return [self.classifier]

    def original_names(self):
        """{original TF1 name: variable}: ``bert/...`` plus ``output_weights``/``output_bias``."""
        return original_names(self.bert, [self.classifier])

    def get_config(self):
        return {"name": self.name, "config": dataclasses.asdict(self.config),
                "num_labels": self.num_labels, "regression": self.regression,
                "dropout": self.dropout}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(BertConfig(**config.pop("config")), **config)


def probabilities(logits, regression=False):
    """Class probabilities (softmax), or the score itself for a regression."""
    logits = tf.cast(logits, tf.float32)
    return logits if regression else tf.nn.softmax(logits, axis=-1)


def classifier_losses(logits, features, regression=False):
    """(mean loss, per-example loss [B]): NLL as the original, or squared error."""
    labels = features["label_ids"]
    if regression:
        scores = tf.reshape(tf.cast(logits, tf.float32), [-1])
        per_example = tf.square(scores - tf.reshape(tf.cast(labels, tf.float32), [-1]))
        return tf.reduce_mean(per_example), per_example
    loss, per_example, _ = classification_loss(logits, labels)
    return loss, per_example


def classifier_metrics(logits, features, per_example, regression=False, num_labels=2):
    """Eval sums ``{name: (numerator, denominator)}`` weighted by ``is_real_example``."""
    w = tf.cast(tf.reshape(features.get("is_real_example", tf.ones_like(per_example)), [-1]),
                tf.float32)
    count = tf.reduce_sum(w)
    out = {"per_example_loss": (tf.reduce_sum(w * per_example), count)}
    if regression:
        return out
    labels = tf.reshape(tf.cast(features["label_ids"], tf.int32), [-1])
    pred = tf.argmax(logits, axis=-1, output_type=tf.int32)
    out["accuracy"] = (tf.reduce_sum(w * tf.cast(tf.equal(pred, labels), tf.float32)), count)
    if num_labels == 2:
        p, y = tf.cast(pred, tf.float32), tf.cast(labels, tf.float32)
        out["tp"] = (tf.reduce_sum(w * p * y), count)
        out["fp"] = (tf.reduce_sum(w * p * (1 - y)), count)
        out["fn"] = (tf.reduce_sum(w * (1 - p) * y), count)
        out["tn"] = (tf.reduce_sum(w * (1 - p) * (1 - y)), count)
    return out


def classifier_loss_fn(model, features, training):
    """Trainer loss function of :class:`BertClassifier` (see the module docstring)."""
    logits = model(features, training=training)
    loss, per_example = classifier_losses(logits, features, model.regression)
    if training:
        return loss, {"loss": (tf.reduce_sum(per_example),
                               tf.cast(tf.size(per_example), tf.float32))}
    return loss, classifier_metrics(logits, features, per_example, model.regression,
                                    model.num_labels)


def eval_batch_loss(sums):
    """The Estimator's eval ``loss``: each eval batch's mean loss, averaged over batches."""
    total, count = sums["per_example_loss"]
    return {"loss": (total / tf.maximum(count, 1.0), tf.constant(1.0))}
