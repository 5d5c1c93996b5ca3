"""fastText-style labelled lines (``__label__pos text``) to the GLUE SST-2 layout, with
k-fold cross-validation splits.

gensim ships ``test/test_data/pang_lee_polarity.cor`` (Pang & Lee movie-review
sentences, 100 ``__label__pos`` and 100 ``__label__neg``) in this format; the folds let
``run_classifier.py --task_name=sst2`` be evaluated on it by cross-validation:

    python -m pipelines.labelled_text pang_lee_polarity.cor out/ --num_folds=3 --fold=0

writes ``out/train.tsv`` and ``out/dev.tsv`` ("sentence<TAB>label" with a header; label 1
for ``pos``, 0 for ``neg``) and ``out/test.tsv`` ("index<TAB>sentence", the dev sentences).
Folds are stratified: each class is shuffled with ``seed`` and dealt round-robin.
"""

from __future__ import annotations

import argparse
import random
import sys

from pipelines.fileio import io

LABELS = {"neg": "0", "pos": "1"}


def read_labelled_lines(path):
    """[(text, label)] from ``__label__<name> text`` lines (label "1" for pos, "0" for neg)."""
    if not io.exists(path):
        raise FileNotFoundError(f"input file not found: {path}")
    with io.open_file(path, "rb") as f:
        # Invalid UTF-8 bytes are dropped, as the original convert_to_unicode does.
        text = f.read().decode("utf-8", "ignore")
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        head, _, text = line.partition(" ")
        name = head[len("__label__"):] if head.startswith("__label__") else None
        if name not in LABELS or not text.strip():
            raise ValueError(f"{path}: line {number} is not '__label__pos|neg <text>': "
                             f"{line[:80]!r}")
        rows.append((" ".join(text.split()).replace("\t", " "), LABELS[name]))
    if not rows:
        raise ValueError(f"{path} holds no labelled line")
    return rows


def fold_split(rows, num_folds, fold, seed=12345):
    """(train rows, held-out rows) of fold ``fold`` of a stratified ``num_folds`` split."""
    if num_folds < 2 or not 0 <= fold < num_folds:
        raise ValueError(f"need num_folds >= 2 and 0 <= fold < num_folds; got {num_folds}, "
                         f"{fold}")
    rng = random.Random(seed)
    train, held_out = [], []
    for label in sorted({label for _, label in rows}):
        members = [r for r in rows if r[1] == label]
        rng.shuffle(members)
        for i, row in enumerate(members):
            (held_out if i % num_folds == fold else train).append(row)
    rng.shuffle(train)
    return train, held_out


def write_sst2(train, dev, output_dir):
    """Writes train.tsv, dev.tsv and test.tsv (the dev sentences) in the SST-2 layout."""
    io.makedirs(output_dir)
    for name, rows in (("train.tsv", train), ("dev.tsv", dev)):
        with io.atomic_write(io.join(output_dir, name)) as f:
            f.write("sentence\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in rows))
    with io.atomic_write(io.join(output_dir, "test.tsv")) as f:
        f.write("index\tsentence\n" + "".join(f"{i}\t{t}\n" for i, (t, _) in enumerate(dev)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input_file")
    parser.add_argument("output_dir")
    parser.add_argument("--num_folds", type=int, default=3)
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--seed", type=int, default=12345)
    args = parser.parse_args(argv)
    try:
        train, dev = fold_split(read_labelled_lines(args.input_file), args.num_folds,
                                args.fold, args.seed)
        write_sst2(train, dev, args.output_dir)
    except (ValueError, FileNotFoundError) as e:
        print(f"labelled_text: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {len(train)} train and {len(dev)} dev sentences to {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
