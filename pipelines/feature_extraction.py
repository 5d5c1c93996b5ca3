"""``extract_features.py`` (google-research/bert) around the model: lines -> padded
features, and model outputs -> the original JSON lines.

``read_examples`` parses one example per line, ``text_a ||| text_b`` for a pair;
``convert_examples_to_features`` builds ``[CLS] a [SEP] (b [SEP])`` with the
original truncation (``_truncate_seq_pair``: pop from the longer side) and zero
padding. ``write_feature_lines`` streams batches through the model into a file, one
batch in memory at a time (the original keeps every input and output of the run).
Deviation: an empty line is an error naming its line number (the original silently
encodes ``[CLS] [SEP]``).
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import json
import re
import time

import numpy as np

from pipelines.fileio import io
from pipelines.tokenization import convert_to_unicode

_PAIR = re.compile(r"^(.*) \|\|\| (.*)$")


@dataclasses.dataclass
class InputExample:
    unique_id: int
    text_a: str
    text_b: str | None = None


@dataclasses.dataclass
class InputFeatures:
    unique_id: int
    tokens: list
    input_ids: list
    input_mask: list
    input_type_ids: list


def iter_examples(input_file):
    """Yields one InputExample per line (read lazily); ``a ||| b`` gives a pair."""
    if not io.isfile(input_file):
        raise FileNotFoundError(f"input_file not found: {input_file}")
    n = 0
    with io.open_file(input_file, "rb") as f:
        for line_no, raw in enumerate(f, start=1):
            line = convert_to_unicode(raw).strip()
            if not line:
                raise ValueError(f"input_file {input_file} line {line_no} is empty")
            m = _PAIR.match(line)
            if m is None:
                yield InputExample(n, line)
            else:
                yield InputExample(n, m.group(1), m.group(2))
            n += 1
    if not n:
        raise ValueError(f"input_file {input_file} has no examples")


def read_examples(input_file):
    """All InputExamples of ``input_file`` as a list (see :func:`iter_examples`)."""
    return list(iter_examples(input_file))


def truncate_seq_pair(tokens_a, tokens_b, max_length):
    """Pops from the longer list (b on ties) until the total fits, in place."""
    while len(tokens_a) + len(tokens_b) > max_length:
        if len(tokens_a) > len(tokens_b):
            tokens_a.pop()
        else:
            tokens_b.pop()


def convert_examples_to_features(examples, seq_length, tokenizer):
    """InputFeatures with the original layout, padded with id 0 to seq_length."""
    if seq_length < 3:
        raise ValueError(f"max_seq_length must be >= 3, got {seq_length}")
    features = []
    for ex in examples:
        tokens_a = tokenizer.tokenize(ex.text_a)
        tokens_b = tokenizer.tokenize(ex.text_b) if ex.text_b else None
        if tokens_b:
            truncate_seq_pair(tokens_a, tokens_b, seq_length - 3)
        else:
            tokens_a = tokens_a[: seq_length - 2]
        tokens = ["[CLS]", *tokens_a, "[SEP]"]
        type_ids = [0] * len(tokens)
        if tokens_b:
            tokens += [*tokens_b, "[SEP]"]
            type_ids += [1] * (len(tokens_b) + 1)
        ids = tokenizer.convert_tokens_to_ids(tokens)
        pad = seq_length - len(ids)
        features.append(InputFeatures(
            unique_id=ex.unique_id, tokens=tokens, input_ids=ids + [0] * pad,
            input_mask=[1] * len(ids) + [0] * pad, input_type_ids=type_ids + [0] * pad))
    return features


def features_to_arrays(features):
    """Stacks features into int32 arrays input_ids / input_mask / token_type_ids."""
    return {
        "input_ids": np.asarray([f.input_ids for f in features], np.int32),
        "input_mask": np.asarray([f.input_mask for f in features], np.int32),
        "token_type_ids": np.asarray([f.input_type_ids for f in features], np.int32),
    }


def feature_json(feature, layer_outputs, layer_indexes):
    """The original's JSON line (without newline) of one feature.

    ``layer_outputs`` is float [L, T, H]: row j holds layer ``layer_indexes[j]``; values
    are rounded to 6 decimals as the original does.
    """
    token_features = []
    for i, token in enumerate(feature.tokens):
        layers = []
        for j, layer_index in enumerate(layer_indexes):
            values = np.asarray(layer_outputs[j, i], np.float64)
            layers.append(collections.OrderedDict(
                [("index", layer_index), ("values", [round(float(x), 6) for x in values])]))
        token_features.append(collections.OrderedDict([("token", token), ("layers", layers)]))
    return json.dumps(collections.OrderedDict(
        [("linex_index", feature.unique_id), ("features", token_features)]))


def write_feature_lines(f, examples, tokenizer, seq_length, predict, layer_indexes,
                        batch_size, total=None, log=None):
    """Writes the JSON line of every example to the file object ``f``, batch by batch.

    ``predict(arrays)`` maps :func:`features_to_arrays` of a batch to float
    [B, L, T, H] (the ``layer_indexes`` layers). Only one batch of examples, features
    and outputs is held at a time, so memory does not depend on the number of lines.
    ``log`` (e.g. ``print``) gets a progress line per batch. Returns the line count.
    """
    examples = iter(examples)
    start, n = time.time(), 0
    for step in itertools.count(1):
        batch = list(itertools.islice(examples, batch_size))
        if not batch:
            return n
        features = convert_examples_to_features(batch, seq_length, tokenizer)
        out = np.asarray(predict(features_to_arrays(features)))
        for b, feature in enumerate(features):
            f.write(feature_json(feature, out[b], layer_indexes) + "\n")
        n += len(features)
        if log is not None:
            of = f"/{total}" if total is not None else ""
            log(f"step {step}: {n}{of} examples, "
                f"{n / max(time.time() - start, 1e-9):.1f} examples/s")
