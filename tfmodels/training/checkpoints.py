"""Resumable training checkpoints, written atomically on any TensorFlow filesystem.

Two kinds, with one interface (``save(step)``, ``restore()``, ``latest()``,
``checkpoints()``, ``remove_temporaries()``) that :class:`~tfmodels.training.Trainer`
uses:

* :class:`NamedCheckpoint` - a TF1-style bundle ``model.ckpt-<step>`` whose tensors
  carry names from a table (``{original name: variable}``), plus ``global_step``,
  listed in a ``checkpoint`` state file: what the original Estimator loops wrote, so
  original tools (``tf.train.load_checkpoint``, ``init_checkpoint`` of the original
  scripts) read it.
* :class:`ObjectCheckpoint` - a plain ``tf.train.Checkpoint`` of the model and
  optimizer (``model.ckpt-<step>``, same state file) for tasks without an original
  name table.

A checkpoint is complete only once the state file names it: bundle files are written
under a temporary prefix and renamed, and the state file is replaced atomically last,
so after ``kill -9`` a rerun restores the last complete checkpoint and
:meth:`remove_temporaries` deletes what the killed save left.
"""

from __future__ import annotations

import re

import keras
import tensorflow as tf

from tfmodels import io, weights

STATE = "checkpoint"
_PREFIX_RE = re.compile(r"^(model\.ckpt-(\d+))\.index$")


def _kept(previous, final, max_to_keep):
    """The checkpoints the state lists after writing ``final`` (oldest first)."""
    previous = [c for c in previous if c != final]
    if max_to_keep:  # None or 0: keep every checkpoint
        previous = previous[len(previous) - (max_to_keep - 1):] if max_to_keep > 1 else []
    return previous + [final]


# The state file and the TF1 bundle writer are tfmodels.weights' (one copy for loading,
# exporting and training checkpoints).
read_state = weights.read_checkpoint_state
write_state = weights.write_checkpoint_state


def with_optimizer_slots(table, optimizer, slots):
    """Adds the optimizer's slot variables to a ``{name: variable}`` table.

    Args:
      table: ``{name: model variable}``.
      optimizer: a built Keras optimizer (or ``LossScaleOptimizer``).
      slots: ``{suffix: attribute}``: for each variable, ``<name>/<suffix>`` is
        ``getattr(optimizer, attribute)[index of the variable]``; e.g.
        ``{"adam_m": "adam_m", "adam_v": "adam_v"}`` for BERT's AdamWeightDecay or
        ``{"Adam": "_momentums", "Adam_1": "_velocities"}`` for Keras Adam under the
        TF1 ``tf.train.AdamOptimizer`` names.
    """
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    out = dict(table)
    for name, var in table.items():
        index = inner._get_variable_index(var)
        for suffix, attribute in slots.items():
            out[f"{name}/{suffix}"] = getattr(inner, attribute)[index]
    return out


class _Base:
    def __init__(self, directory, max_to_keep=5):
        if max_to_keep is not None and max_to_keep < 0:
            raise ValueError(f"max_to_keep must be >= 0 or None, got {max_to_keep}")
        self.directory = directory
        self.max_to_keep = max_to_keep

    def checkpoints(self):
        """Complete checkpoints, oldest first, as listed in the state file."""
        return read_state(self.directory)

    def latest(self):
        ckpts = self.checkpoints()
        return ckpts[-1] if ckpts else None

    def remove_temporaries(self):
        """Deletes what a killed save left behind (never named by the state file)."""
        for name in io.listdir(self.directory):
            if io.TMP_MARK in name or re.search(r"_temp(_[0-9a-f]+)?$", name):
                io.remove(io.join(self.directory, name))

    def _finish(self, final):
        """Lists ``final`` in the state file, then deletes checkpoints no longer kept."""
        kept = _kept(self.checkpoints(), final, self.max_to_keep)
        write_state(self.directory, kept)
        keep = {io.basename(k) for k in kept}
        for name in io.listdir(self.directory):
            m = _PREFIX_RE.match(name)
            if m and m.group(1) not in keep:
                weights.remove_checkpoint(io.join(self.directory, m.group(1)))


class NamedCheckpoint(_Base):
    """TF1-style checkpoints under the names of a table.

    Args:
      directory: where ``model.ckpt-<step>`` and ``checkpoint`` go.
      table: ``{name: variable}`` of everything saved (weights, optimizer slots).
      step_variable: a variable set to the restored step (the optimizer's
        ``iterations``, which drives the learning-rate schedule).
      extra: ``{name: variable}`` saved and restored when present (e.g. the loss
        scale), not required in older checkpoints.
      max_to_keep: checkpoints kept (the Estimator default 5; None or 0 keeps all).
      mismatch_hint: appended to shape/missing-name errors (e.g. which flag to check).
    """

    def __init__(self, directory, table, step_variable=None, extra=None, max_to_keep=5,
                 mismatch_hint=""):
        super().__init__(directory, max_to_keep)
        self.table = dict(table)
        self.step_variable = step_variable
        self.extra = dict(extra or {})
        self.mismatch_hint = mismatch_hint

    def save(self, step):
        """Writes ``model.ckpt-<step>``, records it in the state file; returns its prefix."""
        tensors = {**self.table, "global_step": tf.constant(int(step), tf.int64),
                   **self.extra}
        final = io.join(self.directory, f"model.ckpt-{int(step)}")
        # Temporary prefix, data first, index last (tfmodels.weights); the checkpoint exists
        # for readers once the state file names it.
        weights.save_tf1_checkpoint(final, tensors, write_state=False)
        self._finish(final)
        return final

    def restore(self, prefix=None):
        """Restores the table, the step and ``extra``; returns the step (None if nothing)."""
        prefix = prefix or self.latest()
        if prefix is None:
            return None
        reader = weights.TF1CheckpointReader(prefix)
        shapes = reader.shapes()
        missing = [n for n in self.table if n not in shapes]
        if missing:
            raise ValueError(f"checkpoint {prefix} lacks {len(missing)} variables, "
                             f"e.g. {missing[:3]}{self.mismatch_hint}")
        for name, var in self.table.items():
            if tuple(shapes[name]) != tuple(var.shape):
                raise ValueError(f"checkpoint {prefix}: {name} has shape {tuple(shapes[name])},"
                                 f" the model {tuple(var.shape)}{self.mismatch_hint}")
        for name, var in self.table.items():
            var.assign(reader.read(name))
        step = int(reader.read("global_step")) if "global_step" in shapes else 0
        if self.step_variable is not None:
            self.step_variable.assign(step)
        for name, var in self.extra.items():
            if name in shapes:
                var.assign(reader.read(name))
        return step


class ObjectCheckpoint(_Base):
    """``tf.train.Checkpoint`` of ``objects`` (e.g. ``model=``, ``optimizer=``) saved as
    ``model.ckpt-<step>`` with the same state file and retention as
    :class:`NamedCheckpoint`. The step is the number in the file name; the optimizer's
    ``iterations`` is restored with the optimizer.

    A Keras layer or model is saved as its variables in ``model.weights`` order (keyed by
    position and variable name, with shapes checked on restore), not through TensorFlow's
    object tracking: Keras 3 layers held in Python lists or dicts are invisible to
    ``tf.train.Checkpoint``, which would silently save only part of the model. Keras paths
    are not used as keys because they carry per-process name counters (``dense_3``). The
    models must be built before ``save``/``restore``.
    """

    def __init__(self, directory, max_to_keep=5, **objects):
        super().__init__(directory, max_to_keep)
        if not objects:
            raise ValueError("ObjectCheckpoint needs at least one object to save")
        self.objects = objects
        self._checkpoint = None

    @property
    def checkpoint(self):
        if self._checkpoint is None:
            self._checkpoint = tf.train.Checkpoint(
                **{k: _variables_by_path(k, v) if isinstance(v, keras.layers.Layer) else v
                   for k, v in self.objects.items()})
        return self._checkpoint

    def save(self, step):
        io.makedirs(self.directory)
        final = io.join(self.directory, f"model.ckpt-{int(step)}")
        # Checkpoint.write stages the shards under a temporary name and merges them into
        # place; the state file is replaced only afterwards.
        self.checkpoint.write(final)
        self._finish(final)
        return final

    def restore(self, prefix=None):
        prefix = prefix or self.latest()
        if prefix is None:
            return None
        self.checkpoint.read(prefix).assert_existing_objects_matched()
        return int(prefix.rsplit("-", 1)[1])


def _variables_by_path(name, layer):
    """A trackable holding every variable of a built Keras ``layer``, in weights order."""
    if not layer.built or not layer.weights:
        raise ValueError(f"ObjectCheckpoint: {name} has no variables yet; build it (call it "
                         "once) before saving or restoring")
    return tf.train.Checkpoint(**{f"v{i:05d}_{var.name}": var
                                  for i, var in enumerate(layer.weights)})
