"""Next-item baselines of the GRU4Rec paper, evaluated exactly like GRU4Rec.

Both expose the model interface of `evaluation.evaluate` (`initial_state`, a TF-traceable
`score_step`), so they are ranked over all items with the same metrics and tie policies.
They are built from training sessions given as any object with `n_items`, `n_sessions`,
`n_events`, `item_idx` (item index per event, sessions back to back), `offsets`,
`session_lengths` and `item_counts()` (e.g. `pipelines.sessions.SessionData`).

- `MostPopular`: score = number of training events of the item (official `baselines.Pop`
  ranks by pop / (pop + 1) and keeps the top 100; here every item keeps its count, so
  there are no artificial ties below the top 100).
- `ItemCoOccurrence`: item-to-item similarity from session co-occurrence (official
  `baselines.CoOccurence`/`Cosine`, the "Item-KNN" of Hidasi et al., 2016):
  sim(i, j) = cooc(i, j) / ((supp_i + lmbd)^alpha * (supp_j + lmbd)^(1 - alpha)), where
  cooc(i, j) = sum over sessions of count_i * count_j, supp = item event counts,
  sim(i, i) = 0, only the `n_sims` most similar items kept. The next item is scored by its
  similarity to the current item. `successor_only=True` counts only j directly following i.
  Addition: with `pop_fallback` (default) items outside the neighbour list are ranked by
  popularity below every neighbour instead of all tying at 0 (the official evaluation of
  the baselines breaks those ties at random).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import tensorflow as tf

__all__ = ["MostPopular", "ItemCoOccurrence"]


class _Stateless:
    """No hidden state: the score depends on the current item only."""

    def initial_state(self, batch: int) -> list:
        return []

    def score_step(self, input_items, hidden, training: bool = False):
        """(scores float32 [B, n_items], []): works eagerly and inside `tf.function`."""
        items = tf.cast(tf.convert_to_tensor(input_items), tf.int32)
        return self.scores(items), []


class MostPopular(_Stateless):
    """Recommends the items with the most training events, whatever the session."""

    def __init__(self, train):
        self.n_items = train.n_items
        self.counts = train.item_counts().astype(np.float64)
        self._counts = tf.constant(self.counts, tf.float32)

    def scores(self, items) -> tf.Tensor:
        return tf.broadcast_to(self._counts, [tf.shape(items)[0], self.n_items])


class ItemCoOccurrence(_Stateless):
    """Item-to-item co-occurrence (Item-KNN) next-item recommender."""

    def __init__(self, train, n_sims: int = 100, lmbd: float = 20.0,
                 alpha: float = 0.5, normalize: bool = True, successor_only: bool = False,
                 pop_fallback: bool = True):
        if n_sims < 1:
            raise ValueError(f"n_sims must be >= 1, got {n_sims}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        self.n_items = n = train.n_items
        supp = train.item_counts().astype(np.float64)
        cooc = _cooccurrence(train, successor_only).tocoo()
        rows, cols, vals = cooc.row, cooc.col, cooc.data.astype(np.float64)
        off_diag = (rows != cols) & (vals > 0)
        rows, cols, vals = rows[off_diag], cols[off_diag], vals[off_diag]
        if normalize:
            vals = vals / ((supp[rows] + lmbd) ** alpha * (supp[cols] + lmbd) ** (1.0 - alpha))
        # keep the n_sims largest per row (ties: smaller item index first)
        order = np.lexsort((cols, -vals, rows))
        rows, cols, vals = rows[order], cols[order], vals[order]
        row_start = np.searchsorted(rows, np.arange(n))
        rank = np.arange(len(rows)) - row_start[rows]
        keep = rank < n_sims
        rows, cols, vals, rank = rows[keep], cols[keep], vals[keep], rank[keep]
        width = max(1, int(rank.max()) + 1 if len(rank) else 1)
        if pop_fallback:
            self.fallback = supp / (supp.max() + 1.0)  # in [0, 1): below every neighbour
        else:
            self.fallback = np.zeros(n)
        # padding points at the item itself with its fallback score: a no-op when scattered
        self.neighbours = np.repeat(np.arange(n)[:, None], width, axis=1)
        self.neighbour_scores = np.repeat(self.fallback[:, None], width, axis=1)
        self.neighbours[rows, rank] = cols
        self.neighbour_scores[rows, rank] = 2.0 + vals if pop_fallback else vals
        self.similarity = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
        self._fallback = tf.constant(self.fallback, tf.float32)
        self._neighbours = tf.constant(self.neighbours, tf.int32)
        self._neighbour_scores = tf.constant(self.neighbour_scores, tf.float32)

    def scores(self, items) -> tf.Tensor:
        b = tf.shape(items)[0]
        out = tf.broadcast_to(self._fallback, [b, self.n_items])
        cols = tf.gather(self._neighbours, items)                       # [B, width]
        rows = tf.broadcast_to(tf.range(b)[:, None], tf.shape(cols))
        idx = tf.stack([rows, cols], axis=-1)
        return tf.tensor_scatter_nd_update(out, idx, tf.gather(self._neighbour_scores, items))


def _cooccurrence(data, successor_only: bool) -> sp.csr_matrix:
    n = data.n_items
    if successor_only:
        is_last = np.zeros(data.n_events, dtype=bool)
        is_last[data.offsets[1:] - 1] = True
        src = data.item_idx[:-1][~is_last[:-1]]
        dst = data.item_idx[1:][~is_last[:-1]]
        return sp.csr_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
    session_of_event = np.repeat(np.arange(data.n_sessions), data.session_lengths)
    x = sp.csr_matrix((np.ones(data.n_events), (session_of_event, data.item_idx)),
                      shape=(data.n_sessions, n))
    return (x.T @ x).tocsr()
