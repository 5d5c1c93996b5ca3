"""Writes scikit-learn's digits (1,797 8x8 greyscale images, 10 classes) as an image
folder dataset ``{output_dir}/{train,test}/{digit}/{i}.png`` for ``train_vit.py``.

Pixels 0-16 are scaled to 0-255 and upsampled by ``--scale`` (bilinear); the split is
stratified and seeded (``--test_fraction``, ``--seed``). Real data, shipped with
scikit-learn, so the ViT demo runs offline.
"""

from __future__ import annotations

import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

flags.DEFINE_string("output_dir", None, "Where to write train/ and test/.")
flags.DEFINE_integer("scale", 2, "Upsampling factor of the 8x8 images.")
flags.DEFINE_float("test_fraction", 0.25, "Fraction of each class held out for test.")
flags.DEFINE_integer("seed", 0, "Split seed.")

FLAGS = flags.FLAGS


def run():
    import numpy as np
    import tensorflow as tf
    from sklearn.datasets import load_digits

    from pipelines.images import write_class_folders
    from tfmodels import io

    if not FLAGS.output_dir:
        raise ValueError("--output_dir is required")
    if FLAGS.scale < 1 or not 0 < FLAGS.test_fraction < 1:
        raise ValueError("--scale must be >= 1 and --test_fraction in (0, 1)")
    digits = load_digits()
    images = (digits.images * (255.0 / 16.0))[..., None].astype(np.float32)
    size = 8 * FLAGS.scale
    images = tf.image.resize(images, (size, size)).numpy()
    images = np.clip(np.round(images), 0, 255).astype(np.uint8)
    rng = np.random.default_rng(FLAGS.seed)
    test = np.zeros(len(images), bool)
    for label in range(10):
        idx = np.flatnonzero(digits.target == label)
        test[rng.permutation(idx)[:int(round(len(idx) * FLAGS.test_fraction))]] = True
    names = [str(d) for d in range(10)]
    for split, mask in (("train", ~test), ("test", test)):
        write_class_folders(images[mask], digits.target[mask], names,
                            io.join(FLAGS.output_dir, split))
    print(f"Wrote {int((~test).sum())} training and {int(test.sum())} test digits "
          f"({size}x{size} PNG) under {FLAGS.output_dir}", flush=True)


def main(argv):
    try:
        run()
    except (ValueError, FileNotFoundError) as e:
        print(f"prepare_digits.py: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    app.run(main)
