"""TensorBoard scalars and ``eval_results.txt``."""

from __future__ import annotations

import tensorflow as tf

from tfmodels import io

EVAL_RESULTS = "eval_results.txt"


def write_scalars(writer, step, values):
    """Scalar summaries through ``tf.summary.write`` in the scalar plugin's format, so
    the ``tensorboard`` package is not needed to write them."""
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
        data_class=summary_pb2.DATA_CLASS_SCALAR).SerializeToString()
    with writer.as_default(step=int(step)):
        for tag, value in values.items():
            tf.summary.write(tag, tf.constant(float(value), tf.float32), metadata=metadata)
    writer.flush()


def format_eval_results(result):
    """``key = value`` lines in sorted key order (the original Estimator scripts')."""
    return "".join(f"{key} = {result[key]}\n" for key in sorted(result))


def write_eval_results(path, result):
    """Writes :func:`format_eval_results` to ``path`` atomically (any filesystem)."""
    with io.atomic_write(path) as f:
        f.write(format_eval_results(result))
