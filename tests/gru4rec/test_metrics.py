"""Ranks under the three tie policies and recall/MRR/HR/NDCG on hand-worked examples."""

import math

import numpy as np
import pytest

from tfmodels.metrics.recsys import (
    HitNdcgAccumulator,
    RecallMrrAccumulator,
    check_cutoffs,
    compute_ranks,
    compute_ranks_np,
    format_results,
    hit_rate_at_k,
    mrr_at_k,
    ndcg_at_k,
    ranks_from_counts,
    recall_at_k,
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
