"""Extract fixed feature vectors from a pre-trained BERT (google-research/bert).

Same flags and JSON-lines output as the original ``extract_features.py``: one line
per input line, ``{"linex_index": i, "features": [{"token": t, "layers":
[{"index": l, "values": [...6 decimals...]}, ...]}, ...]}``. ``--init_checkpoint``
takes an original TF1 checkpoint prefix (``.../bert_model.ckpt``) or an HF
``model.safetensors`` file; ``--bert_config_file`` an original ``bert_config.json``
or an HF ``config.json``. TPU flags are accepted and ignored.

Paths may be on any TensorFlow filesystem (``gs://``, ``file://``...). Deviations: an
empty input line is an error (the original encodes ``[CLS] [SEP]``); the JSON lines are
streamed, one batch in memory at a time, to a temporary file beside ``--output_file``
that is renamed onto it at the end (a kill leaves any previous output as it was).

Logic: :mod:`pipelines.feature_extraction`, :mod:`tfmodels.models.bert`.
"""

from __future__ import annotations

import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pipelines.cli_errors import flag_message  # noqa: E402

flags.DEFINE_string("input_file", None, "")
flags.DEFINE_string("output_file", None, "")
flags.DEFINE_string("layers", "-1,-2,-3,-4", "")
flags.DEFINE_string(
    "bert_config_file", None,
    "The config json file corresponding to the pre-trained BERT model. "
    "This specifies the model architecture.")
flags.DEFINE_integer(
    "max_seq_length", 128,
    "The maximum total input sequence length after WordPiece tokenization. "
    "Sequences longer than this will be truncated, and sequences shorter "
    "than this will be padded.")
flags.DEFINE_string(
    "init_checkpoint", None,
    "Initial checkpoint (usually from a pre-trained BERT model): a TF1 checkpoint "
    "prefix or a .safetensors file.")
flags.DEFINE_string("vocab_file", None,
                    "The vocabulary file that the BERT model was trained on.")
flags.DEFINE_bool(
    "do_lower_case", True,
    "Whether to lower case the input text. Should be True for uncased "
    "models and False for cased models.")
flags.DEFINE_integer("batch_size", 32, "Batch size for predictions.")
flags.DEFINE_bool("use_tpu", False, "Accepted for compatibility; ignored.")
flags.DEFINE_string("master", None, "Accepted for compatibility; ignored.")
flags.DEFINE_integer("num_tpu_cores", 8, "Accepted for compatibility; ignored.")
flags.DEFINE_bool("use_one_hot_embeddings", False, "Accepted for compatibility; ignored.")

FLAGS = flags.FLAGS


def parse_layers(value, num_layers):
    """'-1,-2' -> [-1, -2], each a valid Python index into the encoder layers."""
    try:
        indexes = [int(x) for x in value.split(",")]
    except ValueError:
        raise ValueError(f"--layers must be comma-separated integers, got {value!r}") from None
    for i in indexes:
        if not -num_layers <= i < num_layers:
            raise ValueError(f"--layers index {i} is out of range for {num_layers} layers")
    return indexes


def run():
    from pipelines import tokenization
    from pipelines.feature_extraction import iter_examples, write_feature_lines
    from pipelines.fileio import io

    for name in ("input_file", "output_file", "bert_config_file", "init_checkpoint",
                 "vocab_file"):
        if not getattr(FLAGS, name):
            raise ValueError(f"--{name} is required")
    if FLAGS.batch_size < 1:
        raise ValueError(f"--batch_size must be >= 1, got {FLAGS.batch_size}")
    if FLAGS.max_seq_length < 3:
        raise ValueError(f"--max_seq_length must be >= 3, got {FLAGS.max_seq_length}")
    tokenization.validate_case_matches_checkpoint(FLAGS.do_lower_case, FLAGS.init_checkpoint)
    # Input and output errors surface before TensorFlow loads; the input is read again
    # (streamed) when writing.
    n = sum(1 for _ in iter_examples(FLAGS.input_file))
    io.check_output(FLAGS.output_file, "--output_file")
    tokenizer = tokenization.FullTokenizer(FLAGS.vocab_file, FLAGS.do_lower_case)

    import tensorflow as tf

    from tfmodels.models.bert import BertConfig, BertModel, load_checkpoint

    config = BertConfig.from_json_file(FLAGS.bert_config_file)
    layer_indexes = parse_layers(FLAGS.layers, config.num_hidden_layers)
    if FLAGS.max_seq_length > config.max_position_embeddings:
        raise ValueError(
            f"--max_seq_length {FLAGS.max_seq_length} exceeds max_position_embeddings "
            f"{config.max_position_embeddings} of --bert_config_file")
    for special in ("[CLS]", "[SEP]", "[UNK]"):
        if special not in tokenizer.vocab:
            raise ValueError(f"--vocab_file {FLAGS.vocab_file} has no {special} token")
    if max(tokenizer.vocab.values()) >= config.vocab_size:
        raise ValueError(
            f"--vocab_file has {max(tokenizer.vocab.values()) + 1} tokens but "
            f"--bert_config_file says vocab_size {config.vocab_size}")

    model = BertModel(config)
    try:
        report = load_checkpoint(FLAGS.init_checkpoint, model)
    except (ValueError, FileNotFoundError) as e:
        raise type(e)(f"--init_checkpoint: {e}") from None
    missing = [name for name in report.missing if name.startswith("bert/")]
    if missing:
        raise ValueError(
            f"--init_checkpoint {FLAGS.init_checkpoint} lacks {len(missing)} BERT "
            f"variables, e.g. {missing[0]}")
    print(f"Loaded {FLAGS.init_checkpoint}: {report.summary()}", flush=True)

    @tf.function(jit_compile=True, reduce_retracing=True)
    def predict(batch):
        layers = model(batch, training=False)["encoder_outputs"]
        return tf.stack([layers[i] for i in layer_indexes], axis=1)  # [B, L, T, H]

    # Lines are streamed to a temporary file beside --output_file, renamed at the end.
    with io.atomic_write(FLAGS.output_file, "w") as f:
        write_feature_lines(f, iter_examples(FLAGS.input_file), tokenizer, FLAGS.max_seq_length,
                            lambda arrays: predict(arrays).numpy(), layer_indexes,
                            FLAGS.batch_size, total=n, log=lambda m: print(m, flush=True))
    print(f"Wrote {n} examples ({len(layer_indexes)} layers x {config.hidden_size} values "
          f"per token) to {FLAGS.output_file}", flush=True)


def main(argv):
    if len(argv) > 1:
        print(f"extract_features.py: error: unexpected arguments {argv[1:]}", file=sys.stderr)
        sys.exit(2)
    try:
        run()
    except (ValueError, FileNotFoundError) as e:
        # library errors name the argument; the user typed the flag
        message = flag_message(e, "vocab_file", json_file="bert_config_file")
        print(f"extract_features.py: error: {message}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    app.run(main)
