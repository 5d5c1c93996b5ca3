"""COCO box evaluation with pycocotools (the original's ``CocoEvaluator`` for ``bbox``).

``detections_to_coco`` turns post-processed detections (absolute xyxy boxes in the original
image size) into COCO result entries (``[x, y, w, h]``); ``coco_evaluate`` runs ``COCOeval``
and returns its 12 summary numbers by name. Takes arrays and a ground-truth JSON path: it
knows nothing about how the detections were produced.
"""

from __future__ import annotations

import contextlib
import io as _pyio
import json

import numpy as np

from tfmodels import io

STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl",
              "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def detections_to_coco(image_ids, scores, labels, boxes):
    """COCO result dicts from per-image arrays ([B], [B, Q], [B, Q], [B, Q, 4] xyxy)."""
    results = []
    for image_id, s, lab, b in zip(np.asarray(image_ids), np.asarray(scores),
                                   np.asarray(labels), np.asarray(boxes)):
        for score, label, (x0, y0, x1, y1) in zip(s, lab, b):
            results.append({"image_id": int(image_id), "category_id": int(label),
                            "score": float(score),
                            "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]})
    return results


def coco_evaluate(annotation_file, results, image_ids=None, verbose=False):
    """``{"AP": ..., "AP50": ..., ...}`` of ``results`` against ``annotation_file``.

    ``image_ids`` restricts the evaluation (default: every image of the file). With no
    detections at all every number is 0 (pycocotools itself refuses an empty result list).
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    quiet = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(_pyio.StringIO())
    with quiet:
        gt = COCO()
        gt.dataset = json.loads(io.read_text(annotation_file))
        gt.dataset.setdefault("categories", [])
        gt.dataset.setdefault("annotations", [])
        gt.createIndex()
        if not results:
            return {k: 0.0 for k in STAT_NAMES}
        dt = gt.loadRes(list(results))
        ev = COCOeval(gt, dt, "bbox")
        if image_ids is not None:
            ev.params.imgIds = [int(i) for i in image_ids]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {k: float(v) for k, v in zip(STAT_NAMES, ev.stats)}
