"""Official SQuAD evaluation (v1.1 and v2.0) on a data file and a predictions file.

Command line of the official ``evaluate-v2.0.py``::

    python scripts/evaluate_squad.py data.json predictions.json \
        [--na-prob-file null_odds.json] [--na-prob-thresh 1.0] [--out-file eval.json]

The version follows the data file's ``version`` field (``1.1`` -> the v1.1 script's output
``{"exact_match": ..., "f1": ...}`` on one line; anything else -> the v2.0 dict, indented);
``--version`` overrides it, and ``--na-prob-file`` implies v2.0. Files are read through
tf.io.gfile. Logic: :mod:`tfmodels.metrics.squad`. The official precision-recall plots
(``--out-image-dir``) are not produced.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfmodels import io  # noqa: E402
from tfmodels.metrics import squad  # noqa: E402


def parse_args(argv):
    parser = argparse.ArgumentParser("Official evaluation script for SQuAD version 1.1 / 2.0.")
    parser.add_argument("data_file", metavar="data.json", help="Input data JSON file.")
    parser.add_argument("pred_file", metavar="pred.json", help="Model predictions.")
    parser.add_argument("--out-file", "-o", metavar="eval.json",
                        help="Write accuracy metrics to file (default is stdout).")
    parser.add_argument("--na-prob-file", "-n", metavar="na_prob.json",
                        help="Model estimates of probability of no answer.")
    parser.add_argument("--na-prob-thresh", "-t", type=float, default=1.0,
                        help='Predict "" if no-answer probability exceeds this (default = 1.0).')
    parser.add_argument("--version", choices=("auto", "1.1", "2.0"), default="auto",
                        help="Evaluation semantics; auto follows the data file's version.")
    parser.add_argument("--verbose", "-v", action="store_true")
    return parser.parse_args(argv)


def _load_json(path, flag):
    if not io.exists(path):
        raise FileNotFoundError(f"{flag}: file not found: {path}")
    try:
        return json.loads(io.read_text(path))
    except json.JSONDecodeError as e:
        raise ValueError(f"{flag}: {path} is not valid JSON ({e})") from None


def run(opts):
    dataset_json = _load_json(opts.data_file, "data_file")
    if not isinstance(dataset_json, dict) or "data" not in dataset_json:
        raise ValueError(f"data_file: {opts.data_file} has no 'data' field (not a SQuAD file)")
    preds = _load_json(opts.pred_file, "pred_file")
    if not isinstance(preds, dict):
        raise ValueError(f"pred_file: {opts.pred_file} must map question ids to answer strings")
    version = opts.version
    if version == "auto":
        version = "1.1" if str(dataset_json.get("version", "")).startswith("1") else "2.0"
        if opts.na_prob_file:
            version = "2.0"
    if version == "1.1":
        return json.dumps(squad.evaluate_v1(dataset_json["data"], preds))
    na_probs = _load_json(opts.na_prob_file, "--na-prob-file") if opts.na_prob_file else None
    out_eval = squad.evaluate_v2(dataset_json["data"], preds, na_probs, opts.na_prob_thresh,
                                 log=sys.stderr)
    return json.dumps(out_eval, indent=2)


def main(argv=None):
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        text = run(opts)
    except (ValueError, FileNotFoundError) as e:
        print(f"evaluate_squad.py: error: {e}", file=sys.stderr)
        return 2
    if opts.out_file:
        with io.atomic_write(opts.out_file, "w") as f:
            f.write(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
