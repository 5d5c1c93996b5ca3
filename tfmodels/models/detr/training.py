"""DETR's training recipe for the shared trainer (facebookresearch/detr ``main.py``).

- :func:`make_loss_fn`: ``loss_fn(model, batch, training)`` for
  :class:`tfmodels.training.Trainer`; the batch is ``(features, targets)`` from
  ``pipelines.coco.make_dataset``; returns the weighted set loss and every loss term and
  logged error as (value, 1) pairs (averaged over steps and replicas by the trainer).
- :func:`make_optimizer`: AdamW (lr 1e-4, weight decay 1e-4), the backbone at ``lr_backbone``
  (1e-5) through a learning-rate multiplier, the rate multiplied by 0.1 after ``lr_drop``
  steps (the original's ``StepLR(lr_drop)``, counted in steps rather than epochs). Gradient
  clipping (max norm 0.1) is the trainer's ``clip_norm``.
- :func:`model_table` / :func:`make_checkpoint`: checkpoints keyed by each variable's Keras
  path below the model (``transformer/decoder_layer_0/...``) with the AdamW slots, as
  :class:`tfmodels.training.NamedCheckpoint` bundles (every weight, batch-norm statistics
  included, whatever containers the layers are held in).
"""

from __future__ import annotations

import re

import keras
import tensorflow as tf

from tfmodels.models.detr.criterion import SetCriterion
from tfmodels.training import NamedCheckpoint, set_lr_multipliers
from tfmodels.training.checkpoints import with_optimizer_slots

# Keras Adam/AdamW slot variables, saved as <variable path>/<suffix>.
ADAM_SLOTS = {"adam_m": "_momentums", "adam_v": "_velocities"}


def make_loss_fn(criterion: SetCriterion):
    """The trainer's loss function: Hungarian matching + set criterion on every layer."""

    def loss_fn(model, batch, training):
        features, targets = batch
        outputs = model(features, training=training)
        outputs = tf.nest.map_structure(lambda t: tf.cast(t, tf.float32), outputs)
        with tf.control_dependencies([criterion.check_targets(targets["labels"])]):
            losses = criterion(outputs, targets)
        one = tf.constant(1.0)
        metrics = {k: (tf.cast(v, tf.float32), one) for k, v in losses.items()
                   if not re.search(r"_\d+$", k)}  # auxiliary terms stay out of the log
        return losses["loss"], metrics

    return loss_fn


def make_optimizer(lr=1e-4, lr_backbone=1e-5, weight_decay=1e-4, lr_drop=None):
    """AdamW with DETR's two learning rates and step drop (see the module docstring)."""
    schedule = lr
    if lr_drop:
        schedule = keras.optimizers.schedules.PiecewiseConstantDecay([int(lr_drop)],
                                                                     [lr, lr * 0.1])
    opt = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=weight_decay,
                                 beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    if lr_backbone != lr and lr > 0:
        opt = set_lr_multipliers(opt, {r"(^|/)backbone/": lr_backbone / lr})
    return opt


def _key(var):
    """A variable's Keras path without its first part, the model's own name: Keras numbers
    unnamed models per process (``mask_former_9``), while every sublayer here is named."""
    return var.path.split("/", 1)[-1]


def model_table(model):
    """``{variable path below the model: variable}`` of every weight (trainable or not)."""
    table = {}
    for var in model.weights:
        key = _key(var)
        if key in table:
            raise ValueError(f"two model variables share the path {key}")
        table[key] = var
    return table


def make_checkpoint(model, optimizer, max_to_keep=5):
    """``checkpoint(directory)`` for the trainer: model weights + AdamW slots + step."""
    table = model_table(model)
    trainable = {_key(v): v for v in model.trainable_variables}

    def factory(directory):
        full = dict(table)
        full.update(with_optimizer_slots(trainable, optimizer, ADAM_SLOTS))
        return NamedCheckpoint(directory, full, step_variable=optimizer.iterations,
                               max_to_keep=max_to_keep,
                               mismatch_hint=" (do the model flags match the training run?)")

    return factory
