"""Evaluation of a MaskFormer on batches of ``(features, targets)`` (any iterable, e.g.
``pipelines.segmentation.make_dataset(..., train=False)``): semantic maps and panoptic
segments at the input resolution, scored by :mod:`tfmodels.metrics.segmentation`.
Targets need ``semantic`` (ignore 255) and, for PQ, ``panoptic`` ids with ``labels``/
``masks``/``valid``; batches of one image (sizes differ)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfmodels.metrics.segmentation import PanopticEvaluator, SemanticEvaluator
from tfmodels.models.maskformer.inference import (
    panoptic_inference,
    resize_masks,
    semantic_inference,
)


def evaluate(model, batches, num_classes, is_thing=None, panoptic=True,
             object_mask_threshold=0.8, overlap_threshold=0.8):
    """``{"mIoU", "fwIoU", "mACC", "pACC"[, "PQ", "SQ", "RQ", "PQ_th", "PQ_st"]}`` in %."""
    sem_ev = SemanticEvaluator(num_classes)
    is_thing = list(is_thing) if is_thing is not None else [True] * num_classes
    pan_ev = PanopticEvaluator(lambda c: bool(is_thing[c]))
    for features, t in batches:
        out = model(features, training=False)
        size = tf.shape(features["pixel_values"])[1:3]
        sem = semantic_inference(out["class_queries_logits"], out["masks_queries_logits"], size)
        for b in range(sem.shape[0]):
            sem_ev.update(sem[b].numpy(), t["semantic"][b].numpy())
        if not panoptic:
            continue
        masks = resize_masks(out["masks_queries_logits"], size)
        for b in range(sem.shape[0]):
            seg, classes, _ = panoptic_inference(
                out["class_queries_logits"][b], masks[b], is_thing, object_mask_threshold,
                overlap_threshold)
            gt = t["panoptic"][b].numpy()
            tm, tl = t["masks"][b].numpy(), t["labels"][b].numpy()
            gt_classes = {}
            for j in range(int(np.sum(t["valid"][b].numpy()))):
                ids = gt[tm[j] > 0]
                if ids.size:
                    gt_classes[int(ids[0])] = int(tl[j])
            pan_ev.update(seg.numpy(), {i + 1: int(c) for i, c in enumerate(classes.numpy())},
                          gt, gt_classes)
    s = sem_ev.result()
    result = {k: float(s[k]) for k in ("mIoU", "fwIoU", "mACC", "pACC")}
    if panoptic:
        p = pan_ev.result()
        result.update(PQ=p["All"]["PQ"], SQ=p["All"]["SQ"], RQ=p["All"]["RQ"],
                      PQ_th=p["Things"]["PQ"], PQ_st=p["Stuff"]["PQ"])
    return result
