"""SASRec training (sequences/s) and evaluation (users/s) speed at ML-1M shape, vs PyTorch.

Generated data of the ML-1M shape: 6,040 users, 3,416 items, at least 20 interactions per
user (mean about 165), Zipf-like item popularity; maxlen 200, 50 units, 2 blocks, 1 head,
dropout 0.2, batch 128 (the paper's ML-1M settings).

- training: ours = the shared Trainer with the train_sasrec.py loss (batches from the
  tf.data pipeline included), with and without jit_compile; the peer =
  pmixer/SASRec.pytorch's main.py step (forward, BCEWithLogits on pos != 0, backward,
  Adam(0.9, 0.98)) on batches pre-drawn by its own sample_function (its sampler runs in 3
  background processes in main.py, so its sampling is left out of its time).
- evaluation: the paper's protocol (101 candidates per user) over ``--eval_users`` users:
  ours = eval_inputs + sampled_candidates + sampled_metrics (batched, in-graph ranks); the
  peer = its utils.evaluate (one user per forward, as it ships).

The peer is not distributed with this project: pass the folder holding its ``model.py``
and ``utils.py`` (the ``python/`` folder of pmixer/SASRec.pytorch) with ``--peer_dir``. Both
run in this process with the same thread count; ratios ours / peer are printed.

  python scripts/benchmarks/bench_sasrec.py --threads 2 [--peer_dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import io as _io
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from pipelines import sequences  # noqa: E402
from tfmodels import training  # noqa: E402
from tfmodels.models.sasrec import evaluation  # noqa: E402
from tfmodels.models.sasrec.losses import bce_loss  # noqa: E402
from tfmodels.models.sasrec.model import SASRec  # noqa: E402

USERS, ITEMS = 6040, 3416


def make_split(seed=0):
    rng = np.random.default_rng(seed)
    lengths = np.minimum(20 + rng.geometric(1 / 146, size=USERS), 2000)
    pop = 1.0 / np.arange(1, ITEMS + 1) ** 0.8
    items = rng.choice(np.arange(1, ITEMS + 1), size=lengths.sum(), p=pop / pop.sum())
    offsets = np.zeros(USERS + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = sequences.SequenceData(np.arange(1, USERS + 1), offsets, items.astype(np.int32),
                                  ITEMS)
    return sequences.leave_one_out(data)


def loss_fn(model, batch, training_flag):
    feats = model(batch["input_seq"], training=training_flag)
    pos_logits = model.score_items(feats, batch["pos"][..., None])[..., 0]
    neg_logits = model.score_items(feats, batch["neg"][..., None])[..., 0]
    return bce_loss(pos_logits, neg_logits, batch["pos"]), {}


def bench_ours_train(split, args, jit):
    keras.utils.set_random_seed(0)
    model = SASRec(ITEMS, args.maxlen, args.hidden, args.blocks, 1, args.dropout)
    opt = keras.optimizers.Adam(args.lr, beta_2=0.98, epsilon=1e-8)
    trainer = training.Trainer(model, opt, loss_fn, global_batch_size=args.batch_size,
                               jit_compile=jit, steps_per_loop=args.steps,
                               log_steps=10**9, save_checkpoints_steps=10**9,
                               print_fn=lambda *a: None)
    data = sequences.training_dataset(split, args.batch_size, args.maxlen, seed=0)
    trainer.train(data, 2)  # tracing / compilation and one warm step
    t0 = time.perf_counter()
    trainer.train(data, 2 + args.steps)
    return args.batch_size * args.steps / (time.perf_counter() - t0), model


def bench_ours_eval(model, split, args, jit):
    inputs = sequences.eval_inputs(split, args.maxlen, "test")
    n = args.eval_users
    sub = {k: v[:n] for k, v in inputs.items()}

    def run():
        cand = sequences.sampled_candidates(split, sub["rows"], sub["target"], 100, seed=0)
        return evaluation.sampled_metrics(model, sub["input_seq"], cand, (10,), 256,
                                          jit_compile=jit)

    run()  # tracing
    t0 = time.perf_counter()
    run()
    return n / (time.perf_counter() - t0)


class _Collect:
    """A stand-in result queue: keeps the peer sampler's batches, stops it after n."""

    class Full(Exception):
        pass

    def __init__(self, n):
        self.n, self.items = n, []

    def put(self, batch):
        self.items.append(tuple(np.array(x) for x in batch))
        if len(self.items) >= self.n:
            raise self.Full


def bench_peer(split, args):
    import torch  # imported after TensorFlow on purpose

    sys.path.insert(0, args.peer_dir)
    from model import SASRec as PeerSASRec
    from utils import evaluate as peer_evaluate
    from utils import sample_function

    torch.set_num_threads(args.threads)
    d = split.data
    user_train = {int(d.user_ids[u]): list(map(int, split.train(u))) for u in range(USERS)}
    peer_args = argparse.Namespace(device="cpu", norm_first=False, hidden_units=args.hidden,
                                   maxlen=args.maxlen, num_heads=1, dropout_rate=args.dropout,
                                   num_blocks=args.blocks, l2_emb=0.0)
    torch.manual_seed(0)
    model = PeerSASRec(USERS, ITEMS, peer_args)
    for param in model.parameters():
        with contextlib.suppress(Exception):
            torch.nn.init.xavier_normal_(param.data)
    q = _Collect(args.steps + 2)
    with contextlib.suppress(_Collect.Full):
        sample_function(user_train, USERS, ITEMS, args.batch_size, args.maxlen, q, 0)
    bce = torch.nn.BCEWithLogitsLoss()
    adam = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.98))
    model.train()

    def step(batch):
        u, seq, pos, neg = batch
        pos_logits, neg_logits = model(u, seq, pos, neg)
        ones, zeros = torch.ones(pos_logits.shape), torch.zeros(neg_logits.shape)
        adam.zero_grad()
        idx = np.where(pos != 0)
        loss = bce(pos_logits[idx], ones[idx]) + bce(neg_logits[idx], zeros[idx])
        loss.backward()
        adam.step()

    for b in q.items[:2]:
        step(b)
    t0 = time.perf_counter()
    for b in q.items[2:]:
        step(b)
    train_rate = args.batch_size * args.steps / (time.perf_counter() - t0)

    n = args.eval_users
    users = [int(d.user_ids[u]) for u in range(n)]
    dataset = [{u: user_train[u] for u in users},
               {u: [int(split.valid[u - 1])] for u in users},
               {u: [int(split.test[u - 1])] for u in users}, n, ITEMS]
    model.eval()
    t0 = time.perf_counter()
    with torch.no_grad(), contextlib.redirect_stdout(_io.StringIO()):
        peer_evaluate(model, dataset, peer_args)
    return train_rate, n / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--peer_dir", default="", help="pmixer/SASRec.pytorch python/ folder")
    ap.add_argument("--steps", type=int, default=10, help="timed training steps")
    ap.add_argument("--eval_users", type=int, default=1000)
    ap.add_argument("--batch_size", type=int, default=128)
    ap.add_argument("--maxlen", type=int, default=200)
    ap.add_argument("--hidden", type=int, default=50)
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--skip_jit", action="store_true",
                    help="leave out the jit_compile rows")
    args = ap.parse_args()
    if args.peer_dir and not os.path.isfile(os.path.join(args.peer_dir, "model.py")):
        print(f"ERROR. --peer_dir {args.peer_dir} has no model.py", file=sys.stderr)
        return 2
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    tf.get_logger().setLevel("ERROR")
    split = make_split()
    print(f"ML-1M shape: {USERS} users, {ITEMS} items, {int(split.data.lengths.sum())} "
          f"interactions; maxlen {args.maxlen}, batch {args.batch_size}, {args.threads} "
          "threads", flush=True)
    rows = {}
    for jit in (False,) if args.skip_jit else (False, True):
        train_rate, model = bench_ours_train(split, args, jit)
        eval_rate = bench_ours_eval(model, split, args, jit)
        rows["ours jit" if jit else "ours"] = (train_rate, eval_rate)
        print(f"{'ours jit' if jit else 'ours':<10} train {train_rate:9.1f} seq/s   eval "
              f"{eval_rate:9.1f} users/s", flush=True)
    if args.peer_dir:
        peer = bench_peer(split, args)
        print(f"{'peer':<10} train {peer[0]:9.1f} seq/s   eval {peer[1]:9.1f} users/s "
              "(pmixer/SASRec.pytorch)")
        for name, (tr, ev) in rows.items():
            print(f"{name:<10} vs peer: train {tr / peer[0]:.2f}x   eval {ev / peer[1]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
