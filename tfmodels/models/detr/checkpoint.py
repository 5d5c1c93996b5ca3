"""Loading DETR checkpoints: original .pth / safetensors / .npz state dicts, HF, mmdetection.

``load_detr(checkpoint)`` builds a :class:`DETR` whose configuration is read off the state
dict's shapes (layers, widths, queries, classes, backbone depth) and loads it through the
name tables of :mod:`tfmodels.models.detr.weights`, reporting missing and unexpected names;
it never silently skips. ``.pth``/``.pt``/``.bin`` files are read by
:mod:`tfmodels.torch_pickle` (no torch, restricted unpickler).
"""

from __future__ import annotations

import re

from tfmodels import io
from tfmodels import weights as W
from tfmodels.models.detr import weights
from tfmodels.models.detr.config import DetrConfig
from tfmodels.models.detr.model import DETR

# Source names that carry no model weight (batch-norm step counters).
IGNORE = (r"(^|\.)num_batches_tracked$",)


def read_state_dict(source):
    """``{name: array}`` of a path (.pth/.pt/.bin torch, .safetensors, .npz), reader or dict."""
    reader = W.open_reader(source)
    return {name: reader.read(name) for name in reader.names()}


def detect_format(names):
    """``"original"``, ``"hf"`` or ``"mmdet"`` from a state dict's names."""
    names = list(names)
    if any(n.startswith("class_labels_classifier.") or n.startswith("model.backbone.")
           for n in names):
        return "hf"
    if any(n.startswith("bbox_head.fc_cls.") for n in names):
        return "mmdet"
    if any(n.startswith("transformer.") or n.startswith("backbone.0.body.") for n in names):
        return "original"
    raise ValueError("checkpoint: names match no known DETR layout (original, HF, mmdetection); "
                     f"first names: {names[:5]}")


def _count(names, pattern):
    found = {int(m.group(1)) for n in names for m in [re.match(pattern, n)] if m}
    return max(found) + 1 if found else 0


def config_from_state_dict(state, **overrides):
    """A :class:`DetrConfig` matching an original-layout state dict's shapes.

    Not recoverable from shapes (defaults unless overridden): ``nheads``, ``dilation``,
    ``pre_norm`` (read from ``transformer.encoder.norm``), ``dropout``.
    """
    names = list(state)
    layer3 = _count(names, r"backbone\.0\.body\.layer3\.(\d+)\.")
    depth = {6: "resnet50", 23: "resnet101", 36: "resnet152"}.get(layer3)
    fields = dict(
        hidden_dim=int(state["query_embed.weight"].shape[1]),
        num_queries=int(state["query_embed.weight"].shape[0]),
        num_classes=int(state["class_embed.weight"].shape[0]) - 1,
        enc_layers=_count(names, r"transformer\.encoder\.layers\.(\d+)\."),
        dec_layers=_count(names, r"transformer\.decoder\.layers\.(\d+)\."),
        dim_feedforward=int(state["transformer.decoder.layers.0.linear1.weight"].shape[0]),
        pre_norm="transformer.encoder.norm.weight" in state,
        position_embedding="learned" if "backbone.1.row_embed.weight" in state else "sine",
    )
    if depth is not None:
        fields["backbone"] = depth
    else:
        fields["backbone_layers"] = tuple(
            _count(names, rf"backbone\.0\.body\.layer{i}\.(\d+)\.") for i in (1, 2, 3, 4))
        fields["backbone_width"] = int(state["backbone.0.body.conv1.weight"].shape[0])
    fields.update(overrides)
    return DetrConfig(**fields)


def load_state_dict(model, state, table, strict=True):
    """Load ``state`` (path, reader or ``{name: array}``) through ``table``: a LoadReport."""
    return W.load_weights(state, table, strict=strict, ignore=IGNORE)


def table_for(model, fmt, names=()):
    if fmt == "original":
        return weights.original_table(model)
    if fmt == "hf":
        return weights.hf_table_for(model, names)
    if fmt == "mmdet":
        version = 2 if any(n.startswith("bbox_head.transformer.") for n in names) else 3
        return weights.mmdet_table(model, version)
    raise ValueError(f"format must be 'original', 'hf' or 'mmdet'; got {fmt!r}")


def build(model):
    """Build ``model``'s variables (a DETR is built lazily otherwise)."""
    if not model.built:
        model.build()
    return model


def load_detr(checkpoint, num_classes=91, config=None, strict=True, return_report=False,
              **config_overrides):
    """A :class:`DETR` with the weights of ``checkpoint`` (path or ``{name: array}``).

    ``num_classes`` is the original's (91 for COCO: class logits ``num_classes + 1``); it
    must agree with the checkpoint's class head. Without ``config`` the configuration of an
    original-layout checkpoint is read from its shapes (``config_overrides`` set the rest,
    e.g. ``dilation=True`` for DC5, ``nheads``); HF and mmdetection checkpoints need ``config``.
    """
    source = checkpoint if isinstance(checkpoint, str) else "checkpoint"
    state = read_state_dict(checkpoint)
    fmt = detect_format(state)
    if config is None:
        if fmt != "original":
            raise ValueError(f"{source}: a {fmt} checkpoint needs config=DetrConfig(...)")
        config = config_from_state_dict(state, **config_overrides)
    if config.num_classes != num_classes:
        raise ValueError(f"{source}: the class head has {config.num_classes + 1} outputs, "
                         f"which does not match num_classes={num_classes} (+1 no-object)")
    model = build(DETR(config))
    report = load_state_dict(model, state, table_for(model, fmt, state), strict)
    return (model, report) if return_report else model


CONFIG_FILE = "detr_config.json"


def restore_detr(path, num_classes=None, **config_overrides):
    """A DETR from a training directory (``detr_config.json`` + the latest
    ``model.ckpt-<step>`` of :mod:`tfmodels.training`), a checkpoint prefix in such a
    directory, or a state-dict file (:func:`load_detr`; ``num_classes`` default 91)."""
    from tfmodels.models.detr.training import model_table
    from tfmodels.training import NamedCheckpoint
    from tfmodels.training.checkpoints import read_state

    directory, prefix = path, None
    if not io.isdir(path) and io.exists(io.join(io.dirname(path), CONFIG_FILE)):
        directory, prefix = io.dirname(path), path
    if io.isdir(directory):
        config_file = io.join(directory, CONFIG_FILE)
        if not io.exists(config_file):
            raise FileNotFoundError(f"{directory}: no {CONFIG_FILE} (not a training directory)")
        config = DetrConfig.from_json_file(config_file)
        if num_classes is not None and num_classes != config.num_classes:
            raise ValueError(f"{directory}: trained with num_classes={config.num_classes}, "
                             f"not {num_classes}")
        if prefix is None:
            kept = read_state(directory)
            if not kept:
                raise FileNotFoundError(f"{directory}: no checkpoint listed in its state file")
            prefix = kept[-1]
        model = build(DETR(config))
        NamedCheckpoint(directory, model_table(model)).restore(prefix)
        return model
    return load_detr(path, 91 if num_classes is None else num_classes, **config_overrides)
