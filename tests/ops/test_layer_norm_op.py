"""The fused LayerNorm op on every execution path against a float64 numpy re-derivation."""

import numpy as np
import pytest
import tensorflow as tf

from tests.ops.reference import layer_norm_backward, layer_norm_forward
from tfmodels import ops
from tfmodels.ops import layer_norm_op as ln

PATHS = ("eager", "function", "jit_builder", "jit_ffi")
TOL32 = 1e-5


def _inputs(shape, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(dtype)
    gamma = rng.standard_normal(shape[-1]).astype(dtype)
    beta = rng.standard_normal(shape[-1]).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    return x, gamma, beta, dy


def _fwd_bwd(x, gamma, beta, dy, epsilon, lowering=None):
    with tf.GradientTape() as tape:
        tape.watch([x, gamma, beta])
        y, mean, rstd = ln.layer_norm_with_stats(x, gamma, beta, epsilon, lowering,
                                                 implementation="custom_op")
    dx, dgamma, dbeta = tape.gradient(y, [x, gamma, beta], output_gradients=dy)
    return y, mean, rstd, dx, dgamma, dbeta


def _bind(epsilon, lowering=None):
    return lambda x, gamma, beta, dy: _fwd_bwd(x, gamma, beta, dy, epsilon, lowering)


def _runner(path):
    if path == "eager":
        return lambda *a, eps: _fwd_bwd(*a, eps)
    if path == "function":
        return lambda *a, eps: tf.function(_bind(eps))(*a)
    lowering = path.split("_")[1]
    return lambda *a, eps: tf.function(_bind(eps, lowering), jit_compile=True)(*a)


def test_custom_op_is_active():
    assert ops.active_implementation() == "custom_op", ops.load_error()
    assert ops.library_path() is not None


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("shape", [(5, 1), (3, 7), (2, 3, 768), (4, 4096)])
def test_float32_matches_numpy(path, shape):
    x, gamma, beta, dy = _inputs(shape)
    eps = 1e-12 if shape[-1] > 1 else 1e-3  # a single-element row has zero variance
    y, mean, rstd, dx, dgamma, dbeta = _runner(path)(
        *(tf.constant(a) for a in (x, gamma, beta, dy)), eps=eps)
    ry, rmean, rrstd = layer_norm_forward(x, gamma, beta, eps)
    rdx, rdgamma, rdbeta = layer_norm_backward(dy, x, gamma, eps)
    assert y.dtype == tf.float32 and mean.dtype == tf.float32 and y.shape == shape
    assert mean.shape == shape[:-1] and rstd.shape == shape[:-1]
    np.testing.assert_allclose(y, ry, rtol=0, atol=TOL32)
    np.testing.assert_allclose(mean, rmean, rtol=0, atol=TOL32)
    np.testing.assert_allclose(rstd, rrstd, rtol=1e-6, atol=0)
    np.testing.assert_allclose(dx, rdx, rtol=0, atol=TOL32)
    np.testing.assert_allclose(dgamma, rdgamma, rtol=0, atol=TOL32)
    np.testing.assert_allclose(dbeta, rdbeta, rtol=0, atol=TOL32)


def test_jit_and_non_jit_agree():
    args = [tf.constant(a) for a in _inputs((6, 33, 96), seed=1)]
    outs = {p: _runner(p)(*args, eps=1e-6) for p in PATHS}
    for path in ("eager", "jit_ffi", "jit_builder"):
        for i, (a, b) in enumerate(zip(outs["function"], outs[path])):
            atol = 2e-6 if i < 4 else 2e-5  # dgamma / dbeta are sums over 198 rows
            np.testing.assert_allclose(a, b, rtol=0, atol=atol, err_msg=f"{path} output {i}")


def test_large_offset_is_numerically_stable():
    # A naive E[x^2] - E[x]^2 in float32 loses all precision for rows with |mean| >> std.
    rng = np.random.default_rng(2)
    x = (1e4 + rng.standard_normal((8, 768))).astype(np.float32)
    gamma, beta = np.ones(768, np.float32), np.zeros(768, np.float32)
    for path in ("eager", "jit_ffi"):
        y = _runner(path)(*(tf.constant(a) for a in (x, gamma, beta, x)), eps=1e-12)[0]
        np.testing.assert_allclose(y, layer_norm_forward(x, gamma, beta, 1e-12)[0], atol=2e-3)


@pytest.mark.parametrize("path", ["eager", "jit_builder", "jit_ffi"])
def test_compute_gradient(path):
    x, gamma, beta, _ = _inputs((3, 2, 7), seed=3)
    lowering = None if path == "eager" else path.split("_")[1]

    def f(x, gamma, beta):
        return ln.layer_norm(x, gamma, beta, 1e-5, lowering, implementation="custom_op")

    if path != "eager":
        f = tf.function(f, jit_compile=True)
    theoretical, numerical = tf.test.compute_gradient(f, [x, gamma, beta], delta=1e-2)
    for t, n in zip(theoretical, numerical):
        np.testing.assert_allclose(t, n, rtol=0, atol=2e-3)


def test_gradient_through_mean_and_rstd_outputs():
    x, gamma, beta, _ = _inputs((4, 9), seed=4)

    def f(x):
        y, mean, rstd = ln.layer_norm_with_stats(x, gamma, beta, 1e-5, implementation="custom_op")
        return tf.reduce_sum(y) + 3.0 * tf.reduce_sum(mean) + 0.5 * tf.reduce_sum(rstd)

    theoretical, numerical = tf.test.compute_gradient(f, [x], delta=1e-2)
    np.testing.assert_allclose(theoretical[0], numerical[0], atol=2e-3)


def test_hlo_shows_the_lowering():
    args = [tf.constant(a) for a in _inputs((8, 64))]
    hlo = {}
    for lowering in ("ffi", "builder"):
        fn = tf.function(_bind(1e-12, lowering), jit_compile=True)
        hlo[lowering] = fn.experimental_get_compiler_ir(*args)(stage="hlo")
    assert 'custom_call_target="tfmodels_layer_norm_fwd"' in hlo["ffi"]
    assert 'custom_call_target="tfmodels_layer_norm_bwd"' in hlo["ffi"]
    assert "custom-call" not in hlo["builder"]


def test_lowering_from_environment(monkeypatch):
    args = [tf.constant(a) for a in _inputs((4, 16))[:3]]
    fn = lambda *a: ln.layer_norm(*a)  # noqa: E731
    monkeypatch.setenv(ops.LOWERING_ENV, "builder")
    hlo = tf.function(fn, jit_compile=True).experimental_get_compiler_ir(*args)(stage="hlo")
    assert "custom-call" not in hlo
    monkeypatch.setenv(ops.LOWERING_ENV, "ffi")
    hlo = tf.function(fn, jit_compile=True).experimental_get_compiler_ir(*args)(stage="hlo")
    assert "tfmodels_layer_norm_fwd" in hlo
    # The argument wins over the environment.
    fn_b = lambda *a: ln.layer_norm(*a, lowering="builder")  # noqa: E731
    hlo = tf.function(fn_b, jit_compile=True).experimental_get_compiler_ir(*args)(stage="hlo")
    assert "custom-call" not in hlo
    monkeypatch.setenv(ops.LOWERING_ENV, "fast")
    with pytest.raises(ValueError, match=ops.LOWERING_ENV):
        ln.layer_norm(*args)


def test_traced_graph_holds_the_custom_ops():
    args = [tf.constant(a) for a in _inputs((2, 3, 16))]
    graph = tf.function(_bind(1e-12)).get_concrete_function(*args).graph
    types = {op.type for op in graph.get_operations()}
    assert {"TfmLayerNorm", "TfmLayerNormGrad"} <= types
    assert not types & {"Mean", "Rsqrt", "SquaredDifference"}


# Tolerances for a 16-bit output: a few units in the last place of max(1, |value|).
HALF_TOL = {np.float16: 2e-3, tf.bfloat16.as_numpy_dtype: 1.6e-2}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", [np.float16, tf.bfloat16.as_numpy_dtype])
@pytest.mark.parametrize("param_dtype", ["same", "float32"])
def test_half_precision(path, dtype, param_dtype):
    x32, gamma32, beta32, dy32 = _inputs((3, 5, 96), seed=5)
    x, dy = x32.astype(dtype), dy32.astype(dtype)
    pdtype = dtype if param_dtype == "same" else np.float32
    gamma, beta = gamma32.astype(pdtype), beta32.astype(pdtype)
    y, mean, rstd, dx, dgamma, dbeta = _runner(path)(
        *(tf.constant(a) for a in (x, gamma, beta, dy)), eps=1e-6)
    assert y.dtype == tf.as_dtype(dtype) and dx.dtype == tf.as_dtype(dtype)
    assert dgamma.dtype == tf.as_dtype(pdtype) and mean.dtype == tf.float32
    f64 = lambda a: np.asarray(a, np.float64)  # noqa: E731
    ry, rmean, rrstd = layer_norm_forward(f64(x), f64(gamma), f64(beta), 1e-6)
    rdx, rdgamma, rdbeta = layer_norm_backward(f64(dy), f64(x), f64(gamma), 1e-6)
    # Statistics are float32 whatever the storage type.
    np.testing.assert_allclose(mean, rmean, atol=TOL32)
    np.testing.assert_allclose(rstd, rrstd, rtol=1e-5)
    tol = HALF_TOL[dtype]
    for name, got, ref in (("y", y, ry), ("dx", dx, rdx)):
        err = np.abs(f64(got) - ref) / np.maximum(1.0, np.abs(ref))
        assert err.max() <= tol, (name, err.max())
    ptol = tol if param_dtype == "same" else 1e-4
    for name, got, ref in (("dgamma", dgamma, rdgamma), ("dbeta", dbeta, rdbeta)):
        err = np.abs(f64(got) - ref) / np.maximum(1.0, np.abs(ref))
        assert err.max() <= ptol, (name, err.max())


def test_composite_fallback_matches_numpy():
    x, gamma, beta, dy = _inputs((3, 4, 40), seed=6)
    args = [tf.constant(a) for a in (x, gamma, beta)]
    with tf.GradientTape() as tape:
        tape.watch(args)
        y = ln.layer_norm(*args, epsilon=1e-12, implementation="composite")
    grads = tape.gradient(y, args, output_gradients=tf.constant(dy))
    np.testing.assert_allclose(y, layer_norm_forward(x, gamma, beta, 1e-12)[0], atol=TOL32)
    for got, ref in zip(grads, layer_norm_backward(dy, x, gamma, 1e-12)):
        np.testing.assert_allclose(got, ref, atol=TOL32)


def test_float64_uses_the_composite():
    x, gamma, beta, _ = _inputs((2, 8), dtype=np.float64)
    y = ln.layer_norm(x, gamma, beta, 1e-12)
    assert y.dtype == tf.float64
    np.testing.assert_allclose(y, layer_norm_forward(x, gamma, beta, 1e-12)[0], atol=1e-12)


def test_bad_inputs_raise_value_error():
    x, gamma, beta, _ = _inputs((2, 8))
    with pytest.raises(ValueError, match="rank >= 1"):
        ln.layer_norm(tf.constant(1.0), gamma[:1], beta[:1])
    with pytest.raises(ValueError, match="gamma has shape"):
        ln.layer_norm(x, gamma[:5], beta)
    with pytest.raises(ValueError, match="beta must be a vector"):
        ln.layer_norm(x, gamma, beta[None])
    with pytest.raises(ValueError, match="epsilon"):
        ln.layer_norm(x, gamma, beta, epsilon=-1e-6)
    with pytest.raises(ValueError, match="epsilon"):
        ln.layer_norm(x, gamma, beta, epsilon=float("nan"))
    with pytest.raises(ValueError, match="lowering"):
        ln.layer_norm(x, gamma, beta, lowering="cuda")
    with pytest.raises(ValueError, match="floating point"):
        ln.layer_norm(tf.constant([[1, 2]]), tf.ones(2), tf.zeros(2))


def test_kernel_rejects_bad_shapes_at_run_time():
    # Shapes unknown at trace time reach the C++ checks.
    fn = tf.function(lambda x, g, b: ln.layer_norm(x, g, b),
                     input_signature=[tf.TensorSpec(None, tf.float32)] * 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="gamma must have shape"):
        fn(tf.ones((2, 8)), tf.ones(5), tf.zeros(8))
    with pytest.raises(tf.errors.InvalidArgumentError, match="rank >= 1"):
        fn(tf.constant(1.0), tf.ones(1), tf.zeros(1))
