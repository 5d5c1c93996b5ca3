"""compare_recommenders.py: GRU4Rec and popularity behind the SASRec scoring interface."""

import importlib.util
import os

import numpy as np
import tensorflow as tf

from tfmodels.models.gru4rec.model import GRU4Rec
from tfmodels.models.gru4rec.params import GRU4RecParams

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _script():
    spec = importlib.util.spec_from_file_location(
        "compare_recommenders_script", os.path.join(ROOT, "scripts", "compare_recommenders.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MOD = _script()


def test_gru4rec_scorer_equals_feeding_the_session():
    model = GRU4Rec(10, GRU4RecParams(layers=[8, 6], seed=3))
    scorer = MOD.GRU4RecScorer(model)
    seq = np.array([[0, 0, 3, 5, 2], [0, 0, 0, 0, 7]])  # ids 1..10 = indices 0..9
    feats = tf.function(scorer.last_features)(tf.constant(seq))
    scores = scorer.score_all(feats).numpy()
    for row, hist in enumerate([[2, 4, 1], [6]]):
        want, _ = model.session_state(hist)
        np.testing.assert_allclose(scores[row, 1:], want.numpy(), atol=1e-5)
    items = np.array([[1, 4, 10], [2, 2, 7]])
    np.testing.assert_allclose(scorer.score_items(feats, items).numpy(),
                               np.take_along_axis(scores, items, 1), atol=1e-5)


def test_popularity_scores_are_training_counts():
    pop = MOD.Popularity([0, 5, 1, 3])
    seq = tf.zeros([2, 4], tf.int32)
    f = pop.last_features(seq)
    np.testing.assert_array_equal(pop.score_all(f).numpy(), [[0, 5, 1, 3]] * 2)
    np.testing.assert_array_equal(pop.score_items(f, np.array([[3, 1], [2, 2]])).numpy(),
                                  [[3, 5], [1, 1]])
