"""The original ViT fine-tuning recipe as pieces for :class:`tfmodels.training.Trainer`.

From google-research/vision_transformer ``vit_jax/train.py`` and ``utils.py``:

* loss: softmax cross-entropy averaged over the batch
  (``-mean(sum(log_softmax(logits) * onehot))``);
* optimizer: SGD with momentum 0.9 (``optax.sgd(momentum=0.9)``), no weight decay;
  the gradient is clipped to global norm ``grad_norm_clip`` (1.0) after the
  cross-replica mean (``Trainer(clip_norm=...)``);
* learning rate (``create_learning_rate_schedule``)::

      progress = clip((step - warmup_steps) / (total_steps - warmup_steps), 0, 1)
      lr = base · 0.5 · (1 + cos(π · progress))                      # "cosine"
      lr = linear_end + (base - linear_end) · (1 - progress)         # "linear"
      lr = lr · min(1, step / warmup_steps)                          # when warmup_steps

The original keeps the momentum in bfloat16 (``optim_dtype``); Keras keeps it in the
variables' dtype (float32).
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfmodels")
class ViTLearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """Warmup then cosine or linear decay, as ``create_learning_rate_schedule``."""

    def __init__(self, total_steps, base, decay_type="cosine", warmup_steps=0,
                 linear_end=1e-5):
        if decay_type not in ("cosine", "linear"):
            raise ValueError(f"decay_type must be 'cosine' or 'linear'; got {decay_type!r}")
        if int(total_steps) <= int(warmup_steps):
            raise ValueError(f"total_steps ({total_steps}) must exceed warmup_steps "
                             f"({warmup_steps})")
        self.total_steps = int(total_steps)
        self.base = float(base)
        self.decay_type = decay_type
        self.warmup_steps = int(warmup_steps)
        self.linear_end = float(linear_end)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        progress = (step - self.warmup_steps) / float(self.total_steps - self.warmup_steps)
        progress = tf.clip_by_value(progress, 0.0, 1.0)
        if self.decay_type == "linear":
            lr = self.linear_end + (self.base - self.linear_end) * (1.0 - progress)
        else:
            lr = self.base * 0.5 * (1.0 + tf.cos(math.pi * progress))
        if self.warmup_steps:
            lr = lr * tf.minimum(1.0, step / self.warmup_steps)
        return lr

    def get_config(self):
        return dict(total_steps=self.total_steps, base=self.base, decay_type=self.decay_type,
                    warmup_steps=self.warmup_steps, linear_end=self.linear_end)


def make_optimizer(total_steps, base_lr=0.03, decay_type="cosine", warmup_steps=500):
    """``optax.sgd(lr_fn, momentum=0.9)`` of the original, as a Keras SGD."""
    schedule = ViTLearningRate(total_steps, base_lr, decay_type, warmup_steps)
    return keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)


def classification_loss(model, batch, training):
    """Trainer ``loss_fn``: mean softmax cross-entropy; metrics loss and accuracy."""
    images, labels = batch
    logits = tf.cast(model(images, training=training), tf.float32)
    labels = tf.cast(labels, tf.int32)
    per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
    count = tf.cast(tf.size(labels), tf.float32)
    correct = tf.reduce_sum(tf.cast(
        tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32))
    return tf.reduce_mean(per_example), {"loss": (tf.reduce_sum(per_example), count),
                                         "accuracy": (correct, count)}
