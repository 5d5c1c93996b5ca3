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

Shared ranking evaluation (GRU4Rec and SASRec): `target_ranks` (tie policy, exclusion of
seen items), `ranking_sums` (recall/HR, MRR, NDCG at several cut-offs) and `RankingMetrics`
(accumulation) run inside one compiled evaluation step; `evaluate_ranking` drives it for
stateless models. The NumPy helpers below them are the reference forms.
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
    "RANKING_METRICS",
    "exclusion_mask",
    "target_ranks",
    "ranking_sums",
    "RankingMetrics",
    "evaluate_ranking",
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

    Full ranking over every column. Works eagerly and inside `tf.function`; the same as
    `target_ranks` without exclusions.
    """
    return target_ranks(scores, targets, mode)


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


# ----------------------------------------------------------------------------- in-graph ranking
#
# The shared ranking evaluation of the next-item models (GRU4Rec, SASRec). The pieces work
# eagerly and inside `tf.function`, so a model's evaluation step can compute its scores, the
# ranks and the per-batch metric sums in ONE compiled call (no NumPy round trip per batch):
#
#   ranks = target_ranks(scores, targets, mode, exclude=history)   # [B] float32
#   sums = ranking_sums(ranks, cutoffs)                            # [len(cutoffs), 3]
#   metrics.update_sums(sums, count)                               # RankingMetrics, host side
#
# `evaluate_ranking` is the driver for stateless models (scores from one input batch, e.g.
# SASRec over a user's history); `tfmodels.models.gru4rec.evaluation` drives the stateful,
# session-parallel case with the same pieces.

RANKING_METRICS = ("recall", "mrr", "ndcg")


def exclusion_mask(exclude, n_items, targets=None, pad: int = -1) -> tf.Tensor:
    """bool [B, n_items]: True at the items listed in `exclude` (int [B, L] item indices,
    padded with `pad`; repeats allowed), never at `targets` (int [B]) when given."""
    exclude = tf.cast(tf.convert_to_tensor(exclude), tf.int32)
    b = tf.shape(exclude)[0]
    n = tf.cast(n_items, tf.int32)
    # padding (and any index outside [0, n)) goes to an extra column that is dropped
    col = tf.where((exclude == pad) | (exclude < 0) | (exclude >= n), n, exclude)
    row = tf.broadcast_to(tf.range(b)[:, None], tf.shape(col))
    idx = tf.stack([tf.reshape(row, [-1]), tf.reshape(col, [-1])], axis=1)
    hits = tf.scatter_nd(idx, tf.ones([tf.shape(idx)[0]], tf.int32), tf.stack([b, n + 1]))
    mask = hits[:, :n] > 0
    if targets is not None:
        targets = tf.cast(tf.convert_to_tensor(targets), tf.int32)
        mask = mask & ~tf.one_hot(targets, n, on_value=True, off_value=False, dtype=tf.bool)
    return mask


def target_ranks(scores, targets, mode: str = "standard", exclude=None, pad: int = -1,
                 return_nan: bool = False):
    """Rank (float32 [B]) of `targets` (int [B]) among all columns of `scores` [B, n_items].

    Ties follow `mode` (module docstring). `exclude` removes items from the ranking (seen
    items in a full-ranking protocol): either int [B, L] item indices padded with `pad`
    or a bool mask [B, n_items]; the target itself is never removed. For a sampled
    protocol pass the scores of [target, negatives...] with targets = 0.

    With `return_nan=True` also returns the number (int32) of NaN target scores (a diverged
    model), so a compiled step can report it instead of ranking garbage.
    """
    check_mode(mode)
    scores = tf.convert_to_tensor(scores)
    targets = tf.cast(tf.convert_to_tensor(targets), tf.int32)
    target_scores = tf.gather(scores, targets, axis=1, batch_dims=1)[:, None]
    greater = scores > target_scores
    equal = scores == target_scores if mode != "standard" else None
    if exclude is not None:
        exclude = tf.convert_to_tensor(exclude)
        if exclude.dtype != tf.bool:
            exclude = exclusion_mask(exclude, tf.shape(scores)[1], targets, pad)
        else:
            exclude = exclude & ~tf.one_hot(targets, tf.shape(scores)[1], on_value=True,
                                            off_value=False, dtype=tf.bool)
        greater = greater & ~exclude
        if equal is not None:
            equal = equal & ~exclude
    n_greater = tf.reduce_sum(tf.cast(greater, tf.float32), axis=1)
    if mode == "standard":
        ranks = n_greater + 1.0
    else:
        n_equal = tf.reduce_sum(tf.cast(equal, tf.float32), axis=1)
        ranks = (n_greater + n_equal if mode == "conservative"
                 else n_greater + 0.5 * (n_equal - 1.0) + 1.0)
    if return_nan:
        n_nan = tf.reduce_sum(tf.cast(tf.math.is_nan(target_scores), tf.int32))
        return ranks, n_nan
    return ranks


def ranking_sums(ranks, cutoffs, weights=None) -> tf.Tensor:
    """Per-batch sums (float64 [len(cutoffs), 3]) of (recall = HR, MRR, NDCG) per cut-off.

    recall@k = [rank <= k], MRR@k = [rank <= k] / rank, NDCG@k = [rank <= k] /
    log2(rank + 1) (one relevant item). `weights` [B] (e.g. 0 for padding rows) scale each
    event. Feed the result to `RankingMetrics.update_sums`.
    """
    cutoffs = check_cutoffs(cutoffs)
    # float64: ranks are exact in float32, the per-event terms and sums are not
    r = tf.cast(tf.convert_to_tensor(ranks), tf.float64)[None, :]  # [1, B]
    k = tf.constant(cutoffs, tf.float64)[:, None]                   # [K, 1]
    hit = tf.cast(r <= k, tf.float64)
    if weights is not None:
        hit = hit * tf.cast(weights, tf.float64)[None, :]
    per = tf.stack([hit, hit / r, hit * (np.log(2.0) / tf.math.log(r + 1.0))], axis=2)
    return tf.reduce_sum(per, axis=1)                                # [K, 3] float64


class RankingMetrics:
    """Recall (= HR), MRR and NDCG at several cut-offs, averaged over every ranked event.

    Fed either per-batch sums from a compiled step (`update_sums(ranking_sums(...), n)`) or
    ranks (`update(ranks)`). Sums are kept in float64 on the host.
    `result()` -> {k: {"recall": r, "mrr": m, "ndcg": n}}; `pairs("recall", "mrr")` ->
    {k: (r, m)} (the official GRU4Rec form, printed by `format_results`).
    """

    def __init__(self, cutoffs=(20,)):
        self.cutoffs = check_cutoffs(cutoffs)
        self.reset()

    def reset(self):
        self.count = 0
        self._sums = np.zeros((len(self.cutoffs), 3), np.float64)

    def update_sums(self, sums, count) -> None:
        sums = np.asarray(sums, dtype=np.float64)
        if sums.shape != self._sums.shape:
            raise ValueError(f"sums must have shape {self._sums.shape}, got {sums.shape}")
        self._sums += sums
        self.count += int(count)

    def update(self, ranks) -> None:
        ranks = _ranks(ranks)
        self.count += len(ranks)
        for i, k in enumerate(self.cutoffs):
            self._sums[i] += (recall_at_k(ranks, k).sum(), mrr_at_k(ranks, k).sum(),
                              ndcg_at_k(ranks, k).sum())

    def result(self) -> dict:
        if self.count == 0:
            raise ValueError("no events were evaluated")
        means = self._sums / self.count
        return {k: dict(zip(RANKING_METRICS, map(float, means[i])))
                for i, k in enumerate(self.cutoffs)}

    def pairs(self, first: str = "recall", second: str = "mrr") -> dict:
        res = self.result()
        return {k: (v[first], v[second]) for k, v in res.items()}


def evaluate_ranking(score_fn, batches, cutoffs=(20,), mode: str = "standard",
                     pad: int = -1, jit_compile: bool = False) -> RankingMetrics:
    """Full ranking of stateless models: one compiled call per batch (scores, ranks, sums).

    Args:
      score_fn: TF-traceable `inputs -> scores [B, n_items]` (e.g. a model's scoring of a
        batch of histories).
      batches: iterable of `(inputs, targets)` or `(inputs, targets, exclude)` with
        `targets` int [B] item indices and `exclude` int [B, L] items not to rank (padded
        with `pad`; e.g. the items the user has already seen) or bool [B, n_items].
        `inputs` may be any nest of tensors/arrays.
      cutoffs, mode: metric cut-offs and tie policy.
      jit_compile: compile the step with XLA (pad batches to one size to avoid recompiles).

    Returns:
      The filled `RankingMetrics` (`.result()`, `.pairs()`, `.count`).

    Raises:
      ValueError: unknown mode, bad cut-offs, no batches, or a NaN target score.
    """
    check_mode(mode)
    metrics = RankingMetrics(cutoffs)
    cut = metrics.cutoffs

    def step(inputs, targets, exclude):
        scores = score_fn(inputs)
        ranks, n_nan = target_ranks(scores, targets, mode, exclude=exclude, pad=pad,
                                    return_nan=True)
        return ranking_sums(ranks, cut), n_nan

    compiled = tf.function(step, reduce_retracing=True, jit_compile=jit_compile)
    for batch in batches:
        if len(batch) == 2:
            (inputs, targets), exclude = batch, None
        else:
            inputs, targets, exclude = batch
        sums, n_nan = compiled(inputs, targets, exclude)
        if int(n_nan):
            raise ValueError("NaN scores: the model cannot be evaluated")
        metrics.update_sums(sums, np.shape(targets)[0])
    if metrics.count == 0:
        raise ValueError("no batches to evaluate")
    return metrics
