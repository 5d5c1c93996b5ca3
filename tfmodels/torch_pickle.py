"""Read PyTorch ``torch.save`` files (state dicts) without torch, through a restricted unpickler.

A pickle can run arbitrary code (any importable callable may be named in it), so
:class:`RestrictedUnpickler` resolves only an allow-list: the tensor rebuild functions of
``torch._utils`` (re-implemented here on numpy, nothing of torch is imported), the storage
type markers (``torch.FloatStorage`` …), ``collections.OrderedDict``, numpy's own array
reconstruction, and ``argparse.Namespace`` (training checkpoints store their arguments in
one; it becomes a plain :class:`Namespace` here). Every other global is refused with
:class:`UnsafePickleError` naming it.

Both of torch's formats are read:
- the zip format (torch >= 1.6): ``<archive>/data.pkl`` plus one raw little-endian storage
  per tensor under ``<archive>/data/<key>``;
- the legacy format (torch < 1.6, e.g. the published DETR ``.pth`` files): a magic number,
  protocol and system pickles, the object pickle, a pickle of storage keys, then each storage
  as an int64 element count followed by its bytes.

Tensors come back as numpy arrays (bfloat16 as float32), in the containers they were saved in.
"""

from __future__ import annotations

import collections
import io as _pyio
import pickle
import struct
import zipfile

import numpy as np

from tfmodels import io

try:  # numpy >= 2
    from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

_STORAGE_DTYPES = {
    "DoubleStorage": np.float64,
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16",
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle named a global outside the allow-list (it could run code): refused."""


class Namespace(dict):
    """Stand-in for ``argparse.Namespace``: its attributes as a plain dict (attribute access)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError as e:
            raise AttributeError(name) from e

    def __setstate__(self, state):
        self.update(state or {})


class _StorageType:
    def __init__(self, name):
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]


class _Storage:
    """A storage's flat numpy array (filled at once in the zip format, later in the legacy one)."""

    def __init__(self, dtype, numel):
        self.dtype = dtype
        self.numel = numel
        self.array = None


class _LazyTensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def materialise(self):
        flat = self.storage.array
        if flat is None:
            raise pickle.UnpicklingError("a tensor refers to a storage that is not in the file")
        if not self.size:
            return flat[self.offset].copy()
        itemsize = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset:], shape=tuple(self.size),
            strides=tuple(s * itemsize for s in self.stride))
        return np.array(view)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    return _LazyTensor(storage, int(storage_offset), tuple(size), tuple(stride))


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _LazyTensor(storage, int(storage_offset), tuple(size), tuple(stride))


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    return data


def _rebuild_from_type_v2(func, new_type, args, state):
    return func(*args)


class _TensorType:
    """Marker for ``torch.Tensor`` / ``torch.nn.Parameter`` (only passed to rebuild functions)."""


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("argparse", "Namespace"): Namespace,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch", "Tensor"): _TensorType,
    ("torch.nn.parameter", "Parameter"): _TensorType,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy.core.multiarray", "scalar"): _multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): _multiarray.scalar,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only tensors, arrays and plain containers.

    ``persistent_load`` turns torch's ``('storage', type, key, location, numel)`` ids into
    :class:`_Storage` objects through ``load_storage(key, dtype, numel)``.
    """

    def __init__(self, file, load_storage=None, source="pickle", encoding="ASCII"):
        super().__init__(file, encoding=encoding)
        self._load_storage = load_storage
        self._source = source
        self.storages = {}

    def find_class(self, module, name):
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        allowed = _ALLOWED.get((module, name))
        if allowed is None:
            raise UnsafePickleError(
                f"{self._source}: refusing to load global '{module}.{name}': only tensors, "
                "arrays and plain containers are allowed (a pickle can run code)")
        return allowed

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise pickle.UnpicklingError(f"{self._source}: unsupported persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise UnsafePickleError(f"{self._source}: storage type {storage_type!r} refused")
        key = str(key)
        if key not in self.storages:
            storage = _Storage(storage_type.dtype, int(numel))
            if self._load_storage is not None:
                storage.array = self._load_storage(key, storage.dtype, storage.numel)
            self.storages[key] = storage
        storage = self.storages[key]
        view = pid[5] if len(pid) > 5 else None
        if view is not None:  # legacy storage views: (view_key, offset, size)
            _, offset, size = view
            sub = _Storage(storage.dtype, size)
            sub.parent = (storage, offset)
            return sub
        return storage


def _decode(raw, dtype, numel, what):
    if dtype == "bfloat16":
        bits = np.frombuffer(raw, dtype="<u2", count=numel).astype(np.uint32) << 16
        return bits.view(np.float32)
    dt = np.dtype(dtype).newbyteorder("<")
    if len(raw) < numel * dt.itemsize:
        raise pickle.UnpicklingError(f"{what}: storage shorter than its {numel} elements")
    return np.frombuffer(raw, dtype=dt, count=numel).astype(np.dtype(dtype))


def _materialise(obj):
    if isinstance(obj, _LazyTensor):
        storage = obj.storage
        parent = getattr(storage, "parent", None)
        if parent is not None and storage.array is None:
            base, offset = parent
            storage.array = base.array[offset:offset + storage.numel]
        return obj.materialise()
    if isinstance(obj, Namespace):
        return Namespace({k: _materialise(v) for k, v in obj.items()})
    if isinstance(obj, collections.OrderedDict):
        return collections.OrderedDict((k, _materialise(v)) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: _materialise(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_materialise(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_materialise(v) for v in obj)
    return obj


def _load_zip(data, source):
    with zipfile.ZipFile(_pyio.BytesIO(data)) as zf:
        names = zf.namelist()
        pkl = [n for n in names if n.endswith("data.pkl")]
        if len(pkl) != 1:
            raise ValueError(f"{source}: not a torch zip checkpoint (no single data.pkl)")
        prefix = pkl[0][: -len("data.pkl")]
        order = prefix + "byteorder"
        if order in names and zf.read(order).decode().strip() != "little":
            raise ValueError(f"{source}: big-endian torch checkpoints are not supported")

        def load_storage(key, dtype, numel):
            return _decode(zf.read(f"{prefix}data/{key}"), dtype, numel, f"{source}:{key}")

        unpickler = RestrictedUnpickler(_pyio.BytesIO(zf.read(pkl[0])), load_storage, source)
        return _materialise(unpickler.load())


def _load_legacy(data, source):
    f = _pyio.BytesIO(data)

    def plain():
        return RestrictedUnpickler(f, None, source).load()

    if plain() != LEGACY_MAGIC:
        raise ValueError(f"{source}: not a torch checkpoint (bad magic number)")
    if plain() != LEGACY_PROTOCOL:
        raise ValueError(f"{source}: unsupported torch legacy protocol version")
    plain()  # sys_info
    unpickler = RestrictedUnpickler(f, None, source)
    result = unpickler.load()
    keys = plain()
    for key in keys:
        storage = unpickler.storages.get(str(key))
        (numel,) = struct.unpack("<q", f.read(8))
        if storage is None:
            raise pickle.UnpicklingError(f"{source}: storage {key} is not referenced")
        itemsize = 2 if storage.dtype == "bfloat16" else np.dtype(storage.dtype).itemsize
        storage.array = _decode(f.read(numel * itemsize), storage.dtype, numel,
                                f"{source}:{key}")
    return _materialise(result)


def loads(data, source="<bytes>"):
    """Load a ``torch.save`` payload (bytes) into numpy arrays and plain containers."""
    if data[:4] == b"PK\x03\x04":
        return _load_zip(data, source)
    return _load_legacy(data, source)


def load(path):
    """Load the ``torch.save`` file at ``path`` (any tf.io.gfile path)."""
    if not io.exists(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    with io.open_file(path, "rb") as f:
        data = f.read()
    return loads(data, source=path)


def state_dict_of(obj, path="checkpoint"):
    """``{name: array}`` of a loaded checkpoint: the dict, or its ``"model"``/``"state_dict"``."""
    if isinstance(obj, dict):
        for key in ("model", "state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, np.ndarray) for v in obj.values()):
        raise ValueError(f"{path}: not a state dict (a mapping of names to tensors)")
    return dict(obj)


def load_state_dict(path):
    """``{name: array}`` of the checkpoint at ``path`` (see :func:`state_dict_of`)."""
    return state_dict_of(load(path), path)


class TorchReader:
    """A ``torch.save`` state dict as a :mod:`tfmodels.weights` reader (``names``/``read``)."""

    def __init__(self, path):
        self.path = str(path)
        self._tensors = load_state_dict(self.path)

    def names(self):
        return list(self._tensors)

    def read(self, name):
        return self._tensors[name]
