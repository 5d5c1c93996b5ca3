"""Run masked LM / next sentence pre-training for BERT (TF2 / Keras 3).

Same flags and outputs as google-research/bert ``run_pretraining.py``: checkpoints
``output_dir/model.ckpt-<step>`` under the original variable names every
``save_checkpoints_steps``, ``output_dir/eval_results.txt`` ("key = value", sorted),
TensorBoard events in ``output_dir`` (training) and ``output_dir/eval``.

Additions: ``--strategy`` (one_device | mirrored | multi_worker | tpu;
multi_worker reads ``TF_CONFIG``), ``--use_mixed_precision``, ``--use_xla``,
``--gradient_accumulation_steps``, ``--log_steps``; ``init_checkpoint`` may also
be an HF ``model.safetensors``. Rerunning the same command after an interruption
(even ``kill -9``) resumes from the last complete checkpoint, at the same global step
and learning rate (the input pipeline restarts, as the original's did).
"""

from __future__ import annotations

import os
import sys

from absl import app, flags, logging

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tfmodels import io  # noqa: E402

# Required parameters
flags.DEFINE_string("bert_config_file", None,
                    "The config json file corresponding to the pre-trained BERT model. "
                    "This specifies the model architecture.")
flags.DEFINE_string("input_file", None,
                    "Input TF example files (can be a glob or comma separated).")
flags.DEFINE_string("output_dir", None,
                    "The output directory where the model checkpoints will be written.")
# Other parameters
flags.DEFINE_string("init_checkpoint", None,
                    "Initial checkpoint (usually from a pre-trained BERT model).")
flags.DEFINE_integer("max_seq_length", 128,
                     "The maximum total input sequence length after WordPiece tokenization. "
                     "Must match data generation.")
flags.DEFINE_integer("max_predictions_per_seq", 20,
                     "Maximum number of masked LM predictions per sequence. "
                     "Must match data generation.")
flags.DEFINE_bool("do_train", False, "Whether to run training.")
flags.DEFINE_bool("do_eval", False, "Whether to run eval on the dev set.")
flags.DEFINE_integer("train_batch_size", 32, "Total batch size for training.")
flags.DEFINE_integer("eval_batch_size", 8, "Total batch size for eval.")
flags.DEFINE_float("learning_rate", 5e-5, "The initial learning rate for Adam.")
flags.DEFINE_integer("num_train_steps", 100000, "Number of training steps.")
flags.DEFINE_integer("num_warmup_steps", 10000, "Number of warmup steps.")
flags.DEFINE_integer("save_checkpoints_steps", 1000, "How often to save the model checkpoint.")
flags.DEFINE_integer("iterations_per_loop", 1000,
                     "How many steps to make in each estimator call (here: the most steps "
                     "run inside one compiled call).")
flags.DEFINE_integer("max_eval_steps", 100, "Maximum number of eval steps.")
flags.DEFINE_bool("use_tpu", False, "Whether to use TPU or GPU/CPU.")
flags.DEFINE_string("tpu_name", None, "The Cloud TPU to use for training.")
flags.DEFINE_string("tpu_zone", None, "[Optional] GCE zone where the Cloud TPU is located in.")
flags.DEFINE_string("gcp_project", None, "[Optional] Project name for the Cloud TPU project.")
flags.DEFINE_string("master", None, "[Optional] TensorFlow master URL.")
flags.DEFINE_integer("num_tpu_cores", 8, "Only used if `use_tpu` is True.")
# Additions
flags.DEFINE_enum("strategy", None, ["one_device", "mirrored", "multi_worker", "tpu"],
                  "tf.distribute strategy (default: tpu with --use_tpu, else one_device).")
flags.DEFINE_bool("use_mixed_precision", False,
                  "mixed_float16 on GPU (dynamic loss scaling), mixed_bfloat16 elsewhere.")
flags.DEFINE_bool("use_xla", False, "Compile the train step with XLA (jit_compile).")
flags.DEFINE_integer("gradient_accumulation_steps", 1,
                     "Split each train batch into this many micro-batches and apply their "
                     "mean gradient once (one global step).")
flags.DEFINE_integer("log_steps", 100, "Print progress and write summaries every N steps.")

FLAGS = flags.FLAGS


def validate_flags():
    if not FLAGS.do_train and not FLAGS.do_eval:
        raise ValueError("At least one of `do_train` or `do_eval` must be True.")
    if not io.exists(FLAGS.bert_config_file) or io.isdir(FLAGS.bert_config_file):
        raise FileNotFoundError(f"--bert_config_file: {FLAGS.bert_config_file} does not exist")
    if FLAGS.max_predictions_per_seq > FLAGS.max_seq_length:
        raise ValueError(f"--max_predictions_per_seq={FLAGS.max_predictions_per_seq} is larger "
                         f"than --max_seq_length={FLAGS.max_seq_length}")
    for name in ("train_batch_size", "eval_batch_size", "num_train_steps",
                 "save_checkpoints_steps", "iterations_per_loop", "max_eval_steps",
                 "gradient_accumulation_steps", "log_steps"):
        if getattr(FLAGS, name) < 1:
            raise ValueError(f"--{name} must be positive, got {getattr(FLAGS, name)}")
    if FLAGS.num_warmup_steps < 0:
        raise ValueError("--num_warmup_steps must be >= 0")
    if io.exists(FLAGS.output_dir) and not io.isdir(FLAGS.output_dir):
        raise ValueError(f"--output_dir: {FLAGS.output_dir} is a file")


def check_vocab_ids(input_files, vocab_size, max_records=256):
    """Token ids in the data must fit the config's vocab (create_pretraining_data's
    --vocab_file must be the model's)."""
    import tensorflow as tf

    for path in input_files[:4]:
        for raw in tf.data.TFRecordDataset(path).take(max_records):
            ids = tf.train.Example.FromString(raw.numpy()).features.feature["input_ids"]
            top = max(ids.int64_list.value)
            if top >= vocab_size:
                raise ValueError(
                    f"--input_file: {path} holds token id {top} but --bert_config_file has "
                    f"vocab_size {vocab_size}: the data was made with another vocab_file")


def input_fn_builder(input_files, batch_size, is_training):
    """The original ``input_fn_builder``: ``fn(input_context)`` giving each replica its
    share of the global ``batch_size`` (files or records sharded across workers)."""
    from pipelines.pretraining_input import make_dataset

    def input_fn(ctx):
        return make_dataset(input_files, ctx.get_per_replica_batch_size(batch_size),
                            FLAGS.max_seq_length, FLAGS.max_predictions_per_seq,
                            is_training=is_training, input_context=ctx)

    return input_fn


def main_impl():
    validate_flags()
    from pipelines.pretraining_input import check_record_shapes
    from tfmodels import training
    from tfmodels.models.bert import BertConfig, load_checkpoint
    from tfmodels.models.bert.pretraining import (
        BertPretrainer,
        TrainingCheckpoint,
        eval_batch_loss,
        pretraining_loss_fn,
    )
    from tfmodels.optimization import create_optimizer

    # MultiWorkerMirroredStrategy must exist before any other TensorFlow op runs.
    strategy = training.make_strategy(
        FLAGS.strategy or ("tpu" if FLAGS.use_tpu else "one_device"),
        tpu=FLAGS.tpu_name or FLAGS.master, tpu_zone=FLAGS.tpu_zone,
        gcp_project=FLAGS.gcp_project)
    bert_config = BertConfig.from_json_file(FLAGS.bert_config_file)
    if FLAGS.max_seq_length > bert_config.max_position_embeddings:
        raise ValueError(f"--max_seq_length={FLAGS.max_seq_length} exceeds the config's "
                         f"max_position_embeddings={bert_config.max_position_embeddings}")
    io.makedirs(FLAGS.output_dir)
    input_files = io.expand_inputs(FLAGS.input_file, "--input_file")
    check_record_shapes(input_files, FLAGS.max_seq_length, FLAGS.max_predictions_per_seq)
    check_vocab_ids(input_files, bert_config.vocab_size)
    logging.info("*** Input Files ***")
    for path in input_files:
        logging.info("  %s", path)
    try:
        training.check_batch_split(FLAGS.train_batch_size, strategy.num_replicas_in_sync,
                                   FLAGS.gradient_accumulation_steps)
    except ValueError as e:
        raise ValueError(f"--train_batch_size / --gradient_accumulation_steps: {e}") from None

    training.set_mixed_precision(FLAGS.use_mixed_precision)
    with strategy.scope():
        model = BertPretrainer(bert_config)
        model.build()
        names = {v.path: n for n, v in model.original_names().items()}
        optimizer = training.loss_scaled(create_optimizer(
            FLAGS.learning_rate, FLAGS.num_train_steps, FLAGS.num_warmup_steps,
            variable_names=names))
        optimizer.build(model.trainable_variables)

    trainer = training.Trainer(
        model, optimizer, pretraining_loss_fn, strategy=strategy,
        output_dir=FLAGS.output_dir,
        checkpoint=lambda d: TrainingCheckpoint(d, model, optimizer),
        global_batch_size=FLAGS.train_batch_size,
        gradient_accumulation_steps=FLAGS.gradient_accumulation_steps,
        jit_compile=FLAGS.use_xla, steps_per_loop=FLAGS.iterations_per_loop,
        log_steps=FLAGS.log_steps, save_checkpoints_steps=FLAGS.save_checkpoints_steps,
        gradient_reduction="sum",  # the original TPU path: cross_replica_sum of clipped
        eval_batch_metrics=eval_batch_loss)
    if trainer.restore() is None and FLAGS.init_checkpoint:
        report = load_checkpoint(FLAGS.init_checkpoint, model.bert, [model.cls])
        logging.info("init_checkpoint %s: %s", FLAGS.init_checkpoint, report)
        print(f"Initialised from {FLAGS.init_checkpoint}: {report.summary()}", flush=True)
        if not report.loaded:
            raise ValueError(f"--init_checkpoint: {FLAGS.init_checkpoint} holds no variable "
                             "of this model")

    if FLAGS.do_train:
        trainer.train(input_fn_builder(input_files, FLAGS.train_batch_size, True),
                      FLAGS.num_train_steps)

    if FLAGS.do_eval:
        print(f"***** Running evaluation ***** batch size {FLAGS.eval_batch_size}", flush=True)
        result = trainer.evaluate(input_fn_builder(input_files, FLAGS.eval_batch_size, False),
                                  steps=FLAGS.max_eval_steps)
        trainer.write_eval_results(result)
        print("***** Eval results *****")
        for key in sorted(result):
            print(f"  {key} = {result[key]}", flush=True)


def main(argv):
    del argv
    try:
        main_impl()
    except (ValueError, FileNotFoundError) as e:
        print(f"run_pretraining.py: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    flags.mark_flag_as_required("input_file")
    flags.mark_flag_as_required("bert_config_file")
    flags.mark_flag_as_required("output_dir")
    app.run(main)
