"""Run BERT on SQuAD 1.1 and SQuAD 2.0 (TF2 / Keras 3).

Same flags, defaults and outputs as google-research/bert ``run_squad.py``:
``output_dir/train.tf_record`` / ``eval.tf_record``, checkpoints ``model.ckpt-<step>``
under the original names (``bert/...``, ``cls/squad/output_weights``/``output_bias``),
``predictions.json``, ``nbest_predictions.json`` and, with
``--version_2_with_negative``, ``null_odds.json``. Score them with
``scripts/evaluate_squad.py``.

``init_checkpoint``: an original TF1 checkpoint, one of ours, an HF ``model.safetensors``
or a directory (its latest checkpoint). Additions: ``--strategy``, ``--use_xla``,
``--use_mixed_precision``, ``--log_steps``, ``--random_seed``. Training runs on the shared
:class:`tfmodels.training.Trainer`. Logic: :mod:`pipelines.squad`,
:mod:`tfmodels.models.bert.span_labeler`.
"""

from __future__ import annotations

import os
import random
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Required parameters
flags.DEFINE_string("bert_config_file", None,
                    "The config json file corresponding to the pre-trained BERT model. "
                    "This specifies the model architecture.")
flags.DEFINE_string("vocab_file", None, "The vocabulary file that the BERT model was trained on.")
flags.DEFINE_string("output_dir", None,
                    "The output directory where the model checkpoints will be written.")
# Other parameters
flags.DEFINE_string("train_file", None,
                    "SQuAD json for training. E.g., train-v1.1.json")
flags.DEFINE_string("predict_file", None,
                    "SQuAD json for predictions. E.g., dev-v1.1.json or test-v1.1.json")
flags.DEFINE_string("init_checkpoint", None,
                    "Initial checkpoint (usually from a pre-trained BERT model): a TF1 "
                    "checkpoint prefix, a .safetensors file or a directory (latest checkpoint).")
flags.DEFINE_bool("do_lower_case", True,
                  "Whether to lower case the input text. Should be True for uncased models and "
                  "False for cased models.")
flags.DEFINE_integer("max_seq_length", 384,
                     "The maximum total input sequence length after WordPiece tokenization. "
                     "Sequences longer than this will be truncated, and sequences shorter than "
                     "this will be padded.")
flags.DEFINE_integer("doc_stride", 128,
                     "When splitting up a long document into chunks, how much stride to take "
                     "between chunks.")
flags.DEFINE_integer("max_query_length", 64,
                     "The maximum number of tokens for the question. Questions longer than this "
                     "will be truncated to this length.")
flags.DEFINE_bool("do_train", False, "Whether to run training.")
flags.DEFINE_bool("do_predict", False, "Whether to run eval on the dev set.")
flags.DEFINE_integer("train_batch_size", 32, "Total batch size for training.")
flags.DEFINE_integer("predict_batch_size", 8, "Total batch size for predictions.")
flags.DEFINE_float("learning_rate", 5e-5, "The initial learning rate for Adam.")
flags.DEFINE_float("num_train_epochs", 3.0, "Total number of training epochs to perform.")
flags.DEFINE_float("warmup_proportion", 0.1,
                   "Proportion of training to perform linear learning rate warmup for. "
                   "E.g., 0.1 = 10% of training.")
flags.DEFINE_integer("save_checkpoints_steps", 1000, "How often to save the model checkpoint.")
flags.DEFINE_integer("iterations_per_loop", 1000,
                     "How many steps to make in each estimator call (here: the most steps run "
                     "inside one compiled call).")
flags.DEFINE_integer("n_best_size", 20,
                     "The total number of n-best predictions to generate in the "
                     "nbest_predictions.json output file.")
flags.DEFINE_integer("max_answer_length", 30,
                     "The maximum length of an answer that can be generated. This is needed "
                     "because the start and end predictions are not conditioned on one another.")
flags.DEFINE_bool("use_tpu", False, "Whether to use TPU or GPU/CPU.")
flags.DEFINE_string("tpu_name", None, "The Cloud TPU to use for training.")
flags.DEFINE_string("tpu_zone", None, "[Optional] GCE zone where the Cloud TPU is located in.")
flags.DEFINE_string("gcp_project", None, "[Optional] Project name for the Cloud TPU project.")
flags.DEFINE_string("master", None, "[Optional] TensorFlow master URL.")
flags.DEFINE_integer("num_tpu_cores", 8, "Only used if `use_tpu` is True.")
flags.DEFINE_bool("verbose_logging", False,
                  "If true, all of the warnings related to data processing will be printed. "
                  "A number of warnings are expected for a normal SQuAD evaluation.")
flags.DEFINE_bool("version_2_with_negative", False,
                  "If true, the SQuAD examples contain some that do not have an answer.")
flags.DEFINE_float("null_score_diff_threshold", 0.0,
                   "If null_score - best_non_null is greater than the threshold predict null.")
# Additions
flags.DEFINE_enum("strategy", None, ["one_device", "mirrored", "multi_worker", "tpu"],
                  "tf.distribute strategy (default: tpu with --use_tpu, else one_device).")
flags.DEFINE_bool("use_mixed_precision", False,
                  "mixed_float16 on GPU (dynamic loss scaling), mixed_bfloat16 elsewhere.")
flags.DEFINE_bool("use_xla", False, "Compile the train step with XLA (jit_compile).")
flags.DEFINE_integer("log_steps", 100, "Print progress and write summaries every N steps.")
flags.DEFINE_integer("random_seed", 12345, "Seed of the initialisation, dropout and shuffling.")

FLAGS = flags.FLAGS


def validate_flags_or_throw(bert_config):
    """Validate the input FLAGS or throw an exception (the original's checks, plus files)."""
    from pipelines import squad, tokenization
    from tfmodels import io

    tokenization.validate_case_matches_checkpoint(FLAGS.do_lower_case, FLAGS.init_checkpoint)
    if not FLAGS.do_train and not FLAGS.do_predict:
        raise ValueError("At least one of `do_train` or `do_predict` must be True.")
    if FLAGS.do_train and not FLAGS.train_file:
        raise ValueError("If `do_train` is True, then `train_file` must be specified.")
    if FLAGS.do_predict and not FLAGS.predict_file:
        raise ValueError("If `do_predict` is True, then `predict_file` must be specified.")
    if FLAGS.max_seq_length > bert_config.max_position_embeddings:
        raise ValueError(
            f"Cannot use sequence length {FLAGS.max_seq_length} because the BERT model was "
            f"only trained up to sequence length {bert_config.max_position_embeddings}")
    squad.check_lengths(FLAGS.max_seq_length, FLAGS.max_query_length, FLAGS.doc_stride)
    for name in ("train_batch_size", "predict_batch_size", "save_checkpoints_steps",
                 "iterations_per_loop", "log_steps", "n_best_size", "max_answer_length"):
        if getattr(FLAGS, name) < 1:
            raise ValueError(f"--{name} must be positive, got {getattr(FLAGS, name)}")
    for name in ("train_file", "predict_file", "vocab_file"):
        path = getattr(FLAGS, name)
        if path and (not io.exists(path) or io.isdir(path)):
            raise FileNotFoundError(f"--{name}: {path} does not exist")


def main_impl():
    from pipelines import squad, tokenization
    from tfmodels import io
    from tfmodels.models.bert import BertConfig
    from tfmodels.models.bert.finetuning import train_steps

    for name in ("bert_config_file", "vocab_file", "output_dir"):
        if not getattr(FLAGS, name):
            raise ValueError(f"--{name} is required")
    if not io.exists(FLAGS.bert_config_file):
        raise FileNotFoundError(f"--bert_config_file: {FLAGS.bert_config_file} does not exist")
    bert_config = BertConfig.from_json_file(FLAGS.bert_config_file)
    validate_flags_or_throw(bert_config)
    tokenizer = tokenization.FullTokenizer(vocab_file=FLAGS.vocab_file,
                                           do_lower_case=FLAGS.do_lower_case)
    if max(tokenizer.vocab.values()) >= bert_config.vocab_size:
        raise ValueError("--vocab_file has more tokens than --bert_config_file's vocab_size "
                         f"{bert_config.vocab_size}: they belong to different models")
    train_examples = None
    num_train_steps, num_warmup_steps = 1, 0
    if FLAGS.do_train:
        train_examples = squad.read_squad_examples(
            FLAGS.train_file, is_training=True,
            version_2_with_negative=FLAGS.version_2_with_negative)
        if not train_examples:
            raise ValueError(f"--train_file: {FLAGS.train_file} holds no usable example")
        num_train_steps, num_warmup_steps = train_steps(
            len(train_examples), FLAGS.train_batch_size, FLAGS.num_train_epochs,
            FLAGS.warmup_proportion)
        # Pre-shuffle the input to avoid having to make a very large shuffle buffer.
        random.Random(12345).shuffle(train_examples)

    import keras

    from tfmodels import training
    from tfmodels.models.bert.finetuning import init_from_checkpoint, predict
    from tfmodels.models.bert.pretraining import TrainingCheckpoint
    from tfmodels.models.bert.span_labeler import BertSpanLabeler, squad_loss_fn
    from tfmodels.optimization import create_optimizer

    strategy = training.make_strategy(
        FLAGS.strategy or ("tpu" if FLAGS.use_tpu else "one_device"),
        tpu=FLAGS.tpu_name or FLAGS.master, tpu_zone=FLAGS.tpu_zone,
        gcp_project=FLAGS.gcp_project)
    keras.utils.set_random_seed(FLAGS.random_seed)
    io.makedirs(FLAGS.output_dir)
    training.set_mixed_precision(FLAGS.use_mixed_precision)
    with strategy.scope():
        model = BertSpanLabeler(bert_config)
        model.build()
        names = {v.path: n for n, v in model.original_names().items()}
        optimizer = training.loss_scaled(create_optimizer(
            FLAGS.learning_rate, num_train_steps, num_warmup_steps, variable_names=names))
        optimizer.build(model.trainable_variables)
    trainer = training.Trainer(
        model, optimizer, squad_loss_fn, strategy=strategy, output_dir=FLAGS.output_dir,
        checkpoint=lambda d: TrainingCheckpoint(d, model, optimizer),
        global_batch_size=FLAGS.train_batch_size, jit_compile=FLAGS.use_xla,
        steps_per_loop=FLAGS.iterations_per_loop, log_steps=FLAGS.log_steps,
        save_checkpoints_steps=FLAGS.save_checkpoints_steps, gradient_reduction="sum")
    if trainer.restore() is None and FLAGS.init_checkpoint:
        init_from_checkpoint(FLAGS.init_checkpoint, model,
                             print_fn=lambda s: print(s, flush=True))

    if FLAGS.do_train:
        train_writer = squad.FeatureWriter(io.join(FLAGS.output_dir, "train.tf_record"),
                                           is_training=True)
        squad.convert_examples_to_features(
            examples=train_examples, tokenizer=tokenizer, max_seq_length=FLAGS.max_seq_length,
            doc_stride=FLAGS.doc_stride, max_query_length=FLAGS.max_query_length,
            is_training=True, output_fn=train_writer.process_feature)
        train_writer.close()
        print(f"***** Running training ***** {len(train_examples)} examples, "
              f"{train_writer.num_features} features, batch size {FLAGS.train_batch_size}, "
              f"{num_train_steps} steps", flush=True)
        train_input_fn = squad.input_fn_builder(
            train_writer.filename, FLAGS.max_seq_length, is_training=True, drop_remainder=True,
            seed=FLAGS.random_seed)
        trainer.train(train_input_fn({"batch_size": FLAGS.train_batch_size}), num_train_steps)

    if FLAGS.do_predict:
        eval_examples = squad.read_squad_examples(
            FLAGS.predict_file, is_training=False,
            version_2_with_negative=FLAGS.version_2_with_negative)
        eval_writer = squad.FeatureWriter(io.join(FLAGS.output_dir, "eval.tf_record"),
                                          is_training=False)
        eval_features = []

        def append_feature(feature):
            eval_features.append(feature)
            eval_writer.process_feature(feature)

        squad.convert_examples_to_features(
            examples=eval_examples, tokenizer=tokenizer, max_seq_length=FLAGS.max_seq_length,
            doc_stride=FLAGS.doc_stride, max_query_length=FLAGS.max_query_length,
            is_training=False, output_fn=append_feature)
        eval_writer.close()
        print(f"***** Running predictions ***** {len(eval_examples)} examples, "
              f"{len(eval_features)} features, batch size {FLAGS.predict_batch_size}",
              flush=True)
        dataset = squad.input_fn_builder(eval_writer.filename, FLAGS.max_seq_length,
                                         is_training=False, drop_remainder=False)(
            {"batch_size": FLAGS.predict_batch_size})
        all_results = []
        for features, outputs in predict(model, dataset):
            for i, unique_id in enumerate(features["unique_ids"]):
                all_results.append(squad.RawResult(
                    unique_id=int(unique_id), start_logits=outputs["start_logits"][i].tolist(),
                    end_logits=outputs["end_logits"][i].tolist()))
        squad.write_predictions(
            eval_examples, eval_features, all_results, FLAGS.n_best_size,
            FLAGS.max_answer_length, FLAGS.do_lower_case,
            io.join(FLAGS.output_dir, "predictions.json"),
            io.join(FLAGS.output_dir, "nbest_predictions.json"),
            io.join(FLAGS.output_dir, "null_odds.json"),
            version_2_with_negative=FLAGS.version_2_with_negative,
            null_score_diff_threshold=FLAGS.null_score_diff_threshold,
            verbose_logging=FLAGS.verbose_logging)
        print(f"Wrote {io.join(FLAGS.output_dir, 'predictions.json')}", flush=True)


def main(argv):
    del argv
    try:
        main_impl()
    except (ValueError, FileNotFoundError) as e:
        print(f"run_squad.py: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    app.run(main)
