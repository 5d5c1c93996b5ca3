"""create_pretraining_data: same examples as the original algorithm, deterministic files,
tokenizer fast path, workers, spooling, bad input."""

import functools
import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from pipelines import tokenization
from pipelines.pretraining_data import LineTokenizer, create_pretraining_data
from pipelines.pretraining_instances import InstanceOptions
from tests.pretraining import pretraining_reference

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read_examples(path):
    out = []
    for raw in tf.data.TFRecordDataset(path).as_numpy_iterator():
        feats = tf.train.Example.FromString(raw).features.feature
        out.append({k: list(v.int64_list.value) or list(v.float_list.value)
                    for k, v in feats.items()})
    return out


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.mark.parametrize("whole_word", [False, True])
def test_same_examples_as_the_original_algorithm(tmp_path, lee_text, vocab_file, whole_word):
    opts = InstanceOptions(max_seq_length=64, max_predictions_per_seq=10, dupe_factor=2,
                           do_whole_word_mask=whole_word)
    outs = [str(tmp_path / "a.tfrecord"), str(tmp_path / "b.tfrecord")]
    factory = functools.partial(tokenization.FullTokenizer, vocab_file=vocab_file)
    result = create_pretraining_data([lee_text], outs, factory, opts, 7, progress=False)

    ref_tok = tokenization.FullTokenizer(vocab_file, cache_size=0)
    ref = pretraining_reference.create_instances(
        [lee_text], ref_tok, max_seq_length=64, dupe_factor=2, max_predictions_per_seq=10,
        random_seed=7, do_whole_word_mask=whole_word)
    expected = [pretraining_reference.to_features(i, ref_tok, 64, 10) for i in ref]
    got_a, got_b = read_examples(outs[0]), read_examples(outs[1])
    assert result.instances == len(expected) > 300
    # Round-robin over the output files, as the original writers.
    assert got_a == expected[0::2]
    assert got_b == expected[1::2]


def test_files_are_byte_identical_across_runs_and_spooling(tmp_path, lee_text, vocab_file):
    opts = InstanceOptions(max_seq_length=64, max_predictions_per_seq=10, dupe_factor=2)
    factory = functools.partial(tokenization.FullTokenizer, vocab_file=vocab_file)
    paths = [str(tmp_path / f"{k}.tfrecord") for k in range(3)]
    create_pretraining_data([lee_text], [paths[0]], factory, opts, 1, progress=False)
    create_pretraining_data([lee_text], [paths[1]], factory, opts, 1, progress=False)
    # Spool to disk after 1 KB: same bytes.
    create_pretraining_data([lee_text], [paths[2]], factory, opts, 1, progress=False,
                            max_buffer_bytes=1024)
    assert sha(paths[0]) == sha(paths[1]) == sha(paths[2])
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # no temporaries left


def test_two_workers_deterministic_and_valid(tmp_path, lee_text, vocab_file):
    opts = InstanceOptions(max_seq_length=64, max_predictions_per_seq=10, dupe_factor=1)
    factory = functools.partial(tokenization.FullTokenizer, vocab_file=vocab_file)
    a, b = str(tmp_path / "a.tfrecord"), str(tmp_path / "b.tfrecord")
    ra = create_pretraining_data([lee_text], [a], factory, opts, 3, num_workers=2,
                                 progress=False)
    create_pretraining_data([lee_text], [b], factory, opts, 3, num_workers=2, progress=False)
    assert sha(a) == sha(b)
    examples = read_examples(a)
    assert len(examples) == ra.instances and ra.documents == 60
    vocab = tokenization.load_vocab(vocab_file)
    for ex in examples:
        ids = np.array(ex["input_ids"])
        n = int(sum(ex["input_mask"]))
        assert ids[0] == vocab["[CLS]"] and ids[n - 1] == vocab["[SEP]"] and not ids[n:].any()
        k = int(sum(ex["masked_lm_weights"]))
        assert 1 <= k <= 10
        assert all(0 < p < n for p in ex["masked_lm_positions"][:k])


def test_line_tokenizer_matches_full_tokenizer(lee_text, vocab_file):
    full = tokenization.FullTokenizer(vocab_file, cache_size=0)
    fast = LineTokenizer(tokenization.FullTokenizer(vocab_file))
    with open(lee_text, encoding="utf-8") as f:
        lines = f.read().splitlines()
    lines += ["Tab\tseparated\rcarriage", "ctrl\x01\x07chars\x7fDEL", "a" * 201, "b" * 200,
              "[CLS] [SEP] don't U.S.A. e-mail 3.14 $5 ~tilde~ `q` {x}|<y>", "   ",
              "Caf\u00e9 na\u00efve \u4e2d\u6587 emoji \U0001F600", "MiXeD CaSe", "x" * 5 + "##"]
    for case in (True, False):
        full.basic_tokenizer.do_lower_case = case
        fast = LineTokenizer(tokenization.FullTokenizer(vocab_file, do_lower_case=case))
        for line in lines:
            assert fast.ids(line) == full.convert_tokens_to_ids(full.tokenize(line)), line


def _run_script(args):
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "scripts",
                                                        "create_pretraining_data.py"), *args],
                          capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def test_script_bad_inputs(tmp_path, lee_text, vocab_file):
    out = str(tmp_path / "o.tfrecord")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    cases = [
        ([f"--input_file={tmp_path}/missing.txt", f"--output_file={out}",
          f"--vocab_file={vocab_file}"], "input_file"),
        ([f"--input_file={empty}", f"--output_file={out}", f"--vocab_file={vocab_file}"],
         "no text"),
        ([f"--input_file={lee_text}", f"--output_file={out}", f"--vocab_file={vocab_file}",
          "--max_seq_length=16", "--max_predictions_per_seq=20"], "max_predictions_per_seq"),
        ([f"--input_file={lee_text}", f"--output_file={out}",
          f"--vocab_file={tmp_path}/nope.txt"], "vocab_file"),
    ]
    for args, needle in cases:
        rc, _, err = _run_script(args)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert rc != 0
        assert "Traceback" not in err
        assert needle in lines[-1], err
    assert not os.path.exists(out)


def test_script_writes_and_reports(tmp_path, lee_text, vocab_file):
    out = str(tmp_path / "o.tfrecord")
    rc, stdout, err = _run_script([f"--input_file={lee_text}", f"--output_file={out}",
                                   f"--vocab_file={vocab_file}", "--dupe_factor=1",
                                   "--max_seq_length=32", "--max_predictions_per_seq=5"])
    assert rc == 0, err
    assert "Wrote" in stdout and os.path.getsize(out) > 0
