"""Loading order, the no-compiler fallback and the build cache key (fresh processes)."""

import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

WARM_UP_JIT = "tf.function(lambda v: v * 2.0, jit_compile=True)(tf.ones(3))\n"
USE_OP_UNDER_JIT = textwrap.dedent("""
    import numpy as np
    from tfmodels.ops import layer_norm_op as ln
    x = np.random.default_rng(0).standard_normal((4, 16)).astype("float32")
    g, b = np.full(16, 2.0, "float32"), np.full(16, 0.5, "float32")
    f = tf.function(lambda x, g, b: ln.layer_norm(x, g, b, lowering="ffi"), jit_compile=True)
    try:
        hlo = f.experimental_get_compiler_ir(x, g, b)(stage="hlo")
        y = f(x, g, b).numpy()
    except Exception as e:
        print("JIT_FAILED", str(e).replace("\\n", " ")[:400])
        raise SystemExit(0)
    ref = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-12) * 2 + 0.5
    print("FFI_LOWERING" if "tfmodels_layer_norm_fwd" in hlo else "OTHER_LOWERING")
    print("MAX_ERR", float(np.abs(y - ref).max()))
""")


def _run(code, env_extra=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT, **(env_extra or {}))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout, proc.stderr


def test_import_tfmodels_before_the_first_jit_function():
    # Importing tfmodels first registers the XLA lowering, even if other jit code runs next.
    out, _ = _run("import tensorflow as tf\nimport tfmodels\n" + WARM_UP_JIT + USE_OP_UNDER_JIT)
    assert "FFI_LOWERING" in out, out
    assert float(out.split("MAX_ERR")[1]) < 1e-5
    # The trap this guards against: a jit function compiled before the library is loaded
    # freezes TF's XLA kernel registry, and the op cannot be compiled any more.
    out, _ = _run("import tensorflow as tf\n" + WARM_UP_JIT + "import tfmodels\n"
                  + USE_OP_UNDER_JIT)
    assert "JIT_FAILED" in out and "TfmLayerNorm" in out, out


def test_fallback_without_a_compiler(tmp_path):
    code = textwrap.dedent("""
        import warnings
        import numpy as np
        import tensorflow as tf
        import tfmodels
        from tfmodels import ops
        from tfmodels.layers import LayerNorm
        print("IMPL", ops.active_implementation())
        x = np.random.default_rng(1).standard_normal((3, 5, 8)).astype("float32")
        layer = LayerNorm(epsilon=1e-12)
        y1 = layer(x).numpy()
        y2 = tf.function(layer, jit_compile=True)(x).numpy()
        ref = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-12)
        print("MAX_ERR", max(float(np.abs(y1 - ref).max()), float(np.abs(y2 - ref).max())))
    """)
    out, err = _run(code, {"TFMODELS_CACHE_DIR": str(tmp_path), "CXX": "/nonexistent/c++"})
    assert "IMPL composite" in out, out + err
    assert float(out.split("MAX_ERR")[1]) < 1e-5
    assert err.count("fused LayerNorm custom op is NOT available") == 1, err
    assert "no C++ compiler found" in err


def test_build_key_tracks_tensorflow_version_and_sources(tmp_path, monkeypatch):
    from tfmodels.ops import builder as build

    cxx = build.compiler()
    key = build.build_key(cxx, "2.21.0", ["-Ia"], ["-lb"])
    assert key == build.build_key(cxx, "2.21.0", ["-Ia"], ["-lb"])
    assert key != build.build_key(cxx, "2.22.0", ["-Ia"], ["-lb"])
    for name in os.listdir(build.SOURCE_DIR):
        if name.endswith((".cc", ".h")):
            with open(os.path.join(build.SOURCE_DIR, name), "rb") as src:
                (tmp_path / name).write_bytes(src.read())
    monkeypatch.setattr(build, "SOURCE_DIR", str(tmp_path))
    assert key == build.build_key(cxx, "2.21.0", ["-Ia"], ["-lb"])
    with open(tmp_path / build.KERNEL_SOURCE, "a") as f:
        f.write("\n// edited\n")
    assert key != build.build_key(cxx, "2.21.0", ["-Ia"], ["-lb"])
    monkeypatch.setenv("TFMODELS_CACHE_DIR", str(tmp_path))
    assert build.library_path().startswith(os.path.join(str(tmp_path), "ops"))
