"""Evaluate a MaskFormer: semantic mIoU / pixel accuracy and panoptic PQ/SQ/RQ.

The evaluation of MaskFormer's ``train_net.py --eval-only`` as its own program:
``--checkpoint`` is a training directory of ``train_maskformer.py``, an HF ``transformers``
MaskFormer directory or a detectron2 ``model_final_*.pkl``; ``--data_root`` holds
``images/`` + ``semantic/`` (``--dataset_format semantic``) or ``panoptic.json`` +
``panoptic/`` (``panoptic``). Writes ``--output_dir/eval_results.txt``.
"""

from __future__ import annotations

import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tfmodels import io  # noqa: E402

flags.DEFINE_string("checkpoint", None, "Training dir, HF directory or detectron2 .pkl.")
flags.DEFINE_string("data_root", None, "Evaluation set root.")
flags.DEFINE_enum("dataset_format", "semantic", ["semantic", "panoptic"], "Layout of data_root.")
flags.DEFINE_string("output_dir", None, "Where eval_results.txt goes (default: --checkpoint "
                    "when it is a directory).")
flags.DEFINE_list("thing_classes", [], "Thing class ids (default: panoptic.json's isthing).")
flags.DEFINE_float("object_mask_threshold", 0.8, "Panoptic: minimum query score.")
flags.DEFINE_float("overlap_threshold", 0.8, "Panoptic: minimum kept/original mask area.")
FLAGS = flags.FLAGS


def main_impl():
    from pipelines import segmentation as P
    from tfmodels.models.maskformer.evaluation import evaluate
    from tfmodels.models.maskformer.weights import restore_maskformer
    from tfmodels.training import EVAL_RESULTS, write_eval_results

    for name in ("checkpoint", "data_root"):
        if not getattr(FLAGS, name):
            raise ValueError(f"--{name} is required")
    if not io.exists(FLAGS.checkpoint):
        raise FileNotFoundError(f"--checkpoint not found: {FLAGS.checkpoint}")
    model = restore_maskformer(FLAGS.checkpoint)
    n = model.config.num_classes
    root = FLAGS.data_root
    if FLAGS.dataset_format == "semantic":
        data = P.SemanticSegmentation(io.join(root, "images"), io.join(root, "semantic"), n)
    else:
        data = P.CocoPanoptic(io.join(root, "panoptic.json"), io.join(root, "images"),
                              io.join(root, "panoptic"), n)
    try:
        things = {int(c) for c in FLAGS.thing_classes}
    except ValueError:
        raise ValueError(f"--thing_classes must be integers; got {FLAGS.thing_classes}") from None
    known = getattr(data, "is_thing", {})
    is_thing = [c in things if things else bool(known.get(c, True)) for c in range(n)]
    result = evaluate(model, P.make_dataset(data, 1, train=False), n, is_thing,
                      FLAGS.dataset_format == "panoptic", FLAGS.object_mask_threshold,
                      FLAGS.overlap_threshold)
    out = FLAGS.output_dir or (FLAGS.checkpoint if io.isdir(FLAGS.checkpoint) else None)
    if out:
        io.makedirs(out)
        write_eval_results(io.join(out, EVAL_RESULTS), result)
    print("***** Eval results *****")
    for k, v in result.items():
        print(f"  {k} = {v:.2f}", flush=True)


def main(argv):
    del argv
    try:
        main_impl()
    except (ValueError, FileNotFoundError) as e:
        print(f"eval_maskformer.py: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    app.run(main)
