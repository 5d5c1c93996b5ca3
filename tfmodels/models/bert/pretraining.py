"""BERT pre-training: model, losses, metrics and resumable training checkpoints.

Mirrors google-research/bert ``run_pretraining.py``:

* :class:`BertPretrainer` - BertModel + ``cls/predictions`` (masked LM, decoder tied
  to the word embeddings) + ``cls/seq_relationship`` (next sentence) heads;
* :func:`pretraining_losses` - masked LM loss ``sum(w * nll) / (sum(w) + 1e-5)``,
  next sentence loss ``mean(nll)``, total = their sum (``model_fn``);
* :func:`pretraining_metrics` - the original eval ``metric_fn`` (weighted masked LM
  accuracy and mean loss, next sentence accuracy and mean loss) as (numerator,
  denominator) sums, so batches and replicas are summed before dividing;
  :func:`pretraining_loss_fn` / :func:`eval_batch_loss` plug them into
  :class:`tfmodels.training.Trainer`;
* :class:`TrainingCheckpoint` - a :class:`tfmodels.training.NamedCheckpoint` of the
  weights under the original variable names, with the optimizer slots as
  ``<name>/adam_m`` / ``<name>/adam_v`` and ``global_step``, like the checkpoints of
  the original training loop. Writes are atomic (temporary prefix, rename, then the
  ``checkpoint`` state file), so a killed run never leaves a partial checkpoint that a
  restart would read.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from tfmodels.models.bert.checkpoint import original_names
from tfmodels.models.bert.config import BertConfig
from tfmodels.models.bert.heads import BertPretrainingHeads, masked_lm_loss, next_sentence_loss
from tfmodels.models.bert.model import BertModel
from tfmodels.training.checkpoints import NamedCheckpoint, with_optimizer_slots


@keras.saving.register_keras_serializable(package="tfmodels")
class BertPretrainer(keras.Model):
    """BertModel with the masked LM and next sentence heads.

    ``call(features)`` takes the dict of the pre-training records (``input_ids``,
    ``input_mask``, ``segment_ids``, ``masked_lm_positions``) and returns
    ``masked_lm_log_probs`` [B*P, V] and ``next_sentence_log_probs`` [B, 2] (float32).
    Keras-serializable (``get_config`` holds the BertConfig as a dict); the heads are
    tied to this model's BertModel again when it is rebuilt.
    """

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        if isinstance(config, dict):
            config = BertConfig.from_dict(config)
        self.config = config
        self.bert = BertModel(config, output_all_layers=False)
        self.cls = BertPretrainingHeads(config, self.bert)

    def build(self, input_shape=None):
        self.bert.build()
        self.cls.build()
        self.built = True

    def call(self, features, training=None):
        outputs = self.bert(
            {"input_ids": features["input_ids"], "input_mask": features["input_mask"],
             "token_type_ids": features["segment_ids"]},
            training=training)
        return self.cls(outputs, features["masked_lm_positions"])

    def original_names(self):
        """{original TF1 name: variable} of every weight."""
        return original_names(self.bert, [self.cls])

    def get_config(self):
        return {**super().get_config(), "config": dataclasses.asdict(self.config)}


def pretraining_losses(outputs, features):
    """Losses of the original ``model_fn``; returns a dict of scalars and per-example losses."""
    mlm, mlm_example = masked_lm_loss(outputs["masked_lm_log_probs"], features["masked_lm_ids"],
                                      features["masked_lm_weights"])
    ns, ns_example = next_sentence_loss(outputs["next_sentence_log_probs"],
                                        features["next_sentence_labels"])
    return {"loss": mlm + ns, "masked_lm_loss": mlm, "next_sentence_loss": ns,
            "masked_lm_example_loss": mlm_example, "next_sentence_example_loss": ns_example}


def pretraining_metrics(outputs, features, losses, accuracy=True):
    """The original eval ``metric_fn`` for one batch as ``{name: (numerator,
    denominator)}`` sums, so batches and replicas are summed before dividing:
    ``masked_lm_accuracy`` / ``masked_lm_loss`` (weighted by ``masked_lm_weights``),
    ``next_sentence_accuracy`` / ``next_sentence_loss`` (per example). ``accuracy=False``
    skips the arg-maxes (the training progress line shows only the losses)."""
    weights = tf.reshape(tf.cast(features["masked_lm_weights"], tf.float32), [-1])
    ns_labels = tf.reshape(tf.cast(features["next_sentence_labels"], tf.int32), [-1])
    weight = tf.reduce_sum(weights)
    count = tf.cast(tf.size(ns_labels), tf.float32)
    out = {
        "masked_lm_loss": (tf.reduce_sum(weights * losses["masked_lm_example_loss"]), weight),
        "next_sentence_loss": (tf.reduce_sum(losses["next_sentence_example_loss"]), count),
    }
    if accuracy:
        labels = tf.reshape(tf.cast(features["masked_lm_ids"], tf.int32), [-1])
        pred = tf.argmax(outputs["masked_lm_log_probs"], axis=-1, output_type=tf.int32)
        ns_pred = tf.argmax(outputs["next_sentence_log_probs"], axis=-1, output_type=tf.int32)
        out["masked_lm_accuracy"] = (
            tf.reduce_sum(weights * tf.cast(tf.equal(pred, labels), tf.float32)), weight)
        out["next_sentence_accuracy"] = (
            tf.reduce_sum(tf.cast(tf.equal(ns_pred, ns_labels), tf.float32)), count)
    return out


def pretraining_loss_fn(model, features, training):
    """The :class:`tfmodels.training.Trainer` loss function of ``model_fn``: the total
    loss and :func:`pretraining_metrics` (accuracies only when evaluating)."""
    outputs = model(features, training=training)
    losses = pretraining_losses(outputs, features)
    return losses["loss"], pretraining_metrics(outputs, features, losses,
                                               accuracy=not training)


def eval_batch_loss(sums):
    """The Estimator's eval ``loss``: the mean over eval batches of each batch's total
    loss, here computed from the global batch's sums (a
    :class:`~tfmodels.training.Trainer` ``eval_batch_metrics`` hook), so it is the same
    under any number of replicas."""
    mlm, mlm_weight = sums["masked_lm_loss"]
    ns, ns_count = sums["next_sentence_loss"]
    batch_loss = mlm / (mlm_weight + 1e-5) + ns / tf.maximum(ns_count, 1.0)
    return {"loss": (batch_loss, tf.constant(1.0))}


def ratios(pairs):
    """``{name: numerator / denominator}`` (0 where the denominator is 0) as floats."""
    out = {}
    for name, (num, den) in pairs.items():
        num, den = float(num), float(den)
        out[name] = num / den if den else 0.0
    return out


class TrainingCheckpoint(NamedCheckpoint):
    """Original-named, atomically written, resumable checkpoints in ``directory``:
    the weights under the original TF1 names, the optimizer slots as
    ``<name>/adam_m`` / ``<name>/adam_v``, ``global_step`` (and ``loss_scale`` under
    float16), in ``model.ckpt-<step>`` files listed by the ``checkpoint`` state file.

    Args:
      directory: the run's output_dir (any TensorFlow filesystem).
      pretrainer: a built :class:`BertPretrainer`.
      optimizer: a built :class:`tfmodels.optimization.AdamWeightDecay` (may be
        wrapped in a ``LossScaleOptimizer``; its slots are saved).
      max_to_keep: number of checkpoints kept (the Estimator default, 5).
    """

    def __init__(self, directory, pretrainer, optimizer, max_to_keep=5):
        table = dict(pretrainer.original_names())
        covered = {id(v) for v in table.values()}
        stray = [v.path for v in pretrainer.trainable_variables if id(v) not in covered]
        if stray:
            raise ValueError(f"variables without an original name: {stray}")
        table = with_optimizer_slots(table, optimizer, {"adam_m": "adam_m",
                                                        "adam_v": "adam_v"})
        extra = {}
        scale = getattr(optimizer, "dynamic_scale", None)
        if scale is not None:
            extra["loss_scale"] = scale
        super().__init__(directory, table, step_variable=optimizer.iterations, extra=extra,
                         max_to_keep=max_to_keep,
                         mismatch_hint="; does --bert_config_file match it?")
