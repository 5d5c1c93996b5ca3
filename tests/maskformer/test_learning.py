"""MaskFormer learns generated scenes: semantic mIoU >= 60 and PQ >= 40 on held-out scenes.

A small ResNet MaskFormer (trainable batch norm, 8 queries, 2 decoder layers) trained on the
shared trainer with the original losses and recipe (AdamW, poly 0.9, clipping) for a bounded
number of steps on 64x64 scenes (things over two stuff regions), read back through the COCO
panoptic pipeline; evaluated with the project's evaluators at the input resolution.
"""

import numpy as np
import pytest
import tensorflow as tf

from pipelines import segmentation as P
from pipelines import synthetic_segmentation as S
from tfmodels.metrics.segmentation import PanopticEvaluator, SemanticEvaluator
from tfmodels.models.maskformer import MaskFormer, MaskFormerConfig
from tfmodels.models.maskformer.criterion import SetCriterion
from tfmodels.models.maskformer.inference import (
    panoptic_inference,
    resize_masks,
    semantic_inference,
)
from tfmodels.models.maskformer.training import make_loss_fn, make_optimizer
from tfmodels.training import Trainer

STEPS = 200


def evaluate(model, dataset, is_thing):
    sem_ev = SemanticEvaluator(S.NUM_CLASSES)
    pan_ev = PanopticEvaluator(lambda c: bool(is_thing[c]))
    for features, t in P.make_dataset(dataset, 1, train=False):
        out = model(features, training=False)
        size = tf.shape(features["pixel_values"])[1:3]
        sem = semantic_inference(out["class_queries_logits"], out["masks_queries_logits"], size)
        sem_ev.update(sem.numpy()[0], t["semantic"].numpy()[0])
        masks = resize_masks(out["masks_queries_logits"], size)[0]
        seg, classes, _ = panoptic_inference(out["class_queries_logits"][0], masks, is_thing)
        gt = t["panoptic"].numpy()[0]
        n = int(t["valid"].numpy()[0].sum())
        gt_classes = {int(gt[t["masks"].numpy()[0, j] > 0][0]): int(t["labels"].numpy()[0, j])
                      for j in range(n)}
        pan_ev.update(seg.numpy(), {i + 1: int(c) for i, c in enumerate(classes.numpy())},
                      gt, gt_classes)
    return sem_ev.result(), pan_ev.result()


@pytest.mark.slow
def test_learns_generated_scenes(tmp_path):
    import keras

    keras.utils.set_random_seed(0)
    S.write_dataset(str(tmp_path / "train"), 200, seed=1)
    S.write_dataset(str(tmp_path / "val"), 20, seed=2)

    def load(name):
        d = tmp_path / name
        return P.CocoPanoptic(str(d / "panoptic.json"), str(d / "images"), str(d / "panoptic"),
                              S.NUM_CLASSES)

    train, val = load("train"), load("val")
    config = MaskFormerConfig(
        num_classes=S.NUM_CLASSES, backbone="resnet50", backbone_layers=(1, 1, 1, 1),
        backbone_width=16, backbone_norm="batch", frozen_stages=-1, conv_dim=64, mask_dim=64,
        hidden_dim=64, num_queries=8, nheads=4, dim_feedforward=128, dec_layers=2, dropout=0.0)
    model = MaskFormer(config)
    model.build()
    optimizer = make_optimizer(lr=3e-4, backbone_multiplier=1.0, max_steps=STEPS)
    trainer = Trainer(model, optimizer, make_loss_fn(SetCriterion(S.NUM_CLASSES)),
                      global_batch_size=8, log_steps=50, clip_norm=0.01)
    data = P.make_dataset(train, 8, train=True, crop_size=64, shuffle=True, repeat=True,
                          max_targets=6, min_scale=0.8, max_scale=1.25)
    trainer.train(data, STEPS)
    is_thing = [c["isthing"] for c in S.CATEGORIES]
    sem, pan = evaluate(model, val, is_thing)
    assert sem["mIoU"] >= 60, sem
    assert pan["All"]["PQ"] >= 40, pan
    assert np.isfinite(trainer.last_train_metrics["loss"])
