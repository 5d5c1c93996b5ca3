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

:func:`original_table` maps each of those names to the model variable it fills, for
:func:`tfmodels.weights.load_weights` (the per-head attention arrays are reshaped to our
``[D, D]`` kernels, row-major, which is the head-major order of our concatenated heads).
:func:`hf_table` derives the HF ``ViTForImageClassification`` / ``ViTModel`` names
(``vit.encoder.layer.{i}.attention.attention.query.weight``, ...; torch layouts) from the
original ones, so the two formats cannot drift apart.
"""

from __future__ import annotations

import re

import numpy as np

from tfmodels import weights as W

ORIGINAL_PREFIX = "Transformer/encoderblock_"
POSEMB = "Transformer/posembed_input/pos_embedding"


def _dense(prefix, dense):
    return {f"{prefix}/kernel": dense.kernel, f"{prefix}/bias": dense.bias}


def _norm(prefix, norm):
    return {f"{prefix}/scale": norm.gamma, f"{prefix}/bias": norm.beta}


def original_names(model):
    """``{original .npz name: variable}`` for a :class:`VisionTransformer` (built here)."""
    model.build()
    t = {
        "embedding/kernel": model.patch_embedding.conv.kernel,
        "embedding/bias": model.patch_embedding.conv.bias,
        POSEMB: model.pos_embedding,
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


def _is_attention(name):
    return "/MultiHeadDotProductAttention_1/" in name


def original_table(model):
    """Name table for :func:`tfmodels.weights.load_weights` from an original ``.npz``:
    flax per-head attention arrays (``[D, H, D/H]``, ``[H, D/H]``, ``[H, D/H, D]``) are
    reshaped to our variables; every other array is taken as is."""
    return {name: W.Target(var, W.reshape(tuple(var.shape))) if _is_attention(name) else var
            for name, var in original_names(model).items()}


def to_original(model):
    """``{original name: numpy array in the original layout}`` (the inverse of
    :func:`original_table`), e.g. to write an ``.npz`` the original code loads."""
    c = model.config
    heads, size = c.num_heads, c.hidden_size // c.num_heads
    out = {}
    for name, var in original_names(model).items():
        value = np.asarray(var.numpy() if hasattr(var, "numpy") else var)
        if _is_attention(name):
            if name.endswith("/out/kernel"):
                value = value.reshape(heads, size, c.hidden_size)
            elif name.endswith("/kernel"):
                value = value.reshape(c.hidden_size, heads, size)
            elif not name.endswith("/out/bias"):
                value = value.reshape(heads, size)
        out[name] = value
    return out


# Original block-name pieces -> HF pieces.
_HF_BLOCK = {
    "LayerNorm_0": "layernorm_before",
    "MultiHeadDotProductAttention_1/query": "attention.attention.query",
    "MultiHeadDotProductAttention_1/key": "attention.attention.key",
    "MultiHeadDotProductAttention_1/value": "attention.attention.value",
    "MultiHeadDotProductAttention_1/out": "attention.output.dense",
    "LayerNorm_2": "layernorm_after",
    "MlpBlock_3/Dense_0": "intermediate.dense",
    "MlpBlock_3/Dense_1": "output.dense",
}
_HF_TOP = {
    "cls": "vit.embeddings.cls_token",
    POSEMB: "vit.embeddings.position_embeddings",
    "embedding/kernel": "vit.embeddings.patch_embeddings.projection.weight",
    "embedding/bias": "vit.embeddings.patch_embeddings.projection.bias",
    "Transformer/encoder_norm/scale": "vit.layernorm.weight",
    "Transformer/encoder_norm/bias": "vit.layernorm.bias",
    "pre_logits/kernel": "vit.pooler.dense.weight",
    "pre_logits/bias": "vit.pooler.dense.bias",
    "head/kernel": "classifier.weight",
    "head/bias": "classifier.bias",
}
# The tensors HF stores in another layout than ours, and the transform to ours.
_HF_TRANSFORM = {"embedding/kernel": W.conv_oihw_to_hwio}


def hf_name(original):
    """HF (``ViTForImageClassification``) name of an original name, and the transform
    from the HF tensor to our variable (torch Linear ``[out, in]`` is transposed)."""
    if original in _HF_TOP:
        name = _HF_TOP[original]
    else:
        m = re.match(rf"{ORIGINAL_PREFIX}(\d+)/(.+)/(kernel|bias|scale)$", original)
        if not m:
            raise ValueError(f"no HF name for {original}")
        leaf = "bias" if m.group(3) == "bias" else "weight"
        name = f"vit.encoder.layer.{m.group(1)}.{_HF_BLOCK[m.group(2)]}.{leaf}"
    if original in _HF_TRANSFORM:
        return name, _HF_TRANSFORM[original]
    return name, W.transpose if original.endswith("/kernel") else None


def hf_table(model):
    """Name table for HF ViT safetensors (names with the ``vit.`` prefix; pass
    :func:`hf_rename` as ``rename`` so ``ViTModel`` files without it load too)."""
    table = {}
    for original, var in original_names(model).items():
        name, fn = hf_name(original)
        table[name] = W.Target(var, fn) if fn is not None else var
    return table


_HF5_BLOCK = {  # transformers >= 5 in-memory names -> the names HF files store
    "attention.q_proj": "attention.attention.query",
    "attention.k_proj": "attention.attention.key",
    "attention.v_proj": "attention.attention.value",
    "attention.o_proj": "attention.output.dense",
    "mlp.fc1": "intermediate.dense",
    "mlp.fc2": "output.dense",
}


def hf_rename(name):
    """Source-name normaliser for HF ViT state dicts: adds the ``vit.`` prefix that
    ``ViTModel`` files lack, and maps transformers-5 in-memory names
    (``layers.{i}.attention.q_proj``, ``mlp.fc1``) to the stored ones."""
    if name.startswith(("embeddings.", "encoder.", "layers.", "layernorm.", "pooler.")):
        name = "vit." + name
    m = re.match(r"vit\.layers\.(\d+)\.(.+)\.(weight|bias)$", name)
    if m:
        part = _HF5_BLOCK.get(m.group(2), m.group(2))
        name = f"vit.encoder.layer.{m.group(1)}.{part}.{m.group(3)}"
    return name


def is_hf_state(names):
    """True when the names look like an HF ViT state dict."""
    return any(hf_rename(n).startswith("vit.") for n in names)
