"""train_gru4rec.py reads the data files of Songweiping/GRU4Rec_TensorFlow unchanged.

gru4rec_BP reads the official RSC15 files (TAB separated, SessionId/ItemId/Time header);
gru4rec_BPTT reads data/{train,valid,test}.tsv with a SessionId/ItemId/Timestamp header and
string ids (``utils._load_data``).
"""

import importlib.util
import os
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "train_gru4rec.py")


def _script():
    spec = importlib.util.spec_from_file_location("train_gru4rec_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(path, time_col, n_sessions, seed, start=0.0):
    rng = np.random.default_rng(seed)
    lines = [f"SessionId\tItemId\t{time_col}"]
    t = start
    for s in range(n_sessions):
        first = rng.integers(0, 30)
        for j in range(rng.integers(2, 7)):
            t += 1.0
            lines.append(f"s{s}\t{(first + j) % 30 + 100}\t{t}")
    path.write_text("\n".join(lines) + "\n")


def test_time_key_follows_the_file(tmp_path):
    mod = _script()
    _write(tmp_path / "bptt.tsv", "Timestamp", 2, 0)
    _write(tmp_path / "bp.tsv", "Time", 2, 0)
    assert mod.time_key_of(str(tmp_path / "bptt.tsv"), None) == "Timestamp"
    assert mod.time_key_of(str(tmp_path / "bp.tsv"), None) == "Time"
    assert mod.time_key_of(str(tmp_path / "bptt.tsv"), "T") == "T"


@pytest.mark.slow
def test_train_on_bptt_files_and_test_on_bp_files(tmp_path):
    _write(tmp_path / "train.tsv", "Timestamp", 300, 1)
    _write(tmp_path / "rsc15_test.txt", "Time", 40, 2, start=1e6)
    r = subprocess.run(
        [sys.executable, SCRIPT, str(tmp_path / "train.tsv"), "-t",
         str(tmp_path / "rsc15_test.txt"), "-m", "5", "20",
         "-ps", "loss=cross-entropy,layers=16,batch_size=16,n_sample=8,n_epochs=1"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""})
    assert r.returncode == 0, r.stderr[-3000:]
    assert len(re.findall(r"^Recall@(5|20): [01]\.\d{6} MRR@\1: [01]\.\d{6}$", r.stdout, re.M)) == 2
