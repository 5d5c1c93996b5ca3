"""SASRec evaluation protocols on hand-worked scores, ties included."""

import numpy as np
import tensorflow as tf

from tfmodels.models.sasrec import evaluation as ev


class FixedScores:
    """A stand-in model: row r of the input holds r in its last column; scores are S[r]."""

    def __init__(self, scores):
        self.scores = tf.constant(scores, tf.float32)

    def last_features(self, seq):
        return tf.cast(seq[:, -1], tf.int32)

    def score_all(self, rows):
        return tf.gather(self.scores, rows)

    def score_items(self, rows, items):
        return tf.gather(tf.gather(self.scores, rows), items, batch_dims=1)


def test_sampled_protocol_counts_ties_both_ways():
    # 16 items; candidates = [target, 15 negatives]
    s = np.zeros((2, 16))
    s[0, :] = [0.5, 0.9, 0.5, 0.5, 0.1] + [0.0] * 11  # 1 higher, 2 tied
    s[1, :] = [0.0] + [1.0] * 12 + [-1.0] * 3          # 12 higher
    cand = np.tile(np.arange(16), (2, 1))
    seq = np.array([[0], [1]])
    r = ev.sampled_metrics(FixedScores(s), seq, cand, cutoffs=(1, 10), batch_size=1)
    assert r["users"] == 2
    # user 0: rank 2 (strictly higher: 1), pessimistic rank 4; user 1: rank 13 > 10
    np.testing.assert_allclose(r[10]["hr"], 0.5)
    np.testing.assert_allclose(r[10]["ndcg"], (1 / np.log2(3)) / 2)
    np.testing.assert_allclose(r[10]["hr_pessimistic"], 0.5)
    np.testing.assert_allclose(r[10]["ndcg_pessimistic"], (1 / np.log2(5)) / 2)
    assert r[1]["hr"] == 0.0 and r[1]["ndcg"] == 0.0
    assert "sampled: HR@10 0.5000 NDCG@10 0.3155" in ev.format_sampled(r)


def test_full_ranking_excludes_history_but_not_the_target():
    s = np.array([[9, 8, 7, 3, 5, 1],     # pad col 0 and history 1, 2 excluded: only 4 higher
                  [0, 2, 2, 2, 9, 2],     # target 3 is in the history: kept; 4 excluded
                  [0, 1, 2, 3, 4, 5]])    # target 1: 2..5 higher -> rank 5
    seq = np.array([[0], [1], [2]])
    hist = [np.array([1, 2]), np.array([3, 4]), np.array([1])]
    r = ev.full_ranking_metrics(FixedScores(s), seq, [3, 3, 1], hist, cutoffs=(1, 4, 10),
                                batch_size=2)
    assert r["users"] == 3
    # ranks: 2, 1 (ties with 1, 2, 5 count in its favour: standard), 5
    np.testing.assert_allclose(r[10]["hr"], 1.0)
    np.testing.assert_allclose(r[10]["mrr"], (1 / 2 + 1 + 1 / 5) / 3)
    np.testing.assert_allclose(r[10]["ndcg"], (1 / np.log2(3) + 1 + 1 / np.log2(6)) / 3)
    np.testing.assert_allclose(r[4]["hr"], 2 / 3)
    np.testing.assert_allclose(r[1]["hr"], 1 / 3)
    worst = ev.full_ranking_metrics(FixedScores(s), seq, [3, 3, 1], hist, cutoffs=(1,),
                                    mode="conservative")
    np.testing.assert_allclose(worst[1]["hr"], 0.0)  # user 1 now ranks 4th
    assert ev.format_full(r).startswith("full: HR@10 1.0000 NDCG@10 ")


def test_users_sampled_to_ten_thousand():
    assert len(ev.sample_users(500)) == 500
    u = ev.sample_users(12000, seed=1)
    assert len(u) == 10000 and len(set(u)) == 10000 and u.max() < 12000
