"""Self-check of the fused LayerNorm op: every execution path against float64 numpy.

    python -m tfmodels.ops.selfcheck

Paths: the custom op in eager mode, in tf.function, and under jit_compile with the XLA builder
lowering and with the typed-FFI lowering (whose HLO must hold a custom call to our handler,
while the builder HLO must hold none). For each, the max abs error of y and of dx, dgamma,
dbeta (float32, a [4, 33, 768] input) against a float64 numpy re-derivation. Exits non-zero
when the op is not available, a path fails, or an error exceeds 1e-5.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfmodels  # noqa: E402,F401  (loads the op library before any jit function)
from tfmodels.ops import layer_norm_op as ln  # noqa: E402
from tfmodels.ops import loader  # noqa: E402

TOLERANCE = 1e-5
EPSILON = 1e-12


def numpy_reference(x, gamma, beta, dy, epsilon):
    """float64 forward and backward of LayerNorm over the last axis."""
    x, gamma, beta, dy = (np.asarray(a, np.float64) for a in (x, gamma, beta, dy))
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    rstd = 1.0 / np.sqrt(var + epsilon)
    xhat = (x - mean) * rstd
    y = xhat * gamma + beta
    g = dy * gamma
    dx = rstd * (g - g.mean(-1, keepdims=True) - xhat * (g * xhat).mean(-1, keepdims=True))
    lead = tuple(range(x.ndim - 1))
    return y, dx, (dy * xhat).sum(lead), dy.sum(lead)


def _fwd_bwd(x, gamma, beta, dy, lowering):
    with tf.GradientTape() as tape:
        tape.watch([x, gamma, beta])
        y = ln.layer_norm(x, gamma, beta, epsilon=EPSILON, lowering=lowering,
                          implementation="custom_op")
    return (y, *tape.gradient(y, [x, gamma, beta], output_gradients=dy))


def _bind(lowering):
    return lambda x, gamma, beta, dy: _fwd_bwd(x, gamma, beta, dy, lowering)


def run_paths(x, gamma, beta, dy):
    """Yields (path name, outputs, note) for each execution path."""
    args = [tf.constant(a) for a in (x, gamma, beta, dy)]
    yield "custom op, eager", _fwd_bwd(*args, None), ""
    graph_fn = tf.function(_bind(None))
    graph = graph_fn.get_concrete_function(*args).graph
    op_types = sorted({op.type for op in graph.get_operations() if "LayerNorm" in op.type})
    yield "custom op, tf.function", graph_fn(*args), "graph ops: " + ", ".join(op_types)
    for lowering in ("builder", "ffi"):
        fn = tf.function(_bind(lowering), jit_compile=True)
        hlo = fn.experimental_get_compiler_ir(*args)(stage="hlo")
        calls = [t for t in ln.FFI_TARGETS if f'custom_call_target="{t}"' in hlo]
        if (lowering == "ffi") != bool(calls):
            raise AssertionError(f"{lowering} lowering: unexpected custom calls in HLO: {calls}")
        note = "HLO custom calls: " + (", ".join(calls) if calls else "none")
        yield f"jit_compile, {lowering} lowering", fn(*args), note


def main() -> int:
    print(f"TensorFlow {tf.__version__}; implementation: {ln.active_implementation()}")
    if loader.load_library() is None:
        print(f"FAIL: the fused LayerNorm op is not available: {loader.load_error()}")
        return 1
    print(f"library: {loader.library_path()}")
    rng = np.random.default_rng(0)
    shape = (4, 33, 768)
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    gamma = rng.standard_normal(shape[-1]).astype(np.float32)
    beta = rng.standard_normal(shape[-1]).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    ref = numpy_reference(x, gamma, beta, dy, EPSILON)
    names = ("y", "dx", "dgamma", "dbeta")
    print(f"float32 input {shape}, epsilon {EPSILON}; max abs error vs float64 numpy "
          f"(tolerance {TOLERANCE:g}; dgamma/dbeta relative to max(1, |ref|)):")
    print(f"  {'path':32s}" + "".join(f"{n:>10s}" for n in names) + "  status")
    ok = True
    try:
        for name, outs, note in run_paths(x, gamma, beta, dy):
            errs = []
            for n, out, r in zip(names, outs, ref):
                err = np.abs(np.asarray(out, np.float64) - r)
                if n in ("dgamma", "dbeta"):  # sums over 132 rows: compare relatively
                    err = err / np.maximum(1.0, np.abs(r))
                errs.append(float(err.max()))
            good = max(errs) <= TOLERANCE
            ok &= good
            print(f"  {name:32s}" + "".join(f"{e:10.2e}" for e in errs)
                  + f"  {'ok' if good else 'FAIL'}  {note}")
    except Exception as e:  # a path that cannot run is a failure, reported on one line
        print(f"FAIL: {type(e).__name__}: {str(e).splitlines()[0]}")
        return 1
    print("self-check " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
