"""ViT checkpoint name tables: original ``.npz`` names and HF safetensors names.

The original google-research/vision_transformer checkpoints are flat ``.npz`` files whose
keys are flax parameter paths (``vit_jax/checkpoint.py`` ``load``/``recover_tree``)::

    embedding/kernel [p, p, C, D] (HWIO), embedding/bias, cls [1, 1, D],
    Transformer/posembed_input/pos_embedding [1, T, D],
    Transformer/encoderblock_{i}/LayerNorm_0/{scale, bias},
    Transformer/encoderblock_{i}/MultiHeadDotProductAttention_1/{query,key,value}/kernel
        [D, H, D/H] and bias [H, D/H]; .../out/kernel [H, D/H, D] and bias [D],
    Transformer/encoderblock_{i}/LayerNorm_2/{scale, bias},
    Transformer/encoderblock_{i}/MlpBlock_3/Dense_{0,1}/{kernel, bias},
    Transformer/encoder_norm/{scale, bias}, pre_logits/{kernel, bias}, head/{kernel, bias}.

:func:`original_names` maps each of those names to the model variable it fills (the
per-head attention arrays are reshaped to our ``[D, D]`` kernels, row-major, which is the
head-major order of our concatenated heads). :func:`hf_to_original` renames an HF
``ViTForImageClassification`` / ``ViTModel`` state dict (torch layouts) to those names, so
both formats go through one table.
"""

from __future__ import annotations

import re

import numpy as np

ORIGINAL_PREFIX = "Transformer/encoderblock_"


def _dense(prefix, dense):
    return {f"{prefix}/kernel": dense.kernel, f"{prefix}/bias": dense.bias}


def _norm(prefix, norm):
    return {f"{prefix}/scale": norm.gamma, f"{prefix}/bias": norm.beta}


def original_names(model):
    """``{original .npz name: variable}`` for a built :class:`VisionTransformer`."""
    model.build()
    t = {
        "embedding/kernel": model.patch_embedding.conv.kernel,
        "embedding/bias": model.patch_embedding.conv.bias,
        "Transformer/posembed_input/pos_embedding": model.pos_embedding,
    }
    if model.cls is not None:
        t["cls"] = model.cls
    for i, block in enumerate(model.encoder_layers):
        p = f"{ORIGINAL_PREFIX}{i}"
        att = block.self_attention
        t.update(_norm(f"{p}/LayerNorm_0", block.self_attention_layer_norm))
        for part in ("query", "key", "value"):
            t.update(_dense(f"{p}/MultiHeadDotProductAttention_1/{part}", getattr(att, part)))
        t.update(_dense(f"{p}/MultiHeadDotProductAttention_1/out", att.output_dense))
        t.update(_norm(f"{p}/LayerNorm_2", block.output_layer_norm))
        t.update(_dense(f"{p}/MlpBlock_3/Dense_0", block.feed_forward.intermediate))
        t.update(_dense(f"{p}/MlpBlock_3/Dense_1", block.feed_forward.output_dense))
    t.update(_norm("Transformer/encoder_norm", model.encoder_norm))
    if model.pre_logits is not None:
        t.update(_dense("pre_logits", model.pre_logits))
    if model.head is not None:
        t.update(_dense("head", model.head))
    return t


def to_variable_layout(name, value, shape):
    """An original array in the variable's layout: attention q/k/v/out arrays are
    ``[D, H, D/H]`` / ``[H, D/H]`` / ``[H, D/H, D]`` in flax and ``[D, D]`` / ``[D]`` here.
    Other arrays must already have the variable's shape."""
    value = np.asarray(value)
    if "MultiHeadDotProductAttention_1" in name and value.size == int(np.prod(shape)):
        return value.reshape(shape)
    return value


def config_from_original(state):
    """Architecture read off an original-named state: dict of ViTConfig fields."""
    kernel = state.get("embedding/kernel")
    if kernel is None or np.ndim(kernel) != 4:
        raise ValueError("not a ViT checkpoint: no 4-D embedding/kernel")
    p, _, channels, hidden = np.shape(kernel)
    layers = {int(m.group(1)) for k in state
              for m in [re.match(r"Transformer/encoderblock_(\d+)/", k)] if m}
    out = dict(patch_size=int(p), hidden_size=int(hidden), num_channels=int(channels),
               num_layers=len(layers), classifier="token" if "cls" in state else "gap")
    q = state.get(f"{ORIGINAL_PREFIX}0/MultiHeadDotProductAttention_1/query/kernel")
    if q is not None and np.ndim(q) == 3:
        out["num_heads"] = int(np.shape(q)[1])
    mlp = state.get(f"{ORIGINAL_PREFIX}0/MlpBlock_3/Dense_0/kernel")
    if mlp is not None:
        out["mlp_dim"] = int(np.shape(mlp)[1])
    if "pre_logits/kernel" in state:
        out["representation_size"] = int(np.shape(state["pre_logits/kernel"])[1])
    if "head/kernel" in state:
        out["num_classes"] = int(np.shape(state["head/kernel"])[1])
    return out


# HF name pieces (after the layer index) -> original name pieces.
_HF_BLOCK = {
    "layernorm_before": "LayerNorm_0",
    "attention.attention.query": "MultiHeadDotProductAttention_1/query",
    "attention.attention.key": "MultiHeadDotProductAttention_1/key",
    "attention.attention.value": "MultiHeadDotProductAttention_1/value",
    "attention.output.dense": "MultiHeadDotProductAttention_1/out",
    "layernorm_after": "LayerNorm_2",
    "intermediate.dense": "MlpBlock_3/Dense_0",
    "output.dense": "MlpBlock_3/Dense_1",
}
_HF_TOP = {
    "embeddings.cls_token": "cls",
    "embeddings.position_embeddings": "Transformer/posembed_input/pos_embedding",
    "embeddings.patch_embeddings.projection.weight": "embedding/kernel",
    "embeddings.patch_embeddings.projection.bias": "embedding/bias",
    "layernorm.weight": "Transformer/encoder_norm/scale",
    "layernorm.bias": "Transformer/encoder_norm/bias",
    "pooler.dense.weight": "pre_logits/kernel",
    "pooler.dense.bias": "pre_logits/bias",
    "classifier.weight": "head/kernel",
    "classifier.bias": "head/bias",
}


def hf_original_name(name):
    """Original name of an HF ViT parameter name (``vit.`` prefix optional), or None."""
    key = name[len("vit."):] if name.startswith("vit.") else name
    if key in _HF_TOP:
        return _HF_TOP[key]
    m = re.match(r"encoder\.layer\.(\d+)\.(.+)\.(weight|bias)$", key)
    if not m or m.group(2) not in _HF_BLOCK:
        return None
    part = _HF_BLOCK[m.group(2)]
    leaf = m.group(3)
    if leaf == "weight":
        leaf = "scale" if part.startswith("LayerNorm") else "kernel"
    return f"{ORIGINAL_PREFIX}{m.group(1)}/{part}/{leaf}"


def hf_to_original(state):
    """Renames an HF ViT state dict to original names in flax layouts.

    Returns ``(original_state, unmatched_hf_names)``. torch linear weights ``[out, in]``
    are transposed; the patch conv ``[D, C, p, p]`` becomes HWIO; attention arrays are
    returned in our ``[D, D]`` layout (accepted by :func:`to_variable_layout`).
    """
    out, unmatched = {}, []
    for name, value in state.items():
        original = hf_original_name(name)
        if original is None:
            unmatched.append(name)
            continue
        value = np.asarray(value)
        if original == "embedding/kernel":
            value = value.transpose(2, 3, 1, 0)
        elif original.endswith("/kernel"):
            value = value.T
        out[original] = value
    return out, unmatched


def is_hf_state(names):
    """True when the names look like an HF ViT state dict."""
    return any(n.startswith(("vit.", "embeddings.", "encoder.layer.")) for n in names)
