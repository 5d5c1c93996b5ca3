"""SavedModel serving of MaskFormer: encoded image bytes → semantic map + panoptic segments.

``MaskFormerServing(model, is_thing, size=512, max_size=2048)`` is a ``tf.Module`` whose
``serving_default(image_bytes)`` decodes the image (JPEG/PNG/GIF/BMP), resizes it as the
original's test transform (``ResizeShortestEdge``: shorter side ``size``, longer ≤
``max_size``; ``size=0`` keeps the image as it is), normalises with ImageNet mean/std, runs
the model, resizes the mask logits bilinearly to the input image size and returns
``semantic`` [H, W] int32, ``panoptic`` [H, W] int32 (0 = void, segment i has id i + 1),
``segment_classes`` [S] int32 and ``segment_is_thing`` [S] bool. Exported through
:func:`tfmodels.export.save`, the graph holds only standard TensorFlow ops.

Deviation: the original resizes mask logits to the padded network input, crops, then resizes
to the output size; here they go straight to the image size (one bilinear resize).
"""

from __future__ import annotations

import tensorflow as tf

from tfmodels.models.detr.serving import target_size
from tfmodels.models.maskformer.inference import (
    panoptic_inference,
    resize_masks,
    semantic_inference,
)

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class MaskFormerServing(tf.Module):
    def __init__(self, model, is_thing, size=512, max_size=2048, object_mask_threshold=0.8,
                 overlap_threshold=0.8):
        super().__init__()
        self.model = model
        self.is_thing = tf.constant([bool(t) for t in is_thing])
        self.size, self.max_size = int(size), int(max_size)
        self.object_mask_threshold = float(object_mask_threshold)
        self.overlap_threshold = float(overlap_threshold)

    def preprocess(self, image):
        x = tf.cast(image, tf.float32) / 255.0
        if self.size:
            h, w = tf.shape(image)[0], tf.shape(image)[1]
            oh, ow = target_size(h, w, self.size, self.max_size)
            x = tf.image.resize(x, tf.stack([oh, ow]), method="bilinear", antialias=True)
        return (x - tf.constant(MEAN)) / tf.constant(STD)

    @tf.function(input_signature=[tf.TensorSpec([], tf.string, name="image_bytes")])
    def serving_default(self, image_bytes):
        image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
        size = tf.shape(image)[:2]
        out = self.model({"pixel_values": self.preprocess(image)[None]}, training=False)
        masks = resize_masks(out["masks_queries_logits"], size)
        semantic = semantic_inference(out["class_queries_logits"], masks)[0]
        panoptic, classes, things = panoptic_inference(
            out["class_queries_logits"][0], masks[0], self.is_thing,
            self.object_mask_threshold, self.overlap_threshold)
        return {"semantic": semantic, "panoptic": panoptic, "segment_classes": classes,
                "segment_is_thing": things}
