"""Export a DETR checkpoint as a SavedModel serving encoded images.

``python scripts/export_detr.py --checkpoint=detr-r50-e632da11.pth --export_dir=DIR``:
``serving_default(image_bytes)`` (a scalar string, JPEG/PNG) → ``boxes`` [Q, 4] (absolute
x0, y0, x1, y1 in the image), ``scores`` [Q], ``labels`` [Q] after the original
post-processing (threshold them on the client, e.g. scores > 0.7). Only standard
TensorFlow ops: LayerNorm is traced in its composite form, so a client needs neither this
package nor its op library. Written to a temporary directory, moved into place when complete.
"""

from __future__ import annotations

import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tfmodels import io  # noqa: E402

flags.DEFINE_string("checkpoint", None, "DETR checkpoint (.pth, .safetensors, .npz, or a "
                    "train_detr.py output directory).")
flags.DEFINE_string("export_dir", None, "Where to write the SavedModel.")
flags.DEFINE_integer("num_classes", 91, "Classes of the head (+1 no-object).")
flags.DEFINE_integer("size", 800, "Shorter side of the inference transform.")
flags.DEFINE_integer("max_size", 1333, "Longest side of the inference transform.")
flags.DEFINE_integer("nheads", 8, "Attention heads (state-dict checkpoints).")
flags.DEFINE_bool("dilation", False, "DC5 (state-dict checkpoints).")
FLAGS = flags.FLAGS


def main_impl():
    from tfmodels import export
    from tfmodels.models.detr.checkpoint import restore_detr
    from tfmodels.models.detr.serving import DetrServing

    for name in ("checkpoint", "export_dir"):
        if not getattr(FLAGS, name):
            raise ValueError(f"--{name} is required")
    if not io.exists(FLAGS.checkpoint):
        raise FileNotFoundError(f"--checkpoint: {FLAGS.checkpoint} not found")
    model = restore_detr(FLAGS.checkpoint, FLAGS.num_classes, nheads=FLAGS.nheads,
                         dilation=FLAGS.dilation)
    module = DetrServing(model, FLAGS.size, FLAGS.max_size)
    export.save(module, FLAGS.export_dir,
                signatures={"serving_default": module.serving_default})
    print(f"Exported DETR to {FLAGS.export_dir}", flush=True)


def main(argv):
    del argv
    try:
        main_impl()
    except (ValueError, FileNotFoundError) as e:
        print(f"export_detr.py: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    app.run(main)
