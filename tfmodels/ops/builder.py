"""Builds and caches the fused LayerNorm shared library against the installed TensorFlow.

The library is compiled from the C++ sources next to this file (four translation units,
compiled in parallel: the CPU row kernels with -O3 and the build machine's vector ISA, the TF
kernels, the XLA lowering and the XLA FFI handlers with TensorFlow's own flags), then linked
against libtensorflow_framework and libtensorflow_cc (where the tf2xla symbols live).

Cache: ``$TFMODELS_CACHE_DIR`` or ``$XDG_CACHE_HOME/tfmodels`` or ``~/.cache/tfmodels``; the file
name carries a key over the TF version and flags, the compiler, the CPU flags and the sources,
so a TF upgrade or an edit rebuilds it. A file lock serialises concurrent builds and the
library is moved into place atomically.

    python -m tfmodels.ops.build [--force] [--clean] [--verbose]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time

SOURCE_DIR = os.path.dirname(os.path.abspath(__file__))
KERNEL_SOURCE = "layer_norm_cpu.cc"
TF_SOURCES = ("layer_norm_ops.cc", "layer_norm_xla.cc", "layer_norm_ffi.cc")
HEADERS = ("layer_norm_cpu.h", "layer_norm_xla_names.h")
LIB_PREFIX = "tfmodels_ops-"


class BuildError(RuntimeError):
    """The library could not be compiled (no compiler, missing headers, compile error)."""


def cache_dir() -> str:
    root = os.environ.get("TFMODELS_CACHE_DIR")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(xdg, "tfmodels")
    return os.path.join(root, "ops")


def compiler() -> str:
    """The C++ compiler: $CXX, else c++ / g++ / clang++ on PATH."""
    candidates = [os.environ["CXX"]] if os.environ.get("CXX") else ["c++", "g++", "clang++"]
    for name in candidates:
        path = shutil.which(shlex.split(name)[0]) if name else None
        if path:
            return path
    raise BuildError(f"no C++ compiler found (tried {', '.join(candidates)}; set CXX)")


def _cpu_flags() -> str:
    """Flags selecting the vector ISA of the row kernels ($TFMODELS_OPS_ARCH_FLAGS overrides)."""
    override = os.environ.get("TFMODELS_OPS_ARCH_FLAGS")
    if override is not None:
        return override
    return "-march=native" if platform.machine() in ("x86_64", "AMD64") else "-mcpu=native"


def _cpu_signature() -> str:
    """What -march=native depends on: the CPU's feature flags."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _tf_flags():
    import tensorflow as tf

    include = tf.sysconfig.get_include()
    cflags = list(tf.sysconfig.get_compile_flags()) + [
        "-I" + os.path.join(include, "external", "highwayhash"),
        "-I" + os.path.join(include, "external", "farmhash_archive", "src"),
    ]
    lflags = list(tf.sysconfig.get_link_flags()) + ["-l:libtensorflow_cc.so.2"]
    return tf.__version__, include, cflags, lflags


def _compiler_version(cxx: str) -> str:
    try:
        out = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=30)
        return out.stdout.splitlines()[0] if out.stdout else cxx
    except (OSError, subprocess.SubprocessError) as e:
        raise BuildError(f"C++ compiler {cxx} does not run: {e}") from e


def build_key(cxx: str, tf_version: str, cflags, lflags) -> str:
    h = hashlib.sha256()
    for part in (tf_version, " ".join(cflags), " ".join(lflags), cxx, _compiler_version(cxx),
                 _cpu_flags(), _cpu_signature(), sys.version):
        h.update(part.encode())
        h.update(b"\0")
    for name in (KERNEL_SOURCE, *TF_SOURCES, *HEADERS):
        with open(os.path.join(SOURCE_DIR, name), "rb") as f:
            h.update(name.encode() + b"\0" + f.read())
    return h.hexdigest()[:16]


def library_path() -> str:
    """Where the library for the current TF / sources / CPU lives (built or not)."""
    cxx = compiler()
    tf_version, _, cflags, lflags = _tf_flags()
    key = build_key(cxx, tf_version, cflags, lflags)
    ext = sysconfig.get_config_var("SHLIB_SUFFIX") or ".so"
    return os.path.join(cache_dir(), f"{LIB_PREFIX}{tf_version}-{key}{ext}")


@contextlib.contextmanager
def _file_lock(path: str):
    with open(path, "a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _run_parallel(commands, log):
    procs = []
    for cmd in commands:
        log("  " + " ".join(shlex.quote(c) for c in cmd))
        procs.append((cmd, subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                            stderr=subprocess.STDOUT, text=True)))
    failures = []
    for cmd, proc in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            failures.append(f"$ {' '.join(cmd)}\n{out[-4000:]}")
    if failures:
        raise BuildError("compilation failed:\n" + "\n".join(failures))


def _compile_and_link(cxx, cflags, lflags, workdir, output, log):
    common = ["-fPIC", "-O3", "-DNDEBUG", "-w", *cflags, "-I" + SOURCE_DIR]
    kernel_flags = ["-ffp-contract=fast", "-fvisibility=hidden", *shlex.split(_cpu_flags())]
    objects, commands = [], []
    for src in (KERNEL_SOURCE, *TF_SOURCES):
        obj = os.path.join(workdir, src.replace(".cc", ".o"))
        extra = kernel_flags if src == KERNEL_SOURCE else ["-O2"]
        commands.append([cxx, *common, *extra, "-c", os.path.join(SOURCE_DIR, src), "-o", obj])
        objects.append(obj)
    try:
        _run_parallel(commands, log)
    except BuildError:
        if not _cpu_flags():
            raise
        # The compiler may not know the ISA flag: retry the kernels portably.
        log("  retrying the row kernels without " + _cpu_flags())
        commands[0] = [c for c in commands[0] if c not in shlex.split(_cpu_flags())]
        _run_parallel(commands, log)
    link = [cxx, "-shared", "-o", output, *objects, *lflags, "-Wl,-rpath," + _tf_lib_dir()]
    _run_parallel([link], log)


def _tf_lib_dir() -> str:
    import tensorflow as tf

    return os.path.dirname(tf.sysconfig.get_lib() + os.sep)


def build(force: bool = False, verbose: bool = False) -> str:
    """Returns the path of the built library, compiling it first if it is not cached."""
    cxx = compiler()
    tf_version, _, cflags, lflags = _tf_flags()
    path = library_path()
    if os.path.exists(path) and not force:
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)

    def log(msg):
        if verbose:
            print(msg, file=sys.stderr, flush=True)

    with _file_lock(os.path.join(os.path.dirname(path), ".build.lock")):
        if os.path.exists(path) and not force:
            return path  # another process built it while we waited
        print(f"tfmodels: compiling the fused LayerNorm op for TensorFlow {tf_version} "
              f"(one time, about a minute) -> {path}", file=sys.stderr, flush=True)
        start = time.time()
        workdir = tempfile.mkdtemp(prefix="build-", dir=os.path.dirname(path))
        try:
            tmp_lib = os.path.join(workdir, os.path.basename(path))
            _compile_and_link(cxx, cflags, lflags, workdir, tmp_lib, log)
            os.replace(tmp_lib, path)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        print(f"tfmodels: built {os.path.basename(path)} in {time.time() - start:.0f} s",
              file=sys.stderr, flush=True)
    return path


def clean() -> int:
    """Removes every cached build of the library; returns how many files were removed."""
    removed = 0
    directory = cache_dir()
    if os.path.isdir(directory):
        for name in os.listdir(directory):
            if name.startswith(LIB_PREFIX):
                os.remove(os.path.join(directory, name))
                removed += 1
    return removed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    parser.add_argument("--clean", action="store_true", help="remove cached builds first")
    parser.add_argument("--verbose", action="store_true", help="print the compiler commands")
    args = parser.parse_args(argv)
    if args.clean:
        print(f"removed {clean()} cached build(s) from {cache_dir()}")
    try:
        path = build(force=args.force, verbose=args.verbose)
    except BuildError as e:
        print(f"error: the fused LayerNorm op could not be built: {e}", file=sys.stderr)
        return 1
    print(f"fused LayerNorm library: {path}")
    return 0
