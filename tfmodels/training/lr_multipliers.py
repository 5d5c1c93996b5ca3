"""Per-variable learning-rate multipliers for any Keras optimizer.

The original DETR / MaskFormer train the backbone at 1e-5 and the rest at 1e-4 (two
PyTorch parameter groups). Keras optimizers have one learning rate, so
:func:`set_lr_multipliers` makes ``update_step`` see ``learning_rate * multiplier``
for the variables whose name matches a pattern. For Adam-like optimizers this is the
only correct place: scaling gradients would not scale the update.

Keras' decoupled weight decay (``AdamW(weight_decay=...)``) is applied outside
``update_step`` with the base rate; PyTorch's AdamW decays each group with its own
rate. Use ``exclude_from_weight_decay`` or a decay inside ``update_step`` (as
:class:`tfmodels.optimization.AdamWeightDecay`) where that difference matters.
"""

from __future__ import annotations

import re

from tfmodels.training.precision import inner_optimizer


class _LrMultipliersMixin:
    def _lr_multiplier_of(self, variable):
        return self._lr_multiplier_by_key.get(self._var_key(variable), 1.0)

    def build(self, var_list):
        super().build(var_list)
        self._lr_multiplier_by_key = {}
        for var in var_list:
            name = self._lr_multiplier_names.get(var.path, var.path)
            for pattern, mult in self._lr_multiplier_patterns:
                if pattern.search(name):
                    self._lr_multiplier_by_key[self._var_key(var)] = mult
                    break

    def update_step(self, gradient, variable, learning_rate):
        mult = self._lr_multiplier_of(variable)
        if mult != 1.0:
            learning_rate = learning_rate * mult
        return super().update_step(gradient, variable, learning_rate)


def set_lr_multipliers(optimizer, multipliers, variable_names=None):
    """Gives the variables matching a pattern ``lr * multiplier``; returns ``optimizer``.

    Args:
      optimizer: a Keras optimizer (or ``LossScaleOptimizer``), not yet built.
      multipliers: ``{regex: multiplier}``; the first pattern found (``re.search``) in
        a variable's name wins, others train at the base rate.
      variable_names: optional ``{variable.path: name}`` the patterns see instead of
        ``variable.path`` (e.g. original checkpoint names).

    Example (DETR: backbone at 1e-5 when the rest trains at 1e-4)::

        opt = set_lr_multipliers(keras.optimizers.AdamW(1e-4), {"backbone": 0.1})
    """
    inner = inner_optimizer(optimizer)
    if inner.built:
        raise ValueError("set_lr_multipliers: optimizer is already built")
    cls = type(inner)
    if not issubclass(cls, _LrMultipliersMixin):
        inner.__class__ = type(cls.__name__, (_LrMultipliersMixin, cls), {})
    inner._lr_multiplier_patterns = [(re.compile(p), float(m)) for p, m in multipliers.items()]
    inner._lr_multiplier_names = dict(variable_names or {})
    return optimizer
