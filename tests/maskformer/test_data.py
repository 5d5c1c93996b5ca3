"""Segmentation pipeline: real photographs with real masks (the imgaug quokka and its
polygon, skimage's horse silhouette), synthetic scenes, bad input."""

import importlib.util
import json
import os

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pipelines import segmentation as P
from pipelines import synthetic_segmentation as S


def _shoelace(xy):
    x, y = xy[:, 0], xy[:, 1]
    return 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))


@pytest.fixture(scope="module")
def quokka(tmp_path_factory):
    """The quokka photo (downscaled 4x) + a semantic PNG from its polygon (1 = quokka)."""
    src = importlib.util.find_spec("imgaug").submodule_search_locations[0]
    with open(os.path.join(src, "quokka_annotations.json")) as f:
        poly = np.array([[p["x"], p["y"]] for p in json.load(f)["polygons"][0]["keypoints"]],
                        np.float64) / 4
    with Image.open(os.path.join(src, "quokka.jpg")) as im:
        image = im.convert("RGB").resize((im.width // 4, im.height // 4), Image.BILINEAR)
    label = Image.new("L", image.size, 0)
    ImageDraw.Draw(label).polygon([tuple(p) for p in poly], fill=1)
    d = tmp_path_factory.mktemp("quokka")
    (d / "images").mkdir()
    (d / "labels").mkdir()
    image.save(d / "images" / "quokka.png")
    label.save(d / "labels" / "quokka.png")
    return d, poly


def test_quokka_polygon_targets(quokka):
    d, poly = quokka
    ds = P.SemanticSegmentation(str(d / "images"), str(d / "labels"), num_classes=2)
    image, sem = ds[0]
    labels, masks = P.targets_from_semantic(sem)
    np.testing.assert_array_equal(labels, [0, 1])
    area = masks[1].sum()
    assert abs(area - _shoelace(poly)) / _shoelace(poly) < 0.03  # rasterised polygon
    assert masks.sum(0).max() == 1 and masks.sum() == sem.size  # a partition of the image
    # The mask lies inside the annotated box (x 148..550, y 50..642 at full size) and fills
    # most of it.
    ys, xs = np.nonzero(masks[1])
    assert xs.min() >= 148 // 4 - 3 and xs.max() <= 550 // 4 + 3
    assert ys.min() >= 50 // 4 - 3 and ys.max() <= 642 // 4 + 3
    assert area > 0.5 * (550 - 148) * (642 - 50) / 16
    assert image.shape[:2] == sem.shape


def test_augment_keeps_image_and_label_aligned():
    from skimage import data

    horse = ~data.horse()  # True on the horse (a real silhouette, 328 x 400)
    image = np.where(horse[..., None], 200, 30).astype(np.uint8).repeat(3, -1)
    sem = horse.astype(np.int32)
    for seed in range(4):
        rng = np.random.default_rng(seed)
        out_i, out_l = P.augment(image, sem, rng, crop_size=256)
        assert out_i.shape == (256, 256, 3) and out_l.shape == (256, 256)
        valid = out_l != P.IGNORE
        agree = (out_i[..., 0] > 115) == (out_l == 1)
        assert agree[valid].mean() > 0.98
        assert (out_i[~valid] == 0).all()  # padding: black image, ignore label


def test_dataset_batches_from_synthetic_panoptic(tmp_path):
    S.write_dataset(str(tmp_path), 3, seed=0, size=(48, 40))
    ds = P.CocoPanoptic(str(tmp_path / "panoptic.json"), str(tmp_path / "images"),
                        str(tmp_path / "panoptic"), num_classes=S.NUM_CLASSES)
    image, pan, segments = ds[0]
    sem = np.asarray(Image.open(tmp_path / "semantic" / "000000.png"))
    np.testing.assert_array_equal(P.semantic_from_panoptic(pan, segments), sem)
    (f, t), = P.make_dataset(ds, 3, train=False).take(1)
    assert f["pixel_values"].shape == (3, 48, 40, 3)
    masks, valid, labels = t["masks"].numpy(), t["valid"].numpy(), t["labels"].numpy()
    for b in range(3):
        n = int(valid[b].sum())
        # every pixel in exactly one segment, each mask's class = the semantic map there
        assert (masks[b, :n].sum(0) == 1).all() and not masks[b, n:].any()
        for j in range(n):
            assert (t["semantic"].numpy()[b][masks[b, j] > 0] == labels[b, j]).all()


def test_bad_input(tmp_path, quokka):
    d, _ = quokka
    img = tmp_path / "images"
    lab = tmp_path / "labels"
    img.mkdir()
    lab.mkdir()
    with pytest.raises(ValueError, match="no images"):
        P.SemanticSegmentation(str(img), str(lab), 2)
    Image.new("RGB", (10, 8)).save(img / "a.png")
    Image.new("L", (10, 9)).save(lab / "a.png")
    with pytest.raises(ValueError, match="differs from the image"):
        P.SemanticSegmentation(str(img), str(lab), 2)[0]
    Image.fromarray(np.full((8, 10), 7, np.uint8)).save(lab / "a.png")
    with pytest.raises(ValueError, match="num_classes"):
        P.SemanticSegmentation(str(img), str(lab), 2)[0]
    Image.fromarray(np.full((8, 10), 255, np.uint8)).save(lab / "a.png")
    image, sem = P.SemanticSegmentation(str(img), str(lab), 2)[0]  # all ignore: no targets
    labels, masks = P.targets_from_semantic(sem)
    assert labels.shape == (0,) and masks.shape == (0, 8, 10)
    with pytest.raises(FileNotFoundError, match="image_dir"):
        P.SemanticSegmentation(str(tmp_path / "nope"), str(lab), 2)
