"""Popularity-based negative sampling with a pre-generated sample store.

Mirrors the official ``SampleCache`` (GRU4Rec_PyTorch_Official / _Tensorflow_Official)
and the Theano ``fit``: an item is drawn with probability proportional to
``support ** sample_alpha`` by a binary search of uniforms in the cumulative
distribution (last entry forced to 1); ``sample_store_size // n_sample`` batches of
``n_sample`` items are generated at once and handed out one batch per training step,
regenerating when the store runs out. All lanes of a mini-batch share the batch.
"""

from __future__ import annotations

import numpy as np


def popularity_cdf(counts: np.ndarray, alpha: float) -> np.ndarray:
    """Cumulative sampling distribution of ``counts ** alpha`` (float64, ends at 1)."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError("item counts must be a non-empty 1-D array")
    if np.any(counts < 0):
        raise ValueError("item counts must be non-negative")
    w = counts**alpha
    if alpha != 0:
        w[counts == 0] = 0.0
    total = w.sum()
    if total <= 0:
        raise ValueError("item counts sum to zero: nothing to sample")
    cdf = np.cumsum(w) / total
    cdf[-1] = 1.0
    return cdf


class SampleStore:
    """Hands out ``[n_sample]`` negative item indices per step from a pre-drawn store."""

    def __init__(self, counts, n_sample: int, alpha: float, store_size: int = 10_000_000,
                 seed: int = 42):
        if n_sample <= 0:
            raise ValueError("SampleStore needs n_sample > 0")
        self.n_sample = int(n_sample)
        self.cdf = popularity_cdf(counts, alpha)
        self.generate_length = max(1, int(store_size) // self.n_sample)
        self._rng = np.random.default_rng(seed)
        self._store = np.empty((0, self.n_sample), np.int32)
        self._pointer = 0

    def _refresh(self) -> None:
        u = self._rng.random(self.generate_length * self.n_sample)
        idx = np.searchsorted(self.cdf, u, side="right")
        self._store = np.minimum(idx, self.cdf.size - 1).astype(np.int32).reshape(
            self.generate_length, self.n_sample)
        self._pointer = 0

    def get_sample(self) -> np.ndarray:
        """One step's shared negatives, ``int32 [n_sample]``."""
        return self.take(1)[0]

    def take(self, n_steps: int) -> np.ndarray:
        """Negatives for ``n_steps`` consecutive steps, ``int32 [n_steps, n_sample]``."""
        out = []
        need = n_steps
        while need > 0:
            if self._pointer >= self._store.shape[0]:
                self._refresh()
            got = self._store[self._pointer:self._pointer + need]
            self._pointer += got.shape[0]
            need -= got.shape[0]
            out.append(got)
        return out[0] if len(out) == 1 else np.concatenate(out, axis=0)
