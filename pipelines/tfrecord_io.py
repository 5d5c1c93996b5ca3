"""TFRecord framing and tf.train.Example encoding without importing TensorFlow.

Data generation (``scripts/create_pretraining_data.py``) runs in worker processes
where a 3-second TensorFlow import per process would cost more than the work
itself, so records are encoded here directly:

* :func:`encode_example` writes the protobuf wire format of a ``tf.train.Example``
  whose features are int64 or float lists (packed, as TensorFlow's own serializer
  writes them). Features are written in the order given; TensorFlow parses any
  order. (The upb protobuf runtime serialises the map in a hash order that changes
  from process to process, so the original script's bytes vary between runs; ours
  do not.)
* :func:`frame_records` adds the TFRecord framing: little-endian uint64 length, the
  masked CRC-32C of the length, the data, the masked CRC-32C of the data. The CRCs
  of a whole batch are computed at once with NumPy (one table lookup per byte
  column across all records), which is what makes a pure-Python writer fast.

Tests check both against ``tf.io.TFRecordWriter`` / ``tf.train.Example``.
"""

from __future__ import annotations

import struct

import numpy as np

_CRC32C_POLY = 0x82F63B78  # Castagnoli polynomial, reflected.
_MASK_DELTA = 0xA282EAD8


def _crc_table():
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _CRC32C_POLY if c & 1 else c >> 1
        table[i] = c
    return table


_TABLE = _crc_table()


def crc32c_batch(chunks):
    """CRC-32C (Castagnoli) of every bytes object in `chunks`, as a uint32 array."""
    n = len(chunks)
    lengths = np.fromiter((len(c) for c in chunks), dtype=np.int64, count=n)
    crc = np.full(n, 0xFFFFFFFF, dtype=np.uint32)
    if n == 0:
        return crc
    order = np.argsort(-lengths, kind="stable")  # longest first: active rows are a prefix
    sorted_lengths = lengths[order]
    max_len = int(sorted_lengths[0])
    data = np.zeros((n, max(max_len, 1)), dtype=np.uint8)
    for row, idx in enumerate(order.tolist()):
        c = chunks[idx]
        if c:
            data[row, : len(c)] = np.frombuffer(c, dtype=np.uint8)
    state = np.full(n, 0xFFFFFFFF, dtype=np.uint32)
    # Number of rows still active at each column (rows are sorted by length).
    ascending = sorted_lengths[::-1]
    active = n - np.searchsorted(ascending, np.arange(max_len), side="right")
    for col in range(max_len):
        k = int(active[col])
        s = state[:k]
        state[:k] = _TABLE[(s ^ data[:k, col]) & 0xFF] ^ (s >> 8)
    crc[order] = state ^ np.uint32(0xFFFFFFFF)
    return crc


def masked_crc32c_batch(chunks):
    """TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8 (mod 2**32)."""
    crc = crc32c_batch(chunks).astype(np.uint64)
    rotated = ((crc >> np.uint64(15)) | (crc << np.uint64(17))) & np.uint64(0xFFFFFFFF)
    return ((rotated + np.uint64(_MASK_DELTA)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def frame_records(records):
    """Returns the TFRecord file bytes holding `records` (a list of bytes) in order."""
    if not records:
        return b""
    headers = [struct.pack("<Q", len(r)) for r in records]
    crcs = masked_crc32c_batch(headers + list(records)).tolist()
    n = len(records)
    out = []
    for i, r in enumerate(records):
        out.append(headers[i])
        out.append(struct.pack("<I", crcs[i]))
        out.append(r)
        out.append(struct.pack("<I", crcs[n + i]))
    return b"".join(out)


def read_records(data):
    """Splits TFRecord file bytes into records, checking lengths (not CRCs)."""
    records, pos, end = [], 0, len(data)
    while pos < end:
        if pos + 12 > end:
            raise ValueError("truncated TFRecord header")
        (length,) = struct.unpack_from("<Q", data, pos)
        start = pos + 12
        if start + length + 4 > end:
            raise ValueError("truncated TFRecord data")
        records.append(bytes(data[start : start + length]))
        pos = start + length + 4
    return records


# ----------------------------------------------------------------------------------
# tf.train.Example wire format.
# Example{1: Features{1: map<string, Feature>}}; Feature{2: FloatList, 3: Int64List};
# (Float|Int64)List{1: packed values}. Map entries are messages {1: key, 2: value}.

_VARINT_CACHE = [bytes([i]) for i in range(128)]


def _varint(value):
    if 0 <= value < 128:
        return _VARINT_CACHE[value]
    if value < 0:
        value += 1 << 64  # int64 negatives use ten bytes, as in protobuf.
    out = bytearray()
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class VarintTable:
    """Cached varint encodings of 0..size-1 (token ids, positions) for fast packing."""

    def __init__(self, size):
        self.table = [_varint(i) for i in range(max(size, 128))]

    def pack(self, values):
        t = self.table
        try:
            return b"".join([t[v] for v in values])
        except IndexError:
            return b"".join([_varint(v) for v in values])


_LENGTHS = [_varint(i) for i in range(1 << 14)]
_TAGS = [_varint((field << 3) | 2) for field in range(16)]


def _len_delimited(field, payload):
    n = len(payload)
    return _TAGS[field] + (_LENGTHS[n] if n < 16384 else _varint(n)) + payload


def int64_feature(packed_varints):
    """Feature bytes of an Int64List whose values are already varint-packed."""
    return _len_delimited(3, _len_delimited(1, packed_varints) if packed_varints else b"")


def float_feature(values):
    """Feature bytes of a FloatList (little-endian float32, packed)."""
    payload = struct.pack(f"<{len(values)}f", *values)
    return _len_delimited(2, _len_delimited(1, payload) if payload else b"")


def encode_example(features):
    """Serialises ``[(name, feature_bytes), ...]`` as a tf.train.Example."""
    ld = _len_delimited
    entries = [ld(1, _key_field(name) + ld(2, feature)) for name, feature in features]
    return ld(1, b"".join(entries))


_KEY_FIELDS = {}


def _key_field(name):
    field = _KEY_FIELDS.get(name)
    if field is None:
        field = _KEY_FIELDS[name] = _len_delimited(1, name.encode("utf-8"))
    return field


def _read_varint(buf, pos):
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 128:
            return result, pos
        shift += 7


def _fields(buf):
    """(field number, wire type, value) of a message; value is bytes or an int."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 2:
            n, pos = _read_varint(buf, pos)
            yield field, wire, buf[pos : pos + n]
            pos += n
        elif wire == 0:
            v, pos = _read_varint(buf, pos)
            yield field, wire, v
        else:
            raise ValueError(f"unsupported wire type {wire}")


def decode_example(record):
    """Parses a tf.train.Example of int64/float lists into {name: list} (for logging)."""
    out = {}
    for _, _, features in _fields(record):
        for _, _, entry in _fields(features):
            name, values = None, []
            for field, _, value in _fields(entry):
                if field == 1:
                    name = bytes(value).decode("utf-8")
                    continue
                for kind, _, lst in _fields(value):
                    for _, wire, packed in _fields(lst):
                        if kind == 2:  # FloatList, packed float32
                            values.extend(struct.unpack(f"<{len(packed) // 4}f", packed))
                        elif wire == 2:
                            p = 0
                            while p < len(packed):
                                v, p = _read_varint(packed, p)
                                values.append(v - (1 << 64) if v >= 1 << 63 else v)
                        else:
                            values.append(packed)
            out[name] = values
    return out
