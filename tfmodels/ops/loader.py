"""Loads the fused LayerNorm library once per process (building it on first use).

It must be loaded before the first ``jit_compile=True`` function of the process runs: TF
registers XLA kernels for custom ops once, at the first XLA compilation, and silently ignores
REGISTER_XLA_OP registrations that arrive later. ``import tfmodels`` therefore calls
:func:`load_library`.

If the library cannot be built or loaded, LayerNorm falls back to a pure-TF composite and a
warning says so once. ``TFMODELS_DISABLE_CUSTOM_OPS=1`` forces the fallback;
``TFMODELS_NO_BUILD=1`` loads a cached build only, never compiling.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings

_LOCK = threading.Lock()
_STATE = {"module": None, "path": None, "error": None, "tried": False, "warned": False}


class CustomOpFallbackWarning(RuntimeWarning):
    """The fused LayerNorm op is unavailable; the slower TF composite runs instead."""


def load_library():
    """Returns the loaded op module, or None when the composite fallback is in use."""
    with _LOCK:
        if _STATE["tried"]:
            return _STATE["module"]
        _STATE["tried"] = True
        if os.environ.get("TFMODELS_DISABLE_CUSTOM_OPS", "") not in ("", "0"):
            _STATE["error"] = "disabled by TFMODELS_DISABLE_CUSTOM_OPS"
            return None
        try:
            import tensorflow as tf

            from tfmodels.ops import builder as build

            if os.environ.get("TFMODELS_NO_BUILD", "") not in ("", "0"):
                path = build.library_path()
                if not os.path.exists(path):
                    raise build.BuildError(f"TFMODELS_NO_BUILD is set and {path} is not built")
            else:
                path = build.build()
            module = tf.load_op_library(path)
        except Exception as e:  # any failure means: use the fallback
            _STATE["error"] = f"{type(e).__name__}: {e}"
            return None
        _STATE["module"] = module
        _STATE["path"] = path
        return module


def warn_fallback_once() -> None:
    """Says loudly, once per process, that the composite fallback is running."""
    if _STATE["warned"] or _STATE["module"] is not None:
        return
    _STATE["warned"] = True
    reason = _STATE["error"]
    banner = "!" * 78
    print(f"{banner}\nWARNING: tfmodels: the fused LayerNorm custom op is NOT available "
          f"({reason}).\nLayerNorm falls back to a slower pure-TensorFlow composite. Install a "
          "C++ compiler and run `python -m tfmodels.ops.build` to fix this.\n" + banner,
          file=sys.stderr, flush=True)
    warnings.warn(f"LayerNorm is using the pure-TF composite: {reason}",
                  CustomOpFallbackWarning, stacklevel=3)


def library_path():
    """Path of the loaded library, or None."""
    return _STATE["path"]


def load_error():
    """Why the library is not loaded (None when it is)."""
    return _STATE["error"]
