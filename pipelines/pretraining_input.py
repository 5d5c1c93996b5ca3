"""tf.data input for BERT pre-training TFRecords (original ``run_pretraining.input_fn_builder``).

Training: the file list is repeated and shuffled (buffer = number of files), read
with a parallel interleave over ``min(num_cpu_threads, num_files)`` files (not
deterministic, like the original's ``sloppy=True``), shuffled with a buffer of 100,
parsed, and batched with ``drop_remainder=True``. Evaluation: files read in order,
repeated, batched with ``drop_remainder=True`` as well (the original also drops the
remainder in eval; it evaluates a fixed number of steps).

Every int64 feature is cast to int32 as the original ``_decode_record`` does.
A record whose lengths differ from ``max_seq_length`` / ``max_predictions_per_seq``
is reported by :func:`check_record_shapes` with the file and the flag to fix.
"""

from __future__ import annotations

import tensorflow as tf

FEATURE_NAMES = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions",
                 "masked_lm_ids", "masked_lm_weights", "next_sentence_labels")


def feature_spec(max_seq_length, max_predictions_per_seq):
    """The original ``name_to_features``."""
    seq = tf.io.FixedLenFeature([max_seq_length], tf.int64)
    pred = tf.io.FixedLenFeature([max_predictions_per_seq], tf.int64)
    return {
        "input_ids": seq,
        "input_mask": seq,
        "segment_ids": seq,
        "masked_lm_positions": pred,
        "masked_lm_ids": pred,
        "masked_lm_weights": tf.io.FixedLenFeature([max_predictions_per_seq], tf.float32),
        "next_sentence_labels": tf.io.FixedLenFeature([1], tf.int64),
    }


def decode_record(record, name_to_features):
    """Parses one serialized example; int64 -> int32 (original ``_decode_record``)."""
    example = tf.io.parse_single_example(record, name_to_features)
    return {k: tf.cast(t, tf.int32) if t.dtype == tf.int64 else t for k, t in example.items()}


def check_record_shapes(input_files, max_seq_length, max_predictions_per_seq):
    """Reads the first record of each file and raises ValueError on a length mismatch."""
    if not input_files:
        raise FileNotFoundError("input_files: no file given")
    for path in input_files:
        if not tf.io.gfile.exists(path):
            raise FileNotFoundError(f"input_files: {path} does not exist")
        try:
            first = next(iter(tf.data.TFRecordDataset(path).take(1)), None)
        except tf.errors.DataLossError as e:
            raise ValueError(f"input_files: {path} is not a TFRecord file ({e.message})") from None
        if first is None:
            raise ValueError(f"input_files: {path} holds no records")
        example = tf.train.Example.FromString(first.numpy())
        feats = example.features.feature
        missing = [n for n in FEATURE_NAMES if n not in feats]
        if missing:
            raise ValueError(f"input_files: {path} lacks the features {missing}; "
                             "was it written by create_pretraining_data.py?")
        seq = len(feats["input_ids"].int64_list.value)
        pred = len(feats["masked_lm_positions"].int64_list.value)
        if seq != max_seq_length:
            raise ValueError(f"max_seq_length={max_seq_length} but {path} holds sequences "
                             f"of length {seq}; use the value given to create_pretraining_data")
        if pred != max_predictions_per_seq:
            raise ValueError(
                f"max_predictions_per_seq={max_predictions_per_seq} but {path} holds "
                f"{pred} predictions per sequence; use the value given to "
                "create_pretraining_data")


def make_dataset(input_files, batch_size, max_seq_length, max_predictions_per_seq,
                 is_training, num_cpu_threads=4, seed=None, input_context=None):
    """The original input_fn's dataset, batched to `batch_size` (per replica under a
    strategy: pass ``input_context`` to shard files or records across workers)."""
    name_to_features = feature_spec(max_seq_length, max_predictions_per_seq)
    input_files = list(input_files)
    if is_training:
        d = tf.data.Dataset.from_tensor_slices(tf.constant(input_files))
        if input_context is not None and input_context.num_input_pipelines > 1:
            if len(input_files) >= input_context.num_input_pipelines:
                d = d.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        d = d.repeat()
        d = d.shuffle(buffer_size=len(input_files), seed=seed)
        cycle_length = min(num_cpu_threads, len(input_files))
        d = d.interleave(tf.data.TFRecordDataset, cycle_length=cycle_length,
                         num_parallel_calls=cycle_length, deterministic=seed is not None)
        if (input_context is not None and input_context.num_input_pipelines > 1
                and len(input_files) < input_context.num_input_pipelines):
            d = d.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        d = d.shuffle(buffer_size=100, seed=seed)
    else:
        d = tf.data.TFRecordDataset(input_files)
        if input_context is not None and input_context.num_input_pipelines > 1:
            d = d.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        d = d.repeat()
    d = d.map(lambda r: decode_record(r, name_to_features),
              num_parallel_calls=tf.data.AUTOTUNE)
    d = d.batch(batch_size, drop_remainder=True)
    return d.prefetch(tf.data.AUTOTUNE)
