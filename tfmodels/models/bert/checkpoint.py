"""BERT checkpoint compatibility: original TF1 checkpoints and HF safetensors.

BERT's part is one name table (:func:`original_names`) mapping every variable of a
BertModel and its heads to its name in google-research/bert checkpoints
(``bert/encoder/layer_3/attention/self/query/kernel``, ``cls/predictions/output_bias``,
...). HF names are derived from the original ones (``/`` -> ``.``, ``layer_3`` ->
``layer.3``, ``kernel`` -> ``weight`` transposed from torch's [out, in], ``gamma``/``beta``
-> ``weight``/``bias``), so the two formats cannot drift apart. Reading, shape checks,
the load report and the atomic TF1 writer are the shared ones of :mod:`tfmodels.weights`.

Loading returns a :class:`~tfmodels.weights.LoadReport` (loaded / missing / unexpected /
ignored names) and never skips silently: ``strict=True`` raises on missing or unexpected
names. Writing produces a name-based TF checkpoint bundle, readable by the original TF1
``tf.train.Saver`` / ``init_from_checkpoint`` code and by ``tf.train.load_checkpoint``.
"""

from __future__ import annotations

import re

import tensorflow as tf

from tfmodels import weights
from tfmodels.models.bert.heads import (
    BertPretrainingHeads,
    ClassifierHead,
    MaskedLMHead,
    NextSentenceHead,
    SpanHead,
)
from tfmodels.models.bert.model import BertModel
from tfmodels.weights import LoadReport

__all__ = ["LoadReport", "hf_name", "hf_names", "load_checkpoint", "load_hf_safetensors",
           "load_tf1_checkpoint", "original_names", "resolve_checkpoint", "save_tf1_checkpoint"]

# Present in original checkpoints but not model weights.
IGNORED_TF1 = r"(^global_step$|/adam_[mv]$|^bad_steps$|^loss_scale$)"
# HF buffers / tied duplicates that carry no separate weights.
IGNORED_HF = (
    r"(position_ids$|cls\.predictions\.decoder\.weight$|cls\.predictions\.decoder\.bias$)")


def _dense(prefix, layer):
    return {f"{prefix}/kernel": layer.kernel, f"{prefix}/bias": layer.bias}


def _layer_norm(prefix, layer):
    return {f"{prefix}/gamma": layer.gamma, f"{prefix}/beta": layer.beta}


def _bert_table(model):
    model.build()
    t = {
        "bert/embeddings/word_embeddings": model.word_embeddings.embeddings,
        "bert/embeddings/token_type_embeddings": model.token_type_embeddings.embeddings,
        "bert/embeddings/position_embeddings": model.position_embeddings.embeddings,
    }
    t.update(_layer_norm("bert/embeddings/LayerNorm", model.embeddings_layer_norm))
    for i, block in enumerate(model.encoder_layers):
        p = f"bert/encoder/layer_{i}"
        att = block.self_attention
        for part in ("query", "key", "value"):
            t.update(_dense(f"{p}/attention/self/{part}", getattr(att, part)))
        t.update(_dense(f"{p}/attention/output/dense", att.output_dense))
        t.update(_layer_norm(f"{p}/attention/output/LayerNorm", block.self_attention_layer_norm))
        t.update(_dense(f"{p}/intermediate/dense", block.feed_forward.intermediate))
        t.update(_dense(f"{p}/output/dense", block.feed_forward.output_dense))
        t.update(_layer_norm(f"{p}/output/LayerNorm", block.output_layer_norm))
    t.update(_dense("bert/pooler/dense", model.pooler_dense))
    return t


def _head_table(head):
    head.build()
    if isinstance(head, BertPretrainingHeads):
        return {**_head_table(head.predictions), **_head_table(head.seq_relationship)}
    if isinstance(head, MaskedLMHead):
        t = _dense("cls/predictions/transform/dense", head.transform_dense)
        t.update(_layer_norm("cls/predictions/transform/LayerNorm", head.transform_layer_norm))
        t["cls/predictions/output_bias"] = head.output_bias
        return t
    if isinstance(head, NextSentenceHead):
        return {"cls/seq_relationship/output_weights": head.output_weights,
                "cls/seq_relationship/output_bias": head.output_bias}
    if isinstance(head, ClassifierHead):  # run_classifier: top-level names
        return {"output_weights": head.output_weights, "output_bias": head.output_bias}
    if isinstance(head, SpanHead):
        return {"cls/squad/output_weights": head.output_weights,
                "cls/squad/output_bias": head.output_bias}
    raise TypeError(f"No original checkpoint names for head {type(head).__name__}")


def original_names(model, heads=()):
    """{original TF1 name: variable} for a BertModel and any heads."""
    if not isinstance(model, BertModel):
        raise TypeError(f"expected a BertModel, got {type(model).__name__}")
    table = _bert_table(model)
    for head in heads if isinstance(heads, (list, tuple)) else [heads]:
        table.update(_head_table(head))
    return table


def hf_name(original):
    """HF (transformers ``BertModel``/``BertForPreTraining``) name of an original name,
    and whether the tensor is transposed ([out, in] in torch)."""
    special = {
        "cls/predictions/output_bias": "cls.predictions.bias",
        "cls/seq_relationship/output_weights": "cls.seq_relationship.weight",
        "cls/seq_relationship/output_bias": "cls.seq_relationship.bias",
        "output_weights": "classifier.weight",
        "output_bias": "classifier.bias",
        "cls/squad/output_weights": "qa_outputs.weight",
        "cls/squad/output_bias": "qa_outputs.bias",
    }
    if original in special:
        return special[original], False
    name = re.sub(r"layer_(\d+)", r"layer.\1", original).replace("/", ".")
    transpose = name.endswith(".kernel")
    name = re.sub(r"\.(kernel|gamma)$", ".weight", name)
    name = re.sub(r"\.beta$", ".bias", name)
    if name.endswith("_embeddings"):
        name += ".weight"
    return name, transpose


def hf_names(model, heads=()):
    """{HF name without the ``bert.`` prefix: variable or Target} for a BertModel and heads."""
    table = {}
    for original, var in original_names(model, heads).items():
        name, transpose = hf_name(original)
        if name.startswith("bert."):
            name = name[len("bert."):]
        table[name] = weights.Target(var, weights.transpose) if transpose else var
    return table


def _hf_source_name(name):
    """Source names as :func:`hf_names` spells them: old ``LayerNorm.gamma``/``beta``
    names accepted, the ``bert.`` prefix of ``BertFor*`` checkpoints dropped."""
    name = re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", name)
    name = re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", name)
    return name[len("bert."):] if name.startswith("bert.") else name


def load_tf1_checkpoint(ckpt_prefix, model, heads=(), strict=False):
    """Loads an original TF1 BERT checkpoint (e.g. ``.../bert_model.ckpt``) by name."""
    reader = weights.TF1CheckpointReader(ckpt_prefix)
    return weights.load_weights(reader, original_names(model, heads), strict=strict,
                                ignore=IGNORED_TF1)


def save_tf1_checkpoint(ckpt_prefix, model, heads=(), global_step=None):
    """Writes the weights under original names (a TF1-readable V2 bundle), atomically.

    Also writes the ``checkpoint`` state file next to it, as ``tf.train.Saver`` does.
    Returns the prefix.
    """
    tensors = dict(original_names(model, heads))
    if global_step is not None:
        tensors["global_step"] = tf.constant(int(global_step), tf.int64)
    return weights.save_tf1_checkpoint(ckpt_prefix, tensors)


def load_hf_safetensors(path, model, heads=(), strict=False):
    """Loads HF BERT weights from ``model.safetensors`` (no torch needed).

    Names may carry the ``bert.`` prefix (``BertForPreTraining`` etc.) or not
    (``BertModel``); linear weights are transposed from torch's [out, in]; old
    ``LayerNorm.gamma``/``beta`` names are accepted.
    """
    return weights.load_weights(weights.SafetensorsReader(path), hf_names(model, heads),
                                strict=strict, ignore=IGNORED_HF, rename=_hf_source_name)


def resolve_checkpoint(path):
    """The checkpoint a user's ``init_checkpoint`` names: a TF1 prefix, a ``.safetensors``
    file, or a directory - its latest checkpoint (``checkpoint`` state file, as
    ``tf.train.latest_checkpoint``), else its ``model.safetensors``, else its only
    ``*.index`` bundle."""
    from tfmodels import io

    path = str(path)
    if io.isdir(path):
        state = weights.read_checkpoint_state(path)
        if state:
            return state[-1]
        if io.exists(io.join(path, "model.safetensors")):
            return io.join(path, "model.safetensors")
        bundles = sorted(n[:-len(".index")] for n in io.listdir(path) if n.endswith(".index"))
        if len(bundles) == 1:
            return io.join(path, bundles[0])
        raise FileNotFoundError(
            f"checkpoint directory {path} holds no checkpoint (no 'checkpoint' state "
            "file, no model.safetensors" + (f", several bundles {bundles}" if bundles else "")
            + ")")
    if path.endswith(".safetensors"):
        if not io.exists(path):
            raise FileNotFoundError(f"checkpoint not found: {path}")
        return path
    if not io.exists(path + ".index"):
        raise FileNotFoundError(f"checkpoint not found: {path} (no {path}.index)")
    return path


def load_checkpoint(path, model, heads=(), strict=False):
    """Loads either format: a ``.safetensors`` file or a TF1 checkpoint prefix; a
    directory means its latest checkpoint (:func:`resolve_checkpoint`)."""
    path = resolve_checkpoint(path)
    if str(path).endswith(".safetensors"):
        return load_hf_safetensors(path, model, heads, strict)
    return load_tf1_checkpoint(path, model, heads, strict)
