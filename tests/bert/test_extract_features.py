"""scripts/extract_features.py end to end: original JSON-lines format and values,
and one-line errors for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from pipelines.feature_extraction import read_examples
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
    out = tmp_path / "features.jsonl"
    result = _run(*_flags(d, inp, out, layers="-1,-2,0"))
    assert result.returncode == 0, result.stderr
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
                                  "missing_checkpoint"])
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
    result = _run(*_flags(d, inp, tmp_path / "out.jsonl", **extra))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines()
              if line.startswith("extract_features.py: error:")]
    assert len(errors) == 1, result.stderr
    expected = {"missing_input": "input_file not found", "empty_line": "line 2 is empty",
                "vocab_mismatch": "vocab_size",
                "missing_checkpoint": "--init_checkpoint: checkpoint not found"}[case]
    assert expected in errors[0]
    assert not (tmp_path / "out.jsonl").exists()


def test_read_examples_pairs(tmp_path):
    p = tmp_path / "in.txt"
    p.write_text("a b ||| c d\nsingle ||| \nx|||y\n")
    ex = read_examples(str(p))
    assert (ex[0].text_a, ex[0].text_b) == ("a b", "c d")
    assert (ex[1].text_a, ex[1].text_b) == ("single |||", None)  # line is stripped first
    assert (ex[2].text_a, ex[2].text_b) == ("x|||y", None)
