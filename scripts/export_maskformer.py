"""Export a MaskFormer as a SavedModel serving encoded images.

``python scripts/export_maskformer.py --checkpoint=DIR_OR_PKL --export_dir=DIR``:
``serving_default(image_bytes)`` (a scalar string, JPEG/PNG) → ``semantic`` [H, W],
``panoptic`` [H, W] ids, ``segment_classes``, ``segment_is_thing`` at the input resolution.
Only standard TensorFlow ops (LayerNorm traced in its composite form): a client needs
neither this package nor its op library. Written beside the target, moved in when complete.
"""

from __future__ import annotations

import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tfmodels import io  # noqa: E402

flags.DEFINE_string("checkpoint", None, "train_maskformer.py directory, HF directory or .pkl.")
flags.DEFINE_string("export_dir", None, "Where to write the SavedModel.")
flags.DEFINE_integer("size", 512, "Shorter side of the test transform (0: keep the size).")
flags.DEFINE_integer("max_size", 2048, "Longest side of the test transform.")
flags.DEFINE_list("thing_classes", [], "Thing class ids for panoptic output (default: all).")
FLAGS = flags.FLAGS


def main_impl():
    from tfmodels import export
    from tfmodels.models.maskformer.serving import MaskFormerServing
    from tfmodels.models.maskformer.weights import restore_maskformer

    for name in ("checkpoint", "export_dir"):
        if not getattr(FLAGS, name):
            raise ValueError(f"--{name} is required")
    if not io.exists(FLAGS.checkpoint):
        raise FileNotFoundError(f"--checkpoint: {FLAGS.checkpoint} not found")
    model = restore_maskformer(FLAGS.checkpoint)
    n = model.config.num_classes
    try:
        things = {int(c) for c in FLAGS.thing_classes}
    except ValueError:
        raise ValueError(f"--thing_classes must be integers; got {FLAGS.thing_classes}") from None
    is_thing = [c in things if things else True for c in range(n)]
    module = MaskFormerServing(model, is_thing, FLAGS.size, FLAGS.max_size)
    export.save(module, FLAGS.export_dir,
                signatures={"serving_default": module.serving_default})
    print(f"Exported MaskFormer to {FLAGS.export_dir}", flush=True)


def main(argv):
    del argv
    try:
        main_impl()
    except (ValueError, FileNotFoundError) as e:
        print(f"export_maskformer.py: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    app.run(main)
