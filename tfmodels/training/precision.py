"""Mixed precision: the Keras global policy and loss scaling.

``float16`` needs loss scaling (Keras ``LossScaleOptimizer``, dynamic scale);
``bfloat16`` has float32's exponent range and runs without it.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def set_mixed_precision(enabled=True, dtype=None):
    """Sets the Keras global dtype policy and returns the compute dtype.

    Args:
      enabled: False leaves ``float32``.
      dtype: ``"float16"`` or ``"bfloat16"``; default float16 on GPU (tensor cores,
        with loss scaling) and bfloat16 elsewhere (TPU, CPU).
    """
    if not enabled:
        keras.mixed_precision.set_global_policy("float32")
        return "float32"
    if dtype is None:
        dtype = "float16" if tf.config.list_logical_devices("GPU") else "bfloat16"
    if dtype not in ("float16", "bfloat16"):
        raise ValueError(f"dtype must be float16 or bfloat16, got {dtype!r}")
    keras.mixed_precision.set_global_policy(f"mixed_{dtype}")
    return dtype


def loss_scaled(optimizer):
    """Wraps ``optimizer`` in ``keras.optimizers.LossScaleOptimizer`` when the global
    policy computes in float16; returns it unchanged otherwise. Call inside the
    strategy scope, before building the optimizer."""
    if keras.mixed_precision.global_policy().compute_dtype != "float16":
        return optimizer
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer)


def inner_optimizer(optimizer):
    """The optimizer under a ``LossScaleOptimizer`` (or ``optimizer`` itself)."""
    return getattr(optimizer, "inner_optimizer", optimizer)
