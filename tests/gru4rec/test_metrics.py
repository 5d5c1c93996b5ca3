"""Ranks under the three tie policies and recall/MRR/HR/NDCG on hand-worked examples."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfmodels.metrics.recsys import (
    HitNdcgAccumulator,
    RankingMetrics,
    RecallMrrAccumulator,
    check_cutoffs,
    compute_ranks,
    compute_ranks_np,
    evaluate_ranking,
    format_results,
    hit_rate_at_k,
    mrr_at_k,
    ndcg_at_k,
    ranking_sums,
    ranks_from_counts,
    recall_at_k,
    target_ranks,
)

# row 0: target item 2 (score 0.5); greater: 0.9, 0.7 -> 2; equal (incl. target): 0.5, 0.5, 0.5 -> 3
# row 1: target item 0 (score 1.0), the unique maximum
# row 2: target item 3 (score 0.0); greater: 4 items; equal: target only
# row 3: target item 1, every score equal (a saturated output): 6 ties
SCORES = np.array([
    [0.9, 0.5, 0.5, 0.7, 0.1, 0.5],
    [1.0, 0.2, 0.3, 0.4, 0.5, 0.6],
    [0.1, 0.2, 0.3, 0.0, 0.4, -1.0],
    [0.3, 0.3, 0.3, 0.3, 0.3, 0.3],
], dtype=np.float32)
TARGETS = np.array([2, 0, 3, 1])


@pytest.mark.parametrize("mode,expected", [
    ("standard", [3, 1, 5, 1]),
    ("conservative", [5, 1, 5, 6]),
    ("median", [4, 1, 5, 3.5]),
])
def test_ranks_hand_worked(mode, expected):
    assert np.asarray(compute_ranks(SCORES, TARGETS, mode)).tolist() == expected
    assert compute_ranks_np(SCORES, TARGETS, mode).tolist() == expected


def test_nan_target_score_is_an_error():
    scores = SCORES.copy()
    scores[1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        compute_ranks_np(scores, TARGETS)


def test_ranks_from_counts_matches_the_formulas():
    assert ranks_from_counts([2, 0], [3, 1], "standard").tolist() == [3, 1]
    assert ranks_from_counts([2, 0], [3, 1], "conservative").tolist() == [5, 1]
    assert ranks_from_counts([2, 0], [3, 1], "median").tolist() == [4, 1]


def test_unknown_mode_and_bad_cutoffs():
    with pytest.raises(ValueError, match="tiebreaking"):
        compute_ranks(SCORES, TARGETS, "tiebreaking")
    for bad in ([], [0], [20, -1], [2.5], [True]):
        with pytest.raises(ValueError, match="cut-offs"):
            check_cutoffs(bad)
    assert check_cutoffs(20) == (20,)


def test_recall_is_rank_le_k_and_mrr_counts_zero_beyond_k():
    ranks = np.array([1, 3, 20, 21, 5])
    assert recall_at_k(ranks, 20).tolist() == [1, 1, 1, 0, 1]  # rank 20 is a hit
    assert recall_at_k(ranks, 3).tolist() == [1, 1, 0, 0, 0]
    assert mrr_at_k(ranks, 20).tolist() == pytest.approx([1, 1 / 3, 1 / 20, 0, 1 / 5])
    assert hit_rate_at_k(ranks, 3).tolist() == [1, 1, 0, 0, 0]
    assert ndcg_at_k(ranks, 5).tolist() == pytest.approx(
        [1.0, 1 / math.log2(4), 0, 0, 1 / math.log2(6)])
    with pytest.raises(ValueError, match="ranks"):
        recall_at_k([0, 1], 5)
    with pytest.raises(ValueError, match="ranks"):
        mrr_at_k([np.nan], 5)


def test_accumulators_average_over_all_events_of_all_batches():
    acc = RecallMrrAccumulator(cutoffs=(1, 5))
    acc.update([3, 1])           # median ranks from the example: 4, 1, 5, 3.5
    acc.update([5, 3.5])
    acc.update(np.array([4.0]))
    ranks = np.array([3, 1, 5, 3.5, 4])
    res = acc.result()
    assert acc.count == 5
    assert res[1] == pytest.approx((1 / 5, 1 / 5))
    assert res[5] == pytest.approx((1.0, np.mean(1 / ranks)))
    hn = HitNdcgAccumulator(cutoffs=(3,))
    hn.update([1, 2, 4])
    assert hn.result()[3] == pytest.approx((2 / 3, (1 + 1 / math.log2(3)) / 3))
    with pytest.raises(ValueError, match="no events"):
        RecallMrrAccumulator().result()


def test_format_results_official_form():
    text = format_results({5: (0.5, 0.25), 20: (0.75, 0.3333333)})
    assert text == "Recall@5: 0.500000 MRR@5: 0.250000\nRecall@20: 0.750000 MRR@20: 0.333333"


# ----------------------------------------------------------------- shared in-graph ranking


def _np_ranks(scores, targets, mode, excluded=None):
    """Reference: explicit comparisons over the items that are not excluded."""
    out = []
    for i, t in enumerate(targets):
        keep = np.ones(scores.shape[1], bool)
        if excluded is not None:
            keep[list(excluded[i])] = False
            keep[t] = True
        s, ts = scores[i][keep], scores[i, t]
        g, e = (s > ts).sum(), (s == ts).sum()
        out.append({"standard": g + 1, "conservative": g + e,
                    "median": g + 1 + 0.5 * (e - 1)}[mode])
    return np.array(out, float)


@pytest.mark.parametrize("mode", ["standard", "conservative", "median"])
def test_target_ranks_with_excluded_items(mode):
    # row 0 excludes 0.9 and 0.7 (both above the target) and a tie; the padding -1 is ignored
    # row 2 lists its own target among the excluded: the target is never removed
    exclude = np.array([[0, 3, 1], [-1, -1, -1], [3, 4, -1], [0, 0, 2]])
    excluded = [{0, 3, 1}, set(), {3, 4}, {0, 2}]
    got = np.asarray(target_ranks(SCORES, TARGETS, mode, exclude=exclude))
    assert got.tolist() == _np_ranks(SCORES, TARGETS, mode, excluded).tolist()
    mask = np.zeros(SCORES.shape, bool)
    for i, ex in enumerate(excluded):
        mask[i, list(ex)] = True
    assert np.asarray(target_ranks(SCORES, TARGETS, mode, exclude=mask)).tolist() == got.tolist()
    if mode == "standard":  # hand-worked: row 0 keeps 0.5 0.5 0.1 -> rank 1
        assert got.tolist() == [1, 1, 4, 1]


def test_ranking_sums_and_ranking_metrics():
    ranks = np.array([1, 3, 20, 21, 5, 2.5])
    sums = np.asarray(ranking_sums(ranks, (3, 20), weights=[1, 1, 1, 1, 1, 0]))
    want = [[2, 1 + 1 / 3, 1 + 0.5], [4, 1 + 1 / 3 + 1 / 20 + 1 / 5, 1 + 0.5 +
                                      1 / math.log2(21) + 1 / math.log2(6)]]
    assert sums == pytest.approx(np.array(want), abs=1e-12)
    m = RankingMetrics((3, 20))
    m.update_sums(sums, 5)
    m.update([2.5])
    res = m.result()
    assert res[3]["recall"] == pytest.approx(3 / 6)
    assert res[3]["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 2.5) / 6)
    assert res[20]["ndcg"] == pytest.approx(np.mean(ndcg_at_k(ranks, 20)))
    assert m.pairs()[20] == (res[20]["recall"], res[20]["mrr"])
    with pytest.raises(ValueError, match="shape"):
        m.update_sums(np.zeros((3, 3)), 1)


def test_evaluate_ranking_batches_match_numpy():
    rng = np.random.default_rng(0)
    table = rng.integers(0, 4, size=(7, 30)).astype(np.float32)  # integer scores: ties
    users = rng.integers(0, 7, size=50)
    targets = rng.integers(0, 30, size=50)
    history = rng.integers(-1, 30, size=(50, 6))

    def score_fn(u):
        return tf.gather(table, u)

    batches = [(users[i:i + 16], targets[i:i + 16], history[i:i + 16]) for i in range(0, 50, 16)]
    res = evaluate_ranking(score_fn, batches, cutoffs=(1, 5), mode="conservative").result()
    excluded = [set(h[h >= 0]) for h in history]
    ranks = _np_ranks(table[users], targets, "conservative", excluded)
    for k in (1, 5):
        assert res[k]["recall"] == pytest.approx(recall_at_k(ranks, k).mean(), abs=1e-12)
        assert res[k]["mrr"] == pytest.approx(mrr_at_k(ranks, k).mean(), abs=1e-12)
        assert res[k]["ndcg"] == pytest.approx(ndcg_at_k(ranks, k).mean(), abs=1e-12)
    plain = evaluate_ranking(score_fn, [(users, targets)], cutoffs=(5,)).result()[5]
    assert plain["recall"] == pytest.approx(
        recall_at_k(_np_ranks(table[users], targets, "standard"), 5).mean())
    with pytest.raises(ValueError, match="NaN"):
        evaluate_ranking(lambda u: tf.gather(table, u) * np.nan, [(users, targets)])
    with pytest.raises(ValueError, match="no batches"):
        evaluate_ranking(score_fn, [])
