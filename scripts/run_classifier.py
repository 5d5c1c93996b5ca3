"""BERT finetuning runner for sentence(-pair) classification (TF2 / Keras 3).

Same flags, defaults and outputs as google-research/bert ``run_classifier.py``:
``output_dir/train.tf_record`` / ``eval.tf_record`` / ``predict.tf_record``,
checkpoints ``model.ckpt-<step>`` under the original variable names (``bert/...``,
``output_weights``, ``output_bias``), ``eval_results.txt`` ("key = value", sorted:
``eval_accuracy``, ``eval_loss``, ``global_step``, ``loss``) and ``test_results.tsv`` (one
row of tab-separated class probabilities per test example, no header).

Tasks: the original ``cola``, ``mnli``, ``mrpc``, ``xnli`` and ``sst2``, ``qqp``,
``qnli``, ``rte``, ``wnli``, ``stsb`` (regression), ``tsv`` (your own files, columns named
by the ``--tsv_*`` flags). Additional eval keys: ``eval_mcc`` (CoLA), ``eval_f1`` (MRPC,
QQP), ``eval_pearson`` / ``eval_spearman`` (STS-B, whose ``eval_loss`` is the mean squared
error and whose test_results.tsv holds the score).

``init_checkpoint``: an original TF1 checkpoint, one of ours, an HF ``model.safetensors``,
or a directory (its latest checkpoint). Additions: ``--strategy``, ``--use_xla``,
``--use_mixed_precision``, ``--log_steps``, ``--random_seed``. Training runs on the shared
:class:`tfmodels.training.Trainer` (resumes from ``output_dir`` after an interruption).
Logic: :mod:`pipelines.glue`, :mod:`tfmodels.models.bert.classifier`.
"""

from __future__ import annotations

import math
import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Required parameters
flags.DEFINE_string("data_dir", None,
                    "The input data dir. Should contain the .tsv files (or other data files) "
                    "for the task.")
flags.DEFINE_string("bert_config_file", None,
                    "The config json file corresponding to the pre-trained BERT model. "
                    "This specifies the model architecture.")
flags.DEFINE_string("task_name", None, "The name of the task to train.")
flags.DEFINE_string("vocab_file", None, "The vocabulary file that the BERT model was trained on.")
flags.DEFINE_string("output_dir", None,
                    "The output directory where the model checkpoints will be written.")
# Other parameters
flags.DEFINE_string("init_checkpoint", None,
                    "Initial checkpoint (usually from a pre-trained BERT model): a TF1 "
                    "checkpoint prefix, a .safetensors file or a directory (latest checkpoint).")
flags.DEFINE_bool("do_lower_case", True,
                  "Whether to lower case the input text. Should be True for uncased models and "
                  "False for cased models.")
flags.DEFINE_integer("max_seq_length", 128,
                     "The maximum total input sequence length after WordPiece tokenization. "
                     "Sequences longer than this will be truncated, and sequences shorter than "
                     "this will be padded.")
flags.DEFINE_bool("do_train", False, "Whether to run training.")
flags.DEFINE_bool("do_eval", False, "Whether to run eval on the dev set.")
flags.DEFINE_bool("do_predict", False, "Whether to run the model in inference mode on the test "
                  "set.")
flags.DEFINE_integer("train_batch_size", 32, "Total batch size for training.")
flags.DEFINE_integer("eval_batch_size", 8, "Total batch size for eval.")
flags.DEFINE_integer("predict_batch_size", 8, "Total batch size for predict.")
flags.DEFINE_float("learning_rate", 5e-5, "The initial learning rate for Adam.")
flags.DEFINE_float("num_train_epochs", 3.0, "Total number of training epochs to perform.")
flags.DEFINE_float("warmup_proportion", 0.1,
                   "Proportion of training to perform linear learning rate warmup for. "
                   "E.g., 0.1 = 10% of training.")
flags.DEFINE_integer("save_checkpoints_steps", 1000, "How often to save the model checkpoint.")
flags.DEFINE_integer("iterations_per_loop", 1000,
                     "How many steps to make in each estimator call (here: the most steps run "
                     "inside one compiled call).")
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
flags.DEFINE_integer("log_steps", 100, "Print progress and write summaries every N steps.")
flags.DEFINE_integer("random_seed", 12345, "Seed of the initialisation, dropout and shuffling.")
flags.DEFINE_string("tsv_text_a_column", "sentence",
                    "task tsv: header name or 0-based index of the first text column.")
flags.DEFINE_string("tsv_text_b_column", None,
                    "task tsv: column of the second text (pair tasks); unset for single texts.")
flags.DEFINE_string("tsv_label_column", "label", "task tsv: column of the label.")
flags.DEFINE_list("tsv_labels", None,
                  "task tsv: the labels, comma separated (default: sorted labels of train.tsv).")
flags.DEFINE_bool("tsv_has_header", True, "task tsv: the files start with a header row.")
flags.DEFINE_bool("tsv_regression", False, "task tsv: the label is a real number (regression).")

FLAGS = flags.FLAGS

# Additional eval metrics per task (GLUE's official ones beyond accuracy).
EXTRA_METRICS = {"cola": ("mcc",), "mrpc": ("f1",), "qqp": ("f1",),
                 "stsb": ("pearson", "spearman")}


def validate_flags(hub_handle=None):
    from pipelines import tokenization
    from tfmodels import io

    tokenization.validate_case_matches_checkpoint(FLAGS.do_lower_case, FLAGS.init_checkpoint)
    if not FLAGS.do_train and not FLAGS.do_eval and not FLAGS.do_predict:
        raise ValueError("At least one of `do_train`, `do_eval` or `do_predict' must be True.")
    model_flags = () if hub_handle else ("bert_config_file", "vocab_file")
    for name in ("data_dir", "task_name", "output_dir", *model_flags):
        if not getattr(FLAGS, name):
            raise ValueError(f"--{name} is required")
    for name in model_flags:
        path = getattr(FLAGS, name)
        if not io.exists(path) or io.isdir(path):
            raise FileNotFoundError(f"--{name}: {path} does not exist")
    if not io.isdir(FLAGS.data_dir):
        raise FileNotFoundError(f"--data_dir: {FLAGS.data_dir} is not a directory")
    for name in ("train_batch_size", "eval_batch_size", "predict_batch_size",
                 "save_checkpoints_steps", "iterations_per_loop", "log_steps"):
        if getattr(FLAGS, name) < 1:
            raise ValueError(f"--{name} must be positive, got {getattr(FLAGS, name)}")
    if FLAGS.max_seq_length < 3:
        raise ValueError(f"--max_seq_length must be at least 3, got {FLAGS.max_seq_length}")
    if not 0.0 <= FLAGS.warmup_proportion <= 1.0:
        raise ValueError(f"--warmup_proportion must be in [0, 1], got {FLAGS.warmup_proportion}")


def _column(value):
    return int(value) if value is not None and str(value).lstrip("-").isdigit() else value


def make_processor():
    from pipelines import glue

    return glue.get_processor(
        FLAGS.task_name, text_a_column=_column(FLAGS.tsv_text_a_column),
        text_b_column=_column(FLAGS.tsv_text_b_column),
        label_column=_column(FLAGS.tsv_label_column), labels=FLAGS.tsv_labels,
        has_header=FLAGS.tsv_has_header, regression=FLAGS.tsv_regression,
        data_dir=FLAGS.data_dir)


def check_vocab(tokenizer, bert_config):
    top = max(tokenizer.vocab.values())
    if top >= bert_config.vocab_size:
        raise ValueError(f"--vocab_file has ids up to {top} but --bert_config_file has "
                         f"vocab_size {bert_config.vocab_size}: they belong to different models")


def write_features(examples, label_list, tokenizer, name):
    """Converts examples into output_dir/<name>.tf_record (as the original)."""
    from pipelines import glue
    from tfmodels import io

    path = io.join(FLAGS.output_dir, f"{name}.tf_record")
    glue.file_based_convert_examples_to_features(examples, label_list, FLAGS.max_seq_length,
                                                 tokenizer, path)
    return path


def eval_results(task, result, model, dataset, regression):
    """The eval_results.txt dict: the original keys plus the task's GLUE metrics."""
    import numpy as np

    from tfmodels.metrics import classification as cm
    from tfmodels.models.bert.finetuning import predict

    out = {"eval_loss": result["per_example_loss"], "loss": result["loss"],
           "global_step": result["global_step"]}
    if not regression:
        out["eval_accuracy"] = result["accuracy"]
    extra = EXTRA_METRICS.get(task, ("pearson", "spearman") if regression else ())
    if "f1" in extra and "tp" in result:
        out["eval_f1"] = cm.f1_from_counts(result["tp"], result["fp"], result["fn"])
    if "mcc" in extra and "tp" in result:
        out["eval_mcc"] = cm.mcc_from_counts(result["tp"], result["fp"], result["fn"],
                                             result["tn"])
    if regression:
        scores, labels = [], []
        for features, logits in predict(model, dataset):
            real = features["is_real_example"] > 0
            scores.append(logits[:, 0][real])
            labels.append(features["label_ids"][real])
        scores, labels = np.concatenate(scores), np.concatenate(labels)
        out["eval_pearson"] = cm.pearson(scores, labels)
        out["eval_spearman"] = cm.spearman(scores, labels)
    # Written as the Estimator's float32 metrics (str of a float32) and int global_step.
    return {k: (int(v) if isinstance(v, (int, np.integer)) else str(np.float32(v)))
            for k, v in out.items()}


def main_impl(hub_handle=None):
    """run_classifier's main; with ``hub_handle`` (run_classifier_with_tfhub) the encoder,
    vocab and casing come from that SavedModel instead of the BERT flags."""
    validate_flags(hub_handle)
    # Data first: bad files fail before the model is built, with one clear line.
    from pipelines import glue, tokenization
    from tfmodels.models.bert import BertConfig
    from tfmodels.models.bert.finetuning import train_steps

    task_name = FLAGS.task_name.lower()
    processor = make_processor()
    label_list = processor.get_labels()
    regression = glue.is_regression(label_list)
    if hub_handle:
        from tfmodels.models.bert.hub import load_hub_module, tokenization_info

        bert_config = None
        vocab_file, do_lower_case = tokenization_info(load_hub_module(hub_handle))
        tokenizer = tokenization.FullTokenizer(vocab_file=vocab_file,
                                               do_lower_case=do_lower_case)
    else:
        bert_config = BertConfig.from_json_file(FLAGS.bert_config_file)
        if FLAGS.max_seq_length > bert_config.max_position_embeddings:
            raise ValueError(
                f"Cannot use sequence length {FLAGS.max_seq_length} because the BERT model "
                f"was only trained up to sequence length {bert_config.max_position_embeddings}")
        tokenizer = tokenization.FullTokenizer(vocab_file=FLAGS.vocab_file,
                                               do_lower_case=FLAGS.do_lower_case)
        check_vocab(tokenizer, bert_config)
    train_examples = None
    num_train_steps, num_warmup_steps = 1, 0
    if FLAGS.do_train:
        train_examples = processor.get_train_examples(FLAGS.data_dir)
        glue.check_labels(train_examples, label_list)
        num_train_steps, num_warmup_steps = train_steps(
            len(train_examples), FLAGS.train_batch_size, FLAGS.num_train_epochs,
            FLAGS.warmup_proportion)

    import keras
    import numpy as np

    from tfmodels import io, training
    from tfmodels.models.bert.classifier import (
        BertClassifier,
        classifier_loss_fn,
        eval_batch_loss,
        probabilities,
    )
    from tfmodels.models.bert.finetuning import init_from_checkpoint, predict
    from tfmodels.models.bert.pretraining import TrainingCheckpoint
    from tfmodels.optimization import create_optimizer

    # MultiWorkerMirroredStrategy must exist before any other TensorFlow op runs.
    strategy = training.make_strategy(
        FLAGS.strategy or ("tpu" if FLAGS.use_tpu else "one_device"),
        tpu=FLAGS.tpu_name or FLAGS.master, tpu_zone=FLAGS.tpu_zone,
        gcp_project=FLAGS.gcp_project)
    keras.utils.set_random_seed(FLAGS.random_seed)
    io.makedirs(FLAGS.output_dir)

    training.set_mixed_precision(FLAGS.use_mixed_precision)
    with strategy.scope():
        num_labels = 1 if regression else len(label_list)
        if hub_handle:
            from tfmodels.models.bert.hub import HubClassifier

            model = HubClassifier(hub_handle, num_labels, regression=regression)
        else:
            model = BertClassifier(bert_config, num_labels, regression=regression)
        model.build()
        names = {v.path: n for n, v in model.original_names().items()}
        optimizer = training.loss_scaled(create_optimizer(
            FLAGS.learning_rate, num_train_steps, num_warmup_steps, variable_names=names))
        optimizer.build(model.trainable_variables)

    trainer = training.Trainer(
        model, optimizer, classifier_loss_fn, strategy=strategy, output_dir=FLAGS.output_dir,
        checkpoint=lambda d: TrainingCheckpoint(d, model, optimizer),
        global_batch_size=FLAGS.train_batch_size, jit_compile=FLAGS.use_xla,
        steps_per_loop=FLAGS.iterations_per_loop, log_steps=FLAGS.log_steps,
        save_checkpoints_steps=FLAGS.save_checkpoints_steps, gradient_reduction="sum",
        eval_batch_metrics=eval_batch_loss)
    if trainer.restore() is None and FLAGS.init_checkpoint and not hub_handle:
        init_from_checkpoint(FLAGS.init_checkpoint, model,
                             print_fn=lambda s: print(s, flush=True))

    if FLAGS.do_train:
        train_file = write_features(train_examples, label_list, tokenizer, "train")
        print(f"***** Running training ***** {len(train_examples)} examples, batch size "
              f"{FLAGS.train_batch_size}, {num_train_steps} steps", flush=True)
        train_input_fn = glue.file_based_input_fn_builder(
            train_file, FLAGS.max_seq_length, is_training=True, drop_remainder=True,
            regression=regression, seed=FLAGS.random_seed)
        trainer.train(train_input_fn({"batch_size": FLAGS.train_batch_size}), num_train_steps)

    if FLAGS.do_eval:
        eval_examples = processor.get_dev_examples(FLAGS.data_dir)
        if not eval_examples:
            raise ValueError(f"--data_dir: the dev set of task {task_name} is empty")
        eval_file = write_features(eval_examples, label_list, tokenizer, "eval")
        print(f"***** Running evaluation ***** {len(eval_examples)} examples, batch size "
              f"{FLAGS.eval_batch_size}", flush=True)
        eval_dataset = glue.file_based_input_fn_builder(
            eval_file, FLAGS.max_seq_length, is_training=False, drop_remainder=False,
            regression=regression)({"batch_size": FLAGS.eval_batch_size})
        result = trainer.evaluate(eval_dataset,
                                  steps=math.ceil(len(eval_examples) / FLAGS.eval_batch_size))
        result = eval_results(task_name, result, model, eval_dataset, regression)
        trainer.write_eval_results(result)
        print("***** Eval results *****")
        for key in sorted(result):
            print(f"  {key} = {result[key]}", flush=True)

    if FLAGS.do_predict:
        predict_examples = processor.get_test_examples(FLAGS.data_dir)
        predict_file = write_features(predict_examples, label_list, tokenizer, "predict")
        print(f"***** Running prediction ***** {len(predict_examples)} examples, batch size "
              f"{FLAGS.predict_batch_size}", flush=True)
        dataset = glue.file_based_input_fn_builder(
            predict_file, FLAGS.max_seq_length, is_training=False, drop_remainder=False,
            regression=regression)({"batch_size": FLAGS.predict_batch_size})
        num_written_lines = 0
        with io.atomic_write(io.join(FLAGS.output_dir, "test_results.tsv")) as writer:
            for _, logits in predict(model, dataset):
                for row in np.asarray(probabilities(logits, regression)):
                    writer.write("\t".join(str(np.float32(p)) for p in row) + "\n")
                    num_written_lines += 1
        if num_written_lines != len(predict_examples):
            raise RuntimeError(f"wrote {num_written_lines} predictions for "
                               f"{len(predict_examples)} examples")


def main(argv):
    del argv
    try:
        main_impl()
    except (ValueError, FileNotFoundError) as e:
        print(f"run_classifier.py: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    app.run(main)
