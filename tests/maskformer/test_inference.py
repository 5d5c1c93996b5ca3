"""MaskFormer inference on hand-worked cases."""

import numpy as np

from tfmodels.models.maskformer.inference import (
    instance_inference,
    panoptic_inference,
    semantic_inference,
)

BIG = 20.0  # sigmoid(±20) = 1 / 0 to float precision


def _logits(cls, k):
    """Class logits putting ~all probability on ``cls`` (``k`` = no object)."""
    row = np.full(k + 1, -BIG, np.float32)
    row[cls] = BIG
    return row


def test_semantic_by_hand():
    # 2 queries, 2 classes: query 0 = class 0 (p = .9/.1), query 1 = class 1 (p ≈ 1).
    cls = np.array([[[np.log(9.0), 0.0, -BIG], [-BIG, BIG, -BIG]]], np.float32)
    masks = np.full((1, 2, 2, 3), -BIG, np.float32)
    masks[0, 0, :, :2] = BIG  # query 0 covers columns 0-1
    masks[0, 1, :, 1:] = BIG  # query 1 covers columns 1-2
    # column 0: class 0 = .9; column 1: class 0 .9 vs class 1 .1 + 1 -> 1; column 2: class 1.
    got = semantic_inference(cls, masks).numpy()
    np.testing.assert_array_equal(got, [[[0, 1, 1], [0, 1, 1]]])
    up = semantic_inference(cls, masks, size=(4, 6)).numpy()
    assert up.shape == (1, 4, 6) and up[0, 0, 0] == 0 and up[0, 0, 5] == 1


def test_panoptic_by_hand():
    k = 3  # classes 0 (thing), 1 (thing), 2 (stuff)
    h, w = 4, 4
    cls = np.stack([
        _logits(0, k),  # query 0: thing 0, top-left 2x2
        _logits(2, k),  # query 1: stuff 2, bottom row
        _logits(2, k),  # query 2: stuff 2 again, row 2 -> merged into query 1's segment
        _logits(k, k),  # query 3: no object -> dropped
        _logits(1, k),  # query 4: thing 1, covers the top-right 2x2 but also the top-left
                        # (where query 0 scores the same and wins the argmax) -> 4/8 < 0.8
    ])
    cls[4] = np.log(np.array([1e-9, 0.85, 1e-9, 0.15], np.float32))  # score 0.85 < query 0
    masks = np.full((5, h, w), -BIG, np.float32)
    masks[0, :2, :2] = BIG
    masks[1, 3, :] = BIG
    masks[2, 2, :] = BIG
    masks[3, :, :] = BIG
    masks[4, :2, :] = BIG
    seg, classes, things = panoptic_inference(cls, masks, [True, True, False])
    seg = seg.numpy()
    # Query 4 wins only the top-right 2x2 (4 of its 8 pixels): dropped (void stays 0).
    want = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [2, 2, 2, 2], [2, 2, 2, 2]])
    np.testing.assert_array_equal(seg, want)
    np.testing.assert_array_equal(classes.numpy(), [0, 2])
    np.testing.assert_array_equal(things.numpy(), [True, False])


def test_panoptic_overlap_kept_and_empty():
    k = 2
    cls = np.stack([np.log(np.array([0.9, 0.05, 0.05], np.float32)), _logits(1, k)])
    masks = np.full((2, 2, 5), -BIG, np.float32)
    masks[0, :, :] = BIG
    masks[1, :, 4] = BIG  # query 1 (score 1 > .9) wins column 4; query 0 keeps 8/10 = 0.8: kept
    seg, classes, _ = panoptic_inference(cls, masks, [True, True])
    np.testing.assert_array_equal(seg.numpy(), [[1, 1, 1, 1, 2]] * 2)
    np.testing.assert_array_equal(classes.numpy(), [0, 1])
    seg, classes, things = panoptic_inference(np.stack([_logits(k, k)] * 2), masks, [1, 1])
    assert not seg.numpy().any() and classes.shape == (0,) and things.shape == (0,)


def test_instance_by_hand():
    cls = np.log(np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3]], np.float32))
    masks = np.array([[[2.0, -1.0]], [[-3.0, 0.5]]], np.float32)  # [Q=2, 1, 2]
    out = instance_inference(cls, masks, topk=3)
    sig = 1 / (1 + np.exp(-masks))
    # top-3 (query, class): (0,0) .7, (1,1) .6, (0,1) .2
    np.testing.assert_array_equal(out["labels"].numpy(), [0, 1, 1])
    want = np.array([0.7 * sig[0, 0, 0], 0.6 * sig[1, 0, 1], 0.2 * sig[0, 0, 0]])
    np.testing.assert_allclose(out["scores"].numpy(), want, rtol=1e-5)
    np.testing.assert_array_equal(out["masks"].numpy()[1], [[False, True]])
