"""SQuAD evaluation with the official v1.1 and v2.0 semantics (Rajpurkar et al. 2016, 2018).

Mirrors the official ``evaluate-v1.1.py`` and ``evaluate-v2.0.py`` scripts:

* answers are normalised: lower-case, drop ASCII punctuation (``string.punctuation``),
  drop the articles a/an/the (whole words), collapse whitespace;
* exact match = the normalised strings are equal; token F1 = 2PR/(P+R) over the bag of
  normalised tokens; both are the maximum over the gold answers;
* v1.1 (:func:`evaluate_v1`): percentages over every question, a missing prediction scores
  0 (with a message on stderr) -> ``{"exact_match", "f1"}``;
* v2.0 (:func:`evaluate_v2`): a question without gold answers has the gold answer "" (an
  empty prediction is then exact, F1 1); gold answers that normalise to "" are dropped; a
  missing prediction is left out of every total (as the official script does); a question
  whose no-answer probability exceeds ``na_prob_thresh`` (default 1.0) is predicted
  unanswerable; the ``HasAns_*`` / ``NoAns_*`` breakdown; with no-answer probabilities, the
  best threshold search (``best_exact``, ``best_exact_thresh``, ``best_f1``,
  ``best_f1_thresh``): walk the questions by increasing probability, each step moving one
  question from "no answer" to "answered", and keep the best running score.

The functions take the parsed JSON (``dataset["data"]``) and dicts, so they are pure and
know nothing about files. The official precision-recall plots (``--out-image-dir``) are not
reproduced.
"""

from __future__ import annotations

import collections
import re
import string
import sys

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = frozenset(string.punctuation)


def normalize_answer(s):
    """Lower text and remove punctuation, articles and extra whitespace (official)."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def get_tokens(s):
    return normalize_answer(s).split() if s else []


def exact_match_score(prediction, ground_truth):
    """v1.1: True when the normalised strings are equal."""
    return normalize_answer(prediction) == normalize_answer(ground_truth)


def f1_score(prediction, ground_truth):
    """v1.1 token F1 (0 when no token is shared, also for two empty answers)."""
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common = collections.Counter(prediction_tokens) & collections.Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(prediction_tokens)
    recall = num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def compute_exact(a_gold, a_pred):
    """v2.0 exact match as 0/1."""
    return int(normalize_answer(a_gold) == normalize_answer(a_pred))


def compute_f1(a_gold, a_pred):
    """v2.0 token F1: when either side is empty, 1 if both are, else 0."""
    gold_toks = get_tokens(a_gold)
    pred_toks = get_tokens(a_pred)
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if len(gold_toks) == 0 or len(pred_toks) == 0:
        return int(gold_toks == pred_toks)
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(pred_toks)
    recall = 1.0 * num_same / len(gold_toks)
    return (2 * precision * recall) / (precision + recall)


def metric_max_over_ground_truths(metric_fn, prediction, ground_truths):
    return max(metric_fn(prediction, gt) for gt in ground_truths)


def _questions(dataset):
    """Yields the qa dicts of ``dataset`` (the ``data`` list), checking the fields used."""
    if not isinstance(dataset, list):
        raise ValueError("SQuAD data must be a list of articles (the file's 'data' field)")
    for a, article in enumerate(dataset):
        if not isinstance(article, dict) or "paragraphs" not in article:
            raise ValueError(f"article {a} has no 'paragraphs' field")
        for p, paragraph in enumerate(article["paragraphs"]):
            if "qas" not in paragraph:
                raise ValueError(f"article {a} paragraph {p} has no 'qas' field")
            for qa in paragraph["qas"]:
                for key in ("id", "answers"):
                    if key not in qa:
                        raise ValueError(f"article {a} paragraph {p}: a question has no "
                                         f"{key!r} field ({str(qa)[:120]})")
                yield qa


def evaluate_v1(dataset, predictions, log=sys.stderr):
    """Official v1.1: ``{"exact_match": %, "f1": %}`` over all questions."""
    f1 = exact_match = total = 0
    for qa in _questions(dataset):
        total += 1
        if qa["id"] not in predictions:
            if log is not None:
                print(f"Unanswered question {qa['id']} will receive score 0.", file=log)
            continue
        ground_truths = [x["text"] for x in qa["answers"]]
        if not ground_truths:
            raise ValueError(f"question {qa['id']} has no answers: a SQuAD v1.1 file needs "
                             "one per question (for v2.0 data use the v2.0 evaluation)")
        prediction = predictions[qa["id"]]
        exact_match += metric_max_over_ground_truths(exact_match_score, prediction,
                                                     ground_truths)
        f1 += metric_max_over_ground_truths(f1_score, prediction, ground_truths)
    if total == 0:
        raise ValueError("the SQuAD data holds no question")
    return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


def make_qid_to_has_ans(dataset):
    return {qa["id"]: bool(qa["answers"]) for qa in _questions(dataset)}


def get_raw_scores(dataset, preds, log=sys.stdout):
    """Per-question v2.0 exact and F1 (missing predictions are left out)."""
    exact_scores, f1_scores = {}, {}
    for qa in _questions(dataset):
        qid = qa["id"]
        gold_answers = [a["text"] for a in qa["answers"] if normalize_answer(a["text"])]
        if not gold_answers:
            gold_answers = [""]  # For unanswerable questions, only the empty string is right.
        if qid not in preds:
            if log is not None:
                print(f"Missing prediction for {qid}", file=log)
            continue
        a_pred = preds[qid]
        exact_scores[qid] = max(compute_exact(a, a_pred) for a in gold_answers)
        f1_scores[qid] = max(compute_f1(a, a_pred) for a in gold_answers)
    return exact_scores, f1_scores


def apply_no_ans_threshold(scores, na_probs, qid_to_has_ans, na_prob_thresh):
    new_scores = {}
    for qid, s in scores.items():
        pred_na = na_probs[qid] > na_prob_thresh
        new_scores[qid] = float(not qid_to_has_ans[qid]) if pred_na else s
    return new_scores


def make_eval_dict(exact_scores, f1_scores, qid_list=None):
    if not qid_list:
        total = len(exact_scores)
        if total == 0:
            raise ValueError("no prediction matches a question of the SQuAD data")
        return collections.OrderedDict([
            ("exact", 100.0 * sum(exact_scores.values()) / total),
            ("f1", 100.0 * sum(f1_scores.values()) / total),
            ("total", total),
        ])
    total = len(qid_list)
    return collections.OrderedDict([
        ("exact", 100.0 * sum(exact_scores[k] for k in qid_list) / total),
        ("f1", 100.0 * sum(f1_scores[k] for k in qid_list) / total),
        ("total", total),
    ])


def merge_eval(main_eval, new_eval, prefix):
    for k in new_eval:
        main_eval[f"{prefix}_{k}"] = new_eval[k]


def find_best_thresh(preds, scores, na_probs, qid_to_has_ans):
    """Best score (%) and threshold when answering only questions with na_prob <= t."""
    num_no_ans = sum(1 for k in qid_to_has_ans if not qid_to_has_ans[k])
    cur_score = num_no_ans
    best_score = cur_score
    best_thresh = 0.0
    for qid in sorted(na_probs, key=lambda k: na_probs[k]):
        if qid not in scores:
            continue
        if qid_to_has_ans[qid]:
            diff = scores[qid]
        else:
            diff = -1 if preds[qid] else 0
        cur_score += diff
        if cur_score > best_score:
            best_score = cur_score
            best_thresh = na_probs[qid]
    return 100.0 * best_score / len(scores), best_thresh


def find_all_best_thresh(main_eval, preds, exact_raw, f1_raw, na_probs, qid_to_has_ans):
    best_exact, exact_thresh = find_best_thresh(preds, exact_raw, na_probs, qid_to_has_ans)
    best_f1, f1_thresh = find_best_thresh(preds, f1_raw, na_probs, qid_to_has_ans)
    main_eval["best_exact"] = best_exact
    main_eval["best_exact_thresh"] = exact_thresh
    main_eval["best_f1"] = best_f1
    main_eval["best_f1_thresh"] = f1_thresh


def evaluate_v2(dataset, preds, na_probs=None, na_prob_thresh=1.0, log=sys.stdout):
    """Official v2.0 evaluation dict (``exact``, ``f1``, ``total``, ``HasAns_*``,
    ``NoAns_*`` and, when ``na_probs`` is given, ``best_*``)."""
    has_probs = na_probs is not None
    if not has_probs:
        na_probs = {k: 0.0 for k in preds}
    qid_to_has_ans = make_qid_to_has_ans(dataset)
    has_ans_qids = [k for k, v in qid_to_has_ans.items() if v]
    no_ans_qids = [k for k, v in qid_to_has_ans.items() if not v]
    exact_raw, f1_raw = get_raw_scores(dataset, preds, log=log)
    # The official script fails with a KeyError on a missing prediction here; we leave the
    # question out of the breakdown too, as it is left out of the totals.
    has_ans_qids = [k for k in has_ans_qids if k in exact_raw]
    no_ans_qids = [k for k in no_ans_qids if k in exact_raw]
    missing = [qid for qid in exact_raw if qid not in na_probs]
    if missing:
        raise ValueError(f"no no-answer probability for question {missing[0]} "
                         f"({len(missing)} question(s) missing from the na-prob file)")
    exact_thresh = apply_no_ans_threshold(exact_raw, na_probs, qid_to_has_ans, na_prob_thresh)
    f1_thresh = apply_no_ans_threshold(f1_raw, na_probs, qid_to_has_ans, na_prob_thresh)
    out_eval = make_eval_dict(exact_thresh, f1_thresh)
    if has_ans_qids:
        merge_eval(out_eval, make_eval_dict(exact_thresh, f1_thresh, qid_list=has_ans_qids),
                   "HasAns")
    if no_ans_qids:
        merge_eval(out_eval, make_eval_dict(exact_thresh, f1_thresh, qid_list=no_ans_qids),
                   "NoAns")
    if has_probs:
        find_all_best_thresh(out_eval, preds, exact_raw, f1_raw, na_probs, qid_to_has_ans)
    return out_eval
