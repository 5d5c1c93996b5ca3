"""Input side of ``extract_features.py`` (google-research/bert): lines -> padded features.

``read_examples`` parses one example per line, ``text_a ||| text_b`` for a pair;
``convert_examples_to_features`` builds ``[CLS] a [SEP] (b [SEP])`` with the
original truncation (``_truncate_seq_pair``: pop from the longer side) and zero
padding. Deviation: an empty line is an error naming its line number (the
original silently encodes ``[CLS] [SEP]``).
"""

from __future__ import annotations

import dataclasses
import re

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


def read_examples(input_file):
    """One InputExample per line; ``a ||| b`` gives a pair."""
    if not io.isfile(input_file):
        raise FileNotFoundError(f"input_file not found: {input_file}")
    examples = []
    with io.open_file(input_file, "rb") as f:
        for line_no, raw in enumerate(f, start=1):
            line = convert_to_unicode(raw).strip()
            if not line:
                raise ValueError(f"input_file {input_file} line {line_no} is empty")
            m = _PAIR.match(line)
            if m is None:
                examples.append(InputExample(len(examples), line))
            else:
                examples.append(InputExample(len(examples), m.group(1), m.group(2)))
    if not examples:
        raise ValueError(f"input_file {input_file} has no examples")
    return examples


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
