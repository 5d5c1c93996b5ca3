"""SavedModel serving of DETR: encoded image bytes → boxes, scores, labels.

``DetrServing(model, size=800, max_size=1333)`` is a ``tf.Module`` whose
``serving_default(image_bytes)`` (a scalar string: JPEG/PNG/GIF/BMP) decodes the image,
applies the original inference transform (shorter side ``size``, longer ≤ ``max_size``,
ImageNet normalisation), runs the model and the original post-processing, returning
``boxes`` [Q, 4] (absolute x0, y0, x1, y1 in the input image), ``scores`` [Q] and
``labels`` [Q] (int32). Exported through :func:`tfmodels.export.save`, which traces
LayerNorm as standard TensorFlow ops, so a process without this package serves it.

Deviation: the resize is ``tf.image.resize(bilinear, antialias=True)``, close to but not
bit-identical with PIL's bilinear resize of the training pipeline.
"""

from __future__ import annotations

import tensorflow as tf

from tfmodels.models.detr.postprocess import post_process

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def target_size(h, w, size, max_size):
    """In-graph ``get_size_with_aspect_ratio`` of the original (int32 h, w)."""
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    mn, mx = tf.minimum(hf, wf), tf.maximum(hf, wf)
    size_f = tf.constant(float(size))
    if max_size is not None:
        size_f = tf.where(mx / mn * size_f > max_size,
                          tf.round(max_size * mn / mx), size_f)
    size_i = tf.cast(size_f, tf.int32)
    # Python's int() truncates: (size · long / short) floored for positive values.
    long_side = tf.cast(tf.floor(size_f * mx / mn), tf.int32)
    same = tf.cast(tf.minimum(h, w), tf.int32) == size_i
    oh = tf.where(same, h, tf.where(w < h, long_side, size_i))
    ow = tf.where(same, w, tf.where(w < h, size_i, long_side))
    return oh, ow


class DetrServing(tf.Module):
    def __init__(self, model, size=800, max_size=1333):
        super().__init__()
        self.model = model
        self.size = int(size)
        self.max_size = None if max_size is None else int(max_size)

    @tf.function(input_signature=[tf.TensorSpec([], tf.string, name="image_bytes")])
    def serving_default(self, image_bytes):
        image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
        shape = tf.shape(image)
        h, w = shape[0], shape[1]
        oh, ow = target_size(h, w, self.size, self.max_size)
        x = tf.image.resize(tf.cast(image, tf.float32) / 255.0, tf.stack([oh, ow]),
                            method="bilinear", antialias=True)
        x = (x - tf.constant(MEAN)) / tf.constant(STD)
        out = self.model({"pixel_values": x[None]}, training=False)
        pp = post_process(out["pred_logits"], out["pred_boxes"], tf.stack([h, w])[None])
        return {"boxes": pp["boxes"][0], "scores": pp["scores"][0], "labels": pp["labels"][0]}
