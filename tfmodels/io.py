"""User paths through ``tf.io.gfile`` and the one atomic-write helper.

The original code reads and writes every user path with ``tf.gfile`` so that
``gs://`` buckets (its TPU recipe), ``file://`` URIs and any other registered
TensorFlow filesystem (``ram://``, ``hdfs://``, ...) work. Every script and library
function that touches a user path goes through this module instead of ``open``,
``glob``, ``os.path`` or ``os.makedirs``.

Atomic writes: the output is written under a temporary name in the same directory
and renamed onto the final name only once complete, so a reader (or a rerun after
``kill -9``) never sees a half-written file. On local disks the data is fsynced before
the rename; on object stores the rename is whatever the filesystem offers (a copy and
a delete on ``gs://``), which is still all-or-nothing for readers of the final name.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import uuid

import tensorflow as tf

gfile = tf.io.gfile

TMP_MARK = ".tmp-"


def is_local(path: str) -> bool:
    """True for plain paths and ``file://`` URIs (where ``os`` calls and fsync apply)."""
    return "://" not in str(path) or str(path).startswith("file://")


def local_path(path: str) -> str:
    """``file:///a/b`` -> ``/a/b``; other paths unchanged."""
    path = str(path)
    return path[len("file://"):] if path.startswith("file://") else path


def join(*parts: str) -> str:
    """Joins path parts; keeps ``scheme://`` prefixes intact."""
    if is_local(parts[0]) and not str(parts[0]).startswith("file://"):
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
    return gfile.exists(path)


def isdir(path: str) -> bool:
    return gfile.isdir(path)


def makedirs(path: str) -> None:
    gfile.makedirs(path)


def listdir(path: str) -> list[str]:
    return sorted(gfile.listdir(path)) if gfile.isdir(path) else []


def remove(path: str, missing_ok: bool = True) -> None:
    try:
        if gfile.isdir(path):
            gfile.rmtree(path)
        else:
            gfile.remove(path)
    except tf.errors.NotFoundError:
        if not missing_ok:
            raise


def rename(src: str, dst: str) -> None:
    """Renames ``src`` onto ``dst``, replacing a file there."""
    if is_local(src) and is_local(dst):
        os.replace(local_path(src), local_path(dst))
    else:
        gfile.rename(src, dst, overwrite=True)


def open_file(path: str, mode: str = "r"):
    """``tf.io.gfile.GFile``: a file object on any TensorFlow filesystem."""
    return gfile.GFile(path, mode)


def read_text(path: str) -> str:
    with gfile.GFile(path, "r") as f:
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
        matches = sorted(gfile.glob(part)) if any(c in part for c in "*?[") else (
            [part] if gfile.exists(part) else [])
        matches = [m for m in matches if not gfile.isdir(m)]
        if not matches:
            raise FileNotFoundError(f"{what}: no file matches {part!r}")
        files.extend(m for m in matches if m not in files)
    if not files:
        raise FileNotFoundError(f"{what}: no file given")
    return files


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
    if not gfile.isdir(d):
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
        with gfile.GFile(tmp, mode) as f:
            yield f


@contextlib.contextmanager
def atomic_directory(path: str):
    """Yields a temporary directory beside ``path``; on success puts it in place.

    The previous ``path`` (e.g. an earlier SavedModel export) is moved aside only once
    the new one is complete, and deleted after the new one is in place, so a failure at
    any point leaves either the old or the new directory under ``path``.
    """
    d = dirname(path)
    if not gfile.isdir(d):
        gfile.makedirs(d)
    tmp = temp_name(path)
    try:
        yield tmp
    except BaseException:
        remove(tmp)
        raise
    old = None
    if gfile.exists(path):
        old = temp_name(path) + ".old"
        rename(path, old)
    rename(tmp, path)
    if old:
        remove(old)
