"""Train and evaluate SASRec: the command line of kang205/SASRec ``main.py``.

    python scripts/train_sasrec.py --dataset=ml-1m --train_dir=default --maxlen=200 \\
        --dropout_rate=0.2

``--dataset`` is a name read from ``data/<name>.txt`` (as the original) or a path to a file in
that format or a GRU4Rec session file. Outputs go to ``<dataset name>_<train_dir>/`` as the
original: ``args.txt``, ``log.txt`` (one ``(NDCG@10, HR@10) (NDCG@10, HR@10)`` line, valid
then test, per evaluation), plus checkpoints (``model.ckpt-<step>``, resumed after a kill by
rerunning the same command), TensorBoard events and ``eval_results.txt``.

Every ``--eval_every`` (20) epochs it prints the original line and both protocols, labelled:
``sampled: HR@10 ... NDCG@10 ...`` (100 negatives) and ``full: HR@10 ... NDCG@10 ...
MRR@10 ...`` (all items, history excluded), for the test item.

Training runs on the shared trainer (tfmodels.training.Trainer); batches come from
pipelines.sequences.training_dataset. Logic lives in tfmodels.models.sasrec and pipelines.
"""

from __future__ import annotations

import os
import sys
import time

from absl import app, flags, logging

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from pipelines import sequences  # noqa: E402
from tfmodels import io, training  # noqa: E402
from tfmodels.models.sasrec import evaluation  # noqa: E402
from tfmodels.models.sasrec.losses import bce_loss, pairwise_auc, softmax_ce_loss  # noqa: E402
from tfmodels.models.sasrec.model import SASRec  # noqa: E402

flags.DEFINE_string("dataset", None, "Dataset name (data/<name>.txt) or path to a file.")
flags.DEFINE_string("train_dir", None, "Run name: outputs go to <dataset>_<train_dir>/.")
flags.DEFINE_integer("batch_size", 128, "Users per training batch.")
flags.DEFINE_float("lr", 0.001, "Adam learning rate.")
flags.DEFINE_integer("maxlen", 50, "Longest history used (ML-1M: 200).")
flags.DEFINE_integer("hidden_units", 50, "Model width.")
flags.DEFINE_integer("num_blocks", 2, "Self-attention blocks.")
flags.DEFINE_integer("num_epochs", 201, "Training epochs.")
flags.DEFINE_integer("num_heads", 1, "Attention heads.")
flags.DEFINE_float("dropout_rate", 0.5, "Dropout rate (ML-1M: 0.2).")
flags.DEFINE_float("l2_emb", 0.0, "L2 regularisation of the embeddings.")
# Additions (the original behaviour by default).
flags.DEFINE_string("data_dir", "data", "Folder of <name>.txt files for a --dataset name.")
flags.DEFINE_string("output_dir", None, "Output folder (default <dataset>_<train_dir>).")
flags.DEFINE_integer("eval_every", 20, "Evaluate every this many epochs.")
flags.DEFINE_integer("eval_batch_size", 256, "Users per evaluation batch.")
flags.DEFINE_integer("num_sampled", 100, "Negatives of the sampled protocol.")
flags.DEFINE_integer("topk", 10, "Cut-off of the printed metrics.")
flags.DEFINE_enum("loss", "bce", ["bce", "softmax"],
                  "bce: the original (one sampled negative per position); softmax: full "
                  "cross-entropy over all items.")
flags.DEFINE_integer("num_negatives", 1, "Negatives per position for --loss=bce.")
flags.DEFINE_bool("norm_first", False, "Pre-norm blocks instead of the original's.")
flags.DEFINE_bool("jit_compile", False, "XLA-compile the training and evaluation steps.")
flags.DEFINE_integer("seed", 0, "Seed of the initialisation, batches, dropout, negatives.")
flags.DEFINE_integer("steps_per_loop", 0, "Steps per compiled call (0: one epoch).")
flags.DEFINE_string("export_dir", None, "Write a serving SavedModel here after training.")
flags.DEFINE_integer("export_topk", 10, "Items returned by the exported model.")

FLAGS = flags.FLAGS


def output_dir():
    if FLAGS.output_dir:
        return FLAGS.output_dir
    name = os.path.basename(FLAGS.dataset)
    name = name[:-4] if name.endswith(".txt") else name
    return f"{name}_{FLAGS.train_dir}"


def check_flags():
    for name in ("batch_size", "maxlen", "hidden_units", "num_heads", "num_epochs",
                 "eval_every", "eval_batch_size", "num_sampled", "topk", "num_negatives",
                 "export_topk"):
        if getattr(FLAGS, name) < 1:
            raise ValueError(f"--{name} must be >= 1, got {getattr(FLAGS, name)}")
    if FLAGS.num_blocks < 0:
        raise ValueError(f"--num_blocks must be >= 0, got {FLAGS.num_blocks}")
    if not 0.0 <= FLAGS.dropout_rate < 1.0:
        raise ValueError(f"--dropout_rate must be in [0, 1), got {FLAGS.dropout_rate}")
    if FLAGS.lr <= 0 or FLAGS.l2_emb < 0:
        raise ValueError("--lr must be > 0 and --l2_emb >= 0")
    if FLAGS.hidden_units % FLAGS.num_heads:
        raise ValueError(f"--hidden_units ({FLAGS.hidden_units}) must be a multiple of "
                         f"--num_heads ({FLAGS.num_heads})")


def make_loss_fn(loss_name):
    """loss_fn(model, batch, training) for the shared trainer (the original model.loss)."""

    def loss_fn(model, batch, training_flag):
        feats = model(batch["input_seq"], training=training_flag)
        pos = batch["pos"]
        target = tf.cast(pos > 0, tf.float32)
        count = tf.reduce_sum(target)
        pos_logits = model.score_items(feats, pos[..., None])[..., 0]
        neg = batch["neg"]
        neg_items = neg[..., None] if neg.shape.rank == 2 else neg
        neg_logits = model.score_items(feats, neg_items)
        if loss_name == "softmax":
            loss = softmax_ce_loss(model.score_all(feats), pos)
        else:
            loss = bce_loss(pos_logits, neg_logits, pos)
        loss = loss + model.regularization_loss()
        auc = pairwise_auc(pos_logits, neg_logits, pos)
        return loss, {"auc": (auc * count, count)}

    return loss_fn


def evaluate(model, split, seed, stage):
    """(sampled result, full result) for ``stage`` ("valid" or "test")."""
    inputs = sequences.eval_inputs(split, FLAGS.maxlen, stage)
    keep = evaluation.sample_users(len(inputs["rows"]), seed)
    rows = inputs["rows"][keep]
    cand = sequences.sampled_candidates(split, rows, inputs["target"][keep],
                                        FLAGS.num_sampled, seed)
    k = FLAGS.topk
    sampled = evaluation.sampled_metrics(model, inputs["input_seq"][keep], cand, (k,),
                                         FLAGS.eval_batch_size, FLAGS.jit_compile)
    full = None
    if stage == "test":
        full = evaluation.full_ranking_metrics(
            model, inputs["input_seq"], inputs["target"], inputs["history"], (k,),
            FLAGS.eval_batch_size, jit_compile=FLAGS.jit_compile)
    return sampled, full


def run():
    check_flags()
    path = sequences.resolve_dataset(FLAGS.dataset, FLAGS.data_dir)
    out = output_dir()
    io.makedirs(out)
    with io.atomic_write(io.join(out, "args.txt")) as f:
        args = {name: FLAGS[name].value for name in sorted(
            ["dataset", "train_dir", "batch_size", "lr", "maxlen", "hidden_units",
             "num_blocks", "num_epochs", "num_heads", "dropout_rate", "l2_emb"])}
        f.write("\n".join(f"{k},{v}" for k, v in args.items()))

    split = sequences.leave_one_out(sequences.read_sequences(path))
    summary = split.summary()
    print(f"average sequence length: {summary['average_train_length']:.2f}", flush=True)
    print(f"{summary['users']} users, {summary['items']} items, {summary['interactions']} "
          f"interactions; {summary['train_only_users']} users with fewer than 3 are used for "
          f"training only; {summary['unsampled_users']} with a single training item are never "
          "sampled", flush=True)
    num_batch = max(1, summary["users"] // FLAGS.batch_size)

    keras.utils.set_random_seed(FLAGS.seed)
    strategy = tf.distribute.get_strategy()
    model = SASRec(split.num_items, FLAGS.maxlen, FLAGS.hidden_units, FLAGS.num_blocks,
                   FLAGS.num_heads, FLAGS.dropout_rate, FLAGS.l2_emb, FLAGS.norm_first)
    optimizer = keras.optimizers.Adam(learning_rate=FLAGS.lr, beta_1=0.9, beta_2=0.98,
                                      epsilon=1e-8)
    # The dropout seed states go into the checkpoint too, so a resumed run continues the
    # same random stream as an uninterrupted one.
    seeds = [v.value for v in model.non_trainable_variables if "seed_generator" in v.path]
    trainer = training.Trainer(
        model, optimizer, make_loss_fn(FLAGS.loss), strategy=strategy, output_dir=out,
        checkpoint=lambda d: training.ObjectCheckpoint(d, max_to_keep=2, model=model,
                                                       optimizer=optimizer,
                                                       dropout_seeds=seeds),
        global_batch_size=FLAGS.batch_size, jit_compile=FLAGS.jit_compile,
        steps_per_loop=FLAGS.steps_per_loop or num_batch, log_steps=num_batch,
        save_checkpoints_steps=num_batch)
    trainer.restore()

    log_path = io.join(out, "log.txt")
    log_lines = io.read_text(log_path).splitlines() if io.exists(log_path) else []
    total_time, result = 0.0, None
    epoch = trainer.step // num_batch
    while epoch < FLAGS.num_epochs:
        stop = min(FLAGS.num_epochs, (epoch // FLAGS.eval_every + 1) * FLAGS.eval_every)
        t0 = time.time()
        data = sequences.training_dataset(split, FLAGS.batch_size, FLAGS.maxlen, FLAGS.seed,
                                          FLAGS.num_negatives, start_step=trainer.step)
        trainer.train(data, stop * num_batch)
        total_time += time.time() - t0
        epoch = stop
        if epoch % FLAGS.eval_every:
            break
        print("Evaluating", flush=True)
        seed = FLAGS.seed * 100003 + epoch
        test_sampled, full = evaluate(model, split, seed, "test")
        valid_sampled, _ = evaluate(model, split, seed + 1, "valid")
        k = FLAGS.topk
        tv, tt = valid_sampled[k], test_sampled[k]
        print(f"epoch:{epoch}, time: {total_time:f}(s), valid (NDCG@{k}: {tv['ndcg']:.4f}, "
              f"HR@{k}: {tv['hr']:.4f}), test (NDCG@{k}: {tt['ndcg']:.4f}, "
              f"HR@{k}: {tt['hr']:.4f})", flush=True)
        print(evaluation.format_sampled(test_sampled, k), flush=True)
        print(evaluation.format_full(full, k), flush=True)
        log_lines.append(f"({tv['ndcg']}, {tv['hr']}) ({tt['ndcg']}, {tt['hr']})")
        with io.atomic_write(log_path) as f:
            f.write("\n".join(log_lines) + "\n")
        result = {f"valid_sampled_ndcg@{k}": tv["ndcg"], f"valid_sampled_hr@{k}": tv["hr"],
                  f"test_sampled_ndcg@{k}": tt["ndcg"], f"test_sampled_hr@{k}": tt["hr"],
                  f"test_sampled_pessimistic_hr@{k}": tt["hr_pessimistic"],
                  f"test_sampled_pessimistic_ndcg@{k}": tt["ndcg_pessimistic"],
                  f"test_full_hr@{k}": full[k]["hr"], f"test_full_ndcg@{k}": full[k]["ndcg"],
                  f"test_full_mrr@{k}": full[k]["mrr"], "epoch": epoch,
                  "global_step": trainer.step}
        trainer.write_eval_results(result)
    if FLAGS.export_dir:
        from tfmodels.models.sasrec.serving import export_saved_model

        export_saved_model(model, FLAGS.export_dir, FLAGS.export_topk,
                           item_ids=split.data.item_ids)
        print(f"SavedModel written to {FLAGS.export_dir}", flush=True)
    print("Done", flush=True)
    return result


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    tf.get_logger().setLevel("ERROR")  # retracing notices of the evaluation steps
    try:
        run()
    except (ValueError, FileNotFoundError) as e:
        print(f"train_sasrec.py: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    flags.mark_flags_as_required(["dataset", "train_dir"])
    app.run(main)
