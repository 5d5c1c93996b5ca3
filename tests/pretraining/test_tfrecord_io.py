"""Pure-Python TFRecord framing and Example encoding vs TensorFlow's own."""

import random

import numpy as np
import tensorflow as tf

from pipelines import tfrecord_io


def test_crc32c_known_vectors():
    # RFC 3720 / iSCSI check value, and 32 zero bytes (RFC 3720 B.4).
    crcs = tfrecord_io.crc32c_batch([b"123456789", b"\x00" * 32, b""])
    assert crcs.tolist() == [0xE3069283, 0x8A9136AA, 0]


def test_frames_equal_tf_record_writer(tmp_path):
    rng = random.Random(3)
    records = [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 700))) for _ in range(64)]
    path = str(tmp_path / "tf.tfrecord")
    with tf.io.TFRecordWriter(path) as w:
        for r in records:
            w.write(r)
    with open(path, "rb") as f:
        assert f.read() == tfrecord_io.frame_records(records)
    assert tfrecord_io.read_records(tfrecord_io.frame_records(records)) == records


def test_encode_example_parses_as_tf_example():
    vt = tfrecord_io.VarintTable(1000)
    ids = [0, 1, 127, 128, 300, 16383, 16384, 70000]
    data = tfrecord_io.encode_example([
        ("input_ids", tfrecord_io.int64_feature(vt.pack(ids))),
        ("masked_lm_weights", tfrecord_io.float_feature([1.0, 0.0, 0.25])),
        ("next_sentence_labels", tfrecord_io.int64_feature(vt.pack([1]))),
    ])
    ex = tf.train.Example.FromString(data)
    f = ex.features.feature
    assert list(f["input_ids"].int64_list.value) == ids
    np.testing.assert_array_equal(f["masked_lm_weights"].float_list.value, [1.0, 0.0, 0.25])
    assert list(f["next_sentence_labels"].int64_list.value) == [1]
    assert tfrecord_io.decode_example(data)["input_ids"] == ids
