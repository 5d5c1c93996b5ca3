"""Train DETR on a COCO-format dataset (TF2 / Keras 3) on the shared trainer.

The flags of facebookresearch/detr ``main.py`` (``--coco_path`` with ``train2017/``,
``val2017/`` and ``annotations/instances_{train,val}2017.json``; ``--lr 1e-4``,
``--lr_backbone 1e-5``, ``--weight_decay 1e-4``, ``--clip_max_norm 0.1``, ``--epochs 300``,
``--lr_drop 200``, the model and matcher/loss flags). Epochs are turned into steps
(``ceil(images / batch_size)`` per epoch). Checkpoints ``output_dir/model.ckpt-<step>``
(every model variable by its Keras path + the AdamW slots) and
``output_dir/detr_config.json``; rerunning the same command resumes at the same step. At
the end the model is evaluated on val2017 with pycocotools (``--eval`` evaluates only, as
the original), written to ``output_dir/eval_results.txt``.

Additions: ``--num_classes`` (91 for COCO), ``--scales``/``--max_size``/``--val_size``
(the multi-scale recipe at another resolution), ``--pad_to`` (one static batch shape),
``--max_steps``, ``--log_steps``, ``--save_checkpoints_steps``, ``--frozen_stages``,
``--backbone_layers``/``--backbone_width`` (small ResNets), ``--backbone_norm``,
``--strategy``.
``--resume`` takes an original ``.pth`` (or safetensors/npz) to start from.
"""

from __future__ import annotations

import math
import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tfmodels import io  # noqa: E402

F = flags
F.DEFINE_float("lr", 1e-4, "Learning rate.")
F.DEFINE_float("lr_backbone", 1e-5, "Learning rate of the backbone (0: frozen).")
F.DEFINE_integer("batch_size", 2, "Batch size.")
F.DEFINE_float("weight_decay", 1e-4, "AdamW weight decay.")
F.DEFINE_integer("epochs", 300, "Epochs.")
F.DEFINE_integer("lr_drop", 200, "Epoch after which the learning rate is divided by 10.")
F.DEFINE_float("clip_max_norm", 0.1, "Gradient clipping max norm (0: none).")
# Model
F.DEFINE_string("backbone", "resnet50", "Convolutional backbone.")
F.DEFINE_bool("dilation", False, "Dilation instead of stride in the last stage (DC5).")
F.DEFINE_enum("position_embedding", "sine", ["sine", "learned"], "Positional embedding.")
F.DEFINE_integer("enc_layers", 6, "Encoding layers in the transformer.")
F.DEFINE_integer("dec_layers", 6, "Decoding layers in the transformer.")
F.DEFINE_integer("dim_feedforward", 2048, "Feed-forward width in the transformer blocks.")
F.DEFINE_integer("hidden_dim", 256, "Size of the embeddings (transformer width).")
F.DEFINE_float("dropout", 0.1, "Dropout in the transformer.")
F.DEFINE_integer("nheads", 8, "Attention heads.")
F.DEFINE_integer("num_queries", 100, "Query slots.")
F.DEFINE_bool("pre_norm", False, "Pre-norm transformer blocks.")
F.DEFINE_bool("aux_loss", True, "Auxiliary decoding losses (--noaux_loss: off).")
# Matcher and loss
F.DEFINE_float("set_cost_class", 1, "Class coefficient in the matching cost.")
F.DEFINE_float("set_cost_bbox", 5, "L1 box coefficient in the matching cost.")
F.DEFINE_float("set_cost_giou", 2, "GIoU box coefficient in the matching cost.")
F.DEFINE_float("bbox_loss_coef", 5, "L1 box loss coefficient.")
F.DEFINE_float("giou_loss_coef", 2, "GIoU loss coefficient.")
F.DEFINE_float("eos_coef", 0.1, "Relative classification weight of the no-object class.")
# Data and run
F.DEFINE_string("dataset_file", "coco", "Dataset (coco).")
F.DEFINE_string("coco_path", None, "COCO root: train2017/, val2017/, annotations/.")
F.DEFINE_string("output_dir", None, "Where to save checkpoints and results.")
F.DEFINE_integer("seed", 42, "Random seed.")
F.DEFINE_string("resume", "", "Original checkpoint (.pth/.safetensors/.npz) to start from.")
F.DEFINE_bool("eval", False, "Only evaluate (the latest checkpoint of output_dir, or --resume).")
# Additions
F.DEFINE_integer("num_classes", 91, "Classes of the head (+1 no-object); COCO: 91.")
F.DEFINE_list("scales", ["480", "512", "544", "576", "608", "640", "672", "704", "736",
                         "768", "800"], "Training shorter-side sizes.")
F.DEFINE_integer("max_size", 1333, "Longest side after resizing.")
F.DEFINE_integer("val_size", 800, "Evaluation shorter-side size.")
F.DEFINE_list("crop_sizes", ["400", "500", "600"], "Resizes before the random crop.")
F.DEFINE_list("crop_range", ["384", "600"], "Random crop side range.")
F.DEFINE_list("pad_to", [], "H,W: pad every batch to this size (one static shape).")
F.DEFINE_integer("max_steps", 0, "Stop after this many steps (0: --epochs).")
F.DEFINE_integer("log_steps", 100, "Progress line every this many steps.")
F.DEFINE_integer("save_checkpoints_steps", 1000, "Checkpoint every this many steps.")
F.DEFINE_integer("frozen_stages", 1, "Backbone stages frozen with the stem (-1: none).")
F.DEFINE_list("backbone_layers", [], "Blocks per ResNet stage (default: --backbone's).")
F.DEFINE_integer("backbone_width", 64, "ResNet stem width.")
F.DEFINE_enum("backbone_norm", "frozen", ["frozen", "batch"],
              "frozen (the original) or batch (trainable: a backbone trained from scratch).")
F.DEFINE_string("strategy", "one_device", "one_device | mirrored | multi_worker | tpu.")
FLAGS = F.FLAGS


def _ints(name, values, n=None):
    try:
        out = [int(v) for v in values]
    except ValueError:
        raise ValueError(f"--{name} must be integers; got {','.join(values)}") from None
    if n is not None and out and len(out) != n:
        raise ValueError(f"--{name} needs {n} values; got {len(out)}")
    if any(v <= 0 for v in out):
        raise ValueError(f"--{name} must be positive; got {','.join(values)}")
    return out


def coco_files(split):
    root = FLAGS.coco_path
    return (io.join(root, "annotations", f"instances_{split}2017.json"),
            io.join(root, f"{split}2017"))


def model_config():
    from tfmodels.models.detr import DetrConfig

    layers = _ints("backbone_layers", FLAGS.backbone_layers, 4) or None
    return DetrConfig(
        num_classes=FLAGS.num_classes, backbone=FLAGS.backbone, dilation=FLAGS.dilation,
        position_embedding=FLAGS.position_embedding, enc_layers=FLAGS.enc_layers,
        dec_layers=FLAGS.dec_layers, dim_feedforward=FLAGS.dim_feedforward,
        hidden_dim=FLAGS.hidden_dim, dropout=FLAGS.dropout, nheads=FLAGS.nheads,
        num_queries=FLAGS.num_queries, pre_norm=FLAGS.pre_norm, aux_loss=FLAGS.aux_loss,
        train_backbone=FLAGS.lr_backbone > 0, backbone_layers=layers,
        backbone_width=FLAGS.backbone_width, frozen_stages=FLAGS.frozen_stages,
        backbone_norm=FLAGS.backbone_norm)


def evaluate(model, dataset_val, ann_val):
    from tfmodels.models.detr.evaluation import evaluate_coco
    from tfmodels.training import EVAL_RESULTS, write_eval_results

    stats, _ = evaluate_coco(model, dataset_val, ann_val)
    write_eval_results(io.join(FLAGS.output_dir, EVAL_RESULTS), stats)
    print("***** Eval results (bbox) *****")
    for key, value in stats.items():
        print(f"  {key} = {value:.4f}", flush=True)
    return stats


def main_impl():
    import keras

    from pipelines import coco
    from tfmodels import training
    from tfmodels.models.detr import DETR
    from tfmodels.models.detr.checkpoint import (
        CONFIG_FILE,
        build,
        detect_format,
        load_state_dict,
        read_state_dict,
        table_for,
    )
    from tfmodels.models.detr.criterion import SetCriterion
    from tfmodels.models.detr.matcher import HungarianMatcher
    from tfmodels.models.detr.training import make_checkpoint, make_loss_fn, make_optimizer

    if FLAGS.dataset_file != "coco":
        raise ValueError(f"--dataset_file: only 'coco' is supported; got {FLAGS.dataset_file}")
    for name in ("coco_path", "output_dir"):
        if not getattr(FLAGS, name):
            raise ValueError(f"--{name} is required")
    if FLAGS.batch_size < 1 or FLAGS.epochs < 1:
        raise ValueError("--batch_size and --epochs must be positive")
    scales = _ints("scales", FLAGS.scales)
    crop_sizes = _ints("crop_sizes", FLAGS.crop_sizes)
    crop_range = _ints("crop_range", FLAGS.crop_range, 2)
    pad_to = _ints("pad_to", FLAGS.pad_to, 2) or None
    strategy = training.make_strategy(FLAGS.strategy)
    keras.utils.set_random_seed(FLAGS.seed)  # model initialisation (the original: manual_seed)
    ann_train, img_train = coco_files("train")
    ann_val, img_val = coco_files("val")
    for path in (ann_train, img_train, ann_val, img_val):
        if not io.exists(path):
            raise FileNotFoundError(f"--coco_path: {path} not found")
    config = model_config()
    io.makedirs(FLAGS.output_dir)
    config.to_json_file(io.join(FLAGS.output_dir, CONFIG_FILE))

    dataset_val = coco.make_dataset(
        coco.CocoDetection(ann_val, img_val, FLAGS.num_classes),
        coco.make_transforms("val", scales=(FLAGS.val_size,), max_size=FLAGS.max_size),
        FLAGS.batch_size, pad_to=pad_to)
    with strategy.scope():
        model = build(DETR(config))
    train_set = coco.CocoDetection(ann_train, img_train, FLAGS.num_classes)
    steps_per_epoch = math.ceil(len(train_set) / FLAGS.batch_size)
    num_steps = FLAGS.max_steps or FLAGS.epochs * steps_per_epoch
    with strategy.scope():
        optimizer = make_optimizer(FLAGS.lr, FLAGS.lr_backbone, FLAGS.weight_decay,
                                   lr_drop=FLAGS.lr_drop * steps_per_epoch)
    criterion = SetCriterion(
        FLAGS.num_classes,
        HungarianMatcher(FLAGS.set_cost_class, FLAGS.set_cost_bbox, FLAGS.set_cost_giou),
        eos_coef=FLAGS.eos_coef, bbox_loss_coef=FLAGS.bbox_loss_coef,
        giou_loss_coef=FLAGS.giou_loss_coef, aux_loss=FLAGS.aux_loss)
    trainer = training.Trainer(
        model, optimizer, make_loss_fn(criterion), strategy=strategy,
        output_dir=FLAGS.output_dir, checkpoint=make_checkpoint(model, optimizer),
        global_batch_size=FLAGS.batch_size,
        jit_compile=False, log_steps=FLAGS.log_steps,
        steps_per_loop=min(FLAGS.log_steps, FLAGS.save_checkpoints_steps),
        save_checkpoints_steps=FLAGS.save_checkpoints_steps,
        clip_norm=FLAGS.clip_max_norm or None)
    if trainer.restore() is None and FLAGS.resume:
        state = read_state_dict(FLAGS.resume)
        report = load_state_dict(model, state, table_for(model, detect_format(state), state),
                                 strict=False)
        print(f"Initialised from {FLAGS.resume}: {report}", flush=True)
        if not report.loaded:
            raise ValueError(f"--resume: {FLAGS.resume} holds no weight of this model")
    if not FLAGS.eval:
        transform = coco.make_transforms("train", scales, FLAGS.max_size, crop_sizes,
                                         crop_range)
        data = coco.make_dataset(train_set, transform, FLAGS.batch_size, shuffle=True,
                                 seed=FLAGS.seed, repeat=True, pad_to=pad_to,
                                 drop_remainder=True)
        print(f"Start training: {len(train_set)} images, {steps_per_epoch} steps per epoch, "
              f"{num_steps} steps", flush=True)
        trainer.train(data, num_steps)
    return evaluate(model, dataset_val, ann_val)


def main(argv):
    del argv
    try:
        main_impl()
    except (ValueError, FileNotFoundError) as e:
        print(f"train_detr.py: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    app.run(main)
