"""Full-ranking, session-parallel evaluation of next-item models (GRU4Rec `batch_eval`).

As the official evaluation (hidasib/GRU4Rec_PyTorch_Official `evaluation.batch_eval`):
test sessions run session-parallel in large batches (512 lanes by default) with the hidden
state of a lane zeroed whenever it takes a new session; at every step the target (the next
item) is ranked against *all* items (no sampled negatives) and recall@k / MRR@k are averaged
over every (input, next item) event. Test events whose item was not in training are dropped
when the test set is loaded with the training item map
(`pipelines.sessions.load_sessions(..., itemidmap=train)`).

The model is used only through `initial_state(batch) -> list of [batch, units] tensors`
(possibly empty, for stateless baselines) and `score_step(items, hidden, training=False)
-> (scores [B, n_items], new hidden list)`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import tensorflow as tf

from pipelines.sessions import SessionData, SessionParallelIterator
from tfmodels.metrics.recsys import (
    RecallMrrAccumulator,
    check_cutoffs,
    check_mode,
    compute_ranks_np,
)

__all__ = ["evaluate", "evaluate_ranks"]


def evaluate_ranks(model, test_data: SessionData, mode: str = "standard",
                   batch_size: int = 512):
    """Yields the ranks (float64 numpy [B']) of the targets of every step of the test set.

    Raises:
      ValueError: unknown `mode`, a test set without (input, next item) events, or a NaN
        target score (a model that diverged).
    """
    check_mode(mode)
    if test_data.n_predictions == 0:
        raise ValueError("the test set has no (input, next item) events to evaluate")
    iterator = SessionParallelIterator(test_data, batch_size)
    hidden = list(model.initial_state(min(batch_size, test_data.n_sessions)))
    prev_lanes = None
    pending = None
    # ranking (NumPy, releases the GIL) of step t overlaps the model's step t + 1
    with ThreadPoolExecutor(max_workers=1) as pool:
        for inputs, targets, reset, lanes in iterator:
            if prev_lanes is not None and len(lanes) != len(prev_lanes):
                pos = np.searchsorted(prev_lanes, lanes)
                hidden = [tf.gather(h, pos) for h in hidden]
            if reset.any():
                keep = tf.constant(~reset)[:, None]
                hidden = [tf.where(keep, h, tf.zeros_like(h)) for h in hidden]
            scores, hidden = model.score_step(inputs, hidden, training=False)
            hidden = list(hidden)
            prev_lanes = lanes
            job = pool.submit(compute_ranks_np, np.asarray(scores), targets, mode)
            if pending is not None:
                yield pending.result()
            pending = job
        if pending is not None:
            yield pending.result()


def evaluate(model, test_data: SessionData, cutoffs=(20,), mode: str = "standard",
             batch_size: int = 512) -> dict:
    """Recall@k and MRR@k with full ranking: returns {k: (recall, mrr)} for every cut-off.

    `mode` is the tie policy: "standard", "conservative" or "median" (see
    `tfmodels.metrics.recsys`).
    """
    acc = RecallMrrAccumulator(check_cutoffs(cutoffs))
    for ranks in evaluate_ranks(model, test_data, mode=mode, batch_size=batch_size):
        acc.update(ranks)
    return acc.result()
