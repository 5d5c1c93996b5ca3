"""Create masked LM / next sentence TFRecords for BERT pre-training.

Same flags, defaults and outputs as google-research/bert ``create_pretraining_data.py``
(with ``--num_workers=1``, the default, the same instances for the same seed), plus:

* ``--num_workers``: shard documents over processes (deterministic for a seed and
  a worker count; a different stream from one worker);
* ``--fix_whole_word_mask``: one 80/10/10 draw per word under whole-word masking
  (the original draws per WordPiece; off by default);
* progress lines; paths on any TensorFlow filesystem (``gs://``, ``file://``...), with
  no TensorFlow import for local paths; outputs written to temporary names beside them
  and renamed at the end (a kill leaves the previous outputs, or during the final
  renames some new ones and none of the old; the next run deletes the temporaries).

Logic: :mod:`pipelines.pretraining_data`.
"""

from __future__ import annotations

import functools
import os
import sys

from absl import app, flags, logging

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pipelines import tokenization  # noqa: E402
from pipelines.cli_errors import flag_message  # noqa: E402
from pipelines.fileio import io  # noqa: E402
from pipelines.pretraining_data import (  # noqa: E402
    create_pretraining_data,
    expand_file_patterns,
)
from pipelines.pretraining_instances import InstanceOptions  # noqa: E402
from pipelines.tfrecord_io import decode_example  # noqa: E402

flags.DEFINE_string("input_file", None, "Input raw text file (or comma-separated list of files).")
flags.DEFINE_string("output_file", None,
                    "Output TF example file (or comma-separated list of files).")
flags.DEFINE_string("vocab_file", None, "The vocabulary file that the BERT model was trained on.")
flags.DEFINE_bool("do_lower_case", True,
                  "Whether to lower case the input text. Should be True for uncased "
                  "models and False for cased models.")
flags.DEFINE_bool("do_whole_word_mask", False,
                  "Whether to use whole word masking rather than per-WordPiece masking.")
flags.DEFINE_integer("max_seq_length", 128, "Maximum sequence length.")
flags.DEFINE_integer("max_predictions_per_seq", 20,
                     "Maximum number of masked LM predictions per sequence.")
flags.DEFINE_integer("random_seed", 12345, "Random seed for data generation.")
flags.DEFINE_integer("dupe_factor", 10,
                     "Number of times to duplicate the input data (with different masks).")
flags.DEFINE_float("masked_lm_prob", 0.15, "Masked LM probability.")
flags.DEFINE_float("short_seq_prob", 0.1,
                   "Probability of creating sequences which are shorter than the maximum length.")
flags.DEFINE_integer("num_workers", 1,
                     "Processes to shard documents over. 1 reproduces the original exactly; "
                     "N > 1 is deterministic for a given seed and N but a different stream.")
flags.DEFINE_bool("fix_whole_word_mask", False,
                  "With --do_whole_word_mask, draw 80%/10%/10% once per word instead of per "
                  "WordPiece (the original draws per piece).")

FLAGS = flags.FLAGS
# Arguments of InstanceOptions / create_pretraining_data named like their flag.
_SAME_AS_FLAGS = ("max_seq_length", "max_predictions_per_seq", "masked_lm_prob",
                  "short_seq_prob", "dupe_factor", "num_workers", "vocab_file",
                  "do_whole_word_mask", "fix_whole_word_mask")


def _describe_record(record, inv_vocab):
    feats = decode_example(record)
    tokens = [inv_vocab.get(i, "?") for i, m in zip(feats["input_ids"], feats["input_mask"]) if m]
    logging.info("*** Example ***\ntokens: %s", " ".join(tokens))
    for name, values in feats.items():
        logging.info("%s: %s", name, " ".join(str(v) for v in values))


def run():
    if FLAGS.fix_whole_word_mask and not FLAGS.do_whole_word_mask:
        raise ValueError("--fix_whole_word_mask changes whole-word masking only; "
                         "it needs --do_whole_word_mask")
    if not io.isfile(FLAGS.vocab_file):
        raise FileNotFoundError(f"--vocab_file: {FLAGS.vocab_file} does not exist")
    input_files = expand_file_patterns(FLAGS.input_file, "--input_file")
    output_files = [p for p in FLAGS.output_file.split(",") if p]
    opts = InstanceOptions(
        max_seq_length=FLAGS.max_seq_length,
        max_predictions_per_seq=FLAGS.max_predictions_per_seq,
        masked_lm_prob=FLAGS.masked_lm_prob,
        short_seq_prob=FLAGS.short_seq_prob,
        dupe_factor=FLAGS.dupe_factor,
        do_whole_word_mask=FLAGS.do_whole_word_mask,
        fix_whole_word_mask=FLAGS.fix_whole_word_mask,
    )
    factory = functools.partial(tokenization.FullTokenizer, vocab_file=FLAGS.vocab_file,
                                do_lower_case=FLAGS.do_lower_case)
    logging.info("*** Reading from input files ***")
    for path in input_files:
        logging.info("  %s", path)
    log_examples = None
    if logging.level_info():
        inv = {v: k for k, v in tokenization.load_vocab(FLAGS.vocab_file).items()}
        log_examples = functools.partial(_describe_record, inv_vocab=inv)
    result = create_pretraining_data(input_files, output_files, factory, opts, FLAGS.random_seed,
                                     num_workers=FLAGS.num_workers, log_examples=log_examples)
    logging.info("*** Wrote to output files ***")
    for path in output_files:
        logging.info("  %s", path)
    print(f"Wrote {result.instances} total instances from {result.documents} documents "
          f"in {result.seconds:.2f} s ({result.instances / max(result.seconds, 1e-9):.0f} "
          "instances/s)", flush=True)


def main(argv):
    del argv
    try:
        run()
    except (ValueError, FileNotFoundError, KeyError) as e:
        # library errors name the argument; the user typed the flag
        msg = flag_message(e, *_SAME_AS_FLAGS, input_files="input_file",
                           output_files="output_file")
        if isinstance(e, KeyError):
            msg = f"token {msg!r} is not in --vocab_file {FLAGS.vocab_file}"
        print(f"create_pretraining_data.py: error: {msg}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    flags.mark_flag_as_required("input_file")
    flags.mark_flag_as_required("output_file")
    flags.mark_flag_as_required("vocab_file")
    app.run(main)
