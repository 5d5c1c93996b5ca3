"""DETR-R50 speed vs HF transformers ``DetrForObjectDetection`` (torch), one process.

Images/s of inference (batch 1, 800×800, eval mode) and of a training step (forward, set
loss with Hungarian matching, backward, AdamW update; batch 2 at 800×800 unless
``--train_size``), the full R50 model (6 + 6 layers, d 256, 100 queries, 91 classes), the
same random weights in both (ours loaded from HF's state dict). The two run alternately and
the median of ``--iters`` timings is reported with the ratio ours / HF.

    python scripts/benchmarks/bench_detr.py [--iters 3] [--size 800] [--train_size 800]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfmodels  # noqa: E402,F401
from tfmodels.models.detr import DETR, DetrConfig, load_state_dict  # noqa: E402
from tfmodels.models.detr.checkpoint import build  # noqa: E402
from tfmodels.models.detr.criterion import SetCriterion  # noqa: E402
from tfmodels.models.detr.training import make_optimizer  # noqa: E402
from tfmodels.models.detr.weights import hf_table_for  # noqa: E402


def median_time(fn, iters):
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--size", type=int, default=800)
    parser.add_argument("--train_size", type=int, default=800)
    parser.add_argument("--train_batch", type=int, default=2)
    args = parser.parse_args()

    import torch  # after TensorFlow
    from transformers import DetrConfig as HFConfig
    from transformers import DetrForObjectDetection

    torch.manual_seed(0)
    hf = DetrForObjectDetection(HFConfig(use_timm_backbone=False, use_pretrained_backbone=False,
                                         num_labels=91, auxiliary_loss=True))
    state = {k: v.detach().numpy() for k, v in hf.state_dict().items()}
    ours = build(DETR(DetrConfig(num_classes=91)))
    load_state_dict(ours, state, hf_table_for(ours, state), strict=True)
    print(f"threads: TF intra {tf.config.threading.get_intra_op_parallelism_threads()}, "
          f"torch {torch.get_num_threads()}; machine shared: figures are noisy, the ratio "
          "is the number to read", flush=True)

    rng = np.random.default_rng(0)
    s = args.size
    x = rng.standard_normal((1, s, s, 3)).astype(np.float32)
    x_t = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    infer = tf.function(lambda v: ours({"pixel_values": v}, training=False))
    infer(x)
    hf.eval()

    def hf_infer():
        with torch.no_grad():
            hf(pixel_values=x_t)

    hf_infer()
    t_ours, t_hf = [], []
    for _ in range(args.iters):
        t_ours.append(median_time(lambda: infer(x)["pred_boxes"].numpy(), 1))
        t_hf.append(median_time(hf_infer, 1))
    a, b = np.median(t_ours), np.median(t_hf)
    print(f"inference {s}x{s} batch 1: ours {1 / a:.2f} img/s, HF {1 / b:.2f} img/s, "
          f"ratio {b / a:.2f}x", flush=True)

    # Training step: batch of train_batch images, 3 boxes each.
    n, ts = args.train_batch, args.train_size
    xb = rng.standard_normal((n, ts, ts, 3)).astype(np.float32)
    boxes = rng.uniform(0.3, 0.6, (n, 3, 4)).astype(np.float32)
    labels = rng.integers(1, 91, (n, 3)).astype(np.int32)
    targets = {"labels": labels, "boxes": boxes, "valid": np.ones((n, 3), np.float32)}
    criterion = SetCriterion(91)
    opt = make_optimizer()
    opt.build(ours.trainable_variables)

    @tf.function
    def train_step(v, t):
        with tf.GradientTape() as tape:
            loss = criterion(ours({"pixel_values": v}, training=True), t)["loss"]
        grads = tape.gradient(loss, ours.trainable_variables)
        grads, _ = tf.clip_by_global_norm(grads, 0.1)
        opt.apply(grads, ours.trainable_variables)
        return loss

    hf.train()
    params = [p for p in hf.parameters() if p.requires_grad]
    torch_opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=1e-4)
    xb_t = torch.from_numpy(xb.transpose(0, 3, 1, 2).copy())
    hf_labels = [{"class_labels": torch.from_numpy(labels[i]).long(),
                  "boxes": torch.from_numpy(boxes[i])} for i in range(n)]

    def hf_step():
        torch_opt.zero_grad()
        out = hf(pixel_values=xb_t, labels=hf_labels)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 0.1)
        torch_opt.step()

    train_step(xb, targets)
    hf_step()
    t_ours, t_hf = [], []
    for _ in range(args.iters):
        t_ours.append(median_time(lambda: float(train_step(xb, targets)), 1))
        t_hf.append(median_time(hf_step, 1))
    a, b = np.median(t_ours), np.median(t_hf)
    print(f"training step {ts}x{ts} batch {n}: ours {n / a:.2f} img/s, HF {n / b:.2f} img/s, "
          f"ratio {b / a:.2f}x", flush=True)


if __name__ == "__main__":
    main()
