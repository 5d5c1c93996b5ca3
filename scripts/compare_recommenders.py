"""GRU4Rec vs SASRec vs popularity on one dataset and one split, both protocols, one table.

    python scripts/compare_recommenders.py --dataset=data/ml100k/ml-100k.txt

The data is a SASRec-format file (``scripts/prepare_ml100k.py`` writes ml-100k's); the split
is SASRec's leave-one-out (pipelines.sequences). GRU4Rec trains on every user's training
sequence as one session (session-parallel, its own trainer: tfmodels.models.gru4rec);
SASRec on the shared trainer as ``train_sasrec.py``; popularity scores items by their
training count. All three are evaluated on the test item with the same code
(tfmodels.models.sasrec.evaluation over tfmodels.metrics.recsys): the paper's sampled
protocol (100 negatives the user never interacted with; the same negatives for every model)
and full ranking with the user's history excluded.
"""

from __future__ import annotations

import os
import sys
import time

from absl import app, flags, logging

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from pipelines import sequences  # noqa: E402
from pipelines.sessions import SessionParallelIterator, sessions_from_arrays  # noqa: E402
from tfmodels import training  # noqa: E402
from tfmodels.models.gru4rec.model import GRU4Rec  # noqa: E402
from tfmodels.models.gru4rec.params import GRU4RecParams  # noqa: E402
from tfmodels.models.gru4rec.training import fit  # noqa: E402
from tfmodels.models.sasrec import evaluation  # noqa: E402
from tfmodels.models.sasrec.losses import bce_loss  # noqa: E402
from tfmodels.models.sasrec.model import SASRec  # noqa: E402

flags.DEFINE_string("dataset", None, "SASRec-format file ('user item' lines).")
flags.DEFINE_integer("seed", 0, "Seed of the models, batches and sampled negatives.")
flags.DEFINE_integer("topk", 10, "Cut-off of the metrics.")
flags.DEFINE_integer("sasrec_epochs", 60, "SASRec training epochs.")
flags.DEFINE_integer("maxlen", 50, "SASRec maxlen.")
flags.DEFINE_integer("hidden_units", 50, "SASRec width.")
flags.DEFINE_float("dropout_rate", 0.2, "SASRec dropout (the paper's ML-1M value).")
flags.DEFINE_integer("batch_size", 128, "SASRec users per batch.")
flags.DEFINE_string("gru4rec_params",
                    "loss=cross-entropy,layers=100,batch_size=32,n_sample=512,"
                    "sample_alpha=0.5,learning_rate=0.05,momentum=0.5,dropout_p_embed=0.2,"
                    "n_epochs=5",
                    "GRU4Rec parameters (train_gru4rec.py -ps syntax).")
flags.DEFINE_integer("gru4rec_history", 200, "Last items of a history fed to GRU4Rec.")
flags.DEFINE_float("min_margin", 0.0,
                   "Exit with status 1 unless SASRec beats popularity by this factor on "
                   "sampled HR and full NDCG (0: no check).")

FLAGS = flags.FLAGS


class Popularity:
    """Scores every item by its training count (the same for every user)."""

    def __init__(self, counts):
        self.counts = tf.constant(np.asarray(counts, np.float32))

    def last_features(self, seq):
        return tf.zeros([tf.shape(seq)[0], 1])

    def score_all(self, features):
        return tf.broadcast_to(self.counts, [tf.shape(features)[0], self.counts.shape[0]])

    def score_items(self, features, items):
        return tf.gather(self.counts, items)


class GRU4RecScorer:
    """GRU4Rec (item indices 0..n-1 = ids 1..n) behind the SASRec scoring interface: the
    history (left-padded ids) is fed from a zero state; padding steps keep the state."""

    def __init__(self, model):
        self.model = model

    def last_features(self, seq):
        m = self.model
        seq = tf.cast(seq, tf.int32)
        hidden = m.initial_state(tf.shape(seq)[0])
        x = tf.zeros([tf.shape(seq)[0], m.params.layers[-1]])
        for t in tf.range(tf.shape(seq)[1]):  # a graph loop inside the evaluation step
            items = seq[:, t]
            keep = (items > 0)[:, None]
            out, new_h = m.hidden_forward(m.input_rows(tf.maximum(items - 1, 0)), hidden)
            hidden = [tf.where(keep, n, h) for n, h in zip(new_h, hidden)]
            x = tf.where(keep, out, x)
        return x

    def score_all(self, x):
        s = tf.matmul(x, self.model.Wy, transpose_b=True) + self.model.By
        return tf.pad(s, [[0, 0], [1, 0]])  # column 0: padding (excluded)

    def score_items(self, x, items):
        idx = tf.maximum(items - 1, 0)
        w = tf.gather(self.model.Wy, idx)
        return tf.einsum("bd,bnd->bn", x, w) + tf.gather(self.model.By, idx)


def parse_params(text):
    values = dict(kv.split("=", 1) for kv in text.split(",") if kv)
    return GRU4RecParams.from_dict(values)


def train_sasrec(split):
    keras.utils.set_random_seed(FLAGS.seed)
    model = SASRec(split.num_items, FLAGS.maxlen, FLAGS.hidden_units, 2, 1,
                   FLAGS.dropout_rate)
    optimizer = keras.optimizers.Adam(learning_rate=0.001, beta_2=0.98, epsilon=1e-8)

    def loss_fn(m, batch, training_flag):
        feats = m(batch["input_seq"], training=training_flag)
        pos_logits = m.score_items(feats, batch["pos"][..., None])[..., 0]
        neg_logits = m.score_items(feats, batch["neg"][..., None])[..., 0]
        return bce_loss(pos_logits, neg_logits, batch["pos"]), {}

    num_batch = max(1, split.data.num_users // FLAGS.batch_size)
    steps = num_batch * FLAGS.sasrec_epochs
    trainer = training.Trainer(model, optimizer, loss_fn, global_batch_size=FLAGS.batch_size,
                               steps_per_loop=num_batch, log_steps=steps // 4 or 1,
                               save_checkpoints_steps=steps)
    data = sequences.training_dataset(split, FLAGS.batch_size, FLAGS.maxlen, FLAGS.seed)
    trainer.train(data, steps)
    return model


def train_gru4rec(split):
    d = split.data
    users = np.repeat(np.arange(d.num_users), split.train_lengths)
    rows = np.concatenate([split.train(u) for u in range(d.num_users)])
    order = np.concatenate([np.arange(n) for n in split.train_lengths]).astype(np.float64)
    train = sessions_from_arrays(users, rows.astype(np.int64), order,
                                 itemidmap=np.arange(1, split.num_items + 1))
    params = parse_params(FLAGS.gru4rec_params)
    params.seed = FLAGS.seed + 42
    model = GRU4Rec(split.num_items, params)
    counts = np.bincount(train.item_idx, minlength=split.num_items)
    fit(model, SessionParallelIterator(train, params.batch_size), counts)
    return model


def run():
    path = sequences.resolve_dataset(FLAGS.dataset)
    split = sequences.leave_one_out(sequences.read_sequences(path))
    s = split.summary()
    print(f"{path}: {s['users']} users, {s['items']} items, {s['interactions']} "
          "interactions; leave-one-out split", flush=True)
    k = FLAGS.topk
    test = sequences.eval_inputs(split, FLAGS.maxlen, "test")
    cand = sequences.sampled_candidates(split, test["rows"], test["target"], 100, FLAGS.seed)
    gru_in = sequences.eval_inputs(split, FLAGS.gru4rec_history, "test")

    counts = np.zeros(split.num_items + 1)
    for u in range(split.data.num_users):
        np.add.at(counts, split.train(u), 1)
    models = {"popularity": (Popularity(counts), test["input_seq"])}
    t0 = time.time()
    print(f"--- GRU4Rec ({FLAGS.gru4rec_params})", flush=True)
    models["GRU4Rec"] = (GRU4RecScorer(train_gru4rec(split)), gru_in["input_seq"])
    times = {"GRU4Rec": time.time() - t0}
    t0 = time.time()
    print(f"--- SASRec ({FLAGS.sasrec_epochs} epochs, maxlen {FLAGS.maxlen}, dropout "
          f"{FLAGS.dropout_rate})", flush=True)
    models["SASRec"] = (train_sasrec(split), test["input_seq"])
    times["SASRec"] = time.time() - t0

    rows = {}
    for name, (model, seq) in models.items():
        sampled = evaluation.sampled_metrics(model, seq, cand, (k,))
        full = evaluation.full_ranking_metrics(model, seq, test["target"], test["history"],
                                               (k,))
        rows[name] = (sampled[k], full[k])
    n = len(test["target"])
    print(f"\n{n} test users; sampled = test item + 100 never-interacted items (ties: "
          "optimistic / pessimistic); full = all items, history excluded")
    head = (f"{'model':<12}{'sampled HR@' + str(k):>16}{'NDCG@' + str(k):>10}"
            f"{'full HR@' + str(k):>12}{'NDCG@' + str(k):>10}{'MRR@' + str(k):>10}"
            f"{'train s':>9}")
    print(head)
    for name, (sm, fm) in rows.items():
        hr = f"{sm['hr']:.4f}/{sm['hr_pessimistic']:.4f}"
        nd = f"{sm['ndcg']:.4f}"
        t = f"{times.get(name, 0.0):.0f}"
        print(f"{name:<12}{hr:>16}{nd:>10}{fm['hr']:>12.4f}{fm['ndcg']:>10.4f}"
              f"{fm['mrr']:>10.4f}{t:>9}")
    sas, pop = rows["SASRec"], rows["popularity"]
    margin = min(sas[0]["hr"] / pop[0]["hr"], sas[1]["ndcg"] / max(pop[1]["ndcg"], 1e-9))
    print(f"SASRec / popularity: sampled HR@{k} x{sas[0]['hr'] / pop[0]['hr']:.2f}, full "
          f"NDCG@{k} x{sas[1]['ndcg'] / max(pop[1]['ndcg'], 1e-9):.2f}")
    return rows, margin


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    tf.get_logger().setLevel("ERROR")  # retracing notices of the evaluation steps
    try:
        _, margin = run()
    except (ValueError, FileNotFoundError) as e:
        print(f"compare_recommenders.py: error: {e}", file=sys.stderr)
        sys.exit(2)
    if FLAGS.min_margin and margin < FLAGS.min_margin:
        print(f"SASRec does not beat popularity by x{FLAGS.min_margin}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    flags.mark_flag_as_required("dataset")
    app.run(main)
