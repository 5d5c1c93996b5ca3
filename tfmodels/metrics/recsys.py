"""Ranking metrics for next-item recommendation.

The rank of the target among all scored items follows the official GRU4Rec evaluation
(hidasib/GRU4Rec `evaluation.py`), with its three ways of handling ties:

- standard:     rank = #(score > target) + 1           (ties count in the target's favour)
- conservative: rank = #(score >= target)              (ties count against it)
- median:       the mean of the two, #(score > target) + 0.5 * (#(score == target) - 1) + 1

`#(score >= target)` includes the target itself. Recall@k is the fraction of events with
rank <= k (not rank < k, a known off-by-one in third-party code); MRR@k averages 1/rank over
events, counting 0 where rank > k. HR@k and NDCG@k (one relevant item: 1/log2(rank + 1)) are
the SASRec metrics.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

TIE_MODES = ("standard", "conservative", "median")

__all__ = [
    "TIE_MODES",
    "check_mode",
    "check_cutoffs",
    "ranks_from_counts",
    "compute_ranks",
    "compute_ranks_np",
    "recall_at_k",
    "mrr_at_k",
    "hit_rate_at_k",
    "ndcg_at_k",
    "RecallMrrAccumulator",
    "HitNdcgAccumulator",
    "format_results",
]


def check_mode(mode: str) -> str:
    if mode not in TIE_MODES:
        raise ValueError(f"tie handling mode must be one of {TIE_MODES}, got {mode!r}")
    return mode


def check_cutoffs(cutoffs) -> tuple:
    if isinstance(cutoffs, (int, np.integer)):
        cutoffs = (cutoffs,)
    cutoffs = tuple(cutoffs)
    if not cutoffs or any(
        not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1 for k in cutoffs
    ):
        raise ValueError(f"cut-offs must be positive integers, got {cutoffs!r}")
    return tuple(int(k) for k in cutoffs)


def ranks_from_counts(n_greater, n_equal, mode: str = "standard") -> np.ndarray:
    """Rank of the target from #(score > target) and #(score == target) (target included)."""
    check_mode(mode)
    n_greater = np.asarray(n_greater, dtype=np.float64)
    n_equal = np.asarray(n_equal, dtype=np.float64)
    if mode == "standard":
        return n_greater + 1.0
    if mode == "conservative":
        return n_greater + n_equal
    return n_greater + 0.5 * (n_equal - 1.0) + 1.0


def compute_ranks(scores, targets, mode: str = "standard") -> tf.Tensor:
    """Ranks (float32 [B]) of `targets` (int [B]) in each row of `scores` ([B, n_items]).

    Full ranking over every column. Works eagerly and inside `tf.function`.
    """
    check_mode(mode)
    scores = tf.convert_to_tensor(scores)
    targets = tf.cast(tf.convert_to_tensor(targets), tf.int32)
    target_scores = tf.gather(scores, targets, axis=1, batch_dims=1)[:, None]
    n_greater = tf.reduce_sum(tf.cast(scores > target_scores, tf.float32), axis=1)
    if mode == "standard":
        return n_greater + 1.0
    n_equal = tf.reduce_sum(tf.cast(scores == target_scores, tf.float32), axis=1)
    if mode == "conservative":
        return n_greater + n_equal
    return n_greater + 0.5 * (n_equal - 1.0) + 1.0


def compute_ranks_np(scores, targets, mode: str = "standard") -> np.ndarray:
    """NumPy version of `compute_ranks` (float64 [B]); faster on CPU for large item counts.

    Raises ValueError if a target's score is NaN (a diverged model).
    """
    check_mode(mode)
    scores = np.asarray(scores)
    targets = np.asarray(targets, dtype=np.int64)
    target_scores = scores[np.arange(len(targets)), targets][:, None]
    if np.isnan(target_scores).any():
        raise ValueError("NaN scores: the model cannot be evaluated")
    if mode == "conservative":
        return np.count_nonzero(scores >= target_scores, axis=1).astype(np.float64)
    n_greater = np.count_nonzero(scores > target_scores, axis=1).astype(np.float64)
    if mode == "standard":
        return n_greater + 1.0
    n_equal = np.count_nonzero(scores == target_scores, axis=1).astype(np.float64)
    return n_greater + 0.5 * (n_equal - 1.0) + 1.0


def _ranks(ranks) -> np.ndarray:
    ranks = np.asarray(ranks, dtype=np.float64).reshape(-1)
    if np.any(~(ranks >= 1)):
        raise ValueError("ranks must be >= 1 (and not NaN)")
    return ranks


def recall_at_k(ranks, k: int) -> np.ndarray:
    """Per-event recall@k (hit): 1.0 where rank <= k."""
    return (_ranks(ranks) <= k).astype(np.float64)


def mrr_at_k(ranks, k: int) -> np.ndarray:
    """Per-event reciprocal rank, 0 where rank > k."""
    r = _ranks(ranks)
    return np.where(r <= k, 1.0 / r, 0.0)


def hit_rate_at_k(ranks, k: int) -> np.ndarray:
    """Per-event HR@k (one relevant item: the same as recall@k)."""
    return recall_at_k(ranks, k)


def ndcg_at_k(ranks, k: int) -> np.ndarray:
    """Per-event NDCG@k with one relevant item: 1 / log2(rank + 1) where rank <= k."""
    r = _ranks(ranks)
    return np.where(r <= k, 1.0 / np.log2(r + 1.0), 0.0)


class _Accumulator:
    """Sums per-event metric values over batches of ranks; `result()` gives the means."""

    _fns: tuple = ()

    def __init__(self, cutoffs=(20,)):
        self.cutoffs = check_cutoffs(cutoffs)
        self.reset()

    def reset(self):
        self.count = 0
        self._sums = {k: [0.0, 0.0] for k in self.cutoffs}

    def update(self, ranks):
        ranks = _ranks(np.asarray(ranks))
        self.count += len(ranks)
        first, second = self._fns
        for k in self.cutoffs:
            self._sums[k][0] += float(first(ranks, k).sum())
            self._sums[k][1] += float(second(ranks, k).sum())

    def result(self) -> dict:
        """{k: (metric_a, metric_b)} averaged over all events seen."""
        if self.count == 0:
            raise ValueError("no events were evaluated")
        return {k: (s[0] / self.count, s[1] / self.count) for k, s in self._sums.items()}


class RecallMrrAccumulator(_Accumulator):
    """Recall@k and MRR@k over all events: `result()` -> {k: (recall, mrr)}."""

    _fns = (recall_at_k, mrr_at_k)


class HitNdcgAccumulator(_Accumulator):
    """HR@k and NDCG@k over all events: `result()` -> {k: (hr, ndcg)}."""

    _fns = (hit_rate_at_k, ndcg_at_k)


def format_results(results: dict, names=("Recall", "MRR")) -> str:
    """One line per cut-off in the official run.py form: `Recall@20: 0.xxxxxx MRR@20: 0.xxxxxx`."""
    a, b = names
    return "\n".join(f"{a}@{k}: {v[0]:.6f} {b}@{k}: {v[1]:.6f}" for k, v in results.items())
