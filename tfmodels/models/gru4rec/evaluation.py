"""Full-ranking, session-parallel evaluation of next-item models (GRU4Rec `batch_eval`).

As the official evaluation (hidasib/GRU4Rec_PyTorch_Official `evaluation.batch_eval`):
test sessions run session-parallel in large batches (512 lanes by default) with the hidden
state of a lane zeroed whenever it takes a new session; at every step the target (the next
item) is ranked against *all* items (no sampled negatives) and recall@k / MRR@k (and NDCG@k)
are averaged over every (input, next item) event. Ranks, tie policies and metric sums are
the shared ones of `tfmodels.metrics.recsys` (also used by SASRec).

Input: the session-parallel layout of the test set, as arrays (this module reads no files
and knows no data classes):

  `(inputs, targets, resets)`, each [steps, lanes]: the input item index and next item
  index of every lane at every step (-1 where the lane is inactive: once a lane has no
  session left it stays inactive), and `resets` True where a new session starts in that
  lane at that step (its hidden state is zeroed before the step).

Any object with a `schedule()` method returning these arrays is accepted too, e.g.
`pipelines.sessions.SessionParallelIterator(test_data, 512)`.

The model is used only through `initial_state(batch) -> list of [batch, units] tensors`
(possibly empty, for stateless baselines) and a TF-traceable `score_step(items, hidden,
training=False) -> (scores [B, n_items], new hidden list)`.

Speed: the whole evaluation loop runs in compiled calls (`tf.while_loop` over the steps:
state reset, model step, ranks and metric sums), one call per segment of steps run at the
same width. Lanes that have finished are masked (weight 0) rather than compacted until fewer
than `SHRINK` of the running lanes are active; then the running lanes and hidden rows are
compacted once. So a test set costs a handful of calls, not one per step. With
`jit_compile=True` every step (model, ranks, sums) is one XLA computation, compiled once per
lane count: faster steps (about 15% at 400 items) for a few seconds of compilation, worth it
for large test sets.
"""

from __future__ import annotations

import weakref

import numpy as np
import tensorflow as tf

from tfmodels.metrics.recsys import (
    RankingMetrics,
    check_cutoffs,
    check_mode,
    ranking_sums,
    target_ranks,
)

__all__ = ["evaluate", "evaluate_metrics", "evaluate_ranks", "session_parallel_arrays"]

SHRINK = 0.5  # compact the running lanes when fewer than this fraction of them are active

_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def session_parallel_arrays(test):
    """`(inputs, targets, resets)` int32/int32/bool [steps, lanes] from arrays or a `schedule()`.

    Raises:
      ValueError: wrong shapes, or no (input, next item) event at all.
    """
    arrays = test.schedule() if hasattr(test, "schedule") else test
    try:
        inputs, targets, resets = arrays
    except (TypeError, ValueError):
        raise ValueError("test data must be (inputs, targets, resets) arrays [steps, lanes] "
                         "or an object with a schedule() method returning them") from None
    inputs = np.asarray(inputs, dtype=np.int32)
    targets = np.asarray(targets, dtype=np.int32)
    resets = np.asarray(resets, dtype=bool)
    if inputs.ndim != 2 or inputs.shape != targets.shape or inputs.shape != resets.shape:
        raise ValueError("inputs, targets and resets must all have shape [steps, lanes], got "
                         f"{inputs.shape}, {targets.shape}, {resets.shape}")
    if not (targets >= 0).any():
        raise ValueError("the test set has no (input, next item) events to evaluate")
    return inputs, targets, resets


def _segments(active: np.ndarray):
    """(first step, end step, lanes) with lanes compacted when < SHRINK of them are active."""
    n_steps, n_lanes = active.shape
    counts = active.sum(axis=1)
    lanes = np.arange(n_lanes)
    start = 0
    for t in range(n_steps):
        if counts[t] == 0:
            break
        if counts[t] < SHRINK * len(lanes):
            if t > start:
                yield start, t, lanes
            lanes = np.flatnonzero(active[t])
            start = t
    end = int(np.count_nonzero(counts))
    if end > start:
        yield start, end, lanes


def _compiled(model, mode: str, cutoffs: tuple, with_ranks: bool, jit_compile: bool = False):
    """The per-segment evaluation loop of `model`, traced once per (mode, cut-offs)."""
    try:
        cache = _COMPILED.setdefault(model, {})
    except TypeError:  # not weak-referenceable: no cache
        cache = {}
    key = (mode, cutoffs, with_ranks, jit_compile)
    if key in cache:
        return cache[key]
    sizes = [int(h.shape[-1]) for h in model.initial_state(1)]

    def run(xs, ys, resets, hidden):
        n, width = tf.shape(xs)[0], tf.shape(xs)[1]
        ranks_out = tf.TensorArray(tf.float32, size=n if with_ranks else 0,
                                   element_shape=tf.TensorShape([None]))

        def one_step(x, y, reset, hidden):
            keep = ~reset[:, None]
            hidden = [tf.where(keep, h, tf.zeros_like(h)) for h in hidden]
            valid = y >= 0
            y = tf.maximum(y, 0)
            scores, hidden = model.score_step(tf.maximum(x, 0), hidden, training=False)
            scores = tf.convert_to_tensor(scores, tf.float32)
            hidden = [tf.convert_to_tensor(h, tf.float32) for h in hidden]
            ranks = target_ranks(scores, y, mode)
            t_scores = tf.gather(scores, y, axis=1, batch_dims=1)
            n_nan = tf.reduce_sum(tf.cast(tf.math.is_nan(t_scores) & valid, tf.int32))
            sums = ranking_sums(ranks, cutoffs, weights=tf.cast(valid, tf.float32))
            return sums, n_nan, hidden, tf.where(valid, ranks, 0.0)

        if jit_compile:
            one_step = tf.function(one_step, jit_compile=True, autograph=False)

        def body(t, sums, n_nan, hidden, ranks_out):
            step_sums, step_nan, hidden, ranks = one_step(xs[t], ys[t], resets[t], hidden)
            if with_ranks:
                ranks_out = ranks_out.write(t, ranks)
            return t + 1, sums + step_sums, n_nan + step_nan, hidden, ranks_out

        sums0 = tf.zeros([len(cutoffs), 3], tf.float64)
        _, sums, n_nan, hidden, ranks_out = tf.while_loop(
            lambda t, *_: t < n, body,
            (tf.constant(0), sums0, tf.constant(0), list(hidden), ranks_out),
            shape_invariants=(tf.TensorShape([]), sums0.shape, tf.TensorShape([]),
                              [tf.TensorShape([None, s]) for s in sizes],
                              tf.TensorShape(None)))
        del width
        ranks = ranks_out.stack() if with_ranks else tf.zeros([0, 0])
        return sums, n_nan, hidden, ranks

    fn = tf.function(run, autograph=False, input_signature=[
        tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None], tf.int32),
        tf.TensorSpec([None, None], tf.bool), [tf.TensorSpec([None, s], tf.float32)
                                               for s in sizes]])
    cache[key] = fn
    return fn


def _run(model, test, mode, cutoffs, with_ranks, jit_compile=False):
    check_mode(mode)
    cutoffs = check_cutoffs(cutoffs)
    inputs, targets, resets = session_parallel_arrays(test)
    fn = _compiled(model, mode, cutoffs, with_ranks, jit_compile)
    active = inputs >= 0
    hidden, lanes = None, None
    for a, b, seg_lanes in _segments(active):
        if hidden is None:
            hidden = list(model.initial_state(len(seg_lanes)))
        elif len(seg_lanes) != len(lanes):
            pos = np.searchsorted(lanes, seg_lanes)
            hidden = [tf.gather(h, pos) for h in hidden]
        lanes = seg_lanes
        full = len(lanes) == inputs.shape[1]
        xs = inputs[a:b] if full else inputs[a:b, lanes]
        ys = targets[a:b] if full else targets[a:b, lanes]
        rs = resets[a:b] if full else resets[a:b, lanes]
        sums, n_nan, hidden, ranks = fn(xs, ys, rs, hidden)
        if int(n_nan):
            raise ValueError("NaN scores: the model cannot be evaluated")
        yield sums, int((ys >= 0).sum()), (ranks, ys >= 0)


def evaluate_metrics(model, test, cutoffs=(20,), mode: str = "standard",
                     jit_compile: bool = False) -> RankingMetrics:
    """Recall@k, MRR@k and NDCG@k with full ranking, as a filled `RankingMetrics`.

    `test`: `(inputs, targets, resets)` [steps, lanes] arrays or an object with `schedule()`
    (module docstring). `mode`: the tie policy, "standard", "conservative" or "median".

    Raises:
      ValueError: unknown `mode`, bad cut-offs, a test set without (input, next item)
        events, or a NaN target score (a model that diverged).
    """
    metrics = RankingMetrics(cutoffs)
    for sums, count, _ in _run(model, test, mode, metrics.cutoffs, False, jit_compile):
        metrics.update_sums(sums.numpy(), count)
    return metrics


def evaluate(model, test, cutoffs=(20,), mode: str = "standard",
             jit_compile: bool = False) -> dict:
    """Recall@k and MRR@k with full ranking: {k: (recall, mrr)} for every cut-off (the
    official `batch_eval` result, printed by `tfmodels.metrics.recsys.format_results`)."""
    return evaluate_metrics(model, test, cutoffs, mode, jit_compile).pairs("recall", "mrr")


def evaluate_ranks(model, test, mode: str = "standard"):
    """Yields the ranks (float64 numpy [B']) of the targets of every step, active lanes only."""
    for _, _, (ranks, valid) in _run(model, test, mode, (1,), True):
        for r, v in zip(ranks.numpy(), valid):
            if v.any():
                yield r[v].astype(np.float64)
