"""BERT checkpoint compatibility: original TF1 checkpoints and HF safetensors.

One table (:func:`original_names`) maps every variable of a BertModel and its heads
to its name in google-research/bert checkpoints
(``bert/encoder/layer_3/attention/self/query/kernel``, ``cls/predictions/output_bias``,
...). HF names are derived from the original ones (``/`` -> ``.``, ``layer_3`` ->
``layer.3``, ``kernel`` -> ``weight`` transposed from torch's [out, in], ``gamma``/``beta``
-> ``weight``/``bias``), so the two formats cannot drift apart.

Loading returns a :class:`LoadReport` (loaded / missing / unexpected / ignored names)
and never skips silently: ``strict=True`` raises on missing or unexpected names.
Writing produces a name-based TF checkpoint bundle, readable by the original TF1
``tf.train.Saver`` / ``init_from_checkpoint`` code and by ``tf.train.load_checkpoint``.
"""

from __future__ import annotations

import dataclasses
import os
import re

import numpy as np
import tensorflow as tf

from tfmodels.models.bert.heads import (
    BertPretrainingHeads,
    ClassifierHead,
    MaskedLMHead,
    NextSentenceHead,
    SpanHead,
)
from tfmodels.models.bert.model import BertModel

# Present in original checkpoints but not model weights.
_IGNORED_TF1 = re.compile(r"(^global_step$|/adam_[mv]$|^bad_steps$|^loss_scale$)")
# HF buffers / tied duplicates that carry no separate weights.
_IGNORED_HF = re.compile(
    r"(position_ids$|cls\.predictions\.decoder\.weight$|cls\.predictions\.decoder\.bias$)")


@dataclasses.dataclass
class LoadReport:
    """What a checkpoint load did. ``missing``: our variables with no source value;
    ``unexpected``: source names that match no variable; ``ignored``: source names
    known to carry no model weight (optimizer slots, step counters, tied copies)."""

    loaded: list
    missing: list
    unexpected: list
    ignored: list

    def summary(self):
        return (f"loaded {len(self.loaded)}, missing {len(self.missing)}, "
                f"unexpected {len(self.unexpected)}, ignored {len(self.ignored)}")

    def __str__(self):
        lines = [self.summary()]
        for kind in ("missing", "unexpected"):
            for name in getattr(self, kind):
                lines.append(f"  {kind}: {name}")
        return "\n".join(lines)


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
        att = block.attention
        for part in ("query", "key", "value"):
            t.update(_dense(f"{p}/attention/self/{part}", getattr(att, part)))
        t.update(_dense(f"{p}/attention/output/dense", att.output_dense))
        t.update(_layer_norm(f"{p}/attention/output/LayerNorm", block.attention_layer_norm))
        t.update(_dense(f"{p}/intermediate/dense", block.ffn.intermediate))
        t.update(_dense(f"{p}/output/dense", block.ffn.output_dense))
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


def _assign(var, value, name, source):
    value = np.asarray(value)
    if tuple(var.shape) != value.shape:
        raise ValueError(
            f"shape mismatch for {name} in {source}: checkpoint {value.shape}, "
            f"model {tuple(var.shape)} (does bert_config_file match init_checkpoint?)")
    var.assign(value.astype(var.dtype.name if hasattr(var.dtype, "name") else var.dtype))


def _finish(report, strict, source):
    if strict and (report.missing or report.unexpected):
        raise ValueError(f"checkpoint {source} does not match the model: {report}")
    return report


def load_tf1_checkpoint(ckpt_prefix, model, heads=(), strict=False):
    """Loads an original TF1 BERT checkpoint (e.g. ``.../bert_model.ckpt``) by name."""
    if not tf.io.gfile.exists(ckpt_prefix + ".index"):
        raise FileNotFoundError(
            f"init_checkpoint not found: {ckpt_prefix} (no {ckpt_prefix}.index)")
    reader = tf.train.load_checkpoint(ckpt_prefix)
    available = set(reader.get_variable_to_shape_map())
    table = original_names(model, heads)
    report = LoadReport([], [], [], [])
    for name, var in table.items():
        if name in available:
            _assign(var, reader.get_tensor(name), name, ckpt_prefix)
            report.loaded.append(name)
        else:
            report.missing.append(name)
    for name in sorted(available - set(table)):
        (report.ignored if _IGNORED_TF1.search(name) else report.unexpected).append(name)
    return _finish(report, strict, ckpt_prefix)


def save_tf1_checkpoint(ckpt_prefix, model, heads=(), global_step=None):
    """Writes the weights under original names (a TF1-readable V2 bundle).

    Also writes the ``checkpoint`` state file next to it, as ``tf.train.Saver`` does.
    Returns the prefix.
    """
    table = original_names(model, heads)
    names = sorted(table)
    tensors = [tf.convert_to_tensor(table[n]) for n in names]
    if global_step is not None:
        names.append("global_step")
        tensors.append(tf.constant(int(global_step), tf.int64))
    directory = os.path.dirname(os.path.abspath(ckpt_prefix))
    tf.io.gfile.makedirs(directory)
    tf.raw_ops.SaveV2(prefix=ckpt_prefix, tensor_names=names,
                      shape_and_slices=[""] * len(names), tensors=tensors)
    state = os.path.join(directory, "checkpoint")
    base = os.path.basename(ckpt_prefix)
    tmp = state + ".tmp"
    with open(tmp, "w") as f:
        f.write(f'model_checkpoint_path: "{base}"\nall_model_checkpoint_paths: "{base}"\n')
    os.replace(tmp, state)
    return ckpt_prefix


def load_hf_safetensors(path, model, heads=(), strict=False):
    """Loads HF BERT weights from ``model.safetensors`` (no torch needed).

    Names may carry the ``bert.`` prefix (``BertForPreTraining`` etc.) or not
    (``BertModel``); linear weights are transposed from torch's [out, in]; old
    ``LayerNorm.gamma``/``beta`` names are accepted.
    """
    from safetensors.numpy import load_file

    if not os.path.isfile(path):
        raise FileNotFoundError(f"init_checkpoint not found: {path}")
    state = load_file(path)
    # Normalise source names: old LayerNorm naming, optional "bert." prefix.
    source = {}
    for name, value in state.items():
        key = re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", name)
        key = re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", key)
        if key.startswith("bert."):
            key = key[len("bert."):]
        source[key] = (name, value)
    table = original_names(model, heads)
    report = LoadReport([], [], [], [])
    used = set()
    for original, var in table.items():
        name, transpose = hf_name(original)
        if name.startswith("bert."):
            name = name[len("bert."):]
        if name not in source:
            report.missing.append(original)
            continue
        src_name, value = source[name]
        _assign(var, value.T if transpose else value, src_name, path)
        report.loaded.append(src_name)
        used.add(name)
    for key, (name, _) in sorted(source.items()):
        if key in used:
            continue
        (report.ignored if _IGNORED_HF.search(key) else report.unexpected).append(name)
    return _finish(report, strict, path)


def load_checkpoint(path, model, heads=(), strict=False):
    """Loads either format: a ``.safetensors`` file or a TF1 checkpoint prefix."""
    if str(path).endswith(".safetensors"):
        return load_hf_safetensors(path, model, heads, strict)
    return load_tf1_checkpoint(path, model, heads, strict)
