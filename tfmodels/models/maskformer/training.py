"""MaskFormer's training recipe for the shared trainer (MaskFormer ``train_net.py`` +
``configs/*/Base-*.yaml``).

- :func:`make_loss_fn`: ``loss_fn(model, batch, training)`` for
  :class:`tfmodels.training.Trainer` on ``pipelines.segmentation.make_dataset`` batches:
  Hungarian matching + :class:`~tfmodels.models.maskformer.criterion.SetCriterion` on every
  decoder layer; logs the main terms (auxiliary ones stay out of the progress line).
- :func:`make_optimizer`: AdamW (``SOLVER.BASE_LR`` 1e-4, ``WEIGHT_DECAY`` 1e-4), the backbone
  at ``BACKBONE_MULTIPLIER`` 0.1 through a learning-rate multiplier, the ``WarmupPolyLR``
  schedule with power 0.9 (no warm-up, as the configs) over ``max_steps``. Gradient clipping
  (``CLIP_GRADIENTS`` full model, 0.01) is the trainer's ``clip_norm``.
- checkpoints: DETR's :func:`~tfmodels.models.detr.training.make_checkpoint` (every variable
  by Keras path + AdamW slots).
"""

from __future__ import annotations

import re

import keras
import tensorflow as tf

from tfmodels.models.detr.training import make_checkpoint, model_table  # noqa: F401
from tfmodels.models.maskformer.criterion import SetCriterion
from tfmodels.training import set_lr_multipliers


def make_loss_fn(criterion: SetCriterion):
    def loss_fn(model, batch, training):
        features, targets = batch
        outputs = model(features, training=training)
        outputs = tf.nest.map_structure(lambda t: tf.cast(t, tf.float32), outputs)
        with tf.control_dependencies([criterion.check_targets(targets["labels"],
                                                              targets["valid"])]):
            losses = criterion(outputs, targets)
        one = tf.constant(1.0)
        metrics = {k: (v, one) for k, v in losses.items() if not re.search(r"_\d+$", k)}
        return losses["loss"], metrics

    return loss_fn


def make_optimizer(lr=1e-4, weight_decay=1e-4, backbone_multiplier=0.1, max_steps=None,
                   power=0.9):
    """AdamW with MaskFormer's backbone multiplier and poly schedule (module docstring)."""
    schedule = lr
    if max_steps:
        schedule = keras.optimizers.schedules.PolynomialDecay(lr, int(max_steps), 0.0, power)
    opt = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=weight_decay,
                                 beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    if backbone_multiplier != 1.0:
        opt = set_lr_multipliers(opt, {r"(^|/)backbone/": float(backbone_multiplier)})
    return opt
