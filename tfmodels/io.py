"""User paths through ``tf.io.gfile`` and the one atomic-write helper.

The original code reads and writes every user path with ``tf.gfile`` so that
``gs://`` buckets (its TPU recipe), ``file://`` URIs and any other registered
TensorFlow filesystem (``ram://``, ``hdfs://``, ...) work. Every script and library
function that touches a user path goes through this module instead of ``open``,
``glob``, ``os.path`` or ``os.makedirs``.

Local paths (plain, or ``file://`` URIs) are served by ``os`` directly, which is what
``tf.io.gfile``'s local filesystem does; every other scheme goes to ``tf.io.gfile``,
and TensorFlow is imported only then. So the data tools that never need TensorFlow
for local files (``create_pretraining_data.py``, the session preparation scripts) stay
free of its start-up time (see :mod:`pipelines.fileio`).

Atomic writes: the output is written under a temporary name in the same directory
and renamed onto the final name only once complete, so a reader (or a rerun after
``kill -9``) never sees a half-written file. On local disks the data is fsynced before
the rename; on object stores the rename is whatever the filesystem offers (a copy and
a delete on ``gs://``), which is still all-or-nothing for readers of the final name.
"""

from __future__ import annotations

import contextlib
import glob as _glob
import os
import posixpath
import uuid

TMP_MARK = ".tmp-"


def __getattr__(name):
    # ``io.gfile`` is ``tf.io.gfile``, imported on first use (see the module docstring).
    if name == "gfile":
        return _gfile()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _gfile():
    import tensorflow as tf

    return tf.io.gfile


def is_local(path: str) -> bool:
    """True for plain paths and ``file://`` URIs (where ``os`` calls and fsync apply)."""
    return "://" not in str(path) or str(path).startswith("file://")


def local_path(path: str) -> str:
    """``file:///a/b`` -> ``/a/b``; other paths unchanged."""
    path = str(path)
    return path[len("file://"):] if path.startswith("file://") else path


def join(*parts: str) -> str:
    """Joins path parts; keeps ``scheme://`` prefixes intact."""
    parts = tuple(str(p) for p in parts)
    if is_local(parts[0]) and not parts[0].startswith("file://"):
        return os.path.join(*parts)
    return posixpath.join(*parts)


def dirname(path: str) -> str:
    path = str(path).rstrip("/")
    if "://" in path:
        scheme, rest = path.split("://", 1)
        head = posixpath.dirname(rest)
        return f"{scheme}://{head}"
    return os.path.dirname(os.path.abspath(path))


def basename(path: str) -> str:
    return posixpath.basename(str(path).rstrip("/"))


def exists(path: str) -> bool:
    if is_local(path):
        return os.path.exists(local_path(path))
    return _gfile().exists(path)


def isdir(path: str) -> bool:
    if is_local(path):
        return os.path.isdir(local_path(path))
    return _gfile().isdir(path)


def isfile(path: str) -> bool:
    """An existing path that is not a directory."""
    return exists(path) and not isdir(path)


def makedirs(path: str) -> None:
    if is_local(path):
        os.makedirs(local_path(path), exist_ok=True)
    else:
        _gfile().makedirs(path)


def listdir(path: str) -> list[str]:
    if not isdir(path):
        return []
    if is_local(path):
        return sorted(os.listdir(local_path(path)))
    return sorted(n.rstrip("/") for n in _gfile().listdir(path))


def glob(pattern: str) -> list[str]:
    """Sorted matches of a glob pattern, in the form given (``file://`` kept)."""
    if is_local(pattern):
        prefix = "file://" if str(pattern).startswith("file://") else ""
        return sorted(prefix + m for m in _glob.glob(local_path(pattern)))
    return sorted(_gfile().glob(pattern))


def remove(path: str, missing_ok: bool = True) -> None:
    """Removes a file or a directory tree."""
    if not exists(path):
        if not missing_ok:
            raise FileNotFoundError(f"{path} does not exist")
        return
    if is_local(path):
        p = local_path(path)
        if os.path.isdir(p) and not os.path.islink(p):
            import shutil

            shutil.rmtree(p)
        else:
            os.remove(p)
    elif _gfile().isdir(path):
        _gfile().rmtree(path)
    else:
        _gfile().remove(path)


def rename(src: str, dst: str) -> None:
    """Renames ``src`` onto ``dst``, replacing a file there.

    A directory on a non-local filesystem is moved file by file (object stores have no
    directories to rename, and ``ram://`` renames only the directory entry).
    """
    if is_local(src) and is_local(dst):
        os.replace(local_path(src), local_path(dst))
        return
    gfile = _gfile()
    if not gfile.isdir(src):
        gfile.rename(src, dst, overwrite=True)
        return
    for parent, _, files in gfile.walk(src):
        target = dst + parent[len(src.rstrip("/")):]
        gfile.makedirs(target)
        for name in files:
            gfile.rename(posixpath.join(parent, name), posixpath.join(target, name),
                         overwrite=True)
    gfile.rmtree(src)


def open_file(path: str, mode: str = "r"):
    """A file object on any TensorFlow filesystem (``tf.io.gfile.GFile`` semantics:
    text is UTF-8 and lines end at ``\\n`` only, with no newline translation)."""
    if is_local(path):
        if "b" in mode:
            return open(local_path(path), mode)
        return open(local_path(path), mode, encoding="utf-8", newline="\n")
    return _gfile_class()(path, mode)


_GFILE_CLASS = []


def _gfile_class():
    """``tf.io.gfile.GFile`` plus the ``writelines`` of Python file objects."""
    if not _GFILE_CLASS:
        class GFile(_gfile().GFile):
            def writelines(self, lines):
                for line in lines:
                    self.write(line)

        _GFILE_CLASS.append(GFile)
    return _GFILE_CLASS[0]


def read_text(path: str) -> str:
    with open_file(path, "r") as f:
        return f.read()


def expand_inputs(spec: str, what: str = "input") -> list[str]:
    """Expands a comma-separated list of paths and globs (as the originals'
    ``input_file`` flags) into sorted, de-duplicated existing files.

    Raises ``FileNotFoundError`` naming ``what`` when a part matches nothing.
    """
    files: list[str] = []
    for part in str(spec).split(","):
        part = part.strip()
        if not part:
            continue
        matches = glob(part) if any(c in part for c in "*?[") else (
            [part] if exists(part) else [])
        matches = [m for m in matches if not isdir(m)]
        if not matches:
            raise FileNotFoundError(f"{what}: no file matches {part!r}")
        files.extend(m for m in matches if m not in files)
    if not files:
        raise FileNotFoundError(f"{what}: no file given")
    return files


def check_output(path: str, what: str, directory: bool = False,
                 create_parent: bool = True) -> None:
    """Checks before a long job that ``path`` can be written, so a bad target fails at
    once rather than after the work: not a directory (or, with ``directory=True``, not a
    file), its parent directory exists (created when ``create_parent``) and a file can be
    created in it (a temporary probe, removed again).

    Raises ``ValueError`` (``FileNotFoundError`` for a missing parent when not creating
    it) naming ``what``, e.g. the flag.
    """
    path = str(path)
    if not path or path.endswith("/"):
        if not directory:
            raise ValueError(f"{what}: {path!r} is not a file name")
        path = path.rstrip("/") or path
    if not directory and isdir(path):
        raise ValueError(f"{what}: {path} is a directory")
    if directory and exists(path) and not isdir(path):
        raise ValueError(f"{what}: {path} exists and is not a directory")
    parent = dirname(path)
    if not isdir(parent):
        if not create_parent:
            raise FileNotFoundError(f"{what}: directory {parent} does not exist")
        try:
            makedirs(parent)
        except Exception as e:  # OSError locally, tf.errors.OpError elsewhere
            raise ValueError(f"{what}: cannot create directory {parent} ({e})") from None
    probe = temp_name(path)
    try:
        with open_file(probe, "wb") as f:
            f.write(b"")
    except Exception as e:
        raise ValueError(f"{what}: cannot write in {parent} ({e})") from None
    remove(probe)


def temp_name(path: str) -> str:
    """A fresh temporary name beside ``path`` (same directory, so rename is cheap)."""
    d, b = dirname(path), basename(path)
    return join(d, f".{b}{TMP_MARK}{uuid.uuid4().hex[:12]}")


def remove_temporaries(path: str) -> list[str]:
    """Deletes temporaries a killed writer of ``path`` left behind; returns them."""
    d, b = dirname(path), basename(path)
    gone = []
    for name in listdir(d):
        if name.startswith(f".{b}{TMP_MARK}"):
            remove(join(d, name))
            gone.append(join(d, name))
    return gone


def _fsync(path: str) -> None:
    if is_local(path):
        fd = os.open(local_path(path), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str, fsync: bool = True):
    """Yields a temporary path beside ``path``; on success renames it onto ``path``.

    For writers that take a path rather than a file object (``np.savez``,
    ``tf.raw_ops.SaveV2`` prefixes use :func:`temp_name` directly). On an exception
    the temporary is removed and ``path`` is left as it was.
    """
    d = dirname(path)
    if not isdir(d):
        raise FileNotFoundError(f"{path}: directory {d} does not exist")
    tmp = temp_name(path)
    try:
        yield tmp
        if fsync:
            _fsync(tmp)
        rename(tmp, path)
    except BaseException:
        remove(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path: str, mode: str = "w", fsync: bool = True):
    """Opens a temporary file beside ``path`` for writing; renames it onto ``path``
    when the block ends without an exception, removes it otherwise.

    ``mode`` is ``"w"`` (text) or ``"wb"``. Works on every TensorFlow filesystem.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    with atomic_path(path, fsync=fsync) as tmp:
        with open_file(tmp, mode) as f:
            yield f


@contextlib.contextmanager
def atomic_directory(path: str):
    """Yields a temporary directory beside ``path``; on success puts it in place.

    The previous ``path`` (e.g. an earlier SavedModel export) is moved aside only once
    the new one is complete, and deleted after the new one is in place, so a failure at
    any point leaves either the old or the new directory under ``path``, except that a
    kill between the two renames leaves the old one under ``.<name>.tmp-<id>.old``.
    """
    d = dirname(path)
    if not isdir(d):
        makedirs(d)
    tmp = temp_name(path)
    try:
        yield tmp
    except BaseException:
        remove(tmp)
        raise
    old = None
    if exists(path):
        old = temp_name(path) + ".old"
        rename(path, old)
    rename(tmp, path)
    if old:
        remove(old)
