"""scripts/train_gru4rec.py: official run-script interface, result lines, clear errors."""

import os
import re
import subprocess
import sys

import pytest

from pipelines.sessions import write_sessions
from pipelines.synthetic_sessions import generate_markov_sessions, make_markov_chain

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "train_gru4rec.py")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


def run(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                          env=ENV, timeout=300)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("g4r")
    chain = make_markov_chain(60, 5, 0.3, seed=0)
    write_sessions(str(d / "train.tsv"), generate_markov_sessions(chain, 400, seed=1))
    write_sessions(str(d / "test.tsv"), generate_markov_sessions(chain, 60, seed=2, start_time=1e7))
    (d / "bad_cols.tsv").write_text("SessionId\tItem\tTime\n1\t2\t3\n")
    (d / "bad_time.tsv").write_text("SessionId\tItemId\tTime\n1\t2\tnoon\n1\t3\t4\n")
    (d / "unseen.tsv").write_text("SessionId\tItemId\tTime\n1\t9999\t1\n1\t9998\t2\n")
    (d / "params.py").write_text(
        "from collections import OrderedDict\ngru4rec_params = OrderedDict([('loss', 'top1-max'),"
        " ('layers', [16]), ('batch_size', 16), ('n_sample', 8), ('n_epochs', 1)])\n")
    return d


def test_train_save_load_and_result_lines(files):
    model = str(files / "m.npz")
    r = run(str(files / "train.tsv"), "-t", str(files / "test.tsv"), "-m", "1", "5", "20",
            "-ps", "loss=bpr-max,layers=16,batch_size=16,n_sample=8,n_epochs=2", "-s", model)
    assert r.returncode == 0, r.stderr[-3000:]
    assert re.search(r"^Epoch1 --> loss: [0-9.]+ .*e/s\]$", r.stdout, re.M)
    assert re.search(r"^Epoch2 --> loss", r.stdout, re.M)
    lines = re.findall(r"^Recall@(\d+): (0\.\d{6}) MRR@\1: (0\.\d{6})$", r.stdout, re.M)
    assert [x[0] for x in lines] == ["1", "5", "20"]
    recalls = [float(x[1]) for x in lines]
    assert recalls == sorted(recalls) and recalls[0] == float(lines[0][2])  # R@1 == MRR@1
    r2 = run(model, "-l", "-t", str(files / "test.tsv"), "-m", "1", "5", "20")
    assert r2.returncode == 0, r2.stderr[-3000:]
    assert re.findall(r"^Recall@.*$", r2.stdout, re.M) == \
        re.findall(r"^Recall@.*$", r.stdout, re.M)


def test_parameter_file(files):
    r = run(str(files / "train.tsv"), "-pf", str(files / "params.py"), "-t",
            str(files / "test.tsv"), "-e", "conservative")
    assert r.returncode == 0, r.stderr[-3000:]
    assert re.search(r"^Recall@20: 0\.\d{6} MRR@20: 0\.\d{6}$", r.stdout, re.M)


@pytest.mark.parametrize("args,match", [
    (["{train}", "-ps", "loss=bpr-max,n_smaple=10"], "unknown GRU4Rec parameter 'n_smaple'"),
    (["{train}"], "exactly one of"),
    (["{bad_cols}", "-ps", "n_epochs=1"], "ItemId"),
    (["{bad_time}", "-ps", "n_epochs=1"], "Time"),
    (["{train}", "-ps", "n_epochs=0,layers=8,n_sample=4", "-t", "{unseen}"], "no test events"),
    (["{train}", "-ps", "n_epochs=1", "-t", "{missing}"], "-t/--test file not found"),
])
def test_errors_are_one_clear_line(files, args, match):
    names = {k: str(files / f"{k}.tsv") for k in ("train", "bad_cols", "bad_time", "unseen",
                                                 "missing")}
    r = run(*[a.format(**names) for a in args])
    assert r.returncode == 1
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("ERROR.")]
    assert len(err) == 1 and match in err[0], r.stderr[-2000:]
    assert "Traceback" not in r.stderr
