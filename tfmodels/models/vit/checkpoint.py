"""Loading ViT checkpoints: ``load_vit`` and an original-format ``.npz`` writer.

Mirrors ``load_pretrained`` of google-research/vision_transformer ``vit_jax/checkpoint.py``:
the checkpoint is checked against the named model, the position embeddings are resized
to the requested image size (:func:`interpolate_posembed`, class token kept), and for a
new number of classes the head is left at its zero initialisation and ``pre_logits`` is
dropped (the original's "drop-head variant"). Name matching, shape checks and the load
report are :mod:`tfmodels.weights`; this file holds only what is ViT-specific.
"""

from __future__ import annotations

import io as _pyio
import json
import logging
import re

import numpy as np

from tfmodels import io
from tfmodels import weights as W
from tfmodels.models.vit import weights as names
from tfmodels.models.vit.config import get_config, image_hw
from tfmodels.models.vit.model import VisionTransformer
from tfmodels.models.vit.posemb import interpolate_posembed

_LOG = logging.getLogger(__name__)
_ARCH_FIELDS = ("patch_size", "hidden_size", "num_channels", "num_layers", "mlp_dim",
                "classifier")


def checkpoint_architecture(reader, hf=False):
    """What a checkpoint's tensors say about the model: a dict of :class:`ViTConfig`
    fields (patch_size, hidden_size, num_channels, num_layers, mlp_dim, classifier,
    representation_size, num_classes) plus ``posemb_tokens``."""
    found = {(names.hf_rename(n) if hf else n): n for n in reader.names()}

    def get(original):
        key = names.hf_name(original)[0] if hf else original
        return reader.read(found[key]) if key in found else None

    kernel = get("embedding/kernel")
    if kernel is None or np.ndim(kernel) != 4:
        raise ValueError(f"checkpoint {reader.path} is not a ViT checkpoint: it has no 4-D "
                         "patch embedding kernel (embedding/kernel)")
    if hf:
        kernel = W.conv_oihw_to_hwio(kernel)
    p, _, channels, hidden = kernel.shape
    block = (r"vit\.encoder\.layer\.(\d+)\." if hf
             else rf"{re.escape(names.ORIGINAL_PREFIX)}(\d+)/")
    layers = {int(m.group(1)) for k in found for m in [re.match(block, k)] if m}
    arch = dict(patch_size=int(p), hidden_size=int(hidden), num_channels=int(channels),
                num_layers=len(layers),
                classifier="token" if get("cls") is not None else "gap")
    mlp = get(f"{names.ORIGINAL_PREFIX}0/MlpBlock_3/Dense_0/bias")
    if mlp is not None:
        arch["mlp_dim"] = int(np.shape(mlp)[0])
    pre = get("pre_logits/bias")
    arch["representation_size"] = None if pre is None else int(np.shape(pre)[0])
    head = get("head/bias")
    arch["num_classes"] = None if head is None else int(np.shape(head)[0])
    posemb = get(names.POSEMB)
    arch["posemb_tokens"] = None if posemb is None else int(np.shape(posemb)[1])
    return arch


def _hf_config_beside(path):
    """The ``config.json`` next to an HF ``model.safetensors``, if there is one."""
    candidate = io.join(io.dirname(path), "config.json")
    if not io.exists(candidate):
        return {}
    try:
        return json.loads(io.read_text(candidate))
    except json.JSONDecodeError as e:
        raise ValueError(f"{candidate} is not valid JSON: {e}") from e


def load_vit(checkpoint, model_name="ViT-B_16", num_classes=None, image_size=224,
             strict=True, **overrides):
    """Builds the named ViT and loads an original ``.npz`` or HF ``.safetensors`` into it.

    Args:
      checkpoint: path (any tf.io.gfile filesystem) of a google-research/vision_transformer
        ``.npz`` or an HF ViT ``model.safetensors`` (an HF ``config.json`` beside it sets
        ``layer_norm_eps``; HF checkpoints run with exact GELU).
      model_name: ``ViT-Ti_16``, ``ViT-S_16``, ``ViT-B_16``, ``ViT-B_32``, ``ViT-L_16``,
        ``ViT-H_14``, ``testing``, ... (see ``MODEL_CONFIGS``).
      num_classes: None keeps the checkpoint's head (and ``pre_logits``); a number equal
        to the checkpoint's loads the head; another number gives a zero-initialised head
        of that size and drops ``pre_logits`` (the original fine-tuning set-up).
      image_size: int or ``(height, width)``; position embeddings are interpolated when
        the patch grid differs from the checkpoint's.
      strict: raise when a model weight is missing from the checkpoint or a checkpoint
        tensor matches nothing (after the head/pre_logits choices above).
      overrides: further :class:`ViTConfig` fields (``dropout_rate``, ``hidden_act``...).

    Returns the built :class:`VisionTransformer`, mapping NHWC float images in [-1, 1] to
    logits; ``model.load_report`` is the :class:`tfmodels.weights.LoadReport`.
    """
    reader = W.open_reader(checkpoint)
    hf = names.is_hf_state(reader.names())
    arch = checkpoint_architecture(reader, hf)
    if hf:
        hf_config = _hf_config_beside(str(checkpoint))
        overrides.setdefault("hidden_act", "gelu")
        overrides.setdefault("layer_norm_eps", hf_config.get("layer_norm_eps", 1e-12))
    overrides["image_size"] = image_hw(image_size)
    base = get_config(model_name, **overrides)
    expected = base.to_dict()
    wrong = [f"{f} {arch[f]} (model_name={model_name} has {expected[f]})"
             for f in _ARCH_FIELDS if f in arch and arch[f] != expected[f]]
    if wrong:
        raise ValueError(f"checkpoint {checkpoint} does not match model_name={model_name}: "
                         f"the checkpoint has " + ", ".join(wrong))

    ckpt_classes = arch["num_classes"]
    ignore, new_head = [], False
    if num_classes is None or num_classes == ckpt_classes:
        classes, representation = ckpt_classes, arch["representation_size"]
    else:  # the original's fine-tuning: new zero head, pre_logits dropped
        classes, representation = int(num_classes), base.representation_size
        new_head = True
        if ckpt_classes is not None:
            ignore.append(r"^(vit\.)?(head|classifier)[/.]")
            _LOG.info("load_vit: new head with %d classes (checkpoint has %d)",
                      classes, ckpt_classes)
        if arch["representation_size"] is not None and representation is None:
            ignore.append(r"^(vit\.)?(pre_logits|pooler)[/.]")
            _LOG.info("load_vit: drop-head variant (pre_logits dropped)")
    config = base.replace(num_classes=classes, representation_size=representation)
    model = VisionTransformer(config)
    model.build()

    table = names.hf_table(model) if hf else names.original_table(model)
    if new_head:  # stays zero-initialised, as the original's fine-tuning head
        for leaf in ("kernel", "bias"):
            table.pop(names.hf_name(f"head/{leaf}")[0] if hf else f"head/{leaf}", None)
    posemb_key = names.hf_name(names.POSEMB)[0] if hf else names.POSEMB
    if arch["posemb_tokens"] is not None and arch["posemb_tokens"] != config.num_tokens:
        _LOG.info("load_vit: position embeddings resized from %d to %d tokens",
                  arch["posemb_tokens"], config.num_tokens)
        has_cls = config.classifier == "token"
        table[posemb_key] = W.Target(
            model.pos_embedding,
            lambda v: interpolate_posembed(v, config.grid_size, has_cls))
    report = W.load_weights(reader, table, strict=False, ignore=ignore,
                            rename=names.hf_rename if hf else None)
    if strict and not report.ok:
        raise ValueError(f"checkpoint {checkpoint} does not match {model_name}: {report}")
    model.load_report = report
    return model


def save_npz(model, path):
    """Writes the model's weights under the original names and layouts as an ``.npz``
    (atomically, any gfile path): the format ``vit_jax/checkpoint.py`` ``load`` reads."""
    buffer = _pyio.BytesIO()
    np.savez(buffer, **names.to_original(model))
    with io.atomic_write(path, "wb") as f:
        f.write(buffer.getvalue())
    return path
