"""scripts/train_sasrec.py: the original flags and outputs, both protocols, resume after kill."""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "train_sasrec.py")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("sasrec_data")
    rng = np.random.default_rng(0)
    lines = []
    for u in range(1, 81):
        start = rng.integers(1, 40)
        lines += [f"{u} {(start + 3 * j + rng.integers(0, 2)) % 40 + 1}"
                  for j in range(rng.integers(3, 15))]
    (d / "tiny.txt").write_text("\n".join(lines) + "\n")
    (d / "broken.txt").write_text("1 2\n1 3\n1\n")
    return d


def args(data_dir, out, epochs):
    return [sys.executable, SCRIPT, "--dataset=tiny", f"--data_dir={data_dir}",
            "--train_dir=x", f"--output_dir={out}", "--batch_size=16", "--maxlen=8",
            "--hidden_units=16", "--eval_every=3", f"--num_epochs={epochs}"]


def results(out):
    text = open(os.path.join(out, "eval_results.txt")).read()
    return dict(line.split(" = ") for line in text.splitlines())


@pytest.mark.slow
def test_train_evaluate_and_resume_after_kill(data_dir, tmp_path):
    ref = str(tmp_path / "ref")
    r = subprocess.run(args(data_dir, ref, 6), capture_output=True, text=True, env=ENV,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert re.search(r"^epoch:6, time: [0-9.]+\(s\), valid \(NDCG@10: 0\.\d{4}, HR@10: "
                     r"0\.\d{4}\), test \(NDCG@10: 0\.\d{4}, HR@10: 0\.\d{4}\)$", r.stdout, re.M)
    assert re.search(r"^sampled: HR@10 0\.\d{4} NDCG@10 0\.\d{4} ", r.stdout, re.M)
    assert re.search(r"^full: HR@10 0\.\d{4} NDCG@10 0\.\d{4} MRR@10 0\.\d{4} ", r.stdout,
                     re.M)
    assert len(open(os.path.join(ref, "log.txt")).read().splitlines()) == 2
    assert "maxlen,8" in open(os.path.join(ref, "args.txt")).read()

    # kill -9 once the first checkpoint exists, then rerun the same command
    out = str(tmp_path / "killed")
    proc = subprocess.Popen(args(data_dir, out, 6), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.time() + 240
    while not os.path.exists(os.path.join(out, "checkpoint")) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    r = subprocess.run(args(data_dir, out, 6), capture_output=True, text=True, env=ENV,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Resuming from" in r.stdout
    assert results(out) == results(ref)


def test_bad_input_is_one_line(data_dir, tmp_path):
    cmd = args(data_dir, str(tmp_path / "o"), 1)
    cmd[2] = "--dataset=broken"
    r = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == (
        f"train_sasrec.py: error: {data_dir}/broken.txt:3: expected 'user item' (two "
        "integers), got '1'")
    assert "Traceback" not in r.stderr
