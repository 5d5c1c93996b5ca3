"""BertModel speed vs KerasHub BertBackbone and HF transformers (torch), one process.

Forward and forward+backward (gradients of mean(sequence_output) w.r.t. every weight)
at batch 8 x 128 tokens, BERT-Base and all-MiniLM-L6 shapes, with and without
jit_compile, dropout off. Also reports GFLOP/s against the matmul peak measured in
the same run (a 2048^3 float32 matmul under XLA).

    python scripts/benchmarks/bench_bert.py [--shapes base,minilm] [--iters 3]
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
from tfmodels.models.bert import BertConfig, BertModel  # noqa: E402

SHAPES = {  # layers, hidden, heads, intermediate
    "base": (12, 768, 12, 3072),
    "minilm": (6, 384, 12, 1536),
}


def forward_flops(layers, hidden, intermediate, batch, seq):
    """Multiply-adds x 2 of the encoder (projections, attention, FFN) + pooler."""
    per_layer = 2 * seq * (4 * hidden * hidden + 2 * hidden * intermediate) + 4 * seq * seq * hidden
    return batch * (layers * per_layer + 2 * hidden * hidden)


def bench(fn, iters, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


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


def matmul_peak(n=2048, iters=5):
    a = tf.random.normal([n, n])
    b = tf.random.normal([n, n])
    f = tf.function(lambda: tf.matmul(a, b), jit_compile=True)
    t = bench(lambda: f().numpy(), iters, warmup=2)
    return 2 * n**3 / t / 1e9


def tf_runner(model, inputs, jit, backward):
    variables = model.trainable_variables

    def fwd(x):
        return model(x, training=False)["sequence_output"]

    def fwd_bwd(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(fwd(x))
        grads = tape.gradient(loss, variables)
        # One scalar depending on every gradient, so nothing is pruned.
        return tf.add_n([tf.reduce_sum(g.values if isinstance(g, tf.IndexedSlices) else g)
                         for g in grads if g is not None])  # the pooler gets none

    f = tf.function(fwd_bwd if backward else fwd, jit_compile=jit)

    def run():
        f(inputs).numpy()

    return run


def build_ours(layers, hidden, heads, inter, vocab, seq):
    config = BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=heads, intermediate_size=inter,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                        max_position_embeddings=512, type_vocab_size=2)
    model = BertModel(config, output_all_layers=False)
    model.build()
    return model


def build_kerashub(layers, hidden, heads, inter, vocab, seq):
    import keras_hub

    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=vocab, num_layers=layers, num_heads=heads, hidden_dim=hidden,
        intermediate_dim=inter, dropout=0.0, max_sequence_length=512, num_segments=2)
    return backbone


class _KerasHubAdapter:
    def __init__(self, backbone):
        self.backbone = backbone
        self.trainable_variables = backbone.trainable_variables

    def __call__(self, x, training=False):
        return self.backbone({"token_ids": x["input_ids"], "segment_ids": x["token_type_ids"],
                              "padding_mask": x["input_mask"]}, training=training)


def torch_runner(layers, hidden, heads, inter, vocab, inputs, backward):
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
        num_attention_heads=heads, intermediate_size=inter, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0, hidden_act="gelu_new")
    model = transformers.BertModel(config).eval()
    ids = torch.tensor(inputs["input_ids"], dtype=torch.long)
    mask = torch.tensor(inputs["input_mask"], dtype=torch.long)
    types = torch.tensor(inputs["token_type_ids"], dtype=torch.long)

    def run():
        if backward:
            model.zero_grad(set_to_none=True)
            out = model(input_ids=ids, attention_mask=mask, token_type_ids=types)
            out.last_hidden_state.mean().backward()
        else:
            with torch.no_grad():
                model(input_ids=ids, attention_mask=mask, token_type_ids=types)

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="base,minilm")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--seq_length", type=int, default=128)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--no_torch", action="store_true")
    args = parser.parse_args()

    import torch  # after TensorFlow

    torch.set_num_threads(os.cpu_count())
    peak = matmul_peak()
    print(f"matmul peak (2048^3 float32, XLA): {peak:.1f} GFLOP/s, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}")
    b, t, vocab = args.batch_size, args.seq_length, 30522
    rng = np.random.default_rng(0)
    inputs = {"input_ids": rng.integers(1, vocab, (b, t)).astype(np.int32),
              "input_mask": np.ones((b, t), np.int32),
              "token_type_ids": np.zeros((b, t), np.int32)}
    inputs["input_mask"][: b // 2, 3 * t // 4:] = 0  # some padding
    for shape in args.shapes.split(","):
        layers, hidden, heads, inter = SHAPES[shape]
        flops = forward_flops(layers, hidden, inter, b, t)
        ours = build_ours(layers, hidden, heads, inter, vocab, t)
        hub = _KerasHubAdapter(build_kerashub(layers, hidden, heads, inter, vocab, t))
        print(f"\n== {shape}: {layers}x{hidden}, batch {b} x {t}, "
              f"forward {flops / 1e9:.1f} GFLOP ==")
        for backward in (False, True):
            print(f"(load average {os.getloadavg()[0]:.2f})", flush=True)
            mode = "fwd+bwd" if backward else "forward"
            mult = 3.0 if backward else 1.0
            results = {}
            for jit in (False, True):
                # Interleaved: ours and KerasHub alternate iteration by iteration, so a
                # change of machine load hits both alike.
                pair = bench_interleaved(
                    {name: tf_runner(model, inputs, jit, backward)
                     for name, model in (("ours", ours), ("kerashub", hub))}, args.iters)
                for name in ("ours", "kerashub"):
                    sec = pair[name]
                    results[(name, jit)] = sec
                    print(f"{mode:8s} {name:9s} jit={jit!s:5s} {sec:7.3f} s  "
                          f"{b / sec:7.1f} ex/s  {mult * flops / sec / 1e9:6.1f} GFLOP/s "
                          f"({100 * mult * flops / sec / 1e9 / peak:4.0f}% of peak)", flush=True)
            if not args.no_torch:
                sec = bench(torch_runner(layers, hidden, heads, inter, vocab, inputs, backward),
                            args.iters)
                results[("torch", False)] = sec
                print(f"{mode:8s} {'hf-torch':9s} {'':9s} {sec:7.3f} s  {b / sec:7.1f} ex/s  "
                      f"{mult * flops / sec / 1e9:6.1f} GFLOP/s", flush=True)
            for jit in (False, True):
                ratio_hub = results[("kerashub", jit)] / results[("ours", jit)]
                line = f"{mode:8s} jit={jit!s:5s} speed-up ours vs KerasHub {ratio_hub:.2f}x"
                if ("torch", False) in results:
                    torch_ratio = results[("torch", False)] / results[("ours", jit)]
                    line += f", vs HF torch {torch_ratio:.2f}x"
                    faster = min(results[("kerashub", jit)], results[("torch", False)])
                    line += f", vs faster peer {faster / results[('ours', jit)]:.2f}x"
                print(line, flush=True)


if __name__ == "__main__":
    main()
