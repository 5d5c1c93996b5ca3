"""run_classifier.py end to end: a tiny BERT learns a separable task; original outputs."""

from __future__ import annotations

import numpy as np
import pytest

from tests.finetune.fixtures import (
    run_script,
    write_bert_config,
    write_separable_sst2,
    write_tsv,
    write_vocab,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("clf")
    data = d / "data"
    train, dev, test = write_separable_sst2(data)
    args = [f"--data_dir={data}", f"--vocab_file={write_vocab(d)}",
            f"--bert_config_file={write_bert_config(d)}", "--task_name=sst2",
            f"--output_dir={d / 'out'}", "--max_seq_length=16", "--train_batch_size=16",
            "--learning_rate=3e-3", "--num_train_epochs=3", "--save_checkpoints_steps=1000",
            "--log_steps=16", "--eval_batch_size=8", "--predict_batch_size=8"]
    proc = run_script("run_classifier", *args, "--do_train", "--do_eval", "--do_predict")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return d, args, proc, test


def _eval_results(path):
    out = {}
    for line in path.read_text().splitlines():
        key, value = line.split(" = ")
        out[key] = value
    return out


def test_learns_separable_task_and_writes_original_outputs(trained):
    d, _, proc, test = trained
    out = d / "out"
    results = _eval_results(out / "eval_results.txt")
    assert list(results) == ["eval_accuracy", "eval_loss", "global_step", "loss"]
    assert float(results["eval_accuracy"]) >= 0.95, proc.stdout[-2000:]
    assert int(results["global_step"]) == int(256 / 16 * 3)
    rows = [line.split("\t") for line in (out / "test_results.tsv").read_text().splitlines()]
    assert len(rows) == len(test) and all(len(r) == 2 for r in rows)
    probs = np.asarray(rows, np.float64)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    labels = np.asarray([int(r[1]) for r in test])
    assert (probs.argmax(1) == labels).mean() >= 0.9
    for name in ("train.tf_record", "eval.tf_record", "predict.tf_record", "checkpoint",
                 "model.ckpt-48.index"):
        assert (out / name).exists(), name
    assert "step 16/48" in proc.stdout and "examples/s" in proc.stdout


def test_eval_from_directory_checkpoint_reproduces(trained, tmp_path):
    """--init_checkpoint=<previous output_dir> (its latest checkpoint), eval only, in a new
    output_dir gives the same accuracy."""
    d, args, _, _ = trained
    args = [a for a in args if not a.startswith("--output_dir")]
    proc = run_script("run_classifier", *args, f"--output_dir={tmp_path / 'again'}",
                      f"--init_checkpoint={d / 'out'}", "--do_eval")
    assert proc.returncode == 0, proc.stderr[-2000:]
    again = _eval_results(tmp_path / "again" / "eval_results.txt")
    first = _eval_results(d / "out" / "eval_results.txt")
    assert again["eval_accuracy"] == first["eval_accuracy"]
    assert float(again["eval_loss"]) == pytest.approx(float(first["eval_loss"]), rel=1e-4)
    assert again["global_step"] == "0"


def test_bad_input_is_one_clear_line(trained, tmp_path):
    d, args, _, _ = trained
    data = tmp_path / "bad"
    write_tsv(data, "train.tsv", [["sentence", "label"], ["good movie", "1"], ["bad", "neutral"]])
    base = [a for a in args if not a.startswith(("--data_dir", "--output_dir"))]
    proc = run_script("run_classifier", *base, f"--data_dir={data}",
                      f"--output_dir={tmp_path / 'o'}", "--do_train")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "label 'neutral' is not one of the task's labels ['0', '1']" in proc.stderr
