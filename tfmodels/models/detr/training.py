"""DETR's training recipe for the shared trainer (facebookresearch/detr ``main.py``).

- :func:`make_loss_fn`: ``loss_fn(model, batch, training)`` for
  :class:`tfmodels.training.Trainer`; the batch is ``(features, targets)`` from
  ``pipelines.coco.make_dataset``; returns the weighted set loss and every loss term and
  logged error as (value, 1) pairs (averaged over steps and replicas by the trainer).
- :func:`make_optimizer`: AdamW (lr 1e-4, weight decay 1e-4), the backbone at ``lr_backbone``
  (1e-5) through a learning-rate multiplier, the rate multiplied by 0.1 after ``lr_drop``
  steps (the original's ``StepLR(lr_drop)``, counted in steps rather than epochs). Gradient
  clipping (max norm 0.1) is the trainer's ``clip_norm``.
"""

from __future__ import annotations

import re

import keras
import tensorflow as tf

from tfmodels.models.detr.criterion import SetCriterion
from tfmodels.training import set_lr_multipliers


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
