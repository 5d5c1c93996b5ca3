"""Evaluate a DETR checkpoint on COCO val2017 with pycocotools (box AP, AP50, AP75, S/M/L).

The original's ``main.py --eval --resume <checkpoint> --coco_path <coco>``: the evaluation
transform (shorter side 800, longer ≤ 1333), the model, ``PostProcess`` to absolute
(x0, y0, x1, y1) boxes in each image's original size, ``COCOeval("bbox")``. ``--resume``
is an original ``.pth`` (read without torch), a safetensors/npz state dict, or a training
directory of ``train_detr.py``. Writes ``output_dir/eval_results.txt`` (key = value) and
``output_dir/detections.json`` (COCO results).

Additions: ``--num_classes``, ``--val_size``/``--max_size``, ``--max_batches``, ``--nheads``
and ``--dilation`` for state dicts (not recoverable from their shapes).
"""

from __future__ import annotations

import json
import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tfmodels import io  # noqa: E402

flags.DEFINE_string("coco_path", None, "COCO root (val2017/, annotations/).")
flags.DEFINE_string("resume", None, "Checkpoint: original .pth, .safetensors, .npz, or a "
                    "train_detr.py output directory.")
flags.DEFINE_string("output_dir", None, "Where to write eval_results.txt and detections.json.")
flags.DEFINE_integer("batch_size", 2, "Batch size.")
flags.DEFINE_integer("num_classes", 91, "Classes of the head (+1 no-object); COCO: 91.")
flags.DEFINE_integer("nheads", 8, "Attention heads (state-dict checkpoints).")
flags.DEFINE_bool("dilation", False, "DC5 (state-dict checkpoints).")
flags.DEFINE_integer("val_size", 800, "Shorter side of the evaluation transform.")
flags.DEFINE_integer("max_size", 1333, "Longest side of the evaluation transform.")
flags.DEFINE_integer("max_batches", 0, "Evaluate only this many batches (0: all).")
FLAGS = flags.FLAGS


def main_impl():
    from pipelines import coco
    from tfmodels.models.detr.checkpoint import restore_detr
    from tfmodels.models.detr.evaluation import evaluate_coco
    from tfmodels.training import EVAL_RESULTS, write_eval_results

    for name in ("coco_path", "resume", "output_dir"):
        if not getattr(FLAGS, name):
            raise ValueError(f"--{name} is required")
    ann = io.join(FLAGS.coco_path, "annotations", "instances_val2017.json")
    images = io.join(FLAGS.coco_path, "val2017")
    for path in (ann, images):
        if not io.exists(path):
            raise FileNotFoundError(f"--coco_path: {path} not found")
    if not io.exists(FLAGS.resume):
        raise FileNotFoundError(f"--resume: {FLAGS.resume} not found")
    model = restore_detr(FLAGS.resume, FLAGS.num_classes, nheads=FLAGS.nheads,
                         dilation=FLAGS.dilation)
    data = coco.make_dataset(coco.CocoDetection(ann, images, FLAGS.num_classes),
                             coco.make_transforms("val", (FLAGS.val_size,), FLAGS.max_size),
                             FLAGS.batch_size)
    stats, results = evaluate_coco(model, data, ann, FLAGS.max_batches or None)
    io.makedirs(FLAGS.output_dir)
    write_eval_results(io.join(FLAGS.output_dir, EVAL_RESULTS), stats)
    with io.atomic_write(io.join(FLAGS.output_dir, "detections.json"), "w") as f:
        json.dump(results, f)
    print("***** Eval results (bbox) *****")
    for key, value in stats.items():
        print(f"  {key} = {value:.4f}", flush=True)


def main(argv):
    del argv
    try:
        main_impl()
    except (ValueError, FileNotFoundError) as e:
        print(f"eval_detr.py: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    app.run(main)
