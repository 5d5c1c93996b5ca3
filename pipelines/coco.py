"""COCO detection data for DETR: annotations JSON + image folder → augmented, padded batches.

Mirrors facebookresearch/detr ``datasets/coco.py`` (``CocoDetection`` +
``ConvertCocoPolysToMask``) and ``datasets/transforms.py``:

- boxes are COCO ``[x, y, w, h]`` in pixels, converted to ``[x0, y0, x1, y1]``, clamped to the
  image, and dropped when empty after clamping (boxes partly outside are clipped, wholly
  outside disappear); ``iscrowd=1`` annotations are dropped; images without annotations are
  kept with no targets; labels are the COCO ``category_id`` (DETR's 91-way head, not
  contiguous ids), checked to be ``< num_classes`` when given;
- training transforms: random horizontal flip, then with probability 0.5 either a random
  resize of the shorter side to one of 480..800 (step 32, longer side ≤ 1333), or a resize
  to 400/500/600, a random crop of 384..600 pixels and the multi-scale resize; evaluation:
  shorter side 800, longer ≤ 1333; both normalise with ImageNet mean/std and turn boxes into
  normalised (cx, cy, w, h);
- batches are padded to the largest image (or to a fixed ``pad_to`` size) with a
  ``pixel_mask`` (1 = pixel, 0 = padding) and targets padded to the most boxes with ``valid``.

Decoding and augmentation run in numpy/PIL (the original's PIL transforms, bilinear
resizing); :func:`make_dataset` wraps them in ``tf.data`` with per-element seeds.
"""

from __future__ import annotations

import io as _pyio
import json
import random as _random

import numpy as np
import tensorflow as tf
from PIL import Image

from tfmodels import io

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
SCALES = (480, 512, 544, 576, 608, 640, 672, 704, 736, 768, 800)


# ------------------------------------------------------------------ annotations


def _require(obj, key, where, path):
    if not isinstance(obj, dict) or key not in obj:
        raise ValueError(f"{path}: {where} has no '{key}' field")
    return obj[key]


class CocoDetection:
    """A COCO-format detection set: ``coco[i]`` → (PIL image, target dict in pixels xyxy).

    Args:
      annotation_file: COCO JSON (``images`` with ``id``/``file_name``; ``annotations`` with
        ``image_id``/``bbox``/``category_id``; ``categories`` optional).
      image_dir: folder of the images (any tf.io.gfile path).
      num_classes: if given, every ``category_id`` must be below it (DETR: 91 for COCO).
    """

    def __init__(self, annotation_file, image_dir, num_classes=None):
        self.annotation_file = annotation_file
        self.image_dir = image_dir
        if not io.exists(annotation_file):
            raise FileNotFoundError(f"annotation file not found: {annotation_file}")
        try:
            data = json.loads(io.read_text(annotation_file))
        except json.JSONDecodeError as e:
            raise ValueError(f"{annotation_file}: not valid JSON ({e})") from e
        path = annotation_file
        images = _require(data, "images", "the file", path)
        annotations = data.get("annotations", [])
        self.categories = {int(_require(c, "id", f"categories[{i}]", path)): c.get("name", "")
                           for i, c in enumerate(data.get("categories", []))}
        self.images = []
        index = {}
        for i, img in enumerate(images):
            image_id = int(_require(img, "id", f"images[{i}]", path))
            entry = {"id": image_id,
                     "file_name": str(_require(img, "file_name", f"images[{i}]", path))}
            index[image_id] = len(self.images)
            self.images.append(entry)
        self.annotations = [[] for _ in self.images]
        for i, ann in enumerate(annotations):
            where = f"annotations[{i}]"
            image_id = int(_require(ann, "image_id", where, path))
            bbox = _require(ann, "bbox", where, path)
            category = int(_require(ann, "category_id", where, path))
            if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
                raise ValueError(f"{path}: {where} bbox must be [x, y, w, h]; got {bbox!r}")
            if image_id not in index:
                raise ValueError(f"{path}: {where} refers to image_id {image_id}, which is not "
                                 "in images")
            if category < 0 or (num_classes is not None and category >= num_classes):
                raise ValueError(f"{path}: {where} has category_id {category}, outside "
                                 f"[0, num_classes={num_classes})")
            if int(ann.get("iscrowd", 0)):
                continue
            self.annotations[index[image_id]].append(
                {"bbox": [float(v) for v in bbox], "category_id": category})

    def __len__(self):
        return len(self.images)

    def load_image(self, i):
        path = io.join(self.image_dir, self.images[i]["file_name"])
        if not io.exists(path):
            raise FileNotFoundError(f"image not found: {path} (images[{i}] of "
                                    f"{self.annotation_file})")
        with io.open_file(path, "rb") as f:
            return Image.open(_pyio.BytesIO(f.read())).convert("RGB")

    def __getitem__(self, i):
        image = self.load_image(i)
        w, h = image.size
        anns = self.annotations[i]
        boxes = np.array([a["bbox"] for a in anns], np.float32).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
        labels = np.array([a["category_id"] for a in anns], np.int64)
        keep = (boxes[:, 3] > boxes[:, 1]) & (boxes[:, 2] > boxes[:, 0])
        target = {"boxes": boxes[keep], "labels": labels[keep],
                  "image_id": self.images[i]["id"], "orig_size": np.array([h, w], np.int64),
                  "size": np.array([h, w], np.int64)}
        return image, target


# ------------------------------------------------------------------ transforms


def get_size(image_size, size, max_size=None):
    """(h, w) with the shorter side ``size`` and the longer ≤ ``max_size`` (the original's
    ``get_size_with_aspect_ratio``; ``image_size`` is PIL's (w, h))."""
    w, h = image_size
    if max_size is not None:
        mn, mx = float(min(w, h)), float(max(w, h))
        if mx / mn * size > max_size:
            size = int(round(max_size * mn / mx))
    if (w <= h and w == size) or (h <= w and h == size):
        return h, w
    if w < h:
        return int(size * h / w), size
    return size, int(size * w / h)


def resize(image, target, size, max_size=None):
    oh, ow = get_size(image.size, size, max_size)
    w, h = image.size
    image = image.resize((ow, oh), Image.BILINEAR)
    target = dict(target)
    target["boxes"] = target["boxes"] * np.array([ow / w, oh / h, ow / w, oh / h], np.float32)
    target["size"] = np.array([oh, ow], np.int64)
    return image, target


def hflip(image, target):
    w = image.size[0]
    target = dict(target)
    b = target["boxes"]
    target["boxes"] = np.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], 1).astype(np.float32)
    return image.transpose(Image.FLIP_LEFT_RIGHT), target


def crop(image, target, region):
    """Crop (top, left, height, width); boxes shifted, clipped, empty ones removed."""
    i, j, h, w = region
    target = dict(target)
    b = target["boxes"] - np.array([j, i, j, i], np.float32)
    b = np.minimum(b.reshape(-1, 2, 2), np.array([w, h], np.float32)).clip(0)
    keep = np.all(b[:, 1, :] > b[:, 0, :], axis=1)
    target["boxes"] = b.reshape(-1, 4)[keep]
    target["labels"] = target["labels"][keep]
    target["size"] = np.array([h, w], np.int64)
    return image.crop((j, i, j + w, i + h)), target


def random_size_crop(image, target, rng, min_size=384, max_size=600):
    """The original's ``RandomSizeCrop``: side lengths uniform in [min_size, min(side, max)]
    (smaller images: the whole side), position uniform."""
    W, H = image.size
    w = int(rng.integers(min(min_size, W), min(W, max_size) + 1))
    h = int(rng.integers(min(min_size, H), min(H, max_size) + 1))
    i = int(rng.integers(0, H - h + 1))
    j = int(rng.integers(0, W - w + 1))
    return crop(image, target, (i, j, h, w))


def normalize(image, target):
    """ImageNet normalisation; boxes to normalised (cx, cy, w, h)."""
    pixels = (np.asarray(image, np.float32) / 255.0 - MEAN) / STD
    h, w = pixels.shape[:2]
    b = target["boxes"]
    cxcywh = np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0],
                       b[:, 3] - b[:, 1]], 1) / np.array([w, h, w, h], np.float32)
    target = dict(target)
    target["boxes"] = cxcywh.astype(np.float32).reshape(-1, 4)
    return pixels, target


def make_transforms(image_set, scales=SCALES, max_size=1333, crop_sizes=(400, 500, 600),
                    crop_range=(384, 600)):
    """``transform(image, target, rng) -> (pixels, target)``: the original's ``train``/``val``.

    Smaller ``scales``/``max_size``/``crop_*`` give the same recipe at a smaller resolution.
    """
    scales = tuple(scales)

    def train(image, target, rng):
        if rng.random() < 0.5:
            image, target = hflip(image, target)
        if rng.random() < 0.5:
            image, target = resize(image, target, int(rng.choice(scales)), max_size)
        else:
            image, target = resize(image, target, int(rng.choice(crop_sizes)))
            image, target = random_size_crop(image, target, rng, *crop_range)
            image, target = resize(image, target, int(rng.choice(scales)), max_size)
        return normalize(image, target)

    def val(image, target, rng=None):
        image, target = resize(image, target, scales[-1], max_size)
        return normalize(image, target)

    if image_set == "train":
        return train
    if image_set == "val":
        return val
    raise ValueError(f"image_set must be 'train' or 'val'; got {image_set!r}")


# ------------------------------------------------------------------ tf.data


def example(dataset, transform, index, rng):
    """One transformed example as numpy: pixels, boxes, labels, image_id, orig_size, size."""
    image, target = dataset[index]
    pixels, target = transform(image, target, rng)
    return {"pixel_values": pixels, "boxes": target["boxes"],
            "labels": target["labels"].astype(np.int32),
            "image_id": np.int64(target["image_id"]),
            "orig_size": target["orig_size"].astype(np.int32),
            "size": target["size"].astype(np.int32)}


def make_dataset(dataset, transform, batch_size, shuffle=False, seed=0, repeat=False,
                 pad_to=None, drop_remainder=False):
    """``tf.data`` batches ``{"pixel_values", "pixel_mask"}``, ``{"labels", "boxes", "valid",
    "image_id", "orig_size", "size"}`` from a :class:`CocoDetection` and a transform.

    Each epoch reshuffles (``seed`` + epoch) and draws each example's augmentation from its
    own generator (seed, epoch, index), so runs are reproducible. ``pad_to`` = (H, W) pads
    every batch to one size (static shapes: one graph); images larger than it raise.
    """
    n = len(dataset)
    if n == 0:
        raise ValueError(f"{dataset.annotation_file}: no images")

    def gen():
        epoch = 0
        while True:
            order = np.arange(n)
            if shuffle:
                _random.Random(seed + epoch).shuffle(order)
            for i in order:
                rng = np.random.default_rng([seed, epoch, int(i)])
                ex = example(dataset, transform, int(i), rng)
                ex["pixel_mask"] = np.ones(ex["pixel_values"].shape[:2], np.float32)
                ex["valid"] = np.ones(len(ex["labels"]), np.float32)
                if pad_to is not None and (ex["pixel_values"].shape[0] > pad_to[0]
                                           or ex["pixel_values"].shape[1] > pad_to[1]):
                    raise ValueError(f"image {ex['image_id']} is {ex['size']} after the "
                                     f"transform, larger than pad_to={pad_to}")
                yield ex
            epoch += 1
            if not repeat:
                return

    spec = {"pixel_values": tf.TensorSpec([None, None, 3], tf.float32),
            "pixel_mask": tf.TensorSpec([None, None], tf.float32),
            "boxes": tf.TensorSpec([None, 4], tf.float32),
            "labels": tf.TensorSpec([None], tf.int32),
            "valid": tf.TensorSpec([None], tf.float32),
            "image_id": tf.TensorSpec([], tf.int64),
            "orig_size": tf.TensorSpec([2], tf.int32),
            "size": tf.TensorSpec([2], tf.int32)}
    ds = tf.data.Dataset.from_generator(gen, output_signature=spec)
    hw = [None, None] if pad_to is None else list(pad_to)
    shapes = {"pixel_values": hw + [3], "pixel_mask": hw, "boxes": [None, 4], "labels": [None],
              "valid": [None], "image_id": [], "orig_size": [2], "size": [2]}
    ds = ds.padded_batch(batch_size, padded_shapes=shapes, drop_remainder=drop_remainder)

    def split(b):
        features = {"pixel_values": b["pixel_values"], "pixel_mask": b["pixel_mask"]}
        targets = {k: b[k] for k in ("labels", "boxes", "valid", "image_id", "orig_size",
                                     "size")}
        return features, targets

    return ds.map(split).prefetch(2)


# COCO 2017 class names by category id (index = id; "N/A" where COCO has no category), the
# list of DETR's demo notebook, for the 91-way head.
COCO_CLASSES = (
    "N/A", "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck",
    "boat", "traffic light", "fire hydrant", "N/A", "stop sign", "parking meter", "bench",
    "bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe",
    "N/A", "backpack", "umbrella", "N/A", "N/A", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove",
    "skateboard", "surfboard", "tennis racket", "bottle", "N/A", "wine glass", "cup", "fork",
    "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot",
    "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed", "N/A",
    "dining table", "N/A", "N/A", "toilet", "N/A", "tv", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "N/A",
    "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
)


def class_names(annotation_file=None, num_classes=91):
    """Names by label: COCO's, or the ``categories`` of a COCO JSON file."""
    if annotation_file is None:
        return list(COCO_CLASSES) + ["N/A"] * max(0, num_classes - len(COCO_CLASSES))
    data = json.loads(io.read_text(annotation_file))
    names = ["N/A"] * num_classes
    for c in data.get("categories", []):
        if 0 <= int(c["id"]) < num_classes:
            names[int(c["id"])] = c.get("name", str(c["id"]))
    return names


def load_image_file(path):
    """An RGB PIL image from any tf.io.gfile path (clear error when missing or unreadable)."""
    if not io.exists(path):
        raise FileNotFoundError(f"image not found: {path}")
    with io.open_file(path, "rb") as f:
        data = f.read()
    try:
        return Image.open(_pyio.BytesIO(data)).convert("RGB")
    except OSError as e:
        raise ValueError(f"{path}: not a readable image ({e})") from None
