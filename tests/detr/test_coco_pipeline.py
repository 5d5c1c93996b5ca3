"""COCO pipeline: the real quokka photo (imgaug 0.4.0 wheel) with its box and polygon, the
original transforms' box arithmetic, padding/masks, bad input; the loss on the real photo."""

import importlib.util
import json
import os

import numpy as np
import pytest
from PIL import Image

from pipelines import coco
from tfmodels.models.detr import DETR, DetrConfig
from tfmodels.models.detr.criterion import SetCriterion


def _imgaug_dir():
    spec = importlib.util.find_spec("imgaug")
    if spec is None:
        pytest.skip("imgaug==0.4.0 (data files) is not installed")
    return spec.submodule_search_locations[0]


@pytest.fixture(scope="module")
def quokka(tmp_path_factory):
    """The quokka photo and its annotations converted to COCO JSON (box + polygon)."""
    src = _imgaug_dir()
    with open(os.path.join(src, "quokka_annotations.json")) as f:
        ann = json.load(f)
    with Image.open(os.path.join(src, "quokka.jpg")) as im:
        w, h = im.size
    box = ann["bounding_boxes"][0]
    poly = [c for p in ann["polygons"][0]["keypoints"] for c in (p["x"], p["y"])]
    d = tmp_path_factory.mktemp("quokka")
    coco_json = {
        "images": [{"id": 7, "file_name": "quokka.jpg", "width": w, "height": h},
                   {"id": 8, "file_name": "quokka.jpg", "width": w, "height": h}],
        "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "iscrowd": 0,
                         "bbox": [box["x1"], box["y1"], box["x2"] - box["x1"],
                                  box["y2"] - box["y1"]],
                         "segmentation": [poly]}],
        "categories": [{"id": 1, "name": "animal"}],
    }
    (d / "ann.json").write_text(json.dumps(coco_json))
    return str(d / "ann.json"), src, (h, w), box


def test_quokka_read_and_val_transform(quokka):
    ann, image_dir, (h, w), box = quokka
    ds = coco.CocoDetection(ann, image_dir, num_classes=2)
    image, target = ds[0]
    assert image.size == (w, h)
    np.testing.assert_allclose(target["boxes"], [[box["x1"], box["y1"], box["x2"], box["y2"]]])
    assert ds[1][1]["boxes"].shape == (0, 4)  # an image without annotations is kept
    # Shorter side 800, longer <= 1333, boxes normalised cx, cy, w, h (unchanged by resizing).
    pixels, t = coco.make_transforms("val")(image, target, None)
    oh, ow = coco.get_size((w, h), 800, 1333)
    assert pixels.shape == (oh, ow, 3) and min(oh, ow) == 800
    want = [(box["x1"] + box["x2"]) / 2 / w, (box["y1"] + box["y2"]) / 2 / h,
            (box["x2"] - box["x1"]) / w, (box["y2"] - box["y1"]) / h]
    np.testing.assert_allclose(t["boxes"][0], want, atol=2e-3)
    # ImageNet normalisation of the first pixel, by hand.
    first = np.asarray(image.resize((ow, oh), Image.BILINEAR), np.float32)[0, 0] / 255
    np.testing.assert_allclose(pixels[0, 0], (first - coco.MEAN) / coco.STD, atol=1e-5)


def test_get_size_and_box_transforms_by_hand():
    assert coco.get_size((640, 480), 800, 1333) == (800, 1066)
    # max size wins: round(1333 · 500 / 2000) = 333, then int(333 · 2000 / 500) = 1332
    assert coco.get_size((2000, 500), 800, 1333) == (333, 1332)
    target = {"boxes": np.array([[10.0, 20.0, 50.0, 60.0]], np.float32),
              "labels": np.array([3]), "size": np.array([100, 200])}
    image = Image.new("RGB", (200, 100))
    _, flipped = coco.hflip(image, target)
    np.testing.assert_allclose(flipped["boxes"], [[150, 20, 190, 60]])
    _, cropped = coco.crop(image, target, (30, 0, 50, 40))  # top 30, left 0, 50 x 40
    np.testing.assert_allclose(cropped["boxes"], [[10, 0, 40, 30]])
    _, gone = coco.crop(image, target, (70, 100, 30, 100))
    assert gone["boxes"].shape == (0, 4) and gone["labels"].shape == (0,)


def test_quokka_batches_masks_and_loss(quokka):
    ann, image_dir, _, _ = quokka
    ds = coco.CocoDetection(ann, image_dir, num_classes=2)
    transform = coco.make_transforms("train", scales=(96, 128), max_size=160,
                                     crop_sizes=(100, 120), crop_range=(64, 100))
    batches = coco.make_dataset(ds, transform, batch_size=2, seed=3)
    features, targets = next(iter(batches))
    pixels, mask = features["pixel_values"].numpy(), features["pixel_mask"].numpy()
    sizes = targets["size"].numpy()
    assert pixels.shape[1:3] == tuple(sizes.max(0))
    for b in range(2):
        h, w = sizes[b]
        assert mask[b, :h, :w].all() and mask[b].sum() == h * w
        assert np.all(pixels[b, h:] == 0) and np.all(pixels[b, :, w:] == 0)
    assert targets["valid"].numpy().sum() <= 1  # the crop may cut the quokka out
    # The same seed gives the same batch (per-example generators).
    again = next(iter(coco.make_dataset(ds, transform, batch_size=2, seed=3)))
    np.testing.assert_array_equal(again[0]["pixel_values"].numpy(), pixels)
    # The set loss runs on the real example and is finite.
    model = DETR(DetrConfig(num_classes=2, hidden_dim=16, nheads=2, dim_feedforward=32,
                            enc_layers=1, dec_layers=1, num_queries=4, backbone_layers=(1, 1, 1, 1),
                            backbone_width=8))
    val = coco.make_dataset(ds, coco.make_transforms("val", scales=(96,), max_size=160), 2)
    features, targets = next(iter(val))
    losses = SetCriterion(2)(model(features), targets)
    assert targets["valid"].numpy().tolist() == [[1.0], [0.0]]
    assert all(np.isfinite(float(v)) for v in losses.values())


def _write(tmp_path, data):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_bad_annotations(tmp_path):
    img = {"id": 1, "file_name": "a.png"}
    ann = {"id": 1, "image_id": 1, "bbox": [0, 0, 5, 5], "category_id": 1}
    cases = [
        ({"annotations": []}, "has no 'images'"),
        ({"images": [{"id": 1}]}, r"images\[0\] has no 'file_name'"),
        ({"images": [img], "annotations": [dict(ann, bbox=None)]}, "bbox must be"),
        ({"images": [img], "annotations": [{"image_id": 1, "bbox": [0, 0, 1, 1]}]},
         r"annotations\[0\] has no 'category_id'"),
        ({"images": [img], "annotations": [dict(ann, image_id=9)]}, "image_id 9"),
        ({"images": [img], "annotations": [dict(ann, category_id=5)]}, "num_classes=5"),
    ]
    for data, message in cases:
        with pytest.raises(ValueError, match=message):
            coco.CocoDetection(_write(tmp_path, data), str(tmp_path), num_classes=5)
    with pytest.raises(FileNotFoundError, match="nope.json"):
        coco.CocoDetection(str(tmp_path / "nope.json"), str(tmp_path))
    # Boxes outside the image are clipped; a box wholly outside disappears; crowds dropped.
    Image.new("RGB", (20, 10)).save(tmp_path / "a.png")
    anns = [dict(ann, bbox=[-5, 2, 10, 20]), dict(ann, id=2, bbox=[30, 0, 5, 5]),
            dict(ann, id=3, iscrowd=1)]
    ds = coco.CocoDetection(_write(tmp_path, {"images": [img], "annotations": anns}),
                            str(tmp_path), num_classes=5)
    np.testing.assert_allclose(ds[0][1]["boxes"], [[0, 2, 5, 10]])
    missing = coco.CocoDetection(_write(tmp_path, {"images": [dict(img, file_name="x.png")]}),
                                 str(tmp_path))
    with pytest.raises(FileNotFoundError, match="x.png"):
        missing[0]
