"""A generator of small COCO-format detection sets: coloured shapes on textured backgrounds.

Each image has 1..``max_objects`` shapes; the class is the shape (1 = rectangle,
2 = ellipse, 3 = triangle), drawn in a class-typical colour jittered per object, on a
background of random low-contrast stripes and noise. Boxes are the shapes' exact extents.
Images are written as PNG into ``image_dir`` and the annotations as COCO JSON, both
through tf.io.gfile, so the set exercises the same reader as real COCO.
"""

from __future__ import annotations

import io as _pyio
import json

import numpy as np
from PIL import Image, ImageDraw

from tfmodels import io

CATEGORIES = [{"id": 1, "name": "rectangle"}, {"id": 2, "name": "ellipse"},
              {"id": 3, "name": "triangle"}]
_COLOURS = {1: (220, 40, 40), 2: (40, 200, 60), 3: (50, 80, 230)}


def _background(rng, size):
    h, w = size
    base = rng.uniform(90, 170, 3)
    yy, xx = np.mgrid[0:h, 0:w]
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(6, 20)
    stripes = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
    img = base[None, None, :] + 18 * stripes[..., None] + rng.normal(0, 8, (h, w, 3))
    return Image.fromarray(img.clip(0, 255).astype(np.uint8))


def draw_scene(rng, size=(96, 96), max_objects=3, min_frac=0.2, max_frac=0.5):
    """(PIL image, annotations [{"bbox": [x, y, w, h], "category_id"}]) of one scene."""
    h, w = size
    image = _background(rng, size)
    draw = ImageDraw.Draw(image)
    anns = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        cat = int(rng.integers(1, 4))
        bw = int(rng.uniform(min_frac, max_frac) * w)
        bh = int(rng.uniform(min_frac, max_frac) * h)
        x0 = int(rng.integers(0, w - bw))
        y0 = int(rng.integers(0, h - bh))
        x1, y1 = x0 + bw - 1, y0 + bh - 1
        colour = tuple(int(np.clip(c + rng.integers(-25, 26), 0, 255)) for c in _COLOURS[cat])
        if cat == 1:
            draw.rectangle([x0, y0, x1, y1], fill=colour)
        elif cat == 2:
            draw.ellipse([x0, y0, x1, y1], fill=colour)
        else:
            draw.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=colour)
        anns.append({"bbox": [float(x0), float(y0), float(bw), float(bh)], "category_id": cat,
                     "area": float(bw * bh), "iscrowd": 0})
    return image, anns


def write_split(ann_file, image_dir, num_images, seed=0, size=(96, 96), max_objects=3):
    """Writes ``num_images`` scenes as PNG files into ``image_dir`` and COCO JSON to
    ``ann_file``; returns ``(ann_file, image_dir)``."""
    rng = np.random.default_rng(seed)
    io.makedirs(image_dir)
    images, annotations = [], []
    for i in range(num_images):
        image, anns = draw_scene(rng, size, max_objects)
        name = f"{i:06d}.png"
        buf = _pyio.BytesIO()
        image.save(buf, format="PNG")
        with io.atomic_write(io.join(image_dir, name), "wb") as f:
            f.write(buf.getvalue())
        images.append({"id": i + 1, "file_name": name, "height": size[0], "width": size[1]})
        for a in anns:
            annotations.append(dict(a, id=len(annotations) + 1, image_id=i + 1))
    io.makedirs(io.dirname(ann_file))
    with io.atomic_write(ann_file, "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": CATEGORIES}, f)
    return ann_file, image_dir


def write_dataset(directory, num_images, seed=0, size=(96, 96), max_objects=3):
    """``directory/images/*.png`` + ``directory/annotations.json``."""
    return write_split(io.join(directory, "annotations.json"), io.join(directory, "images"),
                       num_images, seed, size, max_objects)


def write_coco_layout(root, num_train, num_val, seed=0, size=(96, 96), max_objects=3):
    """COCO's directory layout (``train2017/``, ``val2017/``,
    ``annotations/instances_{train,val}2017.json``), as ``--coco_path`` expects; train and
    val scenes come from different seeds (held-out images)."""
    for split, n, s in (("train", num_train, seed), ("val", num_val, seed + 1_000_003)):
        write_split(io.join(root, "annotations", f"instances_{split}2017.json"),
                    io.join(root, f"{split}2017"), n, s, size, max_objects)
    return root


def main(argv=None):
    """``python -m pipelines.synthetic_coco ROOT [NUM_TRAIN NUM_VAL SIZE MAX_OBJECTS]``."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print("usage: python -m pipelines.synthetic_coco ROOT [NUM_TRAIN NUM_VAL SIZE "
              "MAX_OBJECTS]", file=sys.stderr)
        return 2
    nums = [int(a) for a in args[1:]] + [400, 100, 96, 3][len(args) - 1:]
    write_coco_layout(args[0], nums[0], nums[1], size=(nums[2], nums[2]), max_objects=nums[3])
    print(f"wrote {nums[0]} + {nums[1]} scenes of {nums[2]}x{nums[2]} to {args[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
