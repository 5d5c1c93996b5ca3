"""MaskFormer inference (``MaskFormer.semantic_inference`` of ``mask_former_model.py``).

Semantic: mask logits are resized bilinearly to the output size (PyTorch
``F.interpolate(mode="bilinear", align_corners=False)`` = ``tf.image.resize`` bilinear),
then ``semseg = einsum("qc,qhw->chw", softmax(class)[..., :-1], sigmoid(masks))``; the map is
its argmax over classes.
"""

from __future__ import annotations

import tensorflow as tf


def resize_masks(mask_logits, size):
    """[B, Q, h, w] logits -> [B, Q, H, W] (bilinear, half-pixel centres as PyTorch)."""
    m = tf.transpose(mask_logits, [0, 2, 3, 1])
    m = tf.image.resize(m, size, method="bilinear")
    return tf.transpose(m, [0, 3, 1, 2])


def semantic_scores(class_logits, mask_logits, size=None):
    """[B, K, H, W] per-class scores; ``size`` (H, W) resizes the masks first."""
    if size is not None:
        mask_logits = resize_masks(mask_logits, size)
    probs = tf.nn.softmax(class_logits, axis=-1)[..., :-1]
    return tf.einsum("bqc,bqhw->bchw", probs, tf.sigmoid(mask_logits))


def semantic_inference(class_logits, mask_logits, size=None):
    """[B, H, W] int32 class map (argmax of :func:`semantic_scores`)."""
    return tf.argmax(semantic_scores(class_logits, mask_logits, size), axis=1,
                     output_type=tf.int32)
