"""Classify image files with a ViT checkpoint (google-research/vision_transformer).

    python scripts/predict_vit.py --model_name=ViT-B_16 --checkpoint=ViT-B_16.npz \
        [--num_classes=1000] [--image_size=224] [--labels=labels.txt] \
        [--output_logits=logits.npy] IMAGE...

Mirrors the inference cells of the original ``vit_jax.ipynb``: the model named as the
original configs is built, the ``.npz`` (or an HF ``model.safetensors``) is loaded, each
image is decoded, resized to the model size (bilinear; left alone when it already has that
size) and scaled to [-1, 1] as ``(x - 127.5) / 127.5``; the top-5 classes and their
probabilities are printed per image. ``--output_logits`` saves the ``[N, classes]`` logits
in input order (``.npy``, written atomically). ``--labels``: one class name per line
(e.g. ``ilsvrc2012_wordnet_lemmas.txt``). ``--model_config`` (an addition) reads the
architecture from a ViTConfig JSON such as the ``config.json`` ``train_vit.py`` writes.

Logic: :mod:`pipelines.images`, :mod:`tfmodels.models.vit`.
"""

from __future__ import annotations

import io as _pyio
import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

flags.DEFINE_string("model_name", "ViT-B_16", "Model configuration name, e.g. ViT-B_16.")
flags.DEFINE_string("checkpoint", None, "Original .npz checkpoint or HF model.safetensors.")
flags.DEFINE_integer("num_classes", None,
                     "Classes of the checkpoint's head (default: read from the checkpoint).")
flags.DEFINE_string("image_size", "224", "Model input size: N or HEIGHTxWIDTH.")
flags.DEFINE_string("model_config", None,
                    "ViTConfig JSON (train_vit.py writes workdir/config.json): architecture "
                    "fields override --model_name's.")
flags.DEFINE_string("labels", None, "Text file with one class name per line.")
flags.DEFINE_string("output_logits", None, "Write the logits of all images here (.npy).")
flags.DEFINE_integer("batch_size", 8, "Images per forward pass.")
flags.DEFINE_integer("top_k", 5, "Classes printed per image.")

FLAGS = flags.FLAGS


def _image_size(text):
    parts = text.lower().split("x")
    try:
        size = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"--image_size must be N or HEIGHTxWIDTH; got {text!r}") from None
    if len(size) not in (1, 2) or min(size) <= 0:
        raise ValueError(f"--image_size must be N or HEIGHTxWIDTH; got {text!r}")
    return (size[0], size[0]) if len(size) == 1 else tuple(size)


def run(images):
    import numpy as np
    import tensorflow as tf

    from pipelines.images import decode_image_file, preprocess_for_eval
    from tfmodels import io
    from tfmodels.models.vit import ViTConfig, load_vit

    if not FLAGS.checkpoint:
        raise ValueError("--checkpoint is required")
    if not images:
        raise ValueError("give at least one IMAGE file")
    size = _image_size(FLAGS.image_size)
    overrides = {}
    if FLAGS.model_config:
        try:
            config = ViTConfig.from_json_file(FLAGS.model_config)
        except (ValueError, TypeError) as e:
            raise ValueError(f"--model_config: {e}") from None
        overrides = {k: v for k, v in config.to_dict().items()
                     if k not in ("model_name", "num_classes", "image_size")}
    try:
        model = load_vit(FLAGS.checkpoint, FLAGS.model_name, num_classes=FLAGS.num_classes,
                         image_size=size, **overrides)
    except ValueError as e:
        raise ValueError(f"--checkpoint: {e}") from None
    except FileNotFoundError as e:
        raise FileNotFoundError(f"--checkpoint: {e}") from None
    if model.head is None or not {"head/kernel", "classifier.weight"} & set(
            model.load_report.loaded):
        raise ValueError(f"--checkpoint {FLAGS.checkpoint} has no classification head with "
                         f"{FLAGS.num_classes or 'any number of'} classes (check --num_classes)")
    print(f"Loaded {FLAGS.checkpoint} into {FLAGS.model_name} at {size[0]}x{size[1]} "
          f"({model.load_report.summary()})", flush=True)
    classes = model.config.num_classes
    labels = [str(i) for i in range(classes)]
    if FLAGS.labels:
        labels = [line.strip() for line in io.read_text(FLAGS.labels).splitlines()]
        labels = [line for line in labels if line]
        if len(labels) != classes:
            raise ValueError(f"--labels {FLAGS.labels} has {len(labels)} names for a model "
                             f"with {classes} classes")
    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    all_logits = []
    for start in range(0, len(images), FLAGS.batch_size):
        names = images[start:start + FLAGS.batch_size]
        batch = tf.stack([preprocess_for_eval(decode_image_file(n), size) for n in names])
        logits = forward(batch).numpy()
        probs = tf.nn.softmax(logits).numpy()
        for name, p in zip(names, probs):
            print(name)
            for k in np.argsort(-p, kind="stable")[:FLAGS.top_k]:
                print(f"  {p[k]:.5f} : {labels[k]}")
        all_logits.append(logits)
    if FLAGS.output_logits:
        buffer = _pyio.BytesIO()
        np.save(buffer, np.concatenate(all_logits).astype(np.float32))
        with io.atomic_write(FLAGS.output_logits, "wb") as f:
            f.write(buffer.getvalue())
        print(f"Wrote logits of {len(images)} images to {FLAGS.output_logits}", flush=True)


def main(argv):
    try:
        run(argv[1:])
    except (ValueError, FileNotFoundError) as e:
        print(f"predict_vit.py: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    app.run(main)
