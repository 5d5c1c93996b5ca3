"""BERT pre-training: model, losses, metrics and resumable training checkpoints.

Mirrors google-research/bert ``run_pretraining.py``:

* :class:`BertPretrainer` - BertModel + ``cls/predictions`` (masked LM, decoder tied
  to the word embeddings) + ``cls/seq_relationship`` (next sentence) heads;
* :func:`pretraining_losses` - masked LM loss ``sum(w * nll) / (sum(w) + 1e-5)``,
  next sentence loss ``mean(nll)``, total = their sum (``model_fn``);
* :func:`metric_sums` / :func:`metrics_from_sums` - the original eval ``metric_fn``
  (weighted masked LM accuracy and mean loss, next sentence accuracy and mean
  loss) as additive sums, so batches and replicas can be summed before dividing;
* :class:`TrainingCheckpoint` - writes the weights under the original variable
  names, with the optimizer slots as ``<name>/adam_m`` / ``<name>/adam_v`` and
  ``global_step``, like the checkpoints of the original training loop. Writes are
  atomic: files go to a temporary prefix, are renamed, and only then does the
  ``checkpoint`` state file name them, so a killed run never leaves a partial
  checkpoint that a restart would read.
"""

from __future__ import annotations

import dataclasses
import os
import re
import uuid

import keras
import tensorflow as tf

from tfmodels.models.bert.checkpoint import original_names
from tfmodels.models.bert.config import BertConfig
from tfmodels.models.bert.heads import BertPretrainingHeads, masked_lm_loss, next_sentence_loss
from tfmodels.models.bert.model import BertModel


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


METRIC_SUMS = ("mlm_correct", "mlm_weight", "mlm_loss", "ns_correct", "ns_count", "ns_loss",
               "loss", "batches")


def metric_sums(outputs, features, losses):
    """Additive pieces of the original eval metrics for one batch (float32 scalars)."""
    weights = tf.reshape(tf.cast(features["masked_lm_weights"], tf.float32), [-1])
    labels = tf.reshape(tf.cast(features["masked_lm_ids"], tf.int32), [-1])
    pred = tf.argmax(outputs["masked_lm_log_probs"], axis=-1, output_type=tf.int32)
    ns_labels = tf.reshape(tf.cast(features["next_sentence_labels"], tf.int32), [-1])
    ns_pred = tf.argmax(outputs["next_sentence_log_probs"], axis=-1, output_type=tf.int32)
    return {
        "mlm_correct": tf.reduce_sum(weights * tf.cast(tf.equal(pred, labels), tf.float32)),
        "mlm_weight": tf.reduce_sum(weights),
        "mlm_loss": tf.reduce_sum(weights * losses["masked_lm_example_loss"]),
        "ns_correct": tf.reduce_sum(tf.cast(tf.equal(ns_pred, ns_labels), tf.float32)),
        "ns_count": tf.cast(tf.size(ns_labels), tf.float32),
        "ns_loss": tf.reduce_sum(losses["next_sentence_example_loss"]),
        "loss": losses["loss"],
        "batches": tf.constant(1.0),
    }


def metrics_from_sums(sums):
    """The original eval results (``tf.metrics.accuracy`` / weighted ``tf.metrics.mean``;
    ``loss`` is the mean total loss over batches, as Estimator reports it)."""
    s = {k: float(v) for k, v in sums.items()}

    def div(a, b):
        return a / b if b else 0.0

    return {
        "masked_lm_accuracy": div(s["mlm_correct"], s["mlm_weight"]),
        "masked_lm_loss": div(s["mlm_loss"], s["mlm_weight"]),
        "next_sentence_accuracy": div(s["ns_correct"], s["ns_count"]),
        "next_sentence_loss": div(s["ns_loss"], s["ns_count"]),
        "loss": div(s["loss"], s["batches"]),
    }


class TrainingCheckpoint:
    """Original-named, atomically written, resumable checkpoints in ``directory``.

    Args:
      directory: the run's output_dir.
      pretrainer: a built :class:`BertPretrainer`.
      optimizer: a built :class:`tfmodels.optimization.AdamWeightDecay` (may be
        wrapped in a ``LossScaleOptimizer``; its slots are saved).
      max_to_keep: number of checkpoints kept (the Estimator default, 5).
    """

    STATE = "checkpoint"

    def __init__(self, directory, pretrainer, optimizer, max_to_keep=5):
        self.directory = directory
        self.max_to_keep = max_to_keep
        inner = getattr(optimizer, "inner_optimizer", optimizer)
        self.optimizer = optimizer
        self.table = dict(pretrainer.original_names())
        covered = {id(v) for v in self.table.values()}
        stray = [v.path for v in pretrainer.trainable_variables if id(v) not in covered]
        if stray:
            raise ValueError(f"variables without an original name: {stray}")
        for name, var in list(self.table.items()):
            index = inner._get_variable_index(var)
            self.table[f"{name}/adam_m"] = inner.adam_m[index]
            self.table[f"{name}/adam_v"] = inner.adam_v[index]
        self.step_variable = optimizer.iterations
        self.extra = {}
        scale = getattr(optimizer, "dynamic_scale", None)
        if scale is not None:
            self.extra["loss_scale"] = scale

    def _state_path(self):
        return os.path.join(self.directory, self.STATE)

    def checkpoints(self):
        """Complete checkpoints, oldest first, as listed in the state file."""
        path = self._state_path()
        if not os.path.isfile(path):
            return []
        with open(path) as f:
            names = re.findall(r'all_model_checkpoint_paths: "([^"]+)"', f.read())
        return [os.path.join(self.directory, n) for n in names]

    def remove_temporaries(self):
        """Deletes what a killed save left behind (never named by the state file)."""
        if os.path.isdir(self.directory):
            for name in os.listdir(self.directory):
                if name.startswith((".tmp-", self.STATE + ".tmp-")):
                    os.remove(os.path.join(self.directory, name))

    def latest(self):
        ckpts = self.checkpoints()
        return ckpts[-1] if ckpts else None

    def save(self, step):
        """Writes ``model.ckpt-<step>`` and records it in the state file."""
        os.makedirs(self.directory, exist_ok=True)
        names = sorted(self.table)
        tensors = [tf.convert_to_tensor(self.table[n]) for n in names]
        names.append("global_step")
        tensors.append(tf.constant(int(step), tf.int64))
        for name, var in self.extra.items():
            names.append(name)
            tensors.append(tf.convert_to_tensor(var))
        base = f"model.ckpt-{int(step)}"
        final = os.path.join(self.directory, base)
        tmp = os.path.join(self.directory, f".tmp-{uuid.uuid4().hex}-{base}")
        tf.raw_ops.SaveV2(prefix=tmp, tensor_names=names, shape_and_slices=[""] * len(names),
                          tensors=tensors)
        # Data first, index last: a checkpoint is complete only once the state names it.
        for suffix in sorted(_bundle_files(tmp), key=lambda s: s == ".index"):
            os.replace(tmp + suffix, final + suffix)
        kept = [c for c in self.checkpoints() if c != final][-(self.max_to_keep - 1):]
        kept.append(final)
        self._write_state(kept)
        for old in self.checkpoints_to_delete(kept):
            for suffix in _bundle_files(old):
                try:
                    os.remove(old + suffix)
                except FileNotFoundError:
                    pass
        return final

    def checkpoints_to_delete(self, kept):
        keep = {os.path.basename(k) for k in kept}
        out = []
        for name in os.listdir(self.directory):
            m = re.match(r"^(model\.ckpt-\d+)\.index$", name)
            if m and m.group(1) not in keep:
                out.append(os.path.join(self.directory, m.group(1)))
        return out

    def _write_state(self, kept):
        rel = [os.path.basename(k) for k in kept]
        text = f'model_checkpoint_path: "{rel[-1]}"\n' + "".join(
            f'all_model_checkpoint_paths: "{r}"\n' for r in rel)
        tmp = self._state_path() + f".tmp-{uuid.uuid4().hex}"
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._state_path())

    def restore(self, prefix=None):
        """Restores weights, slots and the step; returns the step (None if nothing)."""
        prefix = prefix or self.latest()
        if prefix is None:
            return None
        reader = tf.train.load_checkpoint(prefix)
        shapes = reader.get_variable_to_shape_map()
        missing = [n for n in self.table if n not in shapes]
        if missing:
            raise ValueError(f"checkpoint {prefix} lacks {len(missing)} variables, "
                             f"e.g. {missing[:3]}; does --bert_config_file match it?")
        for name, var in self.table.items():
            value = reader.get_tensor(name)
            if tuple(value.shape) != tuple(var.shape):
                raise ValueError(f"checkpoint {prefix}: {name} has shape {value.shape}, "
                                 f"the model {tuple(var.shape)}; does --bert_config_file "
                                 "match it?")
            var.assign(value)
        step = int(reader.get_tensor("global_step"))
        self.step_variable.assign(step)
        for name, var in self.extra.items():
            if name in shapes:
                var.assign(reader.get_tensor(name))
        return step


def _bundle_files(prefix):
    directory, base = os.path.split(prefix)
    return [name[len(base):] for name in os.listdir(directory or ".")
            if name.startswith(base + ".") and (name.endswith(".index") or ".data-" in name)]
