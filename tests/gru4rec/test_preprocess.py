"""RSC15 preprocessing and MovieLens preparation on hand-built files."""

import datetime
import os
import subprocess
import sys

import numpy as np
import pytest

from pipelines.session_splits import (
    Events,
    filter_sessions_and_items,
    read_yoochoose_clicks,
    sessionize,
    split_last_days,
    user_sequences,
    write_time_splits,
)
from pipelines.sessions import load_sessions

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
T0 = 1396310400  # 2014-04-01T00:00:00Z
DAY = 86400
A, B, C, D, E, R = 101, 102, 103, 104, 105, 909

# (session, item, seconds after T0) in file order
CLICKS = [
    (10, A, 0), (10, B, 60), (10, C, 120),
    (12, B, 3 * DAY), (12, C, 3 * DAY + 60), (12, A, 3 * DAY + 60),  # tie: file order kept
    (11, A, 600), (11, B, 660), (11, C, 720),
    (13, R, 900), (13, A, 960),            # R is rare -> session left with one event
    (14, A, 1000),                         # length 1: dropped first
    (15, D, 1100), (15, A, 1160),          # D has 5 clicks, but one is in a length-1
    (16, D, 1200), (16, B, 1260),          # session, so only 4 count -> D dropped
    (17, D, 1300), (17, C, 1360),
    (18, D, 1400), (18, A, 1460),
    (19, D, 1500),
    (20, A, 5 * DAY), (20, B, 5 * DAY + 7200),   # the last click of the data
    (21, C, 4 * DAY + 7100), (21, A, 4 * DAY + 7300), (21, B, 4 * DAY + 7400),
    (22, E, 4 * DAY + 8000), (22, A, 4 * DAY + 8100),  # E never in training
    (23, E, 4 * DAY + 9000), (23, E, 4 * DAY + 9001), (23, E, 4 * DAY + 9002),
    (23, E, 4 * DAY + 9003),
    (24, A, 4 * DAY + 9500), (24, E, 4 * DAY + 9600), (24, B, 4 * DAY + 9700),
]


def _iso(seconds):
    dt = datetime.datetime.fromtimestamp(T0 + seconds, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{(seconds * 1000) % 1000:03.0f}Z"


def _write_clicks(path, rows):
    path.write_text("".join(f"{s},{_iso(t)},{i},0\n" for s, i, t in rows))
    return str(path)


def _pairs(events):
    return list(zip(events.session_ids.tolist(), events.item_ids.tolist()))


EXPECTED_TRAIN_FULL = [(10, A), (10, B), (10, C), (12, B), (12, C), (12, A),
                       (11, A), (11, B), (11, C)]
EXPECTED_TEST = [(20, A), (20, B), (21, C), (21, A), (21, B), (24, A), (24, B)]
EXPECTED_TRAIN_TR = [(10, A), (10, B), (10, C), (11, A), (11, B), (11, C)]
EXPECTED_VALID = [(12, B), (12, C), (12, A)]


def test_rsc15_steps_on_hand_built_clicks(tmp_path):
    ev = read_yoochoose_clicks(_write_clicks(tmp_path / "yoochoose-clicks.dat", CLICKS))
    assert len(ev) == len(CLICKS)
    assert ev.times[0] == T0 and ev.times[1] == T0 + 60
    ev = filter_sessions_and_items(ev)
    train, test = split_last_days(ev)
    assert _pairs(train) == EXPECTED_TRAIN_FULL
    assert _pairs(test) == EXPECTED_TEST
    train_tr, valid = split_last_days(train)
    assert _pairs(train_tr) == EXPECTED_TRAIN_TR
    assert _pairs(valid) == EXPECTED_VALID


def test_write_time_splits_writes_the_four_official_files(tmp_path):
    ev = read_yoochoose_clicks(_write_clicks(tmp_path / "yoochoose-clicks.dat", CLICKS))
    ev = filter_sessions_and_items(ev)
    reports = []
    out = tmp_path / "out"
    out.mkdir()
    paths = write_time_splits(str(out), "x", ev, DAY, report=reports.append)
    expected = {"train_full": EXPECTED_TRAIN_FULL, "test": EXPECTED_TEST,
                "train_tr": EXPECTED_TRAIN_TR, "train_valid": EXPECTED_VALID}
    assert sorted(paths) == sorted(expected)
    for name, pairs in expected.items():
        assert paths[name] == str(out / f"x_{name}.txt")
        rows = [tuple(map(int, line.split("\t")[:2]))
                for line in (out / f"x_{name}.txt").read_text().splitlines()[1:]]
        assert rows == pairs, name
    assert reports[0] == "Full train set\n\tEvents: 9\n\tSessions: 3\n\tItems: 3"
    assert [r.split("\n")[0] for r in reports] == [
        "Full train set", "Test set", "Train set", "Validation set"]
    # the second split fails (no training part left): nothing is written
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no training sessions"):
        write_time_splits(str(empty), "x", ev, 3 * DAY + 30, report=reports.append)
    assert list(empty.iterdir()) == []


def _run(script, *args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "scripts", script), *args],
                          capture_output=True, text=True, timeout=120)


def test_preprocess_rsc15_script_writes_the_official_files(tmp_path):
    src = tmp_path / "raw"
    src.mkdir()
    _write_clicks(src / "yoochoose-clicks.dat", CLICKS)
    out = tmp_path / "out"
    r = _run("preprocess_rsc15.py", f"--path_to_original_data={src}",
             f"--path_to_processed_data={out}")
    assert r.returncode == 0, r.stderr
    assert "Full train set\n\tEvents: 9\n\tSessions: 3\n\tItems: 3" in r.stdout
    assert "Test set\n\tEvents: 7\n\tSessions: 3\n\tItems: 3" in r.stdout
    lines = (out / "rsc15_train_full.txt").read_text().splitlines()
    assert lines[0] == "SessionId\tItemId\tTime"
    assert lines[1:3] == [f"10\t{A}\t{float(T0)!r}", f"10\t{B}\t{float(T0 + 60)!r}"]
    expected = {"rsc15_train_full.txt": EXPECTED_TRAIN_FULL, "rsc15_test.txt": EXPECTED_TEST,
                "rsc15_train_tr.txt": EXPECTED_TRAIN_TR,
                "rsc15_train_valid.txt": EXPECTED_VALID}
    for name, pairs in expected.items():
        rows = [tuple(map(int, line.split("\t")[:2]))
                for line in (out / name).read_text().splitlines()[1:]]
        assert rows == pairs, name
    # the files load, and the test file against the training map loses nothing more
    train = load_sessions(str(out / "rsc15_train_full.txt"))
    test = load_sessions(str(out / "rsc15_test.txt"), itemidmap=train)
    assert test.n_events == len(EXPECTED_TEST)


def test_preprocess_rsc15_bad_input_is_one_error_line(tmp_path):
    r = _run("preprocess_rsc15.py", f"--path_to_original_data={tmp_path}",
             f"--path_to_processed_data={tmp_path / 'o'}")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"preprocess_rsc15.py: error: --path_to_original_data: "
        f"{tmp_path / 'yoochoose-clicks.dat'} does not exist"]
    bad = tmp_path / "yoochoose-clicks.dat"
    bad.write_text("1,2014-04-07T10:51:09.277Z,5,0\n1,yesterday,6,0\n")
    r = _run("preprocess_rsc15.py", f"--path_to_original_data={bad}",
             f"--path_to_processed_data={tmp_path / 'o'}")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "line 2: timestamp 'yesterday'" in r.stderr
    bad.write_text("1,2014-04-07T10:51:09.277Z,5\n")
    r = _run("preprocess_rsc15.py", f"--path_to_original_data={bad}",
             f"--path_to_processed_data={tmp_path / 'o'}")
    assert r.returncode == 2 and "line 1 has 3 fields, expected 4" in r.stderr


def test_split_errors():
    ev = Events(np.array([1, 1, 2, 2]), np.array([5, 6, 7, 8]), np.array([0.0, 1, 2, 3]))
    with pytest.raises(ValueError, match="no training sessions"):
        split_last_days(ev, seconds=10.0 ** 6)  # everything ends within the window
    with pytest.raises(ValueError, match="test set is empty"):
        split_last_days(ev, seconds=1.5)        # test items 7, 8 are not in training
    with pytest.raises(ValueError, match="no events"):
        split_last_days(ev.select(np.zeros(4, bool)))


def test_sessionize_by_time_gap():
    users = np.array([1, 2, 1, 1, 2, 1, 1])
    times = np.array([0, 5, 100, 3800, 4000, 3900, 9000])
    # user 1: 0, 100 | 3800, 3900 | 9000 (gaps > 3600 split); user 2: 5 | 4000
    got = sessionize(users, times, session_gap=3600)
    assert got.tolist() == [0, 3, 0, 1, 4, 1, 2]
    assert sessionize(users, times, session_gap=10 ** 6).tolist() == [0, 1, 0, 0, 1, 0, 0]
    with pytest.raises(ValueError, match="session_gap"):
        sessionize(users, times, session_gap=0)


def test_user_sequences_sasrec_format():
    users = np.array(["u2", "u1", "u2", "u1", "u3", "u2", "u1"])
    items = np.array([7, 8, 8, 7, 9, 7, 8])
    times = np.array([30, 20, 10, 10, 5, 30, 15])
    # min_count 2: u3 (1 interaction) and item 9 (1) go; u2 -> 1, u1 -> 2; 7 -> 1, 8 -> 2
    u, i = user_sequences(users, items, times, min_count=2)
    assert u.tolist() == [1, 1, 1, 2, 2, 2]
    assert i.tolist() == [2, 1, 1, 1, 2, 2]  # u2: 8@10, 7@30, 7@30 (tie: input order)
    with pytest.raises(ValueError, match="no interactions"):
        user_sequences(users, items, times, min_count=10)


def test_prepare_ml100k_script_on_a_small_inter_file(tmp_path):
    header = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    rows = []
    for u in range(1, 7):  # 6 users, two sessions each: day 0 and day 30 + u
        for k, item in enumerate([1, 2, 3]):
            rows.append(f"{u}\t{item}\t4\t{1000 * u + 10 * k}")
        for k, item in enumerate([3, 1, 2]):
            rows.append(f"{u}\t{item}\t3\t{(30 + u) * DAY + 10 * k}")
    inter = tmp_path / "x.inter"
    inter.write_text(header + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    r = _run("prepare_ml100k.py", f"--inter_file={inter}", f"--output_dir={out}",
             "--test_days=1.5", "--sasrec_min_count=1")
    assert r.returncode == 0, r.stderr
    test = load_sessions(str(out / "ml100k_test.txt"))
    train = load_sessions(str(out / "ml100k_train_full.txt"))
    # the last 1.5 days hold the day-35 and day-36 sessions of users 5 and 6
    assert test.n_sessions == 2 and train.n_sessions == 10
    assert test.item_ids[test.item_idx].tolist() == [3, 1, 2, 3, 1, 2]
    assert test.times.min() == 35 * DAY
    pairs = (out / "ml-100k.txt").read_text().splitlines()
    assert len(pairs) == 36 and pairs[:6] == ["1 1", "1 2", "1 3", "1 3", "1 1", "1 2"]
    r = _run("prepare_ml100k.py", f"--inter_file={tmp_path / 'none.inter'}",
             f"--output_dir={out}")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"prepare_ml100k.py: error: --inter_file: {tmp_path / 'none.inter'} does not exist"]


def test_prepare_ml100k_reads_the_recbole_copy():
    recbole_file = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, 'scripts'); "
         "import prepare_ml100k as p; print(p.default_inter_file())"],
        cwd=ROOT, capture_output=True, text=True).stdout.strip()
    if not os.path.isfile(recbole_file):
        pytest.skip("recbole is not installed (pip install --no-deps recbole)")
    with open(recbole_file) as f:
        assert f.readline().split("\t")[:2] == ["user_id:token", "item_id:token"]
