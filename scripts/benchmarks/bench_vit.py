"""VisionTransformer speed vs KerasHub ViTBackbone and HF transformers (torch), one process.

Images/s for ViT-B/16 and ViT-S/16 at 224x224, batch 8: forward, and forward+backward
(gradients of mean(encoder output) w.r.t. every weight), with and without jit_compile,
dropout off. Ours and KerasHub alternate iteration by iteration (the same machine load hits
both); HF torch runs right after, in the same process.

    python scripts/benchmarks/bench_vit.py [--models B_16,S_16] [--iters 3] [--no_torch]
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

# Before any jit_compile: the fused LayerNorm registers its XLA lowering on import.
from tfmodels.models.vit import VisionTransformer, get_config  # noqa: E402


def bench_interleaved(runners, iters, warmup=1):
    """Median seconds of each runner, timed in alternation."""
    for _ in range(warmup):
        for fn in runners.values():
            fn()
    times = {name: [] for name in runners}
    for _ in range(iters):
        for name, fn in runners.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def tf_runner(encode, variables, images, jit, backward):
    def fwd(x):
        return encode(x)

    def fwd_bwd(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(fwd(x))
        grads = tape.gradient(loss, variables)
        return tf.add_n([tf.reduce_sum(g) for g in grads if g is not None])

    f = tf.function(fwd_bwd if backward else fwd, jit_compile=jit)
    return lambda: f(images).numpy()


def build_ours(config):
    model = VisionTransformer(config.replace(num_classes=None))
    model.build()
    return (lambda x: model.encode(x, training=False)), model.trainable_variables


def build_kerashub(config):
    import keras_hub

    hub = keras_hub.models.ViTBackbone(
        image_shape=(*config.image_size, 3), patch_size=config.patch_size,
        num_layers=config.num_layers, num_heads=config.num_heads,
        hidden_dim=config.hidden_size, mlp_dim=config.mlp_dim, layer_norm_epsilon=1e-6)
    return (lambda x: hub(x, training=False)), hub.trainable_variables


def torch_runner(config, images, backward):
    import torch
    import transformers

    torch.manual_seed(0)
    hf = transformers.ViTModel(transformers.ViTConfig(
        image_size=config.image_size[0], patch_size=config.patch_size,
        hidden_size=config.hidden_size, intermediate_size=config.mlp_dim,
        num_attention_heads=config.num_heads, num_hidden_layers=config.num_layers,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, layer_norm_eps=1e-6),
        add_pooling_layer=False).eval()
    pixels = torch.from_numpy(images.transpose(0, 3, 1, 2).copy())

    def run():
        if backward:
            hf.zero_grad(set_to_none=True)
            hf(pixel_values=pixels).last_hidden_state.mean().backward()
        else:
            with torch.no_grad():
                hf(pixel_values=pixels)

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="B_16,S_16")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--image_size", type=int, default=224)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--no_torch", action="store_true")
    parser.add_argument("--no_jit", action="store_true")
    args = parser.parse_args()

    import torch  # after TensorFlow

    torch.set_num_threads(os.cpu_count())
    b = args.batch_size
    images = np.random.default_rng(0).uniform(
        -1, 1, (b, args.image_size, args.image_size, 3)).astype(np.float32)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; batch {b}, "
          f"{args.image_size}x{args.image_size}; images/s (median of {args.iters})")
    rows = []
    for name in args.models.split(","):
        config = get_config(name, image_size=args.image_size, dropout_rate=0.0)
        ours, hub = build_ours(config), None
        try:
            hub = build_kerashub(config)
        except Exception as e:  # report why, keep benchmarking the rest
            print(f"KerasHub ViTBackbone unavailable: {type(e).__name__}: {e}")
        for backward in (False, True):
            mode = "fwd+bwd" if backward else "forward"
            result = {}
            for jit in (False,) if args.no_jit else (False, True):
                runners = {"ours": tf_runner(*ours, images, jit, backward)}
                if hub is not None:
                    runners["kerashub"] = tf_runner(*hub, images, jit, backward)
                for peer, sec in bench_interleaved(runners, args.iters).items():
                    result[(peer, jit)] = b / sec
            if not args.no_torch:
                run = torch_runner(config, images, backward)
                run()
                times = []
                for _ in range(args.iters):
                    start = time.perf_counter()
                    run()
                    times.append(time.perf_counter() - start)
                result[("hf-torch", False)] = b / float(np.median(times))
            shown = "  ".join(f"{peer}{' jit' if jit else ''} {v:6.2f}"
                              for (peer, jit), v in result.items())
            best_ours = max(v for (p, _), v in result.items() if p == "ours")
            peers = [v for (p, _), v in result.items() if p != "ours"]
            ratio = f"  ours/best peer {best_ours / max(peers):.2f}x" if peers else ""
            line = f"ViT-{name} {mode:8s} {shown}{ratio}"
            rows.append(line)
            print(line, f"(load {os.getloadavg()[0]:.2f})", flush=True)
    print("\n".join(["", "summary (images/s):", *rows]))


if __name__ == "__main__":
    main()
