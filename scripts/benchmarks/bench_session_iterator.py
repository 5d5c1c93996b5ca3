"""Events/s of the session-parallel iterator alone, ours vs the official round loop.

The peer is the loop of the official GRU4Rec `SessionDataIterator.__call__`
(hidasib/GRU4Rec_PyTorch_Official), transcribed to NumPy without sampling or device
copies: per round, every lane advances by the shortest remaining length minus one, then
finished lanes are refilled in lane order. Ours (`pipelines.sessions.SessionParallelIterator`)
assigns lanes with one heap operation per session and lays the epoch out with vectorised
NumPy. Both run here, in one process, on the same generated sessions (RSC15-like lengths:
at least 2, mean 4), and must produce the same batches.

  python scripts/benchmarks/bench_session_iterator.py [--n_sessions=500000]
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from pipelines.sessions import SessionData, SessionParallelIterator  # noqa: E402

flags.DEFINE_integer("n_sessions", 500_000, "Generated sessions.")
flags.DEFINE_integer("n_items", 37_000, "Item vocabulary.")
flags.DEFINE_list("batch_sizes", ["32", "512"], "Lanes.")
flags.DEFINE_float("mean_length", 4.0, "Mean session length (RSC15: about 4).")
flags.DEFINE_integer("seed", 0, "Random seed.")
FLAGS = flags.FLAGS


def official_round_loop(data: SessionData, batch_size: int):
    """The official round scheme (no negative samples), yielding (inputs, targets)."""
    offsets, items = data.offsets, data.item_idx
    n = data.n_sessions
    iters = np.arange(batch_size)
    maxiter = iters.max()
    start = offsets[iters]
    end = offsets[iters + 1]
    while True:
        minlen = (end - start).min()
        out_idx = items[start]
        for i in range(minlen - 1):
            in_idx = out_idx
            out_idx = items[start + i + 1]
            yield in_idx, out_idx
        start = start + minlen - 1
        finished = end - start <= 1
        n_finished = finished.sum()
        iters[finished] = maxiter + np.arange(1, n_finished + 1)
        maxiter += n_finished
        valid = iters < n
        if valid.sum() == 0:
            return
        mask = finished & valid
        start[mask] = offsets[iters[mask]]
        end[mask] = offsets[iters[mask] + 1]
        iters, start, end = iters[valid], start[valid], end[valid]


def generate(n_sessions, n_items, mean_length, seed):
    rng = np.random.default_rng(seed)
    lengths = 1 + rng.geometric(1.0 / (mean_length - 1.0), size=n_sessions)
    offsets = np.zeros(n_sessions + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    items = rng.integers(0, n_items, size=offsets[-1]).astype(np.int32)
    return SessionData(items, offsets, np.arange(n_items), np.arange(n_sessions),
                       np.arange(offsets[-1], dtype=np.float64))


def _time(make_iter):
    t0 = time.perf_counter()
    n = 0
    for batch in make_iter():
        n += len(batch[0])
    return n, time.perf_counter() - t0


def main(argv):
    del argv
    data = generate(FLAGS.n_sessions, FLAGS.n_items, FLAGS.mean_length, FLAGS.seed)
    print(f"{data.n_sessions} sessions, {data.n_events} events, "
          f"{data.n_predictions} (input, target) pairs")
    for bs in [int(b) for b in FLAGS.batch_sizes]:
        ours = list(zip(*[(i.copy(), t.copy()) for i, t, _, _ in
                          SessionParallelIterator(data, bs)]))
        peer = list(zip(*official_round_loop(data, bs)))
        same = len(ours[0]) == len(peer[0]) and all(
            np.array_equal(a, b) for a, b in zip(ours[0], peer[0])) and all(
            np.array_equal(a, b) for a, b in zip(ours[1], peer[1]))
        del ours, peer
        n_ours, t_ours = _time(lambda bs=bs: SessionParallelIterator(data, bs))
        n_peer, t_peer = _time(lambda bs=bs: official_round_loop(data, bs))
        assert n_ours == n_peer == data.n_predictions
        print(f"batch {bs:4d}: ours {n_ours / t_ours:12,.0f} events/s (new epoch incl. lane "
              f"layout) | official loop {n_peer / t_peer:12,.0f} events/s | ratio "
              f"{t_peer / t_ours:5.2f}x | identical batches: {same}", flush=True)


if __name__ == "__main__":
    app.run(main)
