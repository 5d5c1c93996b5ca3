"""COCO evaluation of a DETR model: batches → post-processed detections → pycocotools.

The original's ``evaluate`` in ``engine.py`` for boxes: run the model, ``PostProcess`` to
absolute xyxy boxes in each image's original size, ``CocoEvaluator("bbox")``.
"""

from __future__ import annotations

import tensorflow as tf

from tfmodels.metrics.detection import coco_evaluate, detections_to_coco
from tfmodels.models.detr.postprocess import post_process


def predict_coco(model, batches, max_batches=None):
    """COCO result dicts for ``(features, targets)`` batches (targets need ``image_id`` and
    ``orig_size``)."""

    @tf.function
    def step(features, sizes):
        out = model(features, training=False)
        return post_process(out["pred_logits"], out["pred_boxes"], sizes)

    results = []
    for i, (features, targets) in enumerate(batches):
        if max_batches is not None and i >= max_batches:
            break
        pp = step(features, targets["orig_size"])
        results += detections_to_coco(targets["image_id"].numpy(), pp["scores"].numpy(),
                                      pp["labels"].numpy(), pp["boxes"].numpy())
    return results


def evaluate_coco(model, batches, annotation_file, max_batches=None):
    """``(stats, results)``: pycocotools box AP/AR by name, and the detections."""
    results = predict_coco(model, batches, max_batches)
    image_ids = sorted({r["image_id"] for r in results}) if max_batches else None
    return coco_evaluate(annotation_file, results, image_ids=image_ids), results
