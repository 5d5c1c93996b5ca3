"""Box ops, Hungarian matcher and set criterion: numpy / brute force / HF's loss as references."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from tfmodels.models.detr import box_ops
from tfmodels.models.detr.criterion import SetCriterion
from tfmodels.models.detr.matcher import HungarianMatcher, match_costs, solve


def _np_giou(a, b):
    """GIoU of two xyxy boxes, straight from the definition (Rezatofighi et al. 2019)."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    hull = (max(a[2], b[2]) - min(a[0], b[0])) * (max(a[3], b[3]) - min(a[1], b[1]))
    return inter / union - (hull - union) / hull


def _random_boxes(rng, n):
    c = rng.uniform(0.2, 0.8, (n, 2))
    wh = rng.uniform(0.05, 0.4, (n, 2))
    return np.concatenate([c, wh], 1).astype(np.float32)


def test_box_ops_hand_worked_and_numpy():
    a = np.array([[0.0, 0.0, 2.0, 2.0]], np.float32)
    b = np.array([[1.0, 1.0, 3.0, 3.0]], np.float32)
    # inter 1, union 7, hull 9: GIoU = 1/7 - 2/9
    assert np.isclose(box_ops.generalized_box_iou(a, b).numpy()[0, 0], 1 / 7 - 2 / 9)
    assert np.isclose(box_ops.box_iou(a, b)[0].numpy()[0, 0], 1 / 7)
    rng = np.random.default_rng(0)
    p = box_ops.box_cxcywh_to_xyxy(_random_boxes(rng, 5)).numpy()
    q = box_ops.box_cxcywh_to_xyxy(_random_boxes(rng, 4)).numpy()
    ref = np.array([[_np_giou(x, y) for y in q] for x in p])
    np.testing.assert_allclose(box_ops.generalized_box_iou(p, q).numpy(), ref, atol=1e-6)
    np.testing.assert_allclose(box_ops.elementwise_generalized_box_iou(p[:4], q).numpy(),
                               np.diag(ref[:4]), atol=1e-6)
    np.testing.assert_allclose(box_ops.box_xyxy_to_cxcywh(p).numpy(),
                               np.stack([(p[:, 0] + p[:, 2]) / 2, (p[:, 1] + p[:, 3]) / 2,
                                         p[:, 2] - p[:, 0], p[:, 3] - p[:, 1]], 1), atol=1e-6)


def _problem(rng, b=2, q=5, m=3, c=4):
    logits = rng.standard_normal((b, q, c + 1)).astype(np.float32)
    pred = _random_boxes(rng, b * q).reshape(b, q, 4)
    labels = rng.integers(0, c, (b, m)).astype(np.int32)
    boxes = _random_boxes(rng, b * m).reshape(b, m, 4)
    valid = np.ones((b, m), bool)
    valid[1, 2] = False  # second image has two targets
    return ({"pred_logits": logits, "pred_boxes": pred},
            {"labels": labels, "boxes": boxes, "valid": valid})


def test_matcher_cost_and_brute_force():
    rng = np.random.default_rng(1)
    outputs, targets = _problem(rng)
    costs = match_costs(outputs["pred_logits"], outputs["pred_boxes"], targets["labels"],
                        targets["boxes"]).numpy()
    prob = np.exp(outputs["pred_logits"]) / np.exp(outputs["pred_logits"]).sum(-1, keepdims=True)
    b, i, j = 1, 3, 1
    xyxy = box_ops.box_cxcywh_to_xyxy
    hand = (5 * np.abs(outputs["pred_boxes"][b, i] - targets["boxes"][b, j]).sum()
            - prob[b, i, targets["labels"][b, j]]
            - 2 * _np_giou(xyxy(outputs["pred_boxes"][b, i]).numpy(),
                           xyxy(targets["boxes"][b, j]).numpy()))
    assert np.isclose(costs[b, i, j], hand, atol=1e-5)
    match = HungarianMatcher()(outputs, targets).numpy()
    for b in range(2):
        cols = np.flatnonzero(targets["valid"][b])
        best = min(itertools.permutations(range(5), len(cols)),
                   key=lambda rows: sum(costs[b, r, c] for r, c in zip(rows, cols)))
        assert list(match[b, cols]) == list(best)
    assert match[1, 2] == -1
    # More targets than queries: every query used once, the rest unmatched.
    m = solve(np.random.default_rng(2).random((1, 2, 3)), np.ones((1, 3)))
    assert sorted(m[0][m[0] >= 0]) == [0, 1] and (m[0] == -1).sum() == 1


def _hf_inputs(torch, outputs, targets):
    hf_out = {"logits": torch.from_numpy(outputs["pred_logits"]),
              "pred_boxes": torch.from_numpy(outputs["pred_boxes"])}
    hf_tgt = [{"class_labels": torch.from_numpy(targets["labels"][b][targets["valid"][b]]).long(),
               "boxes": torch.from_numpy(targets["boxes"][b][targets["valid"][b]])}
              for b in range(len(targets["labels"]))]
    return hf_out, hf_tgt


@pytest.mark.parity
def test_matcher_and_criterion_match_hf():
    import torch
    from transformers.loss.loss_for_object_detection import HungarianMatcher as HFMatcher
    from transformers.loss.loss_for_object_detection import ImageLoss

    rng = np.random.default_rng(3)
    outputs, targets = _problem(rng, b=3, q=7, m=4, c=6)
    targets["valid"][2, :] = False  # an image without annotations
    aux = _problem(rng, b=3, q=7, m=4, c=6)[0]
    outputs["aux_outputs"] = [aux]
    hf_matcher = HFMatcher(class_cost=1, bbox_cost=5, giou_cost=2)
    hf_out, hf_tgt = _hf_inputs(torch, outputs, targets)
    ours = HungarianMatcher()(outputs, targets).numpy()
    for b, (i, j) in enumerate(hf_matcher(hf_out, hf_tgt)):
        cols = np.flatnonzero(targets["valid"][b])
        pairs = sorted((int(ours[b, c]), k) for k, c in enumerate(cols))
        assert pairs == sorted(zip(i.tolist(), j.tolist()))
    hf_loss = ImageLoss(hf_matcher, num_classes=6, eos_coef=0.1,
                        losses=["labels", "boxes", "cardinality"])
    hf_out["auxiliary_outputs"] = [{"logits": torch.from_numpy(aux["pred_logits"]),
                                    "pred_boxes": torch.from_numpy(aux["pred_boxes"])}]
    ref = {k: float(v) for k, v in hf_loss(hf_out, hf_tgt).items()}
    got = {k: float(v) for k, v in SetCriterion(6)(outputs, targets).items()}
    for k in ("loss_ce", "loss_bbox", "loss_giou", "cardinality_error", "loss_ce_0",
              "loss_bbox_0", "loss_giou_0"):
        assert np.isclose(got[k], ref[k], atol=1e-5), (k, got[k], ref[k])
    total = sum(ref[k] * w for k, w in [("loss_ce", 1), ("loss_bbox", 5), ("loss_giou", 2),
                                        ("loss_ce_0", 1), ("loss_bbox_0", 5), ("loss_giou_0", 2)])
    assert np.isclose(got["loss"], total, atol=1e-4)


def test_criterion_weighted_ce_by_hand_and_gradient():
    # One image, two queries, one target of class 0 matched to query 0; 2 classes + no-object.
    logits = np.array([[[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]]], np.float32)
    boxes = np.array([[[0.5, 0.5, 0.2, 0.2], [0.1, 0.1, 0.1, 0.1]]], np.float32)
    targets = {"labels": np.array([[0]]), "boxes": np.array([[[0.5, 0.5, 0.2, 0.4]]], np.float32),
               "valid": np.array([[True]])}
    ls = lambda z: z - np.log(np.exp(z).sum())  # noqa: E731
    ce0, ce1 = -ls(logits[0, 0])[0], -ls(logits[0, 1])[2]
    want = (1.0 * ce0 + 0.1 * ce1) / 1.1
    crit = SetCriterion(2, aux_loss=False)
    var = tf.Variable(logits)
    with tf.GradientTape() as tape:
        out = crit({"pred_logits": var, "pred_boxes": boxes}, targets)
    assert np.isclose(float(out["loss_ce"]), want, atol=1e-6)
    assert np.isclose(float(out["loss_bbox"]), 0.2, atol=1e-6)  # |0.2 - 0.4|
    assert np.isclose(float(out["loss_giou"]), 1 - 0.5, atol=1e-6)  # IoU 0.5, hull = union
    assert float(out["cardinality_error"]) == 1.0  # both queries predict a class
    assert tape.gradient(out["loss"], var) is not None
