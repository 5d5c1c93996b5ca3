"""BERT's optimizer: AdamWeightDecay with linear warmup and linear decay.

Mirrors google-research/bert ``optimization.py`` (``create_optimizer`` and
``AdamWeightDecayOptimizer``):

* learning rate at global step s (the step *before* the update):
  ``init_lr * s / num_warmup_steps`` while ``s < num_warmup_steps``, else
  ``init_lr * (1 - min(s, num_train_steps) / num_train_steps)`` (polynomial decay,
  power 1, to 0, counted from step 0 - warmup does not shift it);
* gradients clipped with ``tf.clip_by_global_norm(grads, 1.0)``;
* Adam without bias correction: ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2``,
  ``update = m / (sqrt(v) + eps)``, plus ``weight_decay_rate * w`` for variables
  whose original name matches none of ``exclude_from_weight_decay`` (regular
  expressions searched in the name, as the original); ``w -= lr * update``.

It is a Keras 3 optimizer, so it works under tf.distribute. Under a strategy with
N replicas each replica clips the gradient of its own batch-mean loss, and the N
clipped gradients are summed (Keras' all-reduce) before the update: what the
original's TPU path does (``tf.gradients`` of the shard's loss,
``clip_by_global_norm``, then ``CrossShardOptimizer.apply_gradients``, which is
``cross_replica_sum`` followed by the update; the loss is not divided by the number
of shards, as that happens only in ``CrossShardOptimizer.compute_gradients``, which
BERT does not call). Use it with ``Trainer(gradient_reduction="sum")``. The slots are
named ``adam_m`` / ``adam_v`` like the original checkpoint variables.
"""

from __future__ import annotations

import re

import keras
import tensorflow as tf

EXCLUDE_FROM_WEIGHT_DECAY = ("LayerNorm", "layer_norm", "bias")


@keras.saving.register_keras_serializable(package="tfmodels")
class WarmupPolynomialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup to ``init_lr`` then linear decay to 0 at ``num_train_steps``."""

    def __init__(self, init_lr, num_train_steps, num_warmup_steps=0):
        if num_train_steps <= 0:
            raise ValueError(f"num_train_steps must be positive, got {num_train_steps}")
        if num_warmup_steps < 0:
            raise ValueError(f"num_warmup_steps must be >= 0, got {num_warmup_steps}")
        self.init_lr = float(init_lr)
        self.num_train_steps = int(num_train_steps)
        self.num_warmup_steps = int(num_warmup_steps)

    def __call__(self, step):
        step = tf.cast(step, tf.int32)
        step_f = tf.cast(step, tf.float32)
        decay_steps = float(self.num_train_steps)
        p = tf.minimum(step_f, decay_steps) / decay_steps
        lr = self.init_lr * (1.0 - p)
        if self.num_warmup_steps:
            warmup_lr = self.init_lr * (step_f / float(self.num_warmup_steps))
            is_warmup = tf.cast(step < self.num_warmup_steps, tf.float32)
            lr = (1.0 - is_warmup) * lr + is_warmup * warmup_lr
        return lr

    def get_config(self):
        return {"init_lr": self.init_lr, "num_train_steps": self.num_train_steps,
                "num_warmup_steps": self.num_warmup_steps}


@keras.saving.register_keras_serializable(package="tfmodels")
class AdamWeightDecay(keras.optimizers.Optimizer):
    """The original BERT AdamWeightDecayOptimizer as a Keras 3 optimizer.

    Args:
      learning_rate: float or schedule (see :func:`create_optimizer`).
      weight_decay_rate, beta_1, beta_2, epsilon: as the original.
      exclude_from_weight_decay: regexes; a variable whose name matches one is not
        decayed.
      clip_norm: global-norm clip applied in :meth:`apply` to each replica's own
        gradient, before the cross-replica sum (None to disable).
      variable_names: optional {variable path: name}; names are what the exclusion
        patterns see (pass the original checkpoint names). Default: ``variable.path``.
    """

    def __init__(self, learning_rate=0.001, weight_decay_rate=0.0, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-6, exclude_from_weight_decay=None, clip_norm=None,
                 variable_names=None, name="AdamWeightDecay", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.weight_decay_rate = float(weight_decay_rate)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.exclude_from_weight_decay = list(exclude_from_weight_decay or [])
        self.clip_norm = clip_norm
        self.variable_names = dict(variable_names or {})

    def variable_name(self, variable):
        return self.variable_names.get(variable.path, variable.path)

    def do_use_weight_decay(self, name):
        """Original ``_do_use_weight_decay``: off if the rate is 0 or a pattern matches."""
        if not self.weight_decay_rate:
            return False
        return not any(re.search(r, name) is not None for r in self.exclude_from_weight_decay)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.adam_m = []
        self.adam_v = []
        self._decayed = set()
        for var in var_list:
            self.adam_m.append(self.add_variable_from_reference(var, "adam_m"))
            self.adam_v.append(self.add_variable_from_reference(var, "adam_v"))
            if self.do_use_weight_decay(self.variable_name(var)):
                self._decayed.add(self._var_key(var))

    def apply(self, grads, trainable_variables=None):
        grads = list(grads)
        if self.clip_norm is not None:
            present = [i for i, g in enumerate(grads) if g is not None]
            clipped, _ = tf.clip_by_global_norm([grads[i] for i in present], self.clip_norm)
            for i, g in zip(present, clipped):
                grads[i] = g
        # Keras then sums the replicas' clipped gradients (CrossShardOptimizer's
        # cross_replica_sum).
        return super().apply(grads, trainable_variables)

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        m, v = self.adam_m[index], self.adam_v[index]
        dtype = variable.dtype
        # Dense update of every row, embeddings included, as the original.
        gradient = tf.cast(tf.convert_to_tensor(gradient), dtype)
        lr = tf.cast(learning_rate, dtype)
        next_m = self.beta_1 * m + (1.0 - self.beta_1) * gradient
        next_v = self.beta_2 * v + (1.0 - self.beta_2) * tf.square(gradient)
        update = next_m / (tf.sqrt(next_v) + self.epsilon)
        if self._var_key(variable) in self._decayed:
            update += self.weight_decay_rate * variable
        self.assign(m, next_m)
        self.assign(v, next_v)
        self.assign_sub(variable, lr * update)

    def get_config(self):
        config = super().get_config()
        config.update(weight_decay_rate=self.weight_decay_rate, beta_1=self.beta_1,
                      beta_2=self.beta_2, epsilon=self.epsilon,
                      exclude_from_weight_decay=self.exclude_from_weight_decay,
                      clip_norm=self.clip_norm, variable_names=self.variable_names)
        return config


def create_optimizer(init_lr, num_train_steps, num_warmup_steps, variable_names=None):
    """The original ``create_optimizer`` settings: decay 0.01, betas 0.9/0.999,
    epsilon 1e-6, LayerNorm/layer_norm/bias excluded, global-norm clip 1.0."""
    return AdamWeightDecay(
        learning_rate=WarmupPolynomialDecay(init_lr, num_train_steps, num_warmup_steps),
        weight_decay_rate=0.01,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-6,
        exclude_from_weight_decay=list(EXCLUDE_FROM_WEIGHT_DECAY),
        clip_norm=1.0,
        variable_names=variable_names,
    )
