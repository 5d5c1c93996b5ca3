"""SavedModel export of a ViT classifier: encoded image bytes in, class probabilities out.

The serving signature ``serving_default(images: tf.string [N]) -> {"probabilities":
[N, classes] float32, "classes": [N] int64}`` decodes each PNG/JPEG/BMP/GIF (greyscale
repeated to RGB, 3 channels kept), resizes it bilinearly to the model size, scales it to
[-1, 1] as the original (``(x - 127.5) / 127.5``) and applies softmax to the logits.

Written by :func:`tfmodels.export.save`: the signature is traced there, with LayerNorm in
its standard-op form, so the SavedModel loads and serves with TensorFlow alone.
"""

from __future__ import annotations

import tensorflow as tf

from tfmodels import export


def _decode(data, size):
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    image = tf.image.resize(image, size)  # float32; the same size is an exact copy
    return (image - 127.5) / 127.5


def export_saved_model(model, export_dir):
    """Writes ``model`` (a :class:`VisionTransformer` with a head) as a SavedModel at
    ``export_dir`` (any gfile path; the directory appears complete or not at all).
    Returns ``export_dir``."""
    if model.head is None:
        raise ValueError("export_saved_model needs a model with a classification head "
                         "(config.num_classes)")
    size = tuple(model.config.image_size)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="images")])
    def serve(images):
        pixels = tf.map_fn(lambda b: _decode(b, size), images,
                           fn_output_signature=tf.TensorSpec([*size, 3], tf.float32))
        logits = tf.cast(model(pixels, training=False), tf.float32)
        return {"probabilities": tf.nn.softmax(logits, axis=-1),
                "classes": tf.argmax(logits, axis=-1)}

    # Only the variables and the serving function are saved (not the Keras objects,
    # whose own traced functions would hold the fused op).
    module = tf.Module(name="vit_serving")
    module.model_variables = list(model.variables)
    module.serve = serve
    export.save(module, export_dir, signatures={"serving_default": serve})
    return export_dir
