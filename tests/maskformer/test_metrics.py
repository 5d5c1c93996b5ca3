"""Segmentation metrics on hand-worked cases."""

import numpy as np
import pytest

from tfmodels.metrics.segmentation import PanopticEvaluator, SemanticEvaluator


def test_semantic_by_hand():
    gt = np.array([[0, 0, 1, 1], [0, 0, 1, 255]])
    pred = np.array([[0, 1, 1, 1], [0, 0, 2, 2]])
    ev = SemanticEvaluator(3)
    ev.update(pred, gt)
    r = ev.result()
    # class 0: tp 3, gt 4, pred 3 -> IoU 3/4; class 1: tp 2, gt 3, pred 3 -> 2/4;
    # class 2: tp 0, gt 0, pred 1 (the ignored pixel left out) -> 0. mIoU = (.75+.5+0)/3.
    assert r["mIoU"] == pytest.approx(100 * (0.75 + 0.5) / 3)
    assert r["pACC"] == pytest.approx(100 * 5 / 7)
    assert r["mACC"] == pytest.approx(100 * (3 / 4 + 2 / 3) / 2)
    with pytest.raises(ValueError, match="outside"):
        ev.update(pred, np.full_like(gt, 3))
    with pytest.raises(ValueError, match="shape"):
        ev.update(pred[:, :3], gt)


def test_panoptic_by_hand():
    # gt: thing A (cat 1, 4 px), thing B (cat 1, 2 px), stuff (cat 2, 6 px), void 4 px.
    gt = np.array([[1, 1, 3, 3],
                   [1, 1, 3, 3],
                   [2, 2, 3, 3],
                   [0, 0, 0, 0]])
    gt_classes = {1: 1, 2: 1, 3: 2}
    # pred: 7 matches A with 3 px (IoU 3/4); 8 = B's 2 px + 2 void px (union leaves void
    # out: IoU 2/2 = 1); 9 = stuff with 4 of 6 px + 1 of A's (IoU 4/7 > .5);
    # 5 = cat 1 on two void px only (ignored: all on void).
    pred = np.array([[7, 7, 9, 9],
                     [7, 9, 9, 9],
                     [8, 8, 0, 0],
                     [8, 8, 5, 5]])
    pred_classes = {7: 1, 8: 1, 9: 2, 5: 1}
    ev = PanopticEvaluator(lambda c: c == 1)
    ev.update(pred, pred_classes, gt, gt_classes)
    r = ev.result()
    things_pq = (3 / 4 + 1.0) / 2  # tp 2, fp 0, fn 0
    stuff_pq = 4 / 7
    assert r["Things"]["PQ"] == pytest.approx(100 * things_pq)
    assert r["Stuff"]["PQ"] == pytest.approx(100 * stuff_pq)
    assert r["All"]["PQ"] == pytest.approx(100 * (things_pq + stuff_pq) / 2)
    assert r["Things"]["RQ"] == pytest.approx(100.0)
    # A second image: a missed thing (FN) and a false stuff segment (FP).
    ev.update(np.array([[4, 4]]), {4: 2}, np.array([[6, 6]]), {6: 1})
    r = ev.result()
    # cat 1: iou 1.75, tp 2, fn 1 -> PQ 1.75/2.5; cat 2: iou 4/7, tp 1, fp 1 -> (4/7)/1.5.
    assert r["Things"]["PQ"] == pytest.approx(100 * 1.75 / 2.5)
    assert r["Stuff"]["PQ"] == pytest.approx(100 * (4 / 7) / 1.5)
    assert r["Stuff"]["SQ"] == pytest.approx(100 * 4 / 7)
