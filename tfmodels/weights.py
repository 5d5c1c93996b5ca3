"""Weight loading and TF1 checkpoint writing shared by every family.

A family never writes a loader: it writes a *name table* saying which source tensor
goes into which of our variables, and how to reshape it. This module does the rest,
the same way for every family and format:

* readers: TF1 checkpoints (``tf.train.load_checkpoint``, any TensorFlow filesystem),
  ``.safetensors`` and numpy ``.npz`` (read through ``tf.io.gfile``), in-memory dicts,
  and :func:`register_reader` for other formats (e.g. a torch ``.pth`` reader that
  converts a state dict to numpy arrays);
* :func:`load_weights`: matches source names against the table, applies the transforms,
  checks shapes, assigns, and returns a :class:`LoadReport` (loaded / missing /
  unexpected / ignored source names). Nothing is skipped silently: ``strict=True``
  raises on any missing or unexpected name;
* :func:`save_tf1_checkpoint`: writes ``{name: tensor}`` as a TF1-readable V2 bundle
  (``tf.train.Saver`` / ``init_from_checkpoint`` / ``tf.train.load_checkpoint`` read it)
  atomically: the bundle is written under a temporary prefix, renamed data first and
  index last, and only then does the ``checkpoint`` state file name it;
  :func:`read_checkpoint_state` / :func:`write_checkpoint_state` /
  :func:`remove_checkpoint` manage that state file for training loops.

Name tables
-----------
A table maps a *source name* (as stored in the file) to one target or a list of
targets. A target is a variable (taken as is) or ``Target(variable, *transforms)``;
transforms are numpy functions applied in order (:func:`transpose` for torch
``Linear`` [out, in] -> Keras [in, out], :func:`conv_oihw_to_hwio`, :func:`reshape`,
:func:`split` for fused q/k/v, or any callable). A list of targets reads one source
tensor into several variables (a fused ``in_proj_weight`` into query, key and value).
:func:`table_from_variables` builds a table from a function of each variable's path.

Adding a family, e.g. a torch ViT whose ``blocks.N.attn.qkv.weight`` is [3E, E]::

    from tfmodels import weights as W

    def timm_names(model):
        t = {"cls_token": model.cls_token,
             "patch_embed.proj.weight": W.Target(model.patch_embed.kernel,
                                                 W.conv_oihw_to_hwio)}
        for i, block in enumerate(model.blocks):
            att, p = block.self_attention, f"blocks.{i}.attn"
            t[f"{p}.qkv.weight"] = [W.Target(att.query.kernel, W.split(0, 3), W.transpose),
                                    W.Target(att.key.kernel, W.split(1, 3), W.transpose),
                                    W.Target(att.value.kernel, W.split(2, 3), W.transpose)]
            t[f"{p}.proj.weight"] = W.Target(att.output_dense.kernel, W.transpose)
            ...
        return t

    report = W.load_weights("vit.safetensors", timm_names(model), strict=True)
    print(report)   # "loaded 150, missing 0, unexpected 0, ignored 0"

``load_weights(path_or_reader_or_dict, table, strict=False, ignore=(), rename=None)``:
``ignore`` lists regular expressions of source names that carry no model weight
(optimizer slots, step counters, buffers); ``rename`` maps each source name to the
name the table uses (e.g. strip a ``module.`` prefix) or ``None`` to drop it; the
report always lists names as they are in the source.
"""

from __future__ import annotations

import dataclasses
import io as _pyio
import re
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import tensorflow as tf

from tfmodels import io

__all__ = [
    "DictReader",
    "LoadReport",
    "NpzReader",
    "SafetensorsReader",
    "TF1CheckpointReader",
    "Target",
    "assign",
    "check_covers",
    "conv_oihw_to_hwio",
    "load_weights",
    "open_reader",
    "read_checkpoint_state",
    "register_reader",
    "remove_checkpoint",
    "reshape",
    "save_tf1_checkpoint",
    "split",
    "table_from_variables",
    "transpose",
    "write_checkpoint_state",
]


# --------------------------------------------------------------------------- report


@dataclasses.dataclass
class LoadReport:
    """What a load did, in source names. ``missing``: table names absent from the
    source (our variables left as they were); ``unexpected``: source names that match
    no table entry; ``ignored``: source names known to carry no model weight
    (optimizer slots, step counters, buffers, tied copies)."""

    loaded: list = dataclasses.field(default_factory=list)
    missing: list = dataclasses.field(default_factory=list)
    unexpected: list = dataclasses.field(default_factory=list)
    ignored: list = dataclasses.field(default_factory=list)

    @property
    def ok(self):
        """True when every table entry was loaded and nothing was unexpected."""
        return not self.missing and not self.unexpected

    def summary(self):
        return (f"loaded {len(self.loaded)}, missing {len(self.missing)}, "
                f"unexpected {len(self.unexpected)}, ignored {len(self.ignored)}")

    def __str__(self):
        lines = [self.summary()]
        for kind in ("missing", "unexpected"):
            for name in getattr(self, kind):
                lines.append(f"  {kind}: {name}")
        return "\n".join(lines)


# ----------------------------------------------------------------------- transforms


def transpose(value):
    """Reverses the axes: torch ``Linear`` weight [out, in] -> Keras kernel [in, out]."""
    return np.transpose(value)


def conv_oihw_to_hwio(value):
    """torch ``Conv2d`` weight [out, in, h, w] -> Keras ``Conv2D`` kernel [h, w, in, out]."""
    if np.ndim(value) != 4:
        raise ValueError(f"conv_oihw_to_hwio expects a 4-D weight, got shape {np.shape(value)}")
    return np.transpose(value, (2, 3, 1, 0))


def reshape(*shape):
    """A transform reshaping to ``shape`` (e.g. ViT .npz per-head kernels [E, heads, d])."""
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape

    def _reshape(value):
        return np.reshape(value, shape)

    _reshape.__name__ = f"reshape{shape}"
    return _reshape


def split(index, parts, axis=0):
    """A transform taking the ``index``-th of ``parts`` equal chunks along ``axis``
    (torch ``in_proj_weight`` [3E, E] -> query / key / value)."""

    def _split(value):
        size = np.shape(value)[axis]
        if size % parts:
            raise ValueError(f"cannot split axis {axis} of size {size} into {parts} parts")
        return np.split(np.asarray(value), parts, axis=axis)[index]

    _split.__name__ = f"split({index}/{parts}, axis={axis})"
    return _split


@dataclasses.dataclass(frozen=True, init=False)
class Target:
    """One destination of a source tensor: ``Target(variable, *transforms)``."""

    variable: object
    transforms: tuple

    def __init__(self, variable, *transforms: Callable):
        object.__setattr__(self, "variable", variable)
        object.__setattr__(self, "transforms", tuple(transforms))

    def value_for(self, value):
        for fn in self.transforms:
            value = fn(value)
        return value


def _targets(entry):
    if isinstance(entry, Target):
        return [entry]
    if isinstance(entry, (list, tuple)):
        return [e if isinstance(e, Target) else Target(e) for e in entry]
    return [Target(entry)]


def table_from_variables(variables: Iterable, name_fn: Callable) -> dict:
    """Builds a table from ``name_fn(variable_path)``, which returns ``None`` (no source
    for this variable), a source name, or ``(source_name, *transforms)``. Several
    variables may name the same source (they become a list of targets)."""
    table: dict = {}
    for var in variables:
        got = name_fn(var.path)
        if got is None:
            continue
        name, *fns = (got,) if isinstance(got, str) else tuple(got)
        table.setdefault(name, []).append(Target(var, *fns))
    return {k: v[0] if len(v) == 1 else v for k, v in table.items()}


def check_covers(variables: Iterable, table: Mapping, what: str = "table") -> None:
    """Raises ``ValueError`` listing the variables no table entry writes to."""
    covered = {id(t.variable) for entry in table.values() for t in _targets(entry)}
    stray = [v.path for v in variables if id(v) not in covered]
    if stray:
        raise ValueError(f"{what}: variables without a source name: {stray}")


# -------------------------------------------------------------------------- readers


class DictReader:
    """A source held in memory: ``{name: array}`` (a converted torch state dict, ...)."""

    def __init__(self, tensors: Mapping, path: str = "<dict>"):
        self.path = path
        self._tensors = dict(tensors)

    def names(self):
        return list(self._tensors)

    def read(self, name):
        return np.asarray(self._tensors[name])


class TF1CheckpointReader:
    """A TF (V1 or V2 bundle) checkpoint prefix, e.g. ``.../bert_model.ckpt``."""

    def __init__(self, path: str):
        path = str(path)
        if not io.exists(path + ".index"):
            raise FileNotFoundError(f"checkpoint not found: {path} (no {path}.index)")
        self.path = path
        # The reader itself, not tf.train.load_checkpoint: that one first asks whether
        # the prefix is a directory, which some filesystems (ram://) answer wrongly.
        self._reader = tf.compat.v1.train.NewCheckpointReader(path)

    def names(self):
        return sorted(self._reader.get_variable_to_shape_map())

    def shapes(self):
        """{name: shape} without reading the tensors."""
        return {k: tuple(v) for k, v in self._reader.get_variable_to_shape_map().items()}

    def read(self, name):
        return np.asarray(self._reader.get_tensor(name))


def _read_bytes(path, kind):
    if not io.exists(path) or io.isdir(path):
        raise FileNotFoundError(f"{kind} file not found: {path}")
    with io.open_file(path, "rb") as f:
        return f.read()


class SafetensorsReader:
    """A ``.safetensors`` file (read through gfile; no torch needed)."""

    def __init__(self, path: str):
        from safetensors.numpy import load

        self.path = str(path)
        self._tensors = load(_read_bytes(self.path, "safetensors"))

    def names(self):
        return list(self._tensors)

    def read(self, name):
        return self._tensors[name]


class NpzReader:
    """A numpy ``.npz`` archive (original ViT / JAX checkpoints), read through gfile."""

    def __init__(self, path: str):
        self.path = str(path)
        with np.load(_pyio.BytesIO(_read_bytes(self.path, "npz")), allow_pickle=False) as z:
            self._tensors = {k: z[k] for k in z.files}

    def names(self):
        return list(self._tensors)

    def read(self, name):
        return self._tensors[name]


def _torch_reader(path):
    from tfmodels.torch_pickle import TorchReader  # restricted unpickler, no torch

    return TorchReader(path)


_READERS: list = [(".safetensors", SafetensorsReader), (".npz", NpzReader),
                  (".pth", _torch_reader), (".pt", _torch_reader), (".bin", _torch_reader)]


def register_reader(suffix: str, factory: Callable) -> None:
    """Makes :func:`open_reader` open paths ending in ``suffix`` with ``factory(path)``,
    which returns an object with ``names()``, ``read(name) -> np.ndarray`` and ``path``
    (e.g. ``register_reader(".pth", TorchReader)``). A later registration wins."""
    _READERS.insert(0, (str(suffix), factory))


def open_reader(source):
    """A reader for ``source``: a reader (returned as is), a ``{name: array}`` dict, a
    path with a registered suffix, or else a TF checkpoint prefix."""
    if hasattr(source, "names") and hasattr(source, "read"):
        return source
    if isinstance(source, Mapping):
        return DictReader(source)
    path = str(source)
    for suffix, factory in _READERS:
        if path.endswith(suffix):
            return factory(path)
    return TF1CheckpointReader(path)


# -------------------------------------------------------------------------- loading


def _dtype_name(var):
    return var.dtype.name if hasattr(var.dtype, "name") else str(var.dtype)


def assign(variable, value, name: str = "?", source: str = "?"):
    """Assigns ``value`` to ``variable`` after checking the shape (the error names the
    source tensor, its file and both shapes)."""
    value = np.asarray(value)
    if tuple(variable.shape) != value.shape:
        raise ValueError(
            f"shape mismatch for {name} in {source}: checkpoint {value.shape}, "
            f"model {tuple(variable.shape)} (does the model config match the checkpoint?)")
    variable.assign(value.astype(_dtype_name(variable)))


def _compile(patterns):
    if isinstance(patterns, (str, re.Pattern)):
        patterns = [patterns]
    return [re.compile(p) for p in patterns]


def load_weights(source, table: Mapping, strict: bool = False, ignore=(),
                 rename: Callable | None = None) -> LoadReport:
    """Loads ``source`` into the variables of ``table``; returns a :class:`LoadReport`.

    Args:
      source: a path (TF checkpoint prefix, ``.safetensors``, ``.npz`` or a registered
        suffix), a reader, or a ``{name: array}`` dict.
      table: ``{source name: variable | Target | [Target, ...]}``.
      strict: raise ``ValueError``, before assigning anything, when a table name is
        missing from the source or a source name is neither in the table nor ignored.
      ignore: regular expression(s) of source names carrying no model weight.
      rename: ``name -> table name`` (or ``None`` to ignore the tensor), applied to
        every source name before matching.
    """
    reader = open_reader(source)
    where = getattr(reader, "path", "<source>")
    ignore = _compile(ignore)
    by_key = {}
    report = LoadReport()
    for name in reader.names():
        key = rename(name) if rename is not None else name
        if key is None or any(p.search(name) or p.search(key) for p in ignore):
            report.ignored.append(name)
        elif key in by_key:
            raise ValueError(f"{where}: {name} and {by_key[key]} both give {key}")
        else:
            by_key[key] = name
    report.missing.extend(key for key in table if key not in by_key)
    report.unexpected.extend(name for key, name in by_key.items() if key not in table)
    if strict and not report.ok:  # checked before any assignment: the model stays as it was
        raise ValueError(f"checkpoint {where} does not match the model: {report}")
    for key, entry in table.items():
        if key in by_key:
            name = by_key[key]
            value = reader.read(name)
            for target in _targets(entry):
                assign(target.variable, target.value_for(value), name, where)
            report.loaded.append(name)
    return report


# -------------------------------------------------------------------------- writing

STATE_FILE = "checkpoint"


def _bundle_suffixes(prefix):
    d, base = io.dirname(prefix), io.basename(prefix)
    return [name[len(base):] for name in io.listdir(d)
            if name.startswith(base + ".") and (name.endswith(".index") or ".data-" in name)]


def remove_checkpoint(prefix: str) -> None:
    """Deletes the files of the bundle ``prefix`` (index and data shards)."""
    for suffix in _bundle_suffixes(prefix):
        io.remove(prefix + suffix)


def read_checkpoint_state(directory: str) -> list:
    """Checkpoint prefixes the ``checkpoint`` state file of ``directory`` lists, oldest
    first (``all_model_checkpoint_paths``, else ``model_checkpoint_path``); [] if none."""
    path = io.join(directory, STATE_FILE)
    if not io.exists(path):
        return []
    text = io.read_text(path)
    names = re.findall(r'all_model_checkpoint_paths: "([^"]+)"', text)
    if not names:
        names = re.findall(r'model_checkpoint_path: "([^"]+)"', text)
    return [n if (n.startswith("/") or "://" in n) else io.join(directory, n) for n in names]


def write_checkpoint_state(directory: str, prefixes: list) -> None:
    """Atomically writes the ``checkpoint`` state file naming ``prefixes`` (last = latest),
    as ``tf.train.Saver`` does; prefixes inside ``directory`` are written relative."""
    if not prefixes:
        raise ValueError("prefixes: at least one checkpoint prefix is needed")
    here = io.dirname(io.join(directory, STATE_FILE))
    rel = [io.basename(p) if io.dirname(p) == here else p for p in prefixes]
    text = f'model_checkpoint_path: "{rel[-1]}"\n' + "".join(
        f'all_model_checkpoint_paths: "{r}"\n' for r in rel)
    with io.atomic_write(io.join(directory, STATE_FILE)) as f:
        f.write(text)


def save_tf1_checkpoint(prefix: str, tensors: Mapping, write_state: bool = True) -> str:
    """Writes ``{name: tensor or variable}`` as a V2 bundle at ``prefix``, atomically.

    The bundle goes to a temporary prefix in the same directory, whose files are renamed
    data first and index last (a reader finds the index only once the data is in place);
    then, if ``write_state``, the ``checkpoint`` state file is replaced to name only this
    checkpoint. Works on every TensorFlow filesystem. Returns ``prefix``.
    """
    prefix = str(prefix)
    if not tensors:
        raise ValueError("tensors: nothing to save")
    directory = io.dirname(prefix)
    io.makedirs(directory)
    names = sorted(tensors)
    values = [tf.convert_to_tensor(tensors[n]) for n in names]
    tmp = io.temp_name(prefix)
    try:
        tf.raw_ops.SaveV2(prefix=tmp, tensor_names=names, shape_and_slices=[""] * len(names),
                          tensors=values)
        for suffix in sorted(_bundle_suffixes(tmp), key=lambda s: s == ".index"):
            io.rename(tmp + suffix, prefix + suffix)
    except BaseException:
        remove_checkpoint(tmp)
        raise
    if write_state:
        write_checkpoint_state(directory, [prefix])
    return prefix
