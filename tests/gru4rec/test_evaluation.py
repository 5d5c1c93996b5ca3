"""Full-ranking session-parallel evaluation against a one-session-at-a-time reference."""

import numpy as np
import pytest
import tensorflow as tf

from pipelines.sessions import SessionParallelIterator, load_sessions, sessions_from_arrays
from pipelines.synthetic_sessions import (
    generate_markov_sessions,
    make_markov_chain,
    markov_best_metrics,
)
from tfmodels.models.gru4rec.evaluation import evaluate as _evaluate
from tfmodels.models.gru4rec.evaluation import evaluate_metrics
from tfmodels.models.gru4rec.evaluation import evaluate_ranks as _evaluate_ranks


def evaluate(model, data, cutoffs=(20,), mode="standard", batch_size=512):
    return _evaluate(model, SessionParallelIterator(data, batch_size), cutoffs, mode)


def evaluate_ranks(model, data, mode="standard", batch_size=512):
    return _evaluate_ranks(model, SessionParallelIterator(data, batch_size), mode)


class CountingModel:
    """Test double: scores = table[input] + position_in_session * bonus (integers, so ties).

    The hidden state counts the steps taken in the session; if the evaluation forgot to
    zero it for a new session, or mixed up lanes when the batch shrinks, the scores change.
    """

    def __init__(self, n_items, seed=0):
        rng = np.random.default_rng(seed)
        self.table = rng.integers(0, 6, size=(n_items, n_items)).astype(np.float32)
        self.bonus = rng.integers(0, 3, size=n_items).astype(np.float32)

    def initial_state(self, batch):
        return [tf.zeros((batch, 1))]

    def score_step(self, input_items, hidden, training=False):
        assert not training
        h = hidden[0]
        scores = tf.gather(self.table, input_items) + h * self.bonus[None, :]
        return scores, [h + 1.0]


def _reference(model, data, cutoffs, mode):
    """Every session alone, step by step from a zero state; ranks by explicit comparison."""
    ranks = []
    for s in range(data.n_sessions):
        items = data.item_idx[data.offsets[s]:data.offsets[s + 1]]
        for pos in range(len(items) - 1):
            scores = model.table[items[pos]] + pos * model.bonus
            t = scores[items[pos + 1]]
            greater, equal = int((scores > t).sum()), int((scores == t).sum())
            ranks.append({"standard": greater + 1, "conservative": greater + equal,
                          "median": greater + 1 + 0.5 * (equal - 1)}[mode])
    ranks = np.array(ranks, dtype=float)
    return {k: ((ranks <= k).mean(), np.where(ranks <= k, 1 / ranks, 0).mean())
            for k in cutoffs}


def _random_sessions(n_sessions, n_items, seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 9, size=n_sessions)
    sess = np.repeat(np.arange(n_sessions), lengths)
    items = rng.integers(0, n_items, size=len(sess))
    items[:n_items] = np.arange(n_items)  # every item appears
    return sessions_from_arrays(sess, items, np.arange(len(sess), dtype=float))


@pytest.mark.parametrize("mode", ["standard", "conservative", "median"])
@pytest.mark.parametrize("batch_size", [1, 4, 512])
def test_evaluate_matches_per_session_reference(mode, batch_size):
    data = _random_sessions(60, 30, seed=1)
    model = CountingModel(data.n_items, seed=2)
    got = evaluate(model, data, cutoffs=(1, 5, 10), mode=mode, batch_size=batch_size)
    want = _reference(model, data, (1, 5, 10), mode)
    assert list(got) == [1, 5, 10]
    for k in want:
        assert got[k] == pytest.approx(want[k], abs=1e-12)


def test_tie_policies_differ_and_are_ordered():
    data = _random_sessions(40, 20, seed=3)
    model = CountingModel(data.n_items, seed=4)
    res = {m: evaluate(model, data, cutoffs=(5,), mode=m, batch_size=8)[5]
           for m in ("standard", "median", "conservative")}
    assert res["standard"][0] > res["median"][0] > res["conservative"][0]


def test_hand_worked_single_session():
    class Fixed:
        def initial_state(self, batch):
            return []

        def score_step(self, items, hidden, training=False):
            table = np.array([[0.0, 3.0, 2.0, 1.0],   # after item 0: item 2 ranks 2nd
                              [4.0, 0.0, 1.0, 2.0],   # after item 1
                              [1.0, 1.0, 1.0, 5.0]], dtype=np.float32)  # after item 2
            return tf.gather(table, items), []

    data = sessions_from_arrays([1, 1, 1, 1], [0, 2, 1, 3], [0, 1, 2, 3])
    # item ids 0,2,1,3 map to idx 0,1,2,3: inputs idx 0,1,2 -> targets idx 1,2,3
    # step 1: scores [0,3,2,1], target idx 1 (3.0): rank 1
    # step 2: scores [4,0,1,2], target idx 2 (1.0): rank 3
    # step 3: scores [1,1,1,5], target idx 3 (5.0): rank 1
    res = evaluate(Fixed(), data, cutoffs=(1, 2, 3))
    assert res[1] == pytest.approx((2 / 3, 2 / 3))
    assert res[2] == pytest.approx((2 / 3, 2 / 3))
    assert res[3] == pytest.approx((1.0, (1 + 1 / 3 + 1) / 3))


def test_unseen_test_items_are_dropped(tmp_path):
    (tmp_path / "tr.tsv").write_text("SessionId\tItemId\tTime\n1\t10\t0\n1\t11\t1\n1\t12\t2\n")
    (tmp_path / "te.tsv").write_text(
        "SessionId\tItemId\tTime\n5\t10\t0\n5\t99\t1\n5\t12\t2\n6\t98\t3\n6\t11\t4\n")
    train = load_sessions(str(tmp_path / "tr.tsv"))
    test = load_sessions(str(tmp_path / "te.tsv"), itemidmap=train)
    ranks = list(evaluate_ranks(CountingModel(3), test))
    assert sum(len(r) for r in ranks) == 1  # only 10 -> 12 is left


def test_oracle_reaches_the_best_achievable_metrics():
    chain = make_markov_chain(n_items=200, n_successors=30, concentration=0.3, seed=0)
    test = generate_markov_sessions(chain, n_sessions=6000, mean_length=8, seed=9)

    class Oracle:
        def initial_state(self, batch):
            return []

        probs = tf.constant(chain.next_item_probs(test.item_ids), tf.float32)

        def score_step(self, items, hidden, training=False):
            return tf.gather(self.probs, items), []

    best = markov_best_metrics(chain, test, cutoffs=(5, 20))
    got = evaluate(Oracle(), test, cutoffs=(5, 20), mode="conservative")
    n = test.n_predictions
    for k in (5, 20):
        se = np.sqrt(best[k][0] * (1 - best[k][0]) / n) + 1e-3
        assert abs(got[k][0] - best[k][0]) < 4 * se
        assert abs(got[k][1] - best[k][1]) < 4 * np.sqrt(0.25 / n)


def test_errors():
    data = _random_sessions(5, 10, seed=0)
    model = CountingModel(data.n_items)
    with pytest.raises(ValueError, match="tie handling"):
        evaluate(model, data, mode="tiebreaking")
    with pytest.raises(ValueError, match="cut-offs"):
        evaluate(model, data, cutoffs=(0,))

    class NaNModel(CountingModel):
        def score_step(self, items, hidden, training=False):
            scores, h = super().score_step(items, hidden)
            return scores * np.nan, h

    with pytest.raises(ValueError, match="NaN"):
        evaluate(NaNModel(data.n_items), data)


def test_hidden_rows_follow_their_lanes_when_the_batch_shrinks():
    # two lanes: lane 0 runs A (4 events) and is then dropped while lane 1 is in the middle
    # of C (state 2, lane 0's is 3); lane 1's state must move to row 0
    data = sessions_from_arrays(np.repeat([0, 1, 2], [4, 2, 5]), np.arange(11),
                                np.arange(11.0))

    class Peaked(CountingModel):
        """Scores peak at item 3 * state: the rank of the target depends on the state."""

        def score_step(self, input_items, hidden, training=False):
            h = hidden[0]
            scores = -tf.abs(tf.range(11.0)[None, :] - 3.0 * h)
            return scores, [h + 1.0]

    model = Peaked(11)
    ranks = np.concatenate(list(evaluate_ranks(model, data, mode="standard", batch_size=2)))
    want = []
    for s in range(3):
        items = data.item_idx[data.offsets[s]:data.offsets[s + 1]]
        for pos in range(len(items) - 1):
            scores = -np.abs(np.arange(11.0) - 3.0 * pos)
            want.append((scores > scores[items[pos + 1]]).sum() + 1)
    assert sorted(ranks.tolist()) == sorted(float(w) for w in want)
    assert evaluate(model, data, cutoffs=(2,), batch_size=2)[2] == pytest.approx(
        evaluate(model, data, cutoffs=(2,), batch_size=1)[2])


def test_arrays_input_ndcg_and_masked_tail_match_the_reference():
    # the schedule arrays themselves (not the iterator) and NDCG, with a long tail of
    # finishing lanes (masked, then compacted)
    data = _random_sessions(300, 25, seed=5)
    model = CountingModel(data.n_items, seed=6)
    arrays = SessionParallelIterator(data, 64).schedule()
    got = evaluate_metrics(model, arrays, cutoffs=(3, 10), mode="median").result()
    want = _reference(model, data, (3, 10), "median")
    ranks = []
    for s in range(data.n_sessions):
        items = data.item_idx[data.offsets[s]:data.offsets[s + 1]]
        for pos in range(len(items) - 1):
            sc = model.table[items[pos]] + pos * model.bonus
            t = sc[items[pos + 1]]
            ranks.append((sc > t).sum() + 1 + 0.5 * ((sc == t).sum() - 1))
    ranks = np.array(ranks)
    for k in (3, 10):
        assert got[k]["recall"] == pytest.approx(want[k][0], abs=1e-12)
        assert got[k]["mrr"] == pytest.approx(want[k][1], abs=1e-12)
        assert got[k]["ndcg"] == pytest.approx(
            np.where(ranks <= k, 1 / np.log2(ranks + 1), 0).mean(), abs=1e-12)


def test_xla_compiled_steps_give_the_same_metrics():
    data = _random_sessions(50, 20, seed=8)
    model = CountingModel(data.n_items, seed=9)
    arrays = SessionParallelIterator(data, 16).schedule()
    plain = evaluate_metrics(model, arrays, cutoffs=(2, 5), mode="median").result()
    jit = evaluate_metrics(model, arrays, cutoffs=(2, 5), mode="median",
                           jit_compile=True).result()
    for k in (2, 5):
        assert jit[k] == pytest.approx(plain[k], abs=1e-12)


def test_bad_test_arrays():
    model = CountingModel(5)
    with pytest.raises(ValueError, match="steps, lanes"):
        _evaluate(model, (np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 2))))
    with pytest.raises(ValueError, match="no \\(input, next item\\) events"):
        _evaluate(model, (-np.ones((2, 3)), -np.ones((2, 3)), np.zeros((2, 3))))
    with pytest.raises(ValueError, match="schedule"):
        _evaluate(model, 42)
