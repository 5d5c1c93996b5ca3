"""GRU4Rec training and evaluation speed (events/s) on generated session data.

Configurations: the reference point (400 items, batch 32, n_sample 256, layers 100) and
RSC15 scale (about 37,000 items, n_sample 2048, batch 32 and 512, layers 100 and 480),
cross-entropy loss. Training is timed over one epoch after a warm-up epoch on a small
slice (graph tracing excluded); evaluation is full ranking over all items, batch 512.

The peer is the official PyTorch implementation (hidasib/GRU4Rec_PyTorch_Official),
which is not distributed with this project: pass the folder holding its
``gru4rec_pytorch.py`` and ``evaluation.py`` with ``--official_dir`` (it needs pandas;
``--peer_path`` adds a folder to ``sys.path`` for it). Both run in this process with the
same thread count, and the ratio ours / official is printed.

  python scripts/benchmarks/bench_gru4rec.py --threads 2 [--official_dir DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

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


def bench_ours(cfg: dict, train: SessionData, test: SessionData) -> tuple[float, float]:
    p = GRU4RecParams(layers=[cfg["layers"]], loss="cross-entropy", batch_size=cfg["batch_size"],
                      n_sample=cfg["n_sample"], learning_rate=0.05, sample_alpha=0.5)
    model = GRU4Rec(train.n_items, p)
    trainer = GRU4RecTrainer(model, train.item_counts())
    trainer.train_epoch(SessionParallelIterator(_slice(train, 4 * p.batch_size), p.batch_size))
    _, dt, events, _ = trainer.train_epoch(SessionParallelIterator(train, p.batch_size))
    train_eps = events / dt
    evaluate(model, _slice(test, 600), cutoffs=(20,))
    t0 = time.perf_counter()
    evaluate(model, test, cutoffs=(20,))
    return train_eps, test.n_predictions / (time.perf_counter() - t0)


def bench_official(cfg: dict, train: SessionData, test: SessionData) -> tuple[float, float]:
    import pandas as pd
    import torch  # imported after TensorFlow on purpose
    from evaluation import batch_eval
    from gru4rec_pytorch import GRU4Rec as Official

    def frame(d: SessionData):
        return pd.DataFrame({"SessionId": np.repeat(d.session_ids, d.session_lengths),
                             "ItemId": d.item_ids[d.item_idx], "Time": d.times})

    tr, te = frame(train), frame(test)
    g = Official(layers=[cfg["layers"]], loss="cross-entropy", batch_size=cfg["batch_size"],
                 n_sample=cfg["n_sample"], learning_rate=0.05, sample_alpha=0.5, n_epochs=1,
                 device=torch.device("cpu"))
    t0 = time.perf_counter()
    # compatibility_mode=False: its numpy initialisation fails under NumPy 2 (float64 weights).
    g.fit(tr, compatibility_mode=False)
    train_eps = train.n_predictions / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    batch_eval(g, te, cutoff=[20], batch_size=512, mode="standard")
    return train_eps, test.n_predictions / (time.perf_counter() - t0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma list of " +
                    ", ".join(CONFIGS))
    ap.add_argument("--events", type=int, default=150_000, help="training events")
    ap.add_argument("--test_events", type=int, default=20_000)
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
    print(f"threads={args.threads} train_events~{args.events} test_events~{args.test_events}")
    header = f"{'config':<18}{'ours train e/s':>15}{'ours eval e/s':>15}"
    if args.official_dir:
        header += f"{'official train':>16}{'official eval':>15}{'train x':>9}{'eval x':>8}"
    print(header)
    for name in names:
        cfg = CONFIGS[name]
        train = make_sessions(cfg["n_items"], args.events, seed=1, cover=True)
        test = make_sessions(cfg["n_items"], args.test_events, seed=2)
        ours = bench_ours(cfg, train, test)
        line = f"{name:<18}{ours[0]:>15.0f}{ours[1]:>15.0f}"
        if args.official_dir:
            peer = bench_official(cfg, train, test)
            line += (f"{peer[0]:>16.0f}{peer[1]:>15.0f}{ours[0] / peer[0]:>9.2f}"
                     f"{ours[1] / peer[1]:>8.2f}")
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
