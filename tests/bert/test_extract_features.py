"""scripts/extract_features.py end to end: original JSON-lines format and values,
and one-line errors for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from pipelines.feature_extraction import InputExample, read_examples, write_feature_lines
from pipelines.tokenization import FullTokenizer
from tests.bert.helpers import randomize, tiny_config
from tfmodels.models.bert import BertModel, save_tf1_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "extract_features.py")
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "sat", "on", "mat", ".", "who",
         "was", "jim", "henson", "?", "a", "puppet", "##eer"]


def _run(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny_bert")
    config = tiny_config(vocab_size=len(VOCAB), type_vocab_size=2)
    model = BertModel(config)
    randomize(model, seed=11)
    config.to_json_file(str(d / "bert_config.json"))
    (d / "vocab.txt").write_text("".join(t + "\n" for t in VOCAB))
    save_tf1_checkpoint(str(d / "bert_model.ckpt"), model)
    return d, model


def _flags(d, input_file, output_file, **extra):
    flags = {"input_file": input_file, "output_file": output_file,
             "vocab_file": d / "vocab.txt", "bert_config_file": d / "bert_config.json",
             "init_checkpoint": d / "bert_model.ckpt", "max_seq_length": 16,
             "batch_size": 2, **extra}
    return [f"--{k}={v}" for k, v in flags.items()]


def test_output_format_and_values(tiny_bert, tmp_path):
    d, model = tiny_bert
    inp = tmp_path / "input.txt"
    inp.write_text("The cat sat on the mat.\nWho was Jim Henson ? ||| Jim Henson was a "
                   "puppeteer\nthe cat\n")
    out = tmp_path / "out" / "features.jsonl"
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "features.jsonl").write_text("a previous output\n")
    uri = {k: f"file://{v}" for k, v in [("input_file", inp), ("output_file", out),
                                        ("vocab_file", d / "vocab.txt"),
                                        ("bert_config_file", d / "bert_config.json")]}
    result = _run(*_flags(d, uri.pop("input_file"), uri.pop("output_file"), layers="-1,-2,0",
                          **uri))
    assert result.returncode == 0, result.stderr
    assert os.listdir(tmp_path / "out") == ["features.jsonl"]  # replaced, no temporary left
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["linex_index"] for r in rows] == [0, 1, 2]
    assert list(rows[0]) == ["linex_index", "features"]
    tokens = [f["token"] for f in rows[1]["features"]]
    assert tokens == ["[CLS]", "who", "was", "jim", "henson", "?", "[SEP]", "jim", "henson",
                      "was", "a", "puppet", "##eer", "[SEP]"]
    first = rows[1]["features"][0]
    assert list(first) == ["token", "layers"]
    assert [layer["index"] for layer in first["layers"]] == [-1, -2, 0]
    assert list(first["layers"][0]) == ["index", "values"]

    ids = np.array([[2, 10, 11, 12, 13, 14, 3, 12, 13, 11, 15, 16, 17, 3]], np.int32)
    types = np.array([[0] * 7 + [1] * 7], np.int32)
    layers = model([ids, np.ones_like(ids), types], training=False)["encoder_outputs"]
    for j, index in enumerate([-1, -2, 0]):
        got = np.array([f["layers"][j]["values"] for f in rows[1]["features"]])
        np.testing.assert_allclose(got, layers[index].numpy()[0], atol=2e-5)
        for value in got.ravel()[:50]:
            assert value == round(value, 6)


@pytest.mark.parametrize("case", ["missing_input", "empty_line", "vocab_mismatch",
                                  "output_is_directory", "missing_checkpoint"])
def test_bad_input_gives_one_error_line(tiny_bert, tmp_path, case):
    d, _ = tiny_bert
    inp = tmp_path / "input.txt"
    inp.write_text("the cat\n\nthe mat\n" if case == "empty_line" else "the cat\n")
    extra = {"layers": "-1"}
    if case == "missing_input":
        inp = tmp_path / "nope.txt"
    if case == "vocab_mismatch":
        big = tmp_path / "vocab.txt"
        big.write_text("".join(t + "\n" for t in VOCAB + [f"w{i}" for i in range(5)]))
        extra["vocab_file"] = big
    if case == "missing_checkpoint":
        extra["init_checkpoint"] = tmp_path / "nope" / "bert_model.ckpt"
    out = tmp_path / "out.jsonl"
    if case == "output_is_directory":
        out.mkdir()
    result = _run(*_flags(d, inp, out, **extra))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines()
              if line.startswith("extract_features.py: error:")]
    assert len(errors) == 1, result.stderr
    expected = {"missing_input": "input_file not found", "empty_line": "line 2 is empty",
                "vocab_mismatch": "vocab_size",
                "missing_checkpoint": "--init_checkpoint: checkpoint not found",
                "output_is_directory": f"--output_file: {out} is a directory"}[case]
    assert expected in errors[0]
    if case == "output_is_directory":
        assert os.listdir(out) == []
    else:
        assert not out.exists()
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")]


def test_read_examples_pairs(tmp_path):
    p = tmp_path / "in.txt"
    p.write_text("a b ||| c d\nsingle ||| \nx|||y\n")
    ex = read_examples(str(p))
    assert (ex[0].text_a, ex[0].text_b) == ("a b", "c d")
    assert (ex[1].text_a, ex[1].text_b) == ("single |||", None)  # line is stripped first
    assert (ex[2].text_a, ex[2].text_b) == ("x|||y", None)


class _CountingSink:
    """A write-only file that keeps nothing but a count of what it was given."""

    def __init__(self):
        self.chars = self.lines = 0

    def write(self, text):
        self.chars += len(text)
        self.lines += text.count("\n")


def test_writer_streams_memory_does_not_grow_with_lines(tmp_path):
    import tracemalloc

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("".join(t + "\n" for t in VOCAB))
    tokenizer = FullTokenizer(str(vocab))
    layers, hidden, seq = [-1, -2], 16, 16
    rng = np.random.default_rng(0)

    def predict(arrays):  # stands in for the model: [B, L, T, H]
        return rng.normal(size=(len(arrays["input_ids"]), len(layers), seq, hidden)).astype(
            np.float32)

    def peak_and_sink(n):
        examples = (InputExample(i, "the cat sat on the mat .", "who was jim henson ?")
                    for i in range(n))
        sink = _CountingSink()
        tracemalloc.start()
        write_feature_lines(sink, examples, tokenizer, seq, predict, layers, batch_size=4)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert sink.lines == n
        return peak, sink

    peak_small, _ = peak_and_sink(16)
    peak_large, sink = peak_and_sink(64)
    # A writer that kept the 48 extra lines would hold at least their text in addition.
    extra_if_buffered = 48 * sink.chars / 64
    assert peak_large - peak_small < 0.1 * extra_if_buffered, (peak_small, peak_large)


def test_writer_lines_on_ram_filesystem(tmp_path):
    import uuid

    from tfmodels import io

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("".join(t + "\n" for t in VOCAB))
    tokenizer = FullTokenizer(str(vocab))
    outputs = np.arange(3 * 2 * 8 * 4, dtype=np.float32).reshape(3, 2, 8, 4) / 7.0
    path = f"ram://features-{uuid.uuid4().hex}/out.jsonl"
    io.makedirs(io.dirname(path))
    examples = [InputExample(0, "the cat"), InputExample(1, "a puppeteer", "the mat"),
                InputExample(2, "who")]
    batches = iter([outputs[:2], outputs[2:]])  # batch size 2: two examples, then one
    with io.atomic_write(path) as f:
        n = write_feature_lines(f, examples, tokenizer, 8, lambda arrays: next(batches),
                                [-1, 0], 2)
    assert n == 3
    rows = [json.loads(line) for line in io.read_text(path).splitlines()]
    assert [[t["token"] for t in r["features"]] for r in rows] == [
        ["[CLS]", "the", "cat", "[SEP]"],
        ["[CLS]", "a", "puppet", "##eer", "[SEP]", "the", "mat", "[SEP]"],
        ["[CLS]", "who", "[SEP]"]]
    for b, row in enumerate(rows):
        for i, token in enumerate(row["features"]):
            assert [x["index"] for x in token["layers"]] == [-1, 0]
            for j in range(2):
                expected = [round(float(v), 6) for v in outputs[b, j, i].astype(np.float64)]
                assert token["layers"][j]["values"] == expected
