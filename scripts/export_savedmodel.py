"""Export a fine-tuned BERT classifier, a SQuAD model or the bare encoder as a SavedModel.

    python scripts/export_savedmodel.py --task=classifier --bert_config_file=... \
        --vocab_file=... --do_lower_case=True --init_checkpoint=<run_classifier output_dir \
        or checkpoint> --num_labels=2 --max_seq_length=128 --export_dir=DIR

* ``classifier``: ``serving_default(text_a, text_b)`` (raw UTF-8 strings, [batch]; an empty
  ``text_b`` is a single text), ``single(text_a)`` -> ``probabilities``, ``logits``;
  ``serve_ids`` for token ids. ``--regression`` for an STS-B model (one score).
* ``squad``: ``serving_default(question, context)`` -> ``start_logits``, ``end_logits``,
  ``input_word_ids`` (the first window, ``--max_query_length`` as run_squad).
* ``encoder``: the TF Hub BERT encoder interface (``input_word_ids``, ``input_mask``,
  ``input_type_ids`` -> ``pooled_output``, ``sequence_output``) plus ``tokenization_info``
  and fine-tuning endpoints, for ``scripts/run_classifier_with_tfhub.py``.

Tokenization, truncation and packing run in the graph (tensorflow-text), and LayerNorm is
exported in its composite form: a client needs only TensorFlow and tensorflow-text.
``init_checkpoint`` takes what run_classifier takes (TF1, ours, safetensors, a directory).
The export is written to a temporary directory and moved into place when complete.
"""

from __future__ import annotations

import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

flags.DEFINE_enum("task", "classifier", ["classifier", "squad", "encoder"], "What to export.")
flags.DEFINE_string("bert_config_file", None, "The config json file of the BERT model.")
flags.DEFINE_string("vocab_file", None, "The vocabulary file that the BERT model was trained on.")
flags.DEFINE_bool("do_lower_case", True, "Whether to lower case the input text.")
flags.DEFINE_string("init_checkpoint", None,
                    "The weights: a run_classifier/run_squad output_dir or checkpoint, a TF1 "
                    "checkpoint or a .safetensors file.")
flags.DEFINE_integer("num_labels", 2, "task classifier: number of classes.")
flags.DEFINE_bool("regression", False, "task classifier: a regression (STS-B) model.")
flags.DEFINE_integer("max_seq_length", 128, "Sequence length of the serving signatures.")
flags.DEFINE_integer("max_query_length", 64, "task squad: question tokens kept.")
flags.DEFINE_string("export_dir", None, "Where the SavedModel goes (replaced if present).")

FLAGS = flags.FLAGS


def main_impl():
    from tfmodels import io

    for name in ("bert_config_file", "vocab_file", "init_checkpoint", "export_dir"):
        if not getattr(FLAGS, name):
            raise ValueError(f"--{name} is required")
    for name in ("bert_config_file", "vocab_file"):
        if not io.exists(getattr(FLAGS, name)):
            raise FileNotFoundError(f"--{name}: {getattr(FLAGS, name)} does not exist")
    from pipelines.tokenization import InGraphTokenizer
    from tfmodels.models.bert import BertConfig, BertModel, original_names, serving
    from tfmodels.models.bert.checkpoint import load_checkpoint, resolve_checkpoint

    config = BertConfig.from_json_file(FLAGS.bert_config_file)
    if FLAGS.task != "encoder" and FLAGS.max_seq_length > config.max_position_embeddings:
        raise ValueError(f"--max_seq_length={FLAGS.max_seq_length} exceeds the model's "
                         f"max_position_embeddings={config.max_position_embeddings}")
    checkpoint = resolve_checkpoint(FLAGS.init_checkpoint)
    if FLAGS.task == "encoder":
        bert = BertModel(config, output_all_layers=False)
        report = load_checkpoint(checkpoint, bert)
        heads = []
    elif FLAGS.task == "classifier":
        from tfmodels.models.bert.classifier import BertClassifier

        if FLAGS.regression and FLAGS.num_labels != 1:
            FLAGS.num_labels = 1
        model = BertClassifier(config, FLAGS.num_labels, regression=FLAGS.regression)
        model.build()
        bert, heads = model.bert, model.heads
        report = load_checkpoint(checkpoint, bert, heads)
    else:
        from pipelines.squad import check_lengths
        from tfmodels.models.bert.span_labeler import BertSpanLabeler

        check_lengths(FLAGS.max_seq_length, FLAGS.max_query_length)
        model = BertSpanLabeler(config)
        model.build()
        bert, heads = model.bert, model.heads
        report = load_checkpoint(checkpoint, bert, heads)
    print(f"Loaded {checkpoint}: {report.summary()}", flush=True)
    if report.missing:
        what = "the encoder" if FLAGS.task == "encoder" else f"a {FLAGS.task} model"
        source = "run_squad" if FLAGS.task == "squad" else "run_classifier"
        hint = "" if FLAGS.task == "encoder" else f"; a fine-tuned head is in {source}'s output_dir"
        raise ValueError(f"--init_checkpoint: {checkpoint} is not {what} of this config "
                         f"(missing {len(report.missing)} variables, e.g. {report.missing[:3]}"
                         f"{hint})")

    if FLAGS.task == "encoder":
        module = serving.EncoderServing(bert, original_names(bert), vocab_file=FLAGS.vocab_file,
                                        do_lower_case=FLAGS.do_lower_case)
    else:
        tokenizer = InGraphTokenizer(FLAGS.vocab_file, do_lower_case=FLAGS.do_lower_case)
        if FLAGS.task == "classifier":
            module = serving.ClassifierServing(model, tokenizer, FLAGS.max_seq_length)
        else:
            module = serving.SquadServing(model, tokenizer, FLAGS.max_seq_length,
                                          FLAGS.max_query_length)
    serving.export(module, FLAGS.export_dir)
    print(f"Exported {FLAGS.task} to {FLAGS.export_dir} (signatures: "
          f"{', '.join(module.signatures())})", flush=True)


def main(argv):
    del argv
    try:
        main_impl()
    except (ValueError, FileNotFoundError) as e:
        print(f"export_savedmodel.py: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    app.run(main)
