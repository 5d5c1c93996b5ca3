"""Segmentation data for MaskFormer: semantic PNG labels and COCO panoptic → mask targets.

Mirrors MaskFormer's dataset mappers (``MaskFormerSemanticDatasetMapper`` and
``MaskFormerPanopticDatasetMapper``):

- semantic (ADE20K layout): an image and a label PNG of the same size holding class ids,
  255 = ignore; every class present becomes one target mask (``labels``/``masks``);
- COCO panoptic: a panoptic JSON (``annotations`` with ``file_name`` and ``segments_info``:
  ``id``, ``category_id``, ``iscrowd``) and PNGs whose pixels encode ``id = R + 256·G +
  256²·B``; every non-crowd segment is one target; the semantic map is derived (crowd and
  unlabelled pixels = ignore). ``category_map`` turns dataset ids into contiguous ones;
- training augmentation: random scale in [0.5, 2.0] (image bilinear, labels nearest),
  random crop (``crop_size``, 512) padded with ignore where the image is smaller, random
  horizontal flip; ImageNet normalisation.

Bad input raises ``ValueError`` naming the file: a label whose size differs from its image,
class ids ≥ ``num_classes`` other than ignore, a set without images. Images whose crop
holds no segment yield no targets (the criterion's no-object term still trains).
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
IGNORE = 255


def _read(path):
    if not io.exists(path):
        raise FileNotFoundError(f"file not found: {path}")
    with io.open_file(path, "rb") as f:
        data = f.read()
    try:
        return Image.open(_pyio.BytesIO(data))
    except OSError as e:
        raise ValueError(f"{path}: not a readable image ({e})") from None


def _check_sizes(image, label, path):
    if image.shape[:2] != label.shape[:2]:
        raise ValueError(f"{path}: label size {label.shape[:2]} differs from the image's "
                         f"{image.shape[:2]}")


def check_ids(semantic, num_classes, path, ignore=IGNORE):
    bad = (semantic != ignore) & (semantic >= num_classes)
    if bad.any():
        raise ValueError(f"{path}: class ids {sorted(np.unique(semantic[bad]).tolist())[:5]} "
                         f">= num_classes ({num_classes}) (only {ignore} = ignore is allowed)")


class SemanticSegmentation:
    """Image/label PNG pairs: ``ds[i]`` → (image uint8 [H, W, 3], semantic [H, W] int32).

    ``image_dir`` holds the images (``.jpg``/``.png``), ``label_dir`` a ``<stem>.png`` per
    image. ``reduce_zero_label`` (ADE20K's raw ids: 0 = other) maps 0 → 255 and id → id − 1.
    """

    def __init__(self, image_dir, label_dir, num_classes, reduce_zero_label=False):
        self.image_dir, self.label_dir = image_dir, label_dir
        self.num_classes, self.reduce_zero_label = int(num_classes), bool(reduce_zero_label)
        if not io.isdir(image_dir):
            raise FileNotFoundError(f"image_dir not found: {image_dir}")
        names = sorted(n for n in io.listdir(image_dir)
                       if n.lower().endswith((".jpg", ".jpeg", ".png")))
        if not names:
            raise ValueError(f"{image_dir}: no images")
        self.names = names

    def __len__(self):
        return len(self.names)

    def label_path(self, i):
        return io.join(self.label_dir, self.names[i].rsplit(".", 1)[0] + ".png")

    def __getitem__(self, i):
        path = io.join(self.image_dir, self.names[i])
        image = np.asarray(_read(path).convert("RGB"))
        lpath = self.label_path(i)
        label = np.asarray(_read(lpath)).astype(np.int32)
        if label.ndim == 3:
            label = label[..., 0]
        _check_sizes(image, label, lpath)
        if self.reduce_zero_label:
            label = np.where(label == 0, IGNORE, label - 1)
            label[label == IGNORE - 1] = IGNORE
        check_ids(label, self.num_classes, lpath)
        return image, label


def rgb_to_id(rgb):
    rgb = np.asarray(rgb).astype(np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]


def id_to_rgb(ids):
    ids = np.asarray(ids).astype(np.int64)
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536 % 256], -1).astype(np.uint8)


class CocoPanoptic:
    """COCO panoptic: ``ds[i]`` → (image, panoptic ids [H, W], ``{id: contiguous class}``).

    Crowd segments are left out of the segments (their pixels are void)."""

    def __init__(self, json_file, image_dir, panoptic_dir, num_classes, category_map=None):
        self.json_file, self.image_dir, self.panoptic_dir = json_file, image_dir, panoptic_dir
        self.num_classes = int(num_classes)
        data = json.loads(io.read_text(json_file))
        if "annotations" not in data:
            raise ValueError(f"{json_file}: no 'annotations'")
        self.annotations = data["annotations"]
        if not self.annotations:
            raise ValueError(f"{json_file}: no images")
        images = {im["id"]: im for im in data.get("images", [])}
        self.images = [images.get(a.get("image_id"), {}).get(
            "file_name", a["file_name"].rsplit(".", 1)[0] + ".jpg") for a in self.annotations]
        cats = data.get("categories", [])
        self.category_map = category_map or {c["id"]: i for i, c in enumerate(cats)}
        self.is_thing = {self.category_map[c["id"]]: bool(c.get("isthing", 1)) for c in cats
                         if c["id"] in self.category_map}

    def __len__(self):
        return len(self.annotations)

    def __getitem__(self, i):
        ann = self.annotations[i]
        image = np.asarray(_read(io.join(self.image_dir, self.images[i])).convert("RGB"))
        ppath = io.join(self.panoptic_dir, ann["file_name"])
        pan = rgb_to_id(np.asarray(_read(ppath).convert("RGB")))
        _check_sizes(image, pan, ppath)
        segments = {}
        for s in ann.get("segments_info", []):
            if s.get("iscrowd", 0):
                pan = np.where(pan == s["id"], 0, pan)
                continue
            if s["category_id"] not in self.category_map:
                raise ValueError(f"{self.json_file}: category_id {s['category_id']} unknown")
            c = self.category_map[s["category_id"]]
            if c >= self.num_classes:
                raise ValueError(f"{self.json_file}: category {c} >= num_classes "
                                 f"({self.num_classes})")
            segments[int(s["id"])] = c
        pan = np.where(np.isin(pan, list(segments)), pan, 0)
        return image, pan, segments


def semantic_from_panoptic(pan, segments):
    sem = np.full(pan.shape, IGNORE, np.int32)
    for sid, c in segments.items():
        sem[pan == sid] = c
    return sem


def targets_from_semantic(semantic):
    """(labels [n], masks [n, H, W] uint8): one mask per class present (255 left out)."""
    classes = [c for c in np.unique(semantic) if c != IGNORE]
    masks = np.stack([semantic == c for c in classes]) if classes else np.zeros(
        (0,) + semantic.shape, bool)
    return np.asarray(classes, np.int32), masks.astype(np.uint8)


def targets_from_panoptic(pan, segments):
    """(labels, masks) one per segment present in ``pan`` (segments cropped away left out)."""
    ids = [s for s in segments if (pan == s).any()]
    masks = np.stack([pan == s for s in ids]) if ids else np.zeros((0,) + pan.shape, bool)
    return np.asarray([segments[s] for s in ids], np.int32), masks.astype(np.uint8)


def augment(image, label, rng, crop_size=512, min_scale=0.5, max_scale=2.0, flip=True):
    """Random scale, crop (label padded with ignore, image with 0) and flip. ``label`` is a
    semantic map or panoptic ids (the pad value is then 0 = void: pass ``pad=0``)."""
    return _augment(image, label, rng, crop_size, min_scale, max_scale, flip, IGNORE)


def _augment(image, label, rng, crop_size, min_scale, max_scale, flip, pad):
    h, w = label.shape
    s = rng.uniform(min_scale, max_scale)
    nh, nw = max(1, int(round(h * s))), max(1, int(round(w * s)))
    image = np.asarray(Image.fromarray(image).resize((nw, nh), Image.BILINEAR))
    label = np.asarray(Image.fromarray(label.astype(np.int32)).resize((nw, nh), Image.NEAREST))
    ch, cw = min(crop_size, nh), min(crop_size, nw)
    y0, x0 = rng.integers(0, nh - ch + 1), rng.integers(0, nw - cw + 1)
    image, label = image[y0:y0 + ch, x0:x0 + cw], label[y0:y0 + ch, x0:x0 + cw]
    out_i = np.zeros((crop_size, crop_size, 3), image.dtype)
    out_l = np.full((crop_size, crop_size), pad, np.int32)
    out_i[:ch, :cw], out_l[:ch, :cw] = image, label
    if flip and rng.random() < 0.5:
        out_i, out_l = out_i[:, ::-1], out_l[:, ::-1]
    return np.ascontiguousarray(out_i), np.ascontiguousarray(out_l)


def normalize(image):
    return ((np.asarray(image, np.float32) / 255.0 - MEAN) / STD).astype(np.float32)


def make_dataset(dataset, batch_size, train=True, crop_size=512, shuffle=False, seed=0,
                 repeat=False, max_targets=None, min_scale=0.5, max_scale=2.0):
    """``tf.data`` batches ``({"pixel_values"}, {"labels", "masks", "valid", "semantic",
    "panoptic"})`` from a :class:`SemanticSegmentation` or :class:`CocoPanoptic`.

    Training examples are augmented (per-element seeds: seed, epoch, index) to
    ``crop_size`` squares; evaluation examples keep their size (batch them 1 at a time, or
    same-sized images). Targets are padded to the most segments (``valid`` marks real ones).
    """
    n = len(dataset)
    panoptic = isinstance(dataset, CocoPanoptic)

    def one(i, rng):
        if panoptic:
            image, pan, segments = dataset[i]
            if train:
                image, pan = _augment(image, pan, rng, crop_size, min_scale, max_scale, True, 0)
            labels, masks = targets_from_panoptic(pan, segments)
            sem = semantic_from_panoptic(pan, segments)
        else:
            image, sem = dataset[i]
            if train:
                image, sem = augment(image, sem, rng, crop_size, min_scale, max_scale)
            labels, masks = targets_from_semantic(sem)
            pan = np.zeros(sem.shape, np.int32)
        if max_targets is not None and len(labels) > max_targets:
            raise ValueError(f"example {i}: {len(labels)} segments > max_targets {max_targets}")
        return {"pixel_values": normalize(image), "labels": labels, "masks": masks,
                "valid": np.ones(len(labels), np.float32), "semantic": sem.astype(np.int32),
                "panoptic": pan.astype(np.int32)}

    def gen():
        epoch = 0
        while True:
            order = np.arange(n)
            if shuffle:
                _random.Random(seed + epoch).shuffle(order)
            for i in order:
                yield one(int(i), np.random.default_rng([seed, epoch, int(i)]))
            epoch += 1
            if not repeat:
                return

    spec = {"pixel_values": tf.TensorSpec([None, None, 3], tf.float32),
            "labels": tf.TensorSpec([None], tf.int32),
            "masks": tf.TensorSpec([None, None, None], tf.uint8),
            "valid": tf.TensorSpec([None], tf.float32),
            "semantic": tf.TensorSpec([None, None], tf.int32),
            "panoptic": tf.TensorSpec([None, None], tf.int32)}
    ds = tf.data.Dataset.from_generator(gen, output_signature=spec)
    m = [max_targets] if max_targets else [None]
    shapes = {"pixel_values": [None, None, 3], "labels": m, "masks": m + [None, None],
              "valid": m, "semantic": [None, None], "panoptic": [None, None]}
    pads = {"pixel_values": 0.0, "labels": 0, "masks": np.uint8(0), "valid": 0.0,
            "semantic": IGNORE, "panoptic": 0}
    ds = ds.padded_batch(batch_size, padded_shapes=shapes, padding_values=pads,
                         drop_remainder=train and repeat)
    return ds.map(lambda b: ({"pixel_values": b["pixel_values"]},
                             {k: b[k] for k in b if k != "pixel_values"})).prefetch(2)
