"""Python entry points of the fused LayerNorm op: forward, registered gradient, fallback.

``layer_norm(x, gamma, beta)`` normalises over the last axis (Ba et al. 2016; the original BERT
``modeling.layer_norm``): y = (x - mean) / sqrt(var + epsilon) * gamma + beta, with the biased
variance and float32 statistics for float16/bfloat16 inputs.

Implementations (see :func:`active_implementation`):
  * ``custom_op``: the C++ ops TfmLayerNorm / TfmLayerNormGrad. In eager and tf.function they
    run the TF CPU kernels; under ``jit_compile=True`` XLA lowers them with the ``lowering``
    chosen here: ``ffi`` (typed-FFI custom call into the same C++ kernels, XLA CPU only),
    ``builder`` (XLA builder ops, any backend) or ``auto`` (ffi on CPU, builder elsewhere).
    The argument wins over the ``TFMODELS_LAYER_NORM_LOWERING`` environment variable.
  * ``composite``: plain TF ops, used when the library could not be built (with a warning),
    for float64 inputs, which the kernels do not take, and inside :func:`composite_only`
    (graphs that must hold only standard ops, such as exported SavedModels).
"""

from __future__ import annotations

import contextlib
import math
import os
import threading

import tensorflow as tf

from tfmodels.ops import loader

LOWERINGS = ("auto", "ffi", "builder")
LOWERING_ENV = "TFMODELS_LAYER_NORM_LOWERING"
IMPLEMENTATIONS = ("custom_op", "composite")
KERNEL_DTYPES = (tf.float32, tf.float16, tf.bfloat16)
OP_TYPE = "TfmLayerNorm"
GRAD_OP_TYPE = "TfmLayerNormGrad"
FFI_TARGETS = ("tfmodels_layer_norm_fwd", "tfmodels_layer_norm_bwd")


def resolve_lowering(lowering: str | None = None) -> str:
    """The XLA lowering to request: the argument, else $TFMODELS_LAYER_NORM_LOWERING, else auto."""
    source = "lowering"
    if lowering is None:
        lowering = os.environ.get(LOWERING_ENV) or "auto"
        source = LOWERING_ENV
    value = str(lowering).strip().lower()
    if value not in LOWERINGS:
        raise ValueError(f"{source} must be one of {', '.join(LOWERINGS)}; got {lowering!r}")
    return value


def active_implementation() -> str:
    """'custom_op' when the fused library is loaded, else 'composite'."""
    return "custom_op" if loader.load_library() is not None else "composite"


def check_epsilon(epsilon) -> float:
    try:
        value = float(epsilon)
    except (TypeError, ValueError):
        raise ValueError(f"epsilon must be a non-negative number; got {epsilon!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"epsilon must be a non-negative finite number; got {epsilon!r}")
    return value


def _check_shapes(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) -> None:
    rank = x.shape.rank
    if rank == 0:
        raise ValueError("layer_norm input must have rank >= 1 (it normalises the last axis); "
                         f"got a scalar of shape {x.shape}")
    n = x.shape[-1] if rank is not None else None
    if n == 0:
        raise ValueError(f"layer_norm input has an empty last axis: shape {x.shape}")
    for name, v in (("gamma", gamma), ("beta", beta)):
        if v.shape.rank is not None and v.shape.rank != 1:
            raise ValueError(f"{name} must be a vector of size {n} (the last dim of the input); "
                             f"got shape {v.shape}")
        if n is not None and v.shape.rank == 1 and v.shape[0] is not None and v.shape[0] != n:
            raise ValueError(f"{name} has shape {v.shape} but the input's last dim is {n} "
                             f"(input shape {x.shape})")


def _composite(x, gamma, beta, epsilon):
    stats_dtype = tf.float64 if x.dtype == tf.float64 else tf.float32
    xf = tf.cast(x, stats_dtype)
    mean = tf.reduce_mean(xf, axis=-1, keepdims=True)
    centered = xf - mean
    var = tf.reduce_mean(tf.square(centered), axis=-1, keepdims=True)
    rstd = tf.math.rsqrt(var + epsilon)
    y = centered * rstd * tf.cast(gamma, stats_dtype) + tf.cast(beta, stats_dtype)
    return tf.cast(y, x.dtype), tf.squeeze(mean, -1), tf.squeeze(rstd, -1)


_FORCED = threading.local()


@contextlib.contextmanager
def composite_only():
    """Within the block (this thread), ``layer_norm`` runs and traces the pure-TF composite,
    whatever the layer asked for: a function traced here (e.g. a SavedModel signature)
    holds no op of this package, so a process without our library can load it."""
    previous = getattr(_FORCED, "on", False)
    _FORCED.on = True
    try:
        yield
    finally:
        _FORCED.on = previous


def _module(implementation):
    if implementation not in (None, "auto", *IMPLEMENTATIONS):
        raise ValueError(f"implementation must be one of auto, {', '.join(IMPLEMENTATIONS)}; "
                         f"got {implementation!r}")
    if implementation == "composite" or getattr(_FORCED, "on", False):
        return None
    module = loader.load_library()
    if module is None:
        if implementation == "custom_op":
            raise RuntimeError("the fused LayerNorm op is not available: "
                               f"{loader.load_error()}")
        loader.warn_fallback_once()
    return module


def layer_norm_with_stats(x, gamma, beta, epsilon=1e-12, lowering=None, implementation=None):
    """Returns (y, mean, rstd); mean and rstd are float32 with shape x.shape[:-1]."""
    epsilon = check_epsilon(epsilon)
    lowering = resolve_lowering(lowering)
    x = tf.convert_to_tensor(x)
    gamma = tf.convert_to_tensor(gamma)
    beta = tf.convert_to_tensor(beta)
    _check_shapes(x, gamma, beta)
    if not x.dtype.is_floating:
        raise ValueError(f"layer_norm input must be floating point; got {x.dtype.name}")
    module = _module(implementation)
    if module is None or x.dtype not in KERNEL_DTYPES:
        return _composite(x, gamma, beta, epsilon)
    if gamma.dtype not in KERNEL_DTYPES:
        gamma = tf.cast(gamma, tf.float32)
    if beta.dtype != gamma.dtype:
        beta = tf.cast(beta, gamma.dtype)
    return module.tfm_layer_norm(x, gamma, beta, epsilon=epsilon, lowering=lowering)


def layer_norm(x, gamma, beta, epsilon=1e-12, lowering=None, implementation=None):
    """LayerNorm over the last axis of x with scale gamma and offset beta (both [x.shape[-1]])."""
    return layer_norm_with_stats(x, gamma, beta, epsilon, lowering, implementation)[0]


def _layer_norm_grad(op, dy, dmean, drstd):
    """Gradient of TfmLayerNorm: one fused TfmLayerNormGrad kernel. dmean / drstd (gradients
    reaching the mean / rstd outputs; zeros when those are unused) enter as per-row terms."""
    x, gamma = op.inputs[0], op.inputs[1]
    mean, rstd = op.outputs[1], op.outputs[2]
    if dy is None:
        dy = tf.zeros_like(x)
    dmean = tf.zeros_like(mean) if dmean is None else dmean
    drstd = tf.zeros_like(rstd) if drstd is None else drstd
    module = loader.load_library()
    return module.tfm_layer_norm_grad(dy, x, mean, rstd, gamma, dmean, drstd,
                                      lowering=op.get_attr("lowering"))


def _register_gradient() -> None:
    try:
        tf.RegisterGradient(OP_TYPE)(_layer_norm_grad)
    except KeyError:  # already registered (module re-imported)
        pass


_register_gradient()
