"""Detect objects in images with a DETR checkpoint; print, save as JSON, draw.

``python scripts/predict_detr.py --checkpoint=detr-r50-e632da11.pth IMAGE... [--threshold=0.7]
[--output_json=out.json] [--draw_dir=dir]``: the original inference transform (shorter
side 800, longer ≤ 1333, ImageNet normalisation), the model, and the original
post-processing (softmax without no-object, boxes to absolute xyxy in the image), keeping
detections whose score exceeds ``--threshold`` (0.7 as DETR's demo). Class names are COCO's,
or the categories of ``--annotation_file``. ``--checkpoint`` is an original ``.pth`` (read
without torch), a safetensors/npz state dict, or a ``train_detr.py`` output directory.
"""

from __future__ import annotations

import json
import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tfmodels import io  # noqa: E402

flags.DEFINE_string("checkpoint", None, "DETR checkpoint (.pth, .safetensors, .npz, or a "
                    "train_detr.py output directory).")
flags.DEFINE_float("threshold", 0.7, "Keep detections scoring above this.")
flags.DEFINE_string("output_json", None, "Write detections here (JSON).")
flags.DEFINE_string("draw_dir", None, "Write each image with its boxes drawn here.")
flags.DEFINE_integer("num_classes", 91, "Classes of the head (+1 no-object).")
flags.DEFINE_string("annotation_file", None, "COCO JSON whose categories name the classes.")
flags.DEFINE_integer("size", 800, "Shorter side of the inference transform.")
flags.DEFINE_integer("max_size", 1333, "Longest side of the inference transform.")
flags.DEFINE_integer("nheads", 8, "Attention heads (state-dict checkpoints).")
flags.DEFINE_bool("dilation", False, "DC5 (state-dict checkpoints).")
FLAGS = flags.FLAGS


def draw(image, detections, path):
    from PIL import ImageDraw

    image = image.copy()
    pen = ImageDraw.Draw(image)
    for d in detections:
        x0, y0, x1, y1 = d["box"]
        pen.rectangle([x0, y0, x1, y1], outline=(255, 40, 40), width=2)
        pen.text((x0 + 2, y0 + 1), f"{d['label_name']} {d['score']:.2f}", fill=(255, 255, 0))
    import io as _pyio

    buf = _pyio.BytesIO()
    image.save(buf, format="PNG")
    with io.atomic_write(path, "wb") as f:
        f.write(buf.getvalue())


def main_impl(images):
    import numpy as np

    from pipelines import coco
    from tfmodels.models.detr.checkpoint import restore_detr
    from tfmodels.models.detr.postprocess import post_process

    if not FLAGS.checkpoint:
        raise ValueError("--checkpoint is required")
    if not images:
        raise ValueError("give at least one IMAGE")
    if not 0.0 <= FLAGS.threshold <= 1.0:
        raise ValueError(f"--threshold must be in [0, 1]; got {FLAGS.threshold}")
    if not io.exists(FLAGS.checkpoint):
        raise FileNotFoundError(f"--checkpoint: {FLAGS.checkpoint} not found")
    names = coco.class_names(FLAGS.annotation_file, FLAGS.num_classes)
    model = restore_detr(FLAGS.checkpoint, FLAGS.num_classes, nheads=FLAGS.nheads,
                         dilation=FLAGS.dilation)
    transform = coco.make_transforms("val", (FLAGS.size,), FLAGS.max_size)
    if FLAGS.draw_dir:
        io.makedirs(FLAGS.draw_dir)
    out = {}
    for path in images:
        image = coco.load_image_file(path)
        w, h = image.size
        empty = {"boxes": np.zeros((0, 4), np.float32), "labels": np.zeros((0,), np.int64)}
        pixels, _ = transform(image, empty, None)
        pred = model({"pixel_values": pixels[None]}, training=False)
        pp = post_process(pred["pred_logits"], pred["pred_boxes"], [[h, w]])
        keep = pp["scores"][0].numpy() > FLAGS.threshold
        dets = [{"label": int(lab), "label_name": names[int(lab)], "score": float(s),
                 "box": [float(v) for v in b]}
                for s, lab, b in zip(pp["scores"][0].numpy()[keep],
                                     pp["labels"][0].numpy()[keep], pp["boxes"][0].numpy()[keep])]
        dets.sort(key=lambda d: -d["score"])
        out[path] = dets
        print(f"{path}: {len(dets)} detection(s)")
        for d in dets:
            x0, y0, x1, y1 = d["box"]
            print(f"  {d['label_name']:<14} {d['score']:.3f}  "
                  f"[{x0:.1f}, {y0:.1f}, {x1:.1f}, {y1:.1f}]")
        if FLAGS.draw_dir:
            stem = os.path.splitext(io.basename(path))[0]
            draw(image, dets, io.join(FLAGS.draw_dir, f"{stem}_detr.png"))
    if FLAGS.output_json:
        with io.atomic_write(FLAGS.output_json, "w") as f:
            json.dump(out, f, indent=1)
    return out


def main(argv):
    try:
        main_impl(argv[1:])
    except (ValueError, FileNotFoundError) as e:
        print(f"predict_detr.py: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    app.run(main)
