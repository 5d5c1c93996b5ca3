"""Benchmark: fused LayerNorm op vs keras.layers.LayerNormalization, in one process.

Variants: Keras in tf.function and under jit_compile; ours (tfmodels.layers.LayerNorm) in
tf.function, and under jit_compile with the FFI and the builder lowering. Modes: forward, and
forward + backward (dx, dgamma, dbeta for a given dy). Prints median times, the speed-up over
Keras (tf.function and jit), and the fraction of the memory-bandwidth bound: the bytes a fused
kernel must move (forward: read x, write y; forward + backward: also read dy and x, write dx)
divided by the copy bandwidth measured in this run (best of numpy copy and a TF elementwise op).

    python scripts/benchmarks/bench_layernorm.py [--shapes=4096x768,16384x1024]
        [--dtypes=float32,bfloat16] [--repeats=15]
"""

import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

import tfmodels  # noqa: E402,F401  (loads the op library before any jit function)
from tfmodels import ops  # noqa: E402
from tfmodels.layers import LayerNorm  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("shapes", "4096x768,16384x1024", "comma-separated ROWSxFEATURES shapes")
flags.DEFINE_string("dtypes", "float32,bfloat16", "comma-separated dtypes")
flags.DEFINE_integer("repeats", 15, "timed calls per variant (the median is reported)")
flags.DEFINE_integer("warmup", 3, "untimed calls per variant (compilation, caches)")

VARIANTS = ("keras tf.function", "keras jit", "ours tf.function", "ours jit ffi",
            "ours jit builder")


def _median_seconds(fn, *args):
    for _ in range(FLAGS.warmup):
        fn(*args)
    times = []
    for _ in range(FLAGS.repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def copy_bandwidth(num_elements):
    """Bytes/s of copying a float32 array of num_elements (read + write): the best of numpy's
    copy and a multi-threaded TF elementwise op, so the bound is a conservative one."""
    src = np.random.default_rng(0).standard_normal(num_elements).astype(np.float32)
    dst = np.empty_like(src)
    t_np = _median_seconds(np.copyto, dst, src)
    x = tf.constant(src)
    t_tf = _median_seconds(tf.function(lambda v: v * 2.0), x)
    nbytes = 2 * src.nbytes
    return max(nbytes / t_np, nbytes / t_tf)


def make_layer(variant, n, dtype):
    if variant.startswith("keras"):
        layer = keras.layers.LayerNormalization(epsilon=1e-12, dtype=dtype)
    else:
        lowering = {"ours jit ffi": "ffi", "ours jit builder": "builder"}.get(variant)
        layer = LayerNorm(epsilon=1e-12, lowering=lowering, dtype=dtype)
    layer.build((None, n))
    rng = np.random.default_rng(1)
    layer.set_weights([rng.standard_normal(n).astype("float32") for _ in range(2)])
    return layer


def make_step(layer, variant, backward):
    def forward(x):
        return layer(x)

    def forward_backward(x, dy):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
        return y, tape.gradient(y, [x, *layer.trainable_variables], output_gradients=dy)

    return tf.function(forward_backward if backward else forward,
                       jit_compile=variant.endswith(("jit", "ffi", "builder")))


def run_config(rows, n, dtype):
    rng = np.random.default_rng(2)
    x = tf.cast(tf.constant(rng.standard_normal((rows, n)).astype("float32") * 2 + 1), dtype)
    dy = tf.cast(tf.constant(rng.standard_normal((rows, n)).astype("float32")), dtype)
    itemsize = tf.as_dtype(dtype).size
    bandwidth = copy_bandwidth(rows * n * itemsize // 4)
    print(f"{rows}x{n} {dtype}: copy bandwidth {bandwidth / 1e9:.1f} GB/s", flush=True)
    results = []
    for backward in (False, True):
        moved = (5 if backward else 2) * rows * n * itemsize
        times = {}
        for variant in VARIANTS:
            step = make_step(make_layer(variant, n, dtype), variant, backward)
            args = (x, dy) if backward else (x,)
            times[variant] = _median_seconds(step, *args)
        for variant in VARIANTS:
            t = times[variant]
            results.append((f"{rows}x{n}", dtype, "fwd+bwd" if backward else "fwd", variant,
                            t * 1e3, times["keras tf.function"] / t, times["keras jit"] / t,
                            moved / bandwidth / t))
    return results


def main(argv):
    del argv
    if ops.active_implementation() != "custom_op":
        print(f"error: the fused LayerNorm op is not available: {ops.load_error()}",
              file=sys.stderr)
        return 1
    print(f"TensorFlow {tf.__version__}, keras {keras.__version__}, {os.cpu_count()} CPUs; "
          f"median of {FLAGS.repeats} calls; bound = bytes moved / copy bandwidth of an "
          "input-sized array")
    header = (f"{'shape':>11s} {'dtype':>8s} {'mode':>7s} {'variant':>17s} {'ms':>8s} "
              f"{'vs keras fn':>11s} {'vs keras jit':>12s} {'% of bound':>10s}")
    print(header)
    print("-" * len(header))
    for shape in FLAGS.shapes.split(","):
        rows, n = (int(v) for v in shape.lower().split("x"))
        for dtype in FLAGS.dtypes.split(","):
            for r in run_config(rows, n, dtype):
                print(f"{r[0]:>11s} {r[1]:>8s} {r[2]:>7s} {r[3]:>17s} {r[4]:8.2f} "
                      f"{r[5]:10.2f}x {r[6]:11.2f}x {100 * r[7]:9.0f}%", flush=True)
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
