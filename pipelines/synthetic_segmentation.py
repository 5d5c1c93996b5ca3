"""Generated segmentation scenes: shapes of several classes over stuff backgrounds.

Each scene splits the canvas into two stuff regions along a wavy horizontal boundary
("sky" above, "ground" below; class 0 and 1), each with its own colour and texture, and
draws 1..``max_objects`` things on it (2 = rectangle, 3 = ellipse, 4 = triangle) in
class-typical colours jittered per object; later shapes occlude earlier ones. It yields the
image, the semantic map and the panoptic ids with their classes, and :func:`write_dataset`
stores a set in both layouts the pipeline reads (image + semantic PNG folders; COCO
panoptic JSON + PNGs), through tf.io.gfile.
"""

from __future__ import annotations

import io as _pyio
import json

import numpy as np
from PIL import Image, ImageDraw

from tfmodels import io

CATEGORIES = [
    {"id": 0, "name": "sky", "isthing": 0}, {"id": 1, "name": "ground", "isthing": 0},
    {"id": 2, "name": "rectangle", "isthing": 1}, {"id": 3, "name": "ellipse", "isthing": 1},
    {"id": 4, "name": "triangle", "isthing": 1}]
NUM_CLASSES = len(CATEGORIES)
_STUFF_COLOURS = {0: (110, 160, 220), 1: (120, 100, 60)}
_THING_COLOURS = {2: (220, 40, 40), 3: (40, 200, 60), 4: (240, 220, 40)}


def make_scene(rng, size=(64, 64), max_objects=2, min_frac=0.25, max_frac=0.5):
    """(image uint8 [H, W, 3], semantic [H, W] int32, panoptic ids [H, W], {id: class})."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    horizon = h * rng.uniform(0.35, 0.65) + h * 0.08 * np.sin(
        xx * 2 * np.pi / rng.uniform(w / 2, 2 * w) + rng.uniform(0, 6.3))
    sem = np.where(yy < horizon, 0, 1).astype(np.int32)
    image = np.zeros((h, w, 3), np.float32)
    for c, colour in _STUFF_COLOURS.items():
        tone = np.asarray(colour) + rng.normal(0, 12, 3)
        texture = 10 * np.sin((xx + rng.uniform(0, 9)) * rng.uniform(0.3, 0.9))[..., None]
        image = np.where((sem == c)[..., None], tone + texture, image)
    pan = np.where(sem == 0, 1, 2).astype(np.int32)
    segments = {1: 0, 2: 1}
    canvas = Image.new("I", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    classes = {}
    for k in range(int(rng.integers(1, max_objects + 1))):
        c = int(rng.integers(2, 5))
        bw = int(w * rng.uniform(min_frac, max_frac))
        bh = int(h * rng.uniform(min_frac, max_frac))
        x0, y0 = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
        box = [x0, y0, x0 + bw, y0 + bh]
        sid = 3 + k
        if c == 2:
            draw.rectangle(box, fill=sid)
        elif c == 3:
            draw.ellipse(box, fill=sid)
        else:
            draw.polygon([(x0 + bw // 2, y0), (x0, y0 + bh), (x0 + bw, y0 + bh)], fill=sid)
        classes[sid] = c
    things = np.asarray(canvas).astype(np.int32)
    for sid, c in classes.items():
        m = things == sid
        if not m.any():
            continue
        colour = np.asarray(_THING_COLOURS[c]) + rng.normal(0, 15, 3)
        image[m] = colour
        sem[m] = c
        pan[m] = sid
        segments[sid] = c
    image = image + rng.normal(0, 6, image.shape)
    present = {s: c for s, c in segments.items() if (pan == s).any()}
    return image.clip(0, 255).astype(np.uint8), sem, pan, present


def _png(array):
    buf = _pyio.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def write_dataset(directory, num_images, seed=0, size=(64, 64), max_objects=2):
    """Write ``images/``, ``semantic/`` (class-id PNGs) and ``panoptic/`` + ``panoptic.json``
    (COCO panoptic) under ``directory``; returns ``directory``."""
    rng = np.random.default_rng(seed)
    for sub in ("images", "semantic", "panoptic"):
        io.makedirs(io.join(directory, sub))
    images, annotations = [], []
    from pipelines.segmentation import id_to_rgb

    for i in range(num_images):
        image, sem, pan, segments = make_scene(rng, size, max_objects)
        name = f"{i:06d}"
        for sub, arr in (("images", image), ("semantic", sem.astype(np.uint8)),
                         ("panoptic", id_to_rgb(pan))):
            with io.atomic_write(io.join(directory, sub, name + ".png"), "wb") as f:
                f.write(_png(arr))
        images.append({"id": i, "file_name": name + ".png", "height": size[0],
                       "width": size[1]})
        annotations.append({"image_id": i, "file_name": name + ".png", "segments_info": [
            {"id": int(s), "category_id": int(c), "iscrowd": 0,
             "area": int((pan == s).sum())} for s, c in segments.items()]})
    with io.atomic_write(io.join(directory, "panoptic.json"), "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": CATEGORIES}, f)
    return directory
