"""SavedModel export that clients load with TensorFlow alone.

Every exported serving model (BERT, GRU4Rec, SASRec, ViT, DETR, MaskFormer) is written
through :func:`save`: the signatures are traced inside
:func:`tfmodels.ops.layer_norm_op.composite_only`, so LayerNorm becomes plain TF ops and
the graph holds no op of ours; the directory is written beside the target and swapped in
only when complete (a failed export leaves the previous one in place); and the result is
checked with :func:`custom_op_types`.
"""

from __future__ import annotations

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from tfmodels import io
from tfmodels.ops.layer_norm_op import composite_only

OUR_OP_PREFIX = "Tfm"


def op_types(export_dir: str) -> set[str]:
    """Every op type in a SavedModel's graphs, function libraries included."""
    proto = saved_model_pb2.SavedModel()
    with io.open_file(io.join(export_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    types: set[str] = set()
    for meta in proto.meta_graphs:
        types.update(node.op for node in meta.graph_def.node)
        for fn in meta.graph_def.library.function:
            types.update(node.op for node in fn.node_def)
    return types


def custom_op_types(export_dir: str) -> set[str]:
    """The op types of ours (``Tfm*``) in a SavedModel; empty for a portable export."""
    return {t for t in op_types(export_dir) if t.startswith(OUR_OP_PREFIX)}


def save(module: tf.Module, export_dir: str, signatures=None, options=None) -> None:
    """Traces and writes ``module`` to ``export_dir`` with standard TF ops only.

    ``signatures`` are ``tf.function``s (with input signatures) or concrete functions
    that have NOT been traced before this call (a trace made outside this call may hold
    the fused op); they are traced here, under ``composite_only``.
    Raises ``RuntimeError`` if an op of ours still reached the graph.
    """
    with io.atomic_directory(export_dir) as tmp, composite_only():
        if isinstance(signatures, dict):
            signatures = {k: (v.get_concrete_function() if hasattr(v, "get_concrete_function")
                              else v) for k, v in signatures.items()}
        elif hasattr(signatures, "get_concrete_function"):
            signatures = signatures.get_concrete_function()
        tf.saved_model.save(module, tmp, signatures=signatures, options=options)
        ours = custom_op_types(tmp)
        if ours:
            raise RuntimeError(f"export to {export_dir}: the graph holds ops of ours "
                               f"{sorted(ours)}; trace the signatures inside this call")
