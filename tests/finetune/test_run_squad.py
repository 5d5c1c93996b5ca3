"""run_squad.py end to end on tiny SQuAD-format files, scored by evaluate_squad.py."""

from __future__ import annotations

import json

import pytest

from tests.finetune.fixtures import load_script, run_script, synthetic_squad


def test_trains_and_predicts_original_files(squad_run, capsys):
    d, _, proc = squad_run
    out = d / "out"
    preds = json.loads((out / "predictions.json").read_text())
    nbest = json.loads((out / "nbest_predictions.json").read_text())
    assert not (out / "null_odds.json").exists()
    assert len(preds) == 24 and set(preds) == set(nbest)
    for entries in nbest.values():
        assert 1 <= len(entries) <= 20
        assert list(entries[0]) == ["text", "probability", "start_logit", "end_logit"]
        assert sum(e["probability"] for e in entries) == pytest.approx(1.0)
    assert (out / "model.ckpt-40.index").exists()
    capsys.readouterr()
    rc = load_script("evaluate_squad").main([str(d / "dev.json"), str(out / "predictions.json")])
    result = json.loads(capsys.readouterr().out)
    assert rc == 0 and set(result) == {"exact_match", "f1"}
    assert result["exact_match"] >= 80.0, (result, proc.stdout[-1500:])


def test_v2_predict_from_directory_checkpoint(squad_run, tmp_path, capsys):
    d, common, _ = squad_run
    (tmp_path / "dev2.json").write_text(json.dumps(synthetic_squad(12, 3, version_2=True)))
    proc = run_script("run_squad", *common, f"--output_dir={tmp_path / 'v2'}",
                      f"--init_checkpoint={d / 'out'}", f"--predict_file={tmp_path / 'dev2.json'}",
                      "--do_predict", "--version_2_with_negative")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Initialised from" in proc.stdout and "missing 0" in proc.stdout
    odds = json.loads((tmp_path / "v2" / "null_odds.json").read_text())
    assert len(odds) == 12 and all(isinstance(v, float) for v in odds.values())
    capsys.readouterr()
    rc = load_script("evaluate_squad").main([
        str(tmp_path / "dev2.json"), str(tmp_path / "v2" / "predictions.json"),
        "--na-prob-file", str(tmp_path / "v2" / "null_odds.json")])
    result = json.loads(capsys.readouterr().out)
    assert rc == 0 and result["total"] == 12 and result["NoAns_total"] == 3
    assert "best_f1_thresh" in result


def test_max_seq_length_too_small_for_the_query(squad_run, tmp_path):
    d, common, _ = squad_run
    args = [a for a in common if not a.startswith(("--max_seq_length", "--max_query_length"))]
    proc = run_script("run_squad", *args, "--max_seq_length=10", "--max_query_length=8",
                      f"--output_dir={tmp_path / 'x'}", f"--predict_file={d / 'dev.json'}",
                      "--do_predict")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert ("The max_seq_length (10) must be greater than max_query_length (8) + 3"
            in proc.stderr)
