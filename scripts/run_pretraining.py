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

import json
import os
import sys
import time

from absl import app, flags, logging

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

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
    if not os.path.isfile(FLAGS.bert_config_file):
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
    if FLAGS.train_batch_size % FLAGS.gradient_accumulation_steps:
        raise ValueError(f"--train_batch_size={FLAGS.train_batch_size} is not divisible by "
                         f"--gradient_accumulation_steps={FLAGS.gradient_accumulation_steps}")


def make_strategy(tf):
    name = FLAGS.strategy or ("tpu" if FLAGS.use_tpu else "one_device")
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu=FLAGS.tpu_name or FLAGS.master or "", zone=FLAGS.tpu_zone,
            project=FLAGS.gcp_project)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy=multi_worker needs the TF_CONFIG environment variable")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")


def task_info():
    """(is_chief, worker index) from TF_CONFIG; chief when there is none."""
    cfg = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    task = cfg.get("task", {})
    kind, index = task.get("type", "chief"), int(task.get("index", 0))
    has_chief = "chief" in cfg.get("cluster", {})
    is_chief = kind == "chief" or (kind == "worker" and index == 0 and not has_chief)
    return is_chief, f"{kind}_{index}"


def check_vocab_ids(tf, input_files, vocab_size, max_records=256):
    """Token ids in the data must fit the config's vocab (create_pretraining_data's
    --vocab_file must be the model's)."""
    for path in input_files[:4]:
        for raw in tf.data.TFRecordDataset(path).take(max_records):
            ids = tf.train.Example.FromString(raw.numpy()).features.feature["input_ids"]
            top = max(ids.int64_list.value)
            if top >= vocab_size:
                raise ValueError(
                    f"--input_file: {path} holds token id {top} but --bert_config_file has "
                    f"vocab_size {vocab_size}: the data was made with another vocab_file")


def main_impl():
    validate_flags()
    import keras
    import tensorflow as tf

    from pipelines.pretraining_data import expand_file_patterns
    from pipelines.pretraining_input import check_record_shapes, make_dataset
    from tfmodels.models.bert import BertConfig, load_checkpoint
    from tfmodels.models.bert.pretraining import (
        METRIC_SUMS,
        BertPretrainer,
        TrainingCheckpoint,
        metric_sums,
        metrics_from_sums,
        pretraining_losses,
    )
    from tfmodels.optimization import WarmupPolynomialDecay, create_optimizer

    # MultiWorkerMirroredStrategy must exist before any other TensorFlow op runs.
    strategy = make_strategy(tf)
    bert_config = BertConfig.from_json_file(FLAGS.bert_config_file)
    input_files = expand_file_patterns(FLAGS.input_file)
    check_record_shapes(input_files, FLAGS.max_seq_length, FLAGS.max_predictions_per_seq)
    check_vocab_ids(tf, input_files, bert_config.vocab_size)
    if FLAGS.max_seq_length > bert_config.max_position_embeddings:
        raise ValueError(f"--max_seq_length={FLAGS.max_seq_length} exceeds the config's "
                         f"max_position_embeddings={bert_config.max_position_embeddings}")
    logging.info("*** Input Files ***")
    for path in input_files:
        logging.info("  %s", path)

    is_chief, task_name = task_info()
    ckpt_dir = FLAGS.output_dir if is_chief else os.path.join(FLAGS.output_dir, f".{task_name}")
    os.makedirs(ckpt_dir, exist_ok=True)
    fp16 = False
    if FLAGS.use_mixed_precision:
        fp16 = bool(tf.config.list_logical_devices("GPU"))
        keras.mixed_precision.set_global_policy("mixed_float16" if fp16 else "mixed_bfloat16")

    with strategy.scope():
        pretrainer = BertPretrainer(bert_config)
        pretrainer.build()
        names = {v.path: n for n, v in pretrainer.original_names().items()}
        optimizer = create_optimizer(FLAGS.learning_rate, FLAGS.num_train_steps,
                                     FLAGS.num_warmup_steps, variable_names=names)
        if fp16:
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(pretrainer.trainable_variables)
    ckpt = TrainingCheckpoint(ckpt_dir, pretrainer, optimizer)
    if is_chief:
        ckpt.remove_temporaries()
    # Every worker resumes from the chief's checkpoints.
    step = TrainingCheckpoint(FLAGS.output_dir, pretrainer, optimizer).restore()
    if step is not None:
        print(f"Resuming from {ckpt.latest() or FLAGS.output_dir} at global step {step}",
              flush=True)
    elif FLAGS.init_checkpoint:
        report = load_checkpoint(FLAGS.init_checkpoint, pretrainer.bert, [pretrainer.cls])
        logging.info("init_checkpoint %s: %s", FLAGS.init_checkpoint, report)
        print(f"Initialised from {FLAGS.init_checkpoint}: {report.summary()}", flush=True)
        if not report.loaded:
            raise ValueError(f"--init_checkpoint: {FLAGS.init_checkpoint} holds no variable "
                             "of this model")
    step = step or 0
    tvars = pretrainer.trainable_variables
    accum = FLAGS.gradient_accumulation_steps

    def replica_step(features):
        def grads_of(batch):
            with tf.GradientTape() as tape:
                outputs = pretrainer(batch, training=True)
                losses = pretraining_losses(outputs, batch)
                scaled = optimizer.scale_loss(losses["loss"])
            return tape.gradient(scaled, tvars), losses

        if accum == 1:
            grads, losses = grads_of(features)
            report = [losses["loss"], losses["masked_lm_loss"], losses["next_sentence_loss"]]
        else:
            micro = {k: tf.split(v, accum, axis=0) for k, v in features.items()}
            grads = [tf.zeros_like(v) for v in tvars]
            report = [tf.constant(0.0)] * 3
            for i in range(accum):
                g, losses = grads_of({k: v[i] for k, v in micro.items()})
                grads = [a + tf.convert_to_tensor(b) / accum for a, b in zip(grads, g)]
                report = [r + x / accum for r, x in zip(
                    report, (losses["loss"], losses["masked_lm_loss"],
                             losses["next_sentence_loss"]))]
        optimizer.apply(grads, tvars)
        return tf.stack(report)

    compiled_step = tf.function(replica_step, jit_compile=FLAGS.use_xla or None)

    @tf.function
    def train_loop(iterator, n):
        total = tf.zeros([3])
        for _ in tf.range(n):
            out = strategy.run(compiled_step, args=(next(iterator),))
            total += strategy.reduce(tf.distribute.ReduceOp.MEAN, out, axis=None)
        return total / tf.cast(n, tf.float32)

    lr_schedule = WarmupPolynomialDecay(FLAGS.learning_rate, FLAGS.num_train_steps,
                                        FLAGS.num_warmup_steps)  # for the progress line
    writer = tf.summary.create_file_writer(FLAGS.output_dir if is_chief else ckpt_dir)

    if FLAGS.do_train and step < FLAGS.num_train_steps:
        print(f"***** Running training ***** batch size {FLAGS.train_batch_size}, "
              f"steps {step} -> {FLAGS.num_train_steps}, {strategy.num_replicas_in_sync} "
              f"replica(s)", flush=True)
        dataset = strategy.distribute_datasets_from_function(
            lambda ctx: make_dataset(
                input_files, ctx.get_per_replica_batch_size(FLAGS.train_batch_size),
                FLAGS.max_seq_length, FLAGS.max_predictions_per_seq, is_training=True,
                input_context=ctx))
        iterator = iter(dataset)
        t_last, step_last = time.time(), step
        first = True
        while step < FLAGS.num_train_steps:
            n = min(FLAGS.iterations_per_loop, FLAGS.num_train_steps - step,
                    FLAGS.save_checkpoints_steps - step % FLAGS.save_checkpoints_steps,
                    FLAGS.log_steps - step % FLAGS.log_steps)
            if first:
                n = 1  # the first call traces (and compiles): keep it out of examples/s
            lr = float(lr_schedule(step + n - 1))
            mean = train_loop(iterator, tf.constant(n)).numpy()
            step += n
            if first and step % FLAGS.log_steps and step < FLAGS.num_train_steps:
                now = time.time()
                print(f"step {step}/{FLAGS.num_train_steps} loss {mean[0]:.4f} (first step, "
                      f"with graph tracing and compilation: {now - t_last:.1f} s)", flush=True)
                t_last, step_last = now, step
            first = False
            if step % FLAGS.log_steps == 0 or step == FLAGS.num_train_steps:
                now = time.time()
                rate = (step - step_last) * FLAGS.train_batch_size / max(now - t_last, 1e-9)
                t_last, step_last = now, step
                print(f"step {step}/{FLAGS.num_train_steps} loss {mean[0]:.4f} "
                      f"masked_lm_loss {mean[1]:.4f} next_sentence_loss {mean[2]:.4f} "
                      f"lr {lr:.3g} examples/s {rate:.1f}", flush=True)
                write_scalars(tf, writer, step, {
                    "loss": mean[0], "masked_lm_loss": mean[1], "next_sentence_loss": mean[2],
                    "learning_rate": lr, "examples_per_sec": rate})
            if step % FLAGS.save_checkpoints_steps == 0 or step == FLAGS.num_train_steps:
                path = ckpt.save(step)
                logging.info("Saved checkpoint %s", path)

    if FLAGS.do_eval:
        print(f"***** Running evaluation ***** batch size {FLAGS.eval_batch_size}", flush=True)
        eval_data = strategy.distribute_datasets_from_function(
            lambda ctx: make_dataset(
                input_files, ctx.get_per_replica_batch_size(FLAGS.eval_batch_size),
                FLAGS.max_seq_length, FLAGS.max_predictions_per_seq, is_training=False,
                input_context=ctx))

        def eval_replica(features):
            outputs = pretrainer(features, training=False)
            return metric_sums(outputs, features, pretraining_losses(outputs, features))

        @tf.function
        def eval_loop(iterator, n):
            sums = {k: tf.constant(0.0) for k in METRIC_SUMS}
            for _ in tf.range(n):
                out = strategy.run(eval_replica, args=(next(iterator),))
                sums = {k: sums[k] + strategy.reduce(tf.distribute.ReduceOp.SUM, out[k],
                                                     axis=None) for k in METRIC_SUMS}
            return sums

        sums = eval_loop(iter(eval_data), tf.constant(FLAGS.max_eval_steps))
        sums["batches"] = sums["batches"] / strategy.num_replicas_in_sync
        result = metrics_from_sums(sums)
        result["global_step"] = step
        if is_chief:
            write_eval_results(os.path.join(FLAGS.output_dir, "eval_results.txt"), result)
            write_scalars(tf, tf.summary.create_file_writer(
                os.path.join(FLAGS.output_dir, "eval")), step,
                {k: v for k, v in result.items() if k != "global_step"})
        print("***** Eval results *****")
        for key in sorted(result):
            print(f"  {key} = {result[key]}", flush=True)


def write_scalars(tf, writer, step, values):
    """TensorBoard scalar summaries through ``tf.summary.write`` (the scalar plugin's
    format), so the ``tensorboard`` package is not needed to write them."""
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
        data_class=summary_pb2.DATA_CLASS_SCALAR)
    with writer.as_default(step=step):
        for tag, value in values.items():
            tf.summary.write(tag, tf.constant(float(value), tf.float32),
                             metadata=metadata.SerializeToString())
    writer.flush()


def write_eval_results(path, result):
    """``key = value`` lines in sorted key order, written atomically."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        for key in sorted(result):
            f.write(f"{key} = {result[key]}\n")
    os.replace(tmp, path)


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
