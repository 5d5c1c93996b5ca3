"""ViT SavedModel export: served from a fresh process that never imports tfmodels; the
graph holds standard TensorFlow ops only; probabilities equal the Keras model's."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import skimage.data
import tensorflow as tf

from tfmodels import export
from tfmodels.models.vit import VisionTransformer, get_config
from tfmodels.models.vit.serving import export_saved_model

CLIENT = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    export_dir, *files = sys.argv[1:]
    loaded = tf.saved_model.load(export_dir)
    serve = loaded.signatures["serving_default"]
    images = tf.constant([tf.io.read_file(f).numpy() for f in files])
    out = serve(images=images)
    graph = serve.graph.as_graph_def()
    ops = {n.op for n in graph.node}
    for f in graph.library.function:
        ops.update(n.op for n in f.node_def)
    print(json.dumps({"probabilities": out["probabilities"].numpy().tolist(),
                      "classes": out["classes"].numpy().tolist(), "ops": sorted(ops),
                      "tfmodels_imported": any(m.startswith("tfmodels") for m in sys.modules)}))
""")


def _write_images(tmp_path):
    chelsea = skimage.data.chelsea()[:200, :256]                   # 200x256 RGB
    gray = skimage.data.camera()[::8, ::8, None]                    # 64x64 greyscale
    png = str(tmp_path / "chelsea.png")
    jpg = str(tmp_path / "camera.jpg")
    tf.io.write_file(png, tf.io.encode_png(chelsea))
    tf.io.write_file(jpg, tf.io.encode_jpeg(gray))
    return [png, jpg]


def test_saved_model_serves_without_tfmodels(tmp_path):
    config = get_config("testing", patch_size=8, hidden_size=16, mlp_dim=32, num_heads=2,
                        num_layers=2, num_classes=4, image_size=32, dropout_rate=0.0)
    model = VisionTransformer(config)
    model.build()
    rng = np.random.default_rng(0)
    for w in model.weights:
        w.assign(rng.normal(0, 0.2, w.shape).astype("float32"))
    export_dir = str(tmp_path / "export")
    export_saved_model(model, export_dir)
    files = _write_images(tmp_path)
    proc = subprocess.run([sys.executable, "-c", CLIENT, export_dir, *files],
                          capture_output=True, text=True, cwd=str(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not out["tfmodels_imported"]
    assert not [op for op in out["ops"] if op.startswith("Tfm")]
    assert {"DecodeImage", "ResizeBilinear", "Softmax"} <= set(out["ops"])
    assert not export.custom_op_types(export_dir)
    # Reference: the same decoding by hand, the Keras model, numpy softmax.
    pixels = []
    for f in files:
        image = tf.io.decode_image(tf.io.read_file(f), expand_animations=False)
        image = tf.image.grayscale_to_rgb(image) if image.shape[-1] == 1 else image
        pixels.append((tf.image.resize(image, (32, 32)).numpy() - 127.5) / 127.5)
    logits = model(np.stack(pixels)).numpy().astype(np.float64)
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    np.testing.assert_allclose(np.array(out["probabilities"]), probs, atol=1e-5)
    assert out["classes"] == probs.argmax(1).tolist()
