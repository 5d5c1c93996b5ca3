"""Negative sampling: frequencies follow popularity ** alpha (chi-square), store mechanics."""

import numpy as np
import pytest
from scipy import stats

from tfmodels.models.gru4rec.sampling import SampleStore, popularity_cdf

COUNTS = np.array([1, 2, 5, 10, 40, 100, 3, 7, 0, 25], dtype=np.int64)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 0.75, 1.0])
def test_frequencies_match_popularity_power(alpha):
    store = SampleStore(COUNTS, n_sample=500, alpha=alpha, store_size=20_000, seed=3)
    draws = store.take(200).reshape(-1)  # 100k samples, crossing several store refreshes
    observed = np.bincount(draws, minlength=len(COUNTS))
    w = COUNTS.astype(float) ** alpha
    if alpha != 0:
        w[COUNTS == 0] = 0.0
    expected = w / w.sum() * draws.size
    if alpha != 0:
        assert observed[COUNTS == 0].sum() == 0  # never sample an item with no support
    live = expected > 0
    chi2, p = stats.chisquare(observed[live], expected[live])
    assert p > 1e-3, (alpha, chi2, observed, expected)


def test_wrong_distribution_is_rejected_by_the_same_check():
    """The chi-square check has power: alpha=1 draws fail against alpha=0.5 expectations."""
    draws = SampleStore(COUNTS, 500, 1.0, 20_000, seed=3).take(200).reshape(-1)
    w = COUNTS.astype(float) ** 0.5
    w[COUNTS == 0] = 0
    observed = np.bincount(draws, minlength=len(COUNTS))
    live = w > 0
    _, p = stats.chisquare(observed[live], (w / w.sum() * draws.size)[live])
    assert p < 1e-6


def test_cdf_is_the_official_cumulative_distribution():
    cdf = popularity_cdf(COUNTS, 0.75)
    w = COUNTS ** 0.75
    np.testing.assert_allclose(cdf[:-1], (np.cumsum(w) / w.sum())[:-1])
    assert cdf[-1] == 1.0


def test_store_size_and_refresh():
    store = SampleStore(COUNTS, n_sample=4, alpha=0.5, store_size=10, seed=0)
    assert store.generate_length == 2  # 10 // 4 batches are generated at once
    a, b, c = store.get_sample(), store.get_sample(), store.get_sample()  # c: after refresh
    assert a.shape == b.shape == c.shape == (4,) and a.dtype == np.int32
    assert store.take(5).shape == (5, 4)
    assert store.take(5).max() < len(COUNTS)


def test_seeded_and_reproducible():
    a = SampleStore(COUNTS, 16, 0.5, 1000, seed=7).take(10)
    b = SampleStore(COUNTS, 16, 0.5, 1000, seed=7).take(10)
    np.testing.assert_array_equal(a, b)


def test_bad_inputs():
    with pytest.raises(ValueError):
        SampleStore(COUNTS, 0, 0.5)
    with pytest.raises(ValueError):
        popularity_cdf(np.zeros(3), 0.5)
