"""MaskFormer speed vs HF transformers ``MaskFormerForInstanceSegmentation`` (torch), one process.

Images/s of inference (batch 1, 512×512, eval mode) and of a training step (forward, Hungarian
matching, CE + focal + dice, backward, AdamW, clipping; batch 2 at 512×512), the full model
with a ResNet-50 (``--backbone resnet``, default) or Swin-T (``--backbone swin``) backbone,
150 classes, 100 queries, the same random weights in both (ours loaded from HF's
``save_pretrained`` directory with ``load_maskformer``). The two run alternately; the median
of ``--iters`` timings and the ratio ours / HF are printed.

    python scripts/benchmarks/bench_maskformer.py [--iters 3] [--size 512] [--backbone swin]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfmodels  # noqa: E402,F401
from tfmodels.models.maskformer.criterion import SetCriterion  # noqa: E402
from tfmodels.models.maskformer.training import make_optimizer  # noqa: E402
from tfmodels.models.maskformer.weights import load_maskformer  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--train_batch", type=int, default=2)
    parser.add_argument("--backbone", choices=["resnet", "swin"], default="resnet")
    args = parser.parse_args()

    import torch  # after TensorFlow
    from transformers import (
        MaskFormerConfig,
        MaskFormerForInstanceSegmentation,
        ResNetConfig,
        SwinConfig,
    )

    torch.manual_seed(0)
    if args.backbone == "swin":
        bc = SwinConfig(embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24],
                        window_size=7, out_features=["stage1", "stage2", "stage3", "stage4"])
    else:
        bc = ResNetConfig(layer_type="bottleneck", depths=[3, 4, 6, 3],
                          out_features=["stage1", "stage2", "stage3", "stage4"])
    hf = MaskFormerForInstanceSegmentation(MaskFormerConfig(backbone_config=bc, num_labels=150))
    with tempfile.TemporaryDirectory() as d:
        hf.save_pretrained(d)
        ours = load_maskformer(d)
    print(f"backbone {args.backbone}; threads: TF intra "
          f"{tf.config.threading.get_intra_op_parallelism_threads()}, torch "
          f"{torch.get_num_threads()}; machine shared: figures are noisy, the ratio is the "
          "number to read", flush=True)

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
    a = np.median([timed(lambda: infer(x)["masks_queries_logits"].numpy())
                   for _ in range(args.iters)])
    b = np.median([timed(hf_infer) for _ in range(args.iters)])
    print(f"inference {s}x{s} batch 1: ours {1 / a:.2f} img/s, HF {1 / b:.2f} img/s, "
          f"ratio {b / a:.2f}x", flush=True)

    n = args.train_batch
    xb = rng.standard_normal((n, s, s, 3)).astype(np.float32)
    masks = np.zeros((n, 3, s, s), np.float32)
    for i in range(n):
        for j in range(3):
            y0, x0 = rng.integers(0, s // 2, 2)
            masks[i, j, y0:y0 + s // 3, x0:x0 + s // 3] = 1
    labels = rng.integers(0, 150, (n, 3)).astype(np.int32)
    targets = {"labels": labels, "masks": masks, "valid": np.ones((n, 3), np.float32)}
    criterion = SetCriterion(150, deep_supervision=ours.config.deep_supervision)
    opt = make_optimizer()
    opt.build(ours.trainable_variables)

    @tf.function
    def train_step(v, t):
        with tf.GradientTape() as tape:
            loss = criterion(ours({"pixel_values": v}, training=True), t)["loss"]
        grads = tape.gradient(loss, ours.trainable_variables)
        grads, _ = tf.clip_by_global_norm(grads, 0.01)
        opt.apply(grads, ours.trainable_variables)
        return loss

    hf.train()
    params = [p for p in hf.parameters() if p.requires_grad]
    torch_opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=1e-4)
    xb_t = torch.from_numpy(xb.transpose(0, 3, 1, 2).copy())
    mask_labels = [torch.from_numpy(masks[i]) for i in range(n)]
    class_labels = [torch.from_numpy(labels[i]).long() for i in range(n)]

    def hf_step():
        torch_opt.zero_grad()
        out = hf(pixel_values=xb_t, mask_labels=mask_labels, class_labels=class_labels)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 0.01)
        torch_opt.step()

    train_step(xb, targets)
    hf_step()
    a = np.median([timed(lambda: float(train_step(xb, targets))) for _ in range(args.iters)])
    b = np.median([timed(hf_step) for _ in range(args.iters)])
    print(f"training step {s}x{s} batch {n}: ours {n / a:.2f} img/s, HF {n / b:.2f} img/s, "
          f"ratio {b / a:.2f}x", flush=True)


if __name__ == "__main__":
    main()
