"""SQuAD evaluation (official v1.1 / v2.0 semantics) on hand-worked cases, and the script."""

from __future__ import annotations

import json

import pytest

from tests.finetune.fixtures import load_script
from tfmodels.metrics import squad


def _data(qas, version="1.1"):
    return {"version": version, "data": [{"title": "t", "paragraphs": [
        {"context": "c", "qas": [{"id": qid, "question": "q?",
                                  "answers": [{"text": t, "answer_start": 0} for t in answers]}
                                 for qid, answers in qas]}]}]}


def test_normalize_answer():
    assert squad.normalize_answer("The  Quick, brown-fox!") == "quick brownfox"
    assert squad.normalize_answer("an apple") == "apple"
    assert squad.normalize_answer("Theater A") == "theater"


def test_v1_hand_worked():
    data = _data([("q1", ["The Cat", "a dog"]), ("q2", ["big red dog"]), ("q3", ["x"])])
    # q1: "cat" == "cat" (EM 1, F1 1); q2: P=1, R=2/3 -> F1 0.8; q3 missing -> 0.
    result = squad.evaluate_v1(data["data"], {"q1": "cat", "q2": "red dog!"}, log=None)
    assert result["exact_match"] == pytest.approx(100 / 3)
    assert result["f1"] == pytest.approx(60.0)
    assert list(result) == ["exact_match", "f1"]
    assert squad.f1_score("a", "the") == 0.0  # both normalise to nothing


V2 = _data([("q1", ["Paris"]), ("q2", ["the big city"]), ("q3", []), ("q4", [])], "v2.0")
V2_PREDS = {"q1": "paris", "q2": "city", "q3": "", "q4": "london"}
V2_NA = {"q1": 0.1, "q2": 0.2, "q3": 0.9, "q4": 0.3}


def test_v2_hand_worked_breakdown():
    out = squad.evaluate_v2(V2["data"], V2_PREDS, log=None)
    # exact 1, 0, 1, 0; F1 1, 2/3 (P 1, R 1/2), 1 (both empty), 0.
    assert out["exact"] == pytest.approx(50.0)
    assert out["f1"] == pytest.approx(100 * (1 + 2 / 3 + 1) / 4)
    assert out["total"] == 4
    assert out["HasAns_exact"] == pytest.approx(50.0)
    assert out["HasAns_f1"] == pytest.approx(100 * (1 + 2 / 3) / 2)
    assert out["NoAns_exact"] == pytest.approx(50.0) and out["NoAns_total"] == 2
    assert "best_exact" not in out
    assert list(out) == ["exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total",
                         "NoAns_exact", "NoAns_f1", "NoAns_total"]


def test_v2_best_threshold_search():
    out = squad.evaluate_v2(V2["data"], V2_PREDS, V2_NA, log=None)
    # Start at 2 (both no-answer questions right). By na prob: q1 +1 -> 3 (t=0.1),
    # q2 +0 (exact) / +2/3 (F1) -> 3 / 3.667 (t=0.2), q4 -1, q3 0.
    assert out["best_exact"] == pytest.approx(75.0) and out["best_exact_thresh"] == 0.1
    assert out["best_f1"] == pytest.approx(100 * (3 + 2 / 3) / 4)
    assert out["best_f1_thresh"] == 0.2


def test_v2_na_prob_threshold_applied():
    out = squad.evaluate_v2(V2["data"], V2_PREDS, V2_NA, na_prob_thresh=0.15, log=None)
    # q2, q3, q4 predicted unanswerable: q2 0, q3 1, q4 1; q1 stays 1.
    assert out["exact"] == pytest.approx(75.0) and out["f1"] == pytest.approx(75.0)


def test_v2_missing_prediction_left_out():
    preds = dict(V2_PREDS)
    del preds["q2"]
    out = squad.evaluate_v2(V2["data"], preds, log=None)
    assert out["total"] == 3 and out["HasAns_total"] == 1


def test_missing_fields_are_named():
    bad = {"data": [{"paragraphs": [{"context": "c", "qas": [{"id": "q"}]}]}]}
    with pytest.raises(ValueError, match="no 'answers' field"):
        squad.evaluate_v1(bad["data"], {})


def _script(tmp_path, capsys, data, preds, *extra, na=None):
    d, p = tmp_path / "data.json", tmp_path / "pred.json"
    d.write_text(json.dumps(data))
    p.write_text(json.dumps(preds))
    args = [str(d), str(p)]
    if na is not None:
        n = tmp_path / "na.json"
        n.write_text(json.dumps(na))
        args += ["--na-prob-file", str(n)]
    capsys.readouterr()
    rc = load_script("evaluate_squad").main(args + list(extra))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_script_outputs_official_json(tmp_path, capsys):
    rc, out, err = _script(tmp_path, capsys, _data([("q1", ["The Cat"]), ("q2", ["big red dog"])]),
                           {"q1": "cat", "q2": "red dog"})
    assert rc == 0, err
    assert json.loads(out) == pytest.approx({"exact_match": 50.0, "f1": 90.0})
    rc, out, err = _script(tmp_path, capsys, V2, V2_PREDS, na=V2_NA)
    assert rc == 0, err
    assert json.loads(out)["best_f1_thresh"] == 0.2 and json.loads(out)["total"] == 4
    rc, out, err = _script(tmp_path, capsys, {"version": "1.1"}, {})
    assert rc != 0 and "has no 'data' field" in err
    rc, out, err = _script(tmp_path, capsys, V2, V2_PREDS, "--out-file", str(tmp_path / "e.json"))
    assert rc == 0 and json.loads((tmp_path / "e.json").read_text())["total"] == 4
