"""Custom TensorFlow ops: the fused LayerNorm (C++ CPU kernels, XLA builder and FFI lowerings).

``python -m tfmodels.ops.build`` compiles and caches the library; ``python -m
tfmodels.ops.selfcheck`` checks every path against a float64 numpy reference.
"""

from tfmodels.ops.layer_norm_op import (
    LOWERING_ENV,
    LOWERINGS,
    active_implementation,
    layer_norm,
    layer_norm_with_stats,
    resolve_lowering,
)
from tfmodels.ops.loader import library_path, load_error, load_library

__all__ = [
    "LOWERING_ENV",
    "LOWERINGS",
    "active_implementation",
    "layer_norm",
    "layer_norm_with_stats",
    "library_path",
    "load_error",
    "load_library",
    "resolve_lowering",
]
