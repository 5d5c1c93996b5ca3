"""GRU4Rec training and evaluation speed (events/s) on generated session data.

Configurations: the reference point (400 items, batch 32, n_sample 256, layers 100) and
RSC15 scale (about 37,000 items, n_sample 2048, batch 32 and 512, layers 100 and 480),
cross-entropy loss. Both implementations are timed like with like, in this process, with
the same thread count:

- train loop: the fastest epoch after the first (`--epochs`, default 3) over the whole
  training set, as each one's own epoch timer measures it (set-up, tracing and the first
  epoch excluded);
- train end to end: constructing the model and trainer (official: `fit`'s data preparation
  and sample store) plus all epochs, from a cold start;
- eval loop: full ranking over all items, batch 512, later evaluations of the test set,
  ours and official alternated, best of `--eval_repeats` (ours: on the session-parallel
  arrays; official: `batch_eval` minus the construction of its `SessionDataIterator`,
  timed alone);
- eval end to end: the first evaluation call, including the data layout (and our tracing).

On a machine whose cores are busy with other work use ``--threads 1``: with 2 threads on
2 busy cores PyTorch's OpenMP threads wait at barriers and the official runs 20x slower.

Events are the (input, next item) pairs actually trained or ranked, the same count for
both (the official's own e/s line counts `batch_size` lanes for every step, also in the
shrinking last steps of an epoch). Sessions/s = events/s divided by events per session.

The peer is the official PyTorch implementation (hidasib/GRU4Rec_PyTorch_Official),
which is not distributed with this project: pass the folder holding its
``gru4rec_pytorch.py`` and ``evaluation.py`` with ``--official_dir`` (it needs pandas;
``--peer_path`` adds a folder to ``sys.path`` for it).

  python scripts/benchmarks/bench_gru4rec.py --threads 2 [--official_dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from pipelines.sessions import SessionData, SessionParallelIterator  # noqa: E402
from tfmodels.models.gru4rec.evaluation import evaluate  # noqa: E402
from tfmodels.models.gru4rec.model import GRU4Rec  # noqa: E402
from tfmodels.models.gru4rec.params import GRU4RecParams  # noqa: E402
from tfmodels.models.gru4rec.training import GRU4RecTrainer  # noqa: E402

CONFIGS = {
    "ref": dict(n_items=400, batch_size=32, n_sample=256, layers=100),
    "rsc15_b32_l100": dict(n_items=37000, batch_size=32, n_sample=2048, layers=100),
    "rsc15_b512_l100": dict(n_items=37000, batch_size=512, n_sample=2048, layers=100),
    "rsc15_b32_l480": dict(n_items=37000, batch_size=32, n_sample=2048, layers=480),
    "rsc15_b512_l480": dict(n_items=37000, batch_size=512, n_sample=2048, layers=480),
}


def make_sessions(n_items: int, n_events: int, seed: int, cover: bool = False) -> SessionData:
    """Sessions of length 2 + Geometric(1/4) over Zipf-like item popularity."""
    rng = np.random.default_rng(seed)
    lengths = 2 + rng.geometric(0.25, size=n_events // 5 + 1)
    lengths = lengths[: np.searchsorted(np.cumsum(lengths), n_events) + 1]
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.8
    items = rng.choice(n_items, size=offsets[-1], p=pop / pop.sum()).astype(np.int32)
    if cover:  # every item occurs in training (the official item map comes from it)
        items[rng.permutation(len(items))[:n_items]] = np.arange(n_items)
    return SessionData(item_idx=items, offsets=offsets,
                       item_ids=np.arange(n_items, dtype=np.int64),
                       session_ids=np.arange(len(lengths), dtype=np.int64),
                       times=np.arange(offsets[-1], dtype=np.float64))


def _slice(data: SessionData, n_sessions: int) -> SessionData:
    end = data.offsets[n_sessions]
    return SessionData(data.item_idx[:end], data.offsets[: n_sessions + 1], data.item_ids,
                       data.session_ids[:n_sessions], data.times[:end])


def bench_ours(cfg: dict, train: SessionData, test: SessionData, epochs: int) -> dict:
    t0 = time.perf_counter()
    p = GRU4RecParams(layers=[cfg["layers"]], loss="cross-entropy", batch_size=cfg["batch_size"],
                      n_sample=cfg["n_sample"], learning_rate=0.05, sample_alpha=0.5)
    model = GRU4Rec(train.n_items, p)
    trainer = GRU4RecTrainer(model, train.item_counts())
    it = SessionParallelIterator(train, p.batch_size)
    secs = [trainer.train_epoch(it)[1] for _ in range(epochs)]
    e2e = time.perf_counter() - t0
    out = {"train_loop": train.n_predictions / min(secs[1:]),
           "train_e2e": epochs * train.n_predictions / e2e}
    t0 = time.perf_counter()
    evaluate(model, SessionParallelIterator(test, 512), cutoffs=(20,))
    out["eval_e2e"] = test.n_predictions / (time.perf_counter() - t0)
    arrays = SessionParallelIterator(test, 512).schedule()

    def eval_loop():
        t0 = time.perf_counter()
        evaluate(model, arrays, cutoffs=(20,))
        return test.n_predictions / (time.perf_counter() - t0)
    return out, eval_loop


def bench_official(cfg: dict, train: SessionData, test: SessionData, epochs: int) -> dict:
    import pandas as pd
    import torch  # imported after TensorFlow on purpose
    from evaluation import batch_eval
    from gru4rec_pytorch import GRU4Rec as Official
    from gru4rec_pytorch import SessionDataIterator

    def frame(d: SessionData):
        return pd.DataFrame({"SessionId": np.repeat(d.session_ids, d.session_lengths),
                             "ItemId": d.item_ids[d.item_idx], "Time": d.times})

    tr, te = frame(train), frame(test)
    log = io.StringIO()
    t0 = time.perf_counter()
    g = Official(layers=[cfg["layers"]], loss="cross-entropy", batch_size=cfg["batch_size"],
                 n_sample=cfg["n_sample"], learning_rate=0.05, sample_alpha=0.5,
                 n_epochs=epochs, device=torch.device("cpu"))
    with contextlib.redirect_stdout(log):
        # compatibility_mode=False: its numpy initialisation fails under NumPy 2.
        g.fit(tr, compatibility_mode=False)
    e2e = time.perf_counter() - t0
    secs = [float(m) for m in re.findall(r"Epoch\d+ --> loss: \S+ \t\((\S+)s\)", log.getvalue())]
    if len(secs) != epochs:
        raise RuntimeError(f"unexpected official fit output:\n{log.getvalue()}")
    out = {"train_loop": train.n_predictions / min(secs[1:]),
           "train_e2e": epochs * train.n_predictions / e2e}
    with contextlib.redirect_stdout(log):
        t0 = time.perf_counter()
        batch_eval(g, te, cutoff=[20], batch_size=512, mode="standard")
        out["eval_e2e"] = test.n_predictions / (time.perf_counter() - t0)

    def eval_loop():
        with contextlib.redirect_stdout(log):
            t0 = time.perf_counter()
            batch_eval(g, te, cutoff=[20], batch_size=512, mode="standard")
            total = time.perf_counter() - t0
            t0 = time.perf_counter()
            SessionDataIterator(te, 512, 0, 0, 0, "ItemId", "SessionId", "Time",
                                device=g.device, itemidmap=g.data_iterator.itemidmap)
            setup = time.perf_counter() - t0
        return test.n_predictions / max(total - setup, 1e-9)
    return out, eval_loop


COLUMNS = ("train_loop", "train_e2e", "eval_loop", "eval_e2e")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma list of " +
                    ", ".join(CONFIGS))
    ap.add_argument("--events", type=int, default=60_000, help="training events")
    ap.add_argument("--test_events", type=int, default=20_000)
    ap.add_argument("--epochs", type=int, default=3,
                    help="training epochs (loop: the fastest after the first)")
    ap.add_argument("--eval_repeats", type=int, default=3,
                    help="evaluation loop runs, ours and official alternated (best of each)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--official_dir", default="", help="folder with the official PyTorch code")
    ap.add_argument("--peer_path", default="", help="extra sys.path folder for the peer")
    args = ap.parse_args(argv)
    names = [c for c in args.configs.split(",") if c]
    for n in names:
        if n not in CONFIGS:
            print(f"ERROR. unknown --configs entry {n!r}", file=sys.stderr)
            return 1
    if args.official_dir and not os.path.isfile(
            os.path.join(args.official_dir, "gru4rec_pytorch.py")):
        print(f"ERROR. --official_dir {args.official_dir} has no gru4rec_pytorch.py",
              file=sys.stderr)
        return 1
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    if args.official_dir:
        for pth in (args.peer_path, args.official_dir):
            if pth:
                sys.path.insert(0, pth)
        import torch

        torch.set_num_threads(args.threads)
    if args.epochs < 2:
        print("ERROR. --epochs must be >= 2 (the first is the warm-up)", file=sys.stderr)
        return 1
    print(f"threads={args.threads} train_events~{args.events} test_events~{args.test_events} "
          f"epochs={args.epochs}; events/s (ratio = ours / official)")
    for name in names:
        cfg = CONFIGS[name]
        train = make_sessions(cfg["n_items"], args.events, seed=1, cover=True)
        test = make_sessions(cfg["n_items"], args.test_events, seed=2)
        per_session = test.n_predictions / test.n_sessions
        ours, ours_eval = bench_ours(cfg, train, test, args.epochs)
        peer, peer_eval = (bench_official(cfg, train, test, args.epochs) if args.official_dir
                           else (None, None))
        ours["eval_loop"] = peer_eval_best = 0.0
        for _ in range(args.eval_repeats):  # alternated, best of each
            ours["eval_loop"] = max(ours["eval_loop"], ours_eval())
            if peer:
                peer_eval_best = max(peer_eval_best, peer_eval())
        if peer:
            peer["eval_loop"] = peer_eval_best
        print(f"{name}: {cfg}")
        for col in COLUMNS:
            line = f"  {col:<11} ours {ours[col]:>9.0f}"
            if peer:
                line += f"  official {peer[col]:>9.0f}  ratio {ours[col] / peer[col]:>5.2f}x"
            if col.startswith("eval"):
                line += f"  (ours {ours[col] / per_session:.0f} sessions/s)"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
