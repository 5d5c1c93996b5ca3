"""Most-popular and item co-occurrence baselines on hand-worked sessions."""

from collections import defaultdict

import numpy as np
import pytest

from pipelines.sessions import SessionParallelIterator, sessions_from_arrays
from tfmodels.models.gru4rec.baselines import ItemCoOccurrence, MostPopular
from tfmodels.models.gru4rec.evaluation import evaluate

# sessions [a b c] [a b] [b c c] [d a]: item idx a=0 b=1 c=2 d=3; counts 3 3 3 1
# co-occurrence (sum of count_i * count_j): ab 2, ac 1, bc 1 + 2 = 3, ad 1
TRAIN = sessions_from_arrays(
    [1, 1, 1, 2, 2, 3, 3, 3, 4, 4],
    ["a", "b", "c", "a", "b", "b", "c", "c", "d", "a"],
    np.arange(10.0),
)


def test_most_popular_scores_are_counts():
    pop = MostPopular(TRAIN)
    assert pop.initial_state(5) == []
    scores, hidden = pop.score_step(np.array([0, 3]), [])
    assert hidden == []
    assert np.asarray(scores).tolist() == [[3, 3, 3, 1], [3, 3, 3, 1]]


def test_cooccurrence_similarity_hand_worked():
    knn = ItemCoOccurrence(TRAIN, lmbd=0.0, alpha=0.5, pop_fallback=False)
    sim = knn.similarity.toarray()
    s = np.sqrt
    want = np.array([
        [0, 2 / 3, 1 / 3, 1 / s(3)],
        [2 / 3, 0, 1, 0],
        [1 / 3, 1, 0, 0],
        [1 / s(3), 0, 0, 0],
    ])
    assert sim == pytest.approx(want)
    # lmbd and alpha: sim = cooc / ((s_i + l)^a (s_j + l)^(1 - a))
    knn2 = ItemCoOccurrence(TRAIN, lmbd=20.0, alpha=0.25)
    assert knn2.similarity[0, 3] == pytest.approx(1 / (23 ** 0.25 * 21 ** 0.75))
    assert knn2.similarity[3, 0] == pytest.approx(1 / (21 ** 0.25 * 23 ** 0.75))


def test_cooccurrence_top_n_and_popularity_fallback():
    knn = ItemCoOccurrence(TRAIN, n_sims=2, lmbd=0.0)
    scores = np.asarray(knn.score_step(np.array([0, 3]), [])[0])
    # after a: neighbours b (2/3) and d (1/sqrt 3); c (1/3) is cut, falls back to 3 / (3 + 1)
    assert scores[0] == pytest.approx([0.75, 2 + 2 / 3, 0.75, 2 + 1 / np.sqrt(3)])
    # after d: one neighbour (a); the rest by popularity
    assert scores[1] == pytest.approx([2 + 1 / np.sqrt(3), 0.75, 0.75, 0.25])
    no_fb = ItemCoOccurrence(TRAIN, n_sims=2, lmbd=0.0, pop_fallback=False)
    assert np.asarray(no_fb.score_step(np.array([0]), [])[0])[0] == pytest.approx(
        [0, 2 / 3, 0, 1 / np.sqrt(3)])


def test_successor_only_counts_next_item_pairs():
    knn = ItemCoOccurrence(TRAIN, lmbd=0.0, alpha=0.5, normalize=False, successor_only=True,
                           pop_fallback=False)
    # a->b twice, b->c twice, c->c (self, dropped), d->a once
    assert knn.similarity.toarray().tolist() == [
        [0, 2, 0, 0], [0, 0, 2, 0], [0, 0, 0, 0], [1, 0, 0, 0]]


def _naive_similarity(data, lmbd, alpha):
    """The formula with explicit loops over every event and its session's events."""
    counts = defaultdict(float)
    supp = np.bincount(data.item_idx, minlength=data.n_items)
    for s in range(data.n_sessions):
        ev = data.item_idx[data.offsets[s]:data.offsets[s + 1]]
        for i in ev:
            for j in ev:
                counts[i, j] += 1
    sim = np.zeros((data.n_items, data.n_items))
    for (i, j), c in counts.items():
        if i != j:
            sim[i, j] = c / ((supp[i] + lmbd) ** alpha * (supp[j] + lmbd) ** (1 - alpha))
    return sim


def test_cooccurrence_matches_naive_loops_on_random_sessions():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 7, size=80)
    sess = np.repeat(np.arange(80), lengths)
    data = sessions_from_arrays(sess, rng.integers(0, 25, len(sess)), np.arange(len(sess)))
    knn = ItemCoOccurrence(data, n_sims=1000, lmbd=20.0, alpha=0.5)
    assert knn.similarity.toarray() == pytest.approx(_naive_similarity(data, 20.0, 0.5))
    # top-n keeps exactly the n largest of every row
    small = ItemCoOccurrence(data, n_sims=3, lmbd=20.0, alpha=0.5).similarity.toarray()
    full = knn.similarity.toarray()
    for i in range(data.n_items):
        kept = np.flatnonzero(small[i])
        assert len(kept) == min(3, np.count_nonzero(full[i]))
        if len(kept):
            assert full[i, kept].min() >= np.sort(full[i])[::-1][len(kept) - 1] - 1e-12


def test_baselines_through_the_evaluation():
    test = SessionParallelIterator(sessions_from_arrays(
        [7, 7, 8, 8], ["a", "c", "b", "c"], [0, 1, 2, 3], itemidmap=TRAIN), 512)
    pop = MostPopular(TRAIN)
    # c ties with a and b (3 events each)
    assert evaluate(pop, test, cutoffs=(1,), mode="standard")[1] == (1.0, 1.0)
    assert evaluate(pop, test, cutoffs=(3,), mode="conservative")[3] == pytest.approx(
        (1.0, 1 / 3))
    knn = ItemCoOccurrence(TRAIN, lmbd=0.0)
    # after a: b 2/3 > d 0.577 > c 1/3: rank 3; after b: c (1) > a (2/3): rank 1
    res = evaluate(knn, test, cutoffs=(1, 3))
    assert res[1] == pytest.approx((0.5, 0.5))
    assert res[3] == pytest.approx((1.0, (1 / 3 + 1) / 2))


def test_bad_parameters():
    with pytest.raises(ValueError, match="n_sims"):
        ItemCoOccurrence(TRAIN, n_sims=0)
    with pytest.raises(ValueError, match="alpha"):
        ItemCoOccurrence(TRAIN, alpha=1.5)
