"""Segmentation evaluation: semantic (mIoU, pixel accuracy) and panoptic (PQ, SQ, RQ).

``SemanticEvaluator`` mirrors detectron2's ``SemSegEvaluator``: a confusion matrix over
``num_classes`` accumulated over images, pixels labelled ``ignore_label`` (255) left out;
``mIoU`` averages IoU over the classes present in the ground truth or the predictions,
``mACC`` the per-class accuracy over classes present in the ground truth, ``pACC`` is
correct / labelled pixels, ``fwIoU`` weights IoU by ground-truth frequency. Values in %.

``PanopticEvaluator`` mirrors panopticapi's ``pq_compute``: per image, a predicted and a
ground-truth segment of the same category match when their IoU > 0.5, where the union
leaves out the predicted pixels on void ground truth (segment id 0); unmatched ground truth
counts as FN; unmatched predictions count as FP unless more than half of them lies on void.
Per category PQ = Σ IoU / (TP + ½FP + ½FN), SQ = Σ IoU / TP, RQ = TP / (TP + ½FP + ½FN);
averages over the categories that occur (TP + FP + FN > 0), for all, things and stuff.
Values in %. Takes arrays; no files.
"""

from __future__ import annotations

import numpy as np


class SemanticEvaluator:
    def __init__(self, num_classes, ignore_label=255):
        self.num_classes = int(num_classes)
        self.ignore_label = int(ignore_label)
        self.conf = np.zeros((self.num_classes, self.num_classes), np.int64)

    def update(self, pred, gt):
        """Add one image (or a batch): ``pred`` and ``gt`` integer maps of the same shape."""
        pred, gt = np.asarray(pred).astype(np.int64), np.asarray(gt).astype(np.int64)
        if pred.shape != gt.shape:
            raise ValueError(f"pred shape {pred.shape} != gt shape {gt.shape}")
        keep = gt != self.ignore_label
        bad = keep & ((gt < 0) | (gt >= self.num_classes))
        if bad.any():
            raise ValueError(f"gt holds class ids outside [0, {self.num_classes}) other than "
                             f"ignore_label {self.ignore_label}: {np.unique(gt[bad])[:5]}")
        if ((pred < 0) | (pred >= self.num_classes)).any():
            raise ValueError(f"pred holds class ids outside [0, {self.num_classes})")
        idx = gt[keep] * self.num_classes + pred[keep]
        self.conf += np.bincount(idx, minlength=self.num_classes ** 2).reshape(self.conf.shape)

    def result(self):
        tp = np.diag(self.conf).astype(np.float64)
        pos_gt = self.conf.sum(1).astype(np.float64)
        pos_pred = self.conf.sum(0).astype(np.float64)
        union = pos_gt + pos_pred - tp
        iou_valid = union > 0
        acc_valid = pos_gt > 0
        iou = np.divide(tp, union, out=np.zeros_like(tp), where=iou_valid)
        acc = np.divide(tp, pos_gt, out=np.zeros_like(tp), where=acc_valid)
        total = pos_gt.sum()
        return {
            "mIoU": 100 * iou[iou_valid].mean() if iou_valid.any() else 0.0,
            "fwIoU": 100 * (iou * pos_gt).sum() / total if total else 0.0,
            "mACC": 100 * acc[acc_valid].mean() if acc_valid.any() else 0.0,
            "pACC": 100 * tp.sum() / total if total else 0.0,
            "IoU": {c: 100 * iou[c] for c in np.flatnonzero(iou_valid)},
        }


class PanopticEvaluator:
    """``update(pred_seg, pred_classes, gt_seg, gt_classes)`` per image: id maps (0 = void)
    and ``{segment id: category}`` dicts; ``is_thing(category)`` splits things/stuff."""

    def __init__(self, is_thing):
        self.is_thing = is_thing
        self.stats = {}  # category -> [iou sum, tp, fp, fn]

    def _cat(self, c):
        return self.stats.setdefault(int(c), [0.0, 0, 0, 0])

    def update(self, pred_seg, pred_classes, gt_seg, gt_classes):
        pred_seg, gt_seg = np.asarray(pred_seg).astype(np.int64), np.asarray(gt_seg).astype(
            np.int64)
        if pred_seg.shape != gt_seg.shape:
            raise ValueError(f"pred shape {pred_seg.shape} != gt shape {gt_seg.shape}")
        for seg, classes, what in ((pred_seg, pred_classes, "pred"), (gt_seg, gt_classes, "gt")):
            unknown = set(np.unique(seg).tolist()) - {0} - set(int(k) for k in classes)
            if unknown:
                raise ValueError(f"{what} segment ids {sorted(unknown)[:5]} have no category")
        pred_area = dict(zip(*np.unique(pred_seg, return_counts=True)))
        gt_area = dict(zip(*np.unique(gt_seg, return_counts=True)))
        pair = gt_seg * (pred_seg.max() + 1) + pred_seg
        ids, counts = np.unique(pair, return_counts=True)
        inter = {(int(i) // (pred_seg.max() + 1), int(i) % (pred_seg.max() + 1)): int(n)
                 for i, n in zip(ids, counts)}
        gt_matched, pred_matched = set(), set()
        for (g, p), n in inter.items():
            if g == 0 or p == 0 or gt_classes[g] != pred_classes[p]:
                continue
            union = pred_area[p] + gt_area[g] - n - inter.get((0, p), 0)
            iou = n / union
            if iou > 0.5:
                s = self._cat(gt_classes[g])
                s[0] += iou
                s[1] += 1
                gt_matched.add(g)
                pred_matched.add(p)
        for g, c in gt_classes.items():
            if g in gt_area and g not in gt_matched:
                self._cat(c)[3] += 1
        for p, c in pred_classes.items():
            if p not in pred_area or p in pred_matched:
                continue
            if inter.get((0, p), 0) / pred_area[p] > 0.5:
                continue
            self._cat(c)[2] += 1

    def result(self):
        out = {}
        for name, select in (("All", lambda c: True), ("Things", self.is_thing),
                             ("Stuff", lambda c: not self.is_thing(c))):
            pq = sq = rq = 0.0
            n = 0
            for c, (iou, tp, fp, fn) in self.stats.items():
                if not select(c) or tp + fp + fn == 0:
                    continue
                n += 1
                denom = tp + 0.5 * fp + 0.5 * fn
                pq += iou / denom
                sq += iou / tp if tp else 0.0
                rq += tp / denom
            out[name] = {"PQ": 100 * pq / n if n else 0.0, "SQ": 100 * sq / n if n else 0.0,
                         "RQ": 100 * rq / n if n else 0.0, "n": n}
        return out
