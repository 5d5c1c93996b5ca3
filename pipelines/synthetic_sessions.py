"""Synthetic sessions with a known next-item structure, for learning tests and benchmarks.

Sessions are sampled from a sparse first-order Markov chain over n items; since the next item
depends on the current one only, ranking items by the chain's transition probabilities is
Bayes-optimal, and `markov_best_metrics` gives its expected recall@k / MRR@k on a data set:
the best any model can achieve there.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from pipelines.sessions import SessionData

__all__ = ["MarkovChain", "make_markov_chain", "generate_markov_sessions",
           "markov_best_metrics"]


@dataclasses.dataclass
class MarkovChain:
    """A sparse first-order Markov chain over items 0..n_items-1.

    Attributes:
      start_probs: float64 [n_items], distribution of a session's first item.
      successors: int64 [n_items, d], the only items that can follow each item.
      probs: float64 [n_items, d], their probabilities (each row sums to 1, descending).
    """

    start_probs: np.ndarray
    successors: np.ndarray
    probs: np.ndarray

    @property
    def n_items(self) -> int:
        return int(len(self.start_probs))

    def next_item_probs(self, items) -> np.ndarray:
        """Dense next-item distributions [len(items), n_items] for the given current items."""
        items = np.asarray(items, dtype=np.int64).reshape(-1)
        out = np.zeros((len(items), self.n_items))
        rows = np.repeat(np.arange(len(items)), self.successors.shape[1])
        out[rows, self.successors[items].reshape(-1)] = self.probs[items].reshape(-1)
        return out


def make_markov_chain(n_items: int = 500, n_successors: int = 50, concentration: float = 0.3,
                      seed: int = 0) -> MarkovChain:
    """A random sparse chain: every item has `n_successors` distinct successors (never
    itself) whose probabilities are drawn from a symmetric Dirichlet(`concentration`)
    (small values: a few dominant successors); first items are uniform."""
    if n_items < 2 or not 1 <= n_successors < n_items:
        raise ValueError(
            f"need n_items >= 2 and 1 <= n_successors < n_items, got {n_items}, {n_successors}"
        )
    if concentration <= 0:
        raise ValueError(f"concentration must be > 0, got {concentration}")
    rng = np.random.default_rng(seed)
    # n_successors distinct items per row, never the item itself (one draw per item)
    successors = np.empty((n_items, n_successors), dtype=np.int64)
    for i in range(n_items):
        row = rng.choice(n_items - 1, size=n_successors, replace=False)
        successors[i] = row + (row >= i)
    probs = rng.dirichlet(np.full(n_successors, concentration), size=n_items)
    order = np.argsort(-probs, axis=1, kind="stable")
    probs = np.take_along_axis(probs, order, axis=1)
    successors = np.take_along_axis(successors, order, axis=1).astype(np.int64)
    return MarkovChain(np.full(n_items, 1.0 / n_items), successors, probs)


def generate_markov_sessions(chain: MarkovChain, n_sessions: int, mean_length: float = 8.0,
                             seed: int = 0, start_time: float = 0.0) -> SessionData:
    """Samples `n_sessions` sessions from `chain` (vectorised over sessions).

    Lengths are 1 + Geometric(1 / (mean_length - 1)), so at least 2 with mean `mean_length`.
    Session s starts at `start_time + 100 * s` and its events are 1 s apart, so sessions are
    in time order; session ids are `s` and item ids equal chain states (item_ids = arange(n)),
    so data generated separately (train, test) share one item map.
    """
    if n_sessions < 1:
        raise ValueError(f"n_sessions must be >= 1, got {n_sessions}")
    if mean_length <= 2:
        raise ValueError(f"mean_length must be > 2, got {mean_length}")
    rng = np.random.default_rng(seed)
    lengths = 1 + rng.geometric(1.0 / (mean_length - 1.0), size=n_sessions)
    offsets = np.zeros(n_sessions + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    items = np.empty(offsets[-1], dtype=np.int64)
    cum = np.cumsum(chain.probs, axis=1)
    current = rng.choice(chain.n_items, size=n_sessions, p=chain.start_probs)
    alive = np.arange(n_sessions)
    for t in range(int(lengths.max())):
        alive = alive[lengths[alive] > t]
        if t > 0:
            u = rng.random(len(alive))
            choice = (u[:, None] > cum[current[alive]]).sum(axis=1)
            current[alive] = chain.successors[current[alive], np.minimum(choice, cum.shape[1] - 1)]
        items[offsets[alive] + t] = current[alive]
    within = np.arange(offsets[-1]) - np.repeat(offsets[:-1], lengths)
    times = start_time + 100.0 * np.repeat(np.arange(n_sessions), lengths) + within
    return SessionData(
        item_idx=items.astype(np.int32),
        offsets=offsets,
        item_ids=np.arange(chain.n_items, dtype=np.int64),
        session_ids=np.arange(n_sessions, dtype=np.int64),
        times=times.astype(np.float64),
    )


def markov_best_metrics(chain: MarkovChain, data: SessionData, cutoffs=(20,)) -> dict:
    """Expected recall@k and MRR@k of the Bayes-optimal predictor on the events of `data`.

    Given the current item i the next item depends on nothing else, so ranking items by
    P(j | i) maximises both metrics; its expected recall@k on an event is the sum of the k
    largest P(. | i) and its expected MRR@k is sum_r p_(r) / r over the k largest. Averaged
    over every (input, next item) event of `data` (inputs mapped to chain states through
    `data.item_ids`). Returns {k: (recall, mrr)}.
    """
    states = np.asarray(data.item_ids)[data.item_idx].astype(np.int64)
    is_last = np.zeros(data.n_events, dtype=bool)
    is_last[data.offsets[1:] - 1] = True
    inputs = states[~is_last]
    if len(inputs) == 0:
        raise ValueError("data has no (input, next item) events")
    counts = np.bincount(inputs, minlength=chain.n_items).astype(np.float64)
    weights = counts / counts.sum()
    results = {}
    for k in cutoffs:
        k = int(k)
        top = chain.probs[:, :k]  # rows are sorted in descending order
        recall_i = top.sum(axis=1)
        mrr_i = (top / np.arange(1, top.shape[1] + 1)).sum(axis=1)
        results[k] = (float(weights @ recall_i), float(weights @ mrr_i))
    return results
