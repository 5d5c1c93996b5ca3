"""SASRec evaluation: the paper's sampled protocol and full ranking, on the shared ranking code.

Sampled (kang205/SASRec ``util.evaluate``): the held-out item is scored with 100 items the user
never interacted with, from the representation of the last position of the user's history;
HR@10 and NDCG@10, over at most 10,000 users (sampled when there are more). Ties are counted,
not left to the order of a sort: rank = 1 + #negatives scoring strictly higher (the
original's ``argsort().argsort()`` puts ties in an arbitrary order), and a pessimistic rank
1 + #negatives scoring >= is reported as well.

Full ranking: the held-out item among all items, the items of the user's history excluded
(the held-out item itself is never excluded), HR@k, NDCG@k and MRR@k: sampled metrics can
reorder models (Krichene & Rendle, KDD 2020).

Both go through :mod:`tfmodels.metrics.recsys` (``target_ranks``, ``ranking_sums``,
``evaluate_ranking``), the same code that evaluates GRU4Rec. Inputs are arrays (from
``pipelines.sequences.eval_inputs`` / ``sampled_candidates``).
"""

from __future__ import annotations

import weakref

import numpy as np
import tensorflow as tf

from tfmodels.metrics import recsys

MAX_SAMPLED_USERS = 10000
_STEPS = weakref.WeakKeyDictionary()


def sample_users(n_users: int, seed: int = 0, limit: int = MAX_SAMPLED_USERS) -> np.ndarray:
    """Indices of the evaluated users: all, or ``limit`` drawn without replacement."""
    if n_users <= limit:
        return np.arange(n_users)
    return np.sort(np.random.default_rng(seed).choice(n_users, limit, replace=False))


def _batches(arrays, batch_size):
    n = len(arrays[0])
    for i in range(0, n, batch_size):
        yield tuple(a[i:i + batch_size] for a in arrays)


def sampled_metrics(model, input_seq, candidates, cutoffs=(10,), batch_size=256,
                    jit_compile=False) -> dict:
    """The paper's protocol. candidates [U, 1 + n]: the target first, then the negatives.

    Returns {k: {"hr", "ndcg", "hr_pessimistic", "ndcg_pessimistic"}} and "users".
    """
    cutoffs = recsys.check_cutoffs(cutoffs)
    optimistic, pessimistic = recsys.RankingMetrics(cutoffs), recsys.RankingMetrics(cutoffs)

    def step(seq, cand):
        scores = model.score_items(model.last_features(seq), cand)
        zeros = tf.zeros([tf.shape(cand)[0]], tf.int32)
        ranks, n_nan = recsys.target_ranks(scores, zeros, "standard", return_nan=True)
        worst = recsys.target_ranks(scores, zeros, "conservative")
        return recsys.ranking_sums(ranks, cutoffs), recsys.ranking_sums(worst, cutoffs), n_nan

    cache = _STEPS.setdefault(model, {})  # one traced step per model, across calls
    compiled = cache.get(("sampled", cutoffs, jit_compile))
    if compiled is None:
        compiled = tf.function(step, reduce_retracing=True, jit_compile=jit_compile)
        cache[("sampled", cutoffs, jit_compile)] = compiled
    for seq, cand in _batches((np.asarray(input_seq), np.asarray(candidates)), batch_size):
        a, b, n_nan = compiled(seq, cand)
        if int(n_nan):
            raise ValueError("NaN scores: the model cannot be evaluated")
        optimistic.update_sums(a, len(seq))
        pessimistic.update_sums(b, len(seq))
    opt, pes = optimistic.result(), pessimistic.result()
    out = {k: {"hr": opt[k]["recall"], "ndcg": opt[k]["ndcg"],
               "hr_pessimistic": pes[k]["recall"], "ndcg_pessimistic": pes[k]["ndcg"]}
           for k in cutoffs}
    out["users"] = optimistic.count
    return out


def pad_histories(histories) -> np.ndarray:
    """List of item arrays -> int32 [U, longest + 1], right-padded with 0 (the padding item):
    every row holds at least one 0, so column 0 is excluded from every ranking."""
    width = max((len(h) for h in histories), default=0) + 1
    out = np.zeros((len(histories), width), np.int32)
    for i, h in enumerate(histories):
        out[i, :len(h)] = h
    return out


def full_ranking_metrics(model, input_seq, targets, histories, cutoffs=(10,), batch_size=256,
                         mode="standard", jit_compile=False) -> dict:
    """All items ranked, the history (and the padding column 0) excluded.

    Returns {k: {"hr", "ndcg", "mrr"}} and "users".
    """
    input_seq, targets = np.asarray(input_seq), np.asarray(targets, np.int32)
    order = np.argsort([len(h) for h in histories], kind="stable")

    def batches():
        # users of similar history length together keep the exclusion lists short
        for i in range(0, len(order), batch_size):
            rows = order[i:i + batch_size]
            yield (input_seq[rows], targets[rows],
                   pad_histories([histories[r] for r in rows]))

    def score_fn(seq):
        return model.score_all(model.last_features(seq))

    metrics = recsys.evaluate_ranking(score_fn, batches(), cutoffs, mode, pad=-1,
                                      jit_compile=jit_compile)
    res = metrics.result()
    out = {k: {"hr": v["recall"], "ndcg": v["ndcg"], "mrr": v["mrr"]} for k, v in res.items()}
    out["users"] = metrics.count
    return out


def format_sampled(result, k=10) -> str:
    r = result[k]
    return (f"sampled: HR@{k} {r['hr']:.4f} NDCG@{k} {r['ndcg']:.4f} "
            f"(ties against: HR@{k} {r['hr_pessimistic']:.4f} "
            f"NDCG@{k} {r['ndcg_pessimistic']:.4f}; {result['users']} users)")


def format_full(result, k=10) -> str:
    r = result[k]
    return (f"full: HR@{k} {r['hr']:.4f} NDCG@{k} {r['ndcg']:.4f} MRR@{k} {r['mrr']:.4f} "
            f"({result['users']} users)")
