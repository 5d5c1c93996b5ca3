"""Extract fixed feature vectors from a pre-trained BERT (google-research/bert).

Same flags and JSON-lines output as the original ``extract_features.py``: one line
per input line, ``{"linex_index": i, "features": [{"token": t, "layers":
[{"index": l, "values": [...6 decimals...]}, ...]}, ...]}``. ``--init_checkpoint``
takes an original TF1 checkpoint prefix (``.../bert_model.ckpt``) or an HF
``model.safetensors`` file; ``--bert_config_file`` an original ``bert_config.json``
or an HF ``config.json``. TPU flags are accepted and ignored.

Deviations: an empty input line is an error (the original encodes ``[CLS] [SEP]``);
the output file is written atomically.

Logic: :mod:`pipelines.feature_extraction`, :mod:`tfmodels.models.bert`.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import tempfile
import time

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


def _write_atomic(path, lines):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".extract_features.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for line in lines:
                f.write(line)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def run():
    import numpy as np

    from pipelines import tokenization
    from pipelines.feature_extraction import (
        convert_examples_to_features,
        features_to_arrays,
        read_examples,
    )

    for name in ("input_file", "output_file", "bert_config_file", "init_checkpoint",
                 "vocab_file"):
        if not getattr(FLAGS, name):
            raise ValueError(f"--{name} is required")
    if FLAGS.batch_size < 1:
        raise ValueError(f"--batch_size must be >= 1, got {FLAGS.batch_size}")
    tokenization.validate_case_matches_checkpoint(FLAGS.do_lower_case, FLAGS.init_checkpoint)
    examples = read_examples(FLAGS.input_file)  # input errors surface before TF loads
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

    features = convert_examples_to_features(examples, FLAGS.max_seq_length, tokenizer)
    arrays = features_to_arrays(features)

    model = BertModel(config)
    try:
        report = load_checkpoint(FLAGS.init_checkpoint, model)
    except (ValueError, FileNotFoundError) as e:
        raise type(e)(f"--init_checkpoint: {e}") from None
    missing = [n for n in report.missing if n.startswith("bert/")]
    if missing:
        raise ValueError(
            f"--init_checkpoint {FLAGS.init_checkpoint} lacks {len(missing)} BERT "
            f"variables, e.g. {missing[0]}")
    print(f"Loaded {FLAGS.init_checkpoint}: {report.summary()}", flush=True)

    @tf.function(jit_compile=True, reduce_retracing=True)
    def predict(batch):
        layers = model(batch, training=False)["encoder_outputs"]
        return tf.stack([layers[i] for i in layer_indexes], axis=1)  # [B, L, T, H]

    start = time.time()
    lines = []
    n = len(features)
    for lo in range(0, n, FLAGS.batch_size):
        hi = min(lo + FLAGS.batch_size, n)
        out = predict({k: v[lo:hi] for k, v in arrays.items()}).numpy()
        for b, feature in enumerate(features[lo:hi]):
            token_features = []
            for i, token in enumerate(feature.tokens):
                layers = []
                for j, layer_index in enumerate(layer_indexes):
                    values = np.asarray(out[b, j, i], np.float64)
                    layers.append(collections.OrderedDict(
                        [("index", layer_index),
                         ("values", [round(float(x), 6) for x in values])]))
                token_features.append(collections.OrderedDict(
                    [("token", token), ("layers", layers)]))
            output_json = collections.OrderedDict(
                [("linex_index", feature.unique_id), ("features", token_features)])
            lines.append(json.dumps(output_json) + "\n")
        elapsed = time.time() - start
        print(f"step {lo // FLAGS.batch_size + 1}: {hi}/{n} examples, "
              f"{hi / max(elapsed, 1e-9):.1f} examples/s", flush=True)
    _write_atomic(FLAGS.output_file, lines)
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
