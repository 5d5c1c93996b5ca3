"""predict_vit.py and train_vit.py end to end (subprocesses), on real images."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import skimage.data
import tensorflow as tf

from pipelines.images import write_class_folders
from tfmodels.models.vit import VisionTransformer, get_config, load_vit, save_npz

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARCH = dict(patch_size=8, hidden_size=16, mlp_dim=32, num_heads=2, num_layers=1)


def _run(script, *args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, os.path.join(ROOT, "scripts", script), *args],
                          capture_output=True, text=True, env=env, timeout=600)


def test_predict_top5_and_logits_in_input_order(tmp_path):
    model = VisionTransformer(get_config("testing", **ARCH, num_classes=6, image_size=32,
                                         dropout_rate=0.0))
    model.build()
    rng = np.random.default_rng(0)
    for w in model.weights:
        w.assign(rng.normal(0, 0.3, w.shape).astype("float32"))
    ckpt = save_npz(model, str(tmp_path / "m.npz"))
    coffee = str(tmp_path / "coffee.jpg")          # 400x600: resized
    chelsea = str(tmp_path / "chelsea.png")        # already 32x32: not resized
    tf.io.write_file(coffee, tf.io.encode_jpeg(skimage.data.coffee()))
    small = tf.cast(tf.image.resize(skimage.data.chelsea(), (32, 32)), tf.uint8)
    tf.io.write_file(chelsea, tf.io.encode_png(small))
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(f"class_{i}" for i in range(6)) + "\n")
    out = str(tmp_path / "logits.npy")
    proc = _run("predict_vit.py", "--model_name=testing", f"--checkpoint={ckpt}",
                "--image_size=32", f"--labels={labels}", f"--output_logits={out}",
                coffee, chelsea,
                "--model_config=" + _config_json(tmp_path, model))
    assert proc.returncode == 0, proc.stderr[-2000:]
    # Reference: decode, bilinear resize (none for chelsea), [-1, 1], our model.
    ref = []
    for f in (coffee, chelsea):
        image = tf.io.decode_image(tf.io.read_file(f), expand_animations=False)
        image = tf.cast(image, tf.float32)
        if image.shape[:2] != (32, 32):
            image = tf.image.resize(image, (32, 32))
        ref.append((image.numpy() - 127.5) / 127.5)
    want = model(np.stack(ref)).numpy()
    np.testing.assert_allclose(np.load(out), want, atol=1e-4)
    lines = proc.stdout.splitlines()
    first = lines.index(coffee)
    top = [line.split(" : ")[1] for line in lines[first + 1:first + 6]]
    assert top == [f"class_{k}" for k in np.argsort(-want[0], kind="stable")[:5]]


def _config_json(tmp_path, model):
    path = str(tmp_path / "config.json")
    model.config.to_json_file(path)
    return path


def test_predict_bad_inputs_one_line_errors(tmp_path):
    model = VisionTransformer(get_config("testing", **ARCH, num_classes=3, image_size=32))
    ckpt = save_npz(model, str(tmp_path / "m.npz"))
    rgba = str(tmp_path / "rgba.png")
    tf.io.write_file(rgba, tf.io.encode_png(np.zeros((32, 32, 4), np.uint8)))
    proc = _run("predict_vit.py", "--model_name=testing", f"--checkpoint={ckpt}",
                "--image_size=32", "--model_config=" + _config_json(tmp_path, model), rgba)
    assert proc.returncode == 2
    assert "predict_vit.py: error:" in proc.stderr and "rgba.png has 4 channels" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = _run("predict_vit.py", "--model_name=testing", f"--checkpoint={ckpt}",
                "--image_size=32", "--num_classes=5",
                "--model_config=" + _config_json(tmp_path, model), rgba)
    assert proc.returncode == 2 and "no classification head with 5 classes" in proc.stderr


@pytest.mark.slow
def test_train_on_digits_reaches_95_percent(tmp_path):
    """The demo's recipe: sklearn digits upsampled to 16x16, ViT from scratch, >= 95%."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = tf.image.resize((digits.images * 255 / 16)[..., None], (16, 16)).numpy()
    images = np.clip(np.round(images), 0, 255).astype(np.uint8)
    rng = np.random.default_rng(0)
    test = np.zeros(len(images), bool)
    for label in range(10):
        idx = np.flatnonzero(digits.target == label)
        test[rng.permutation(idx)[:int(round(len(idx) * 0.25))]] = True
    names = [str(d) for d in range(10)]
    for split, mask in (("train", ~test), ("test", test)):
        write_class_folders(images[mask], digits.target[mask], names,
                            str(tmp_path / "digits" / split))
    workdir = str(tmp_path / "work")
    proc = _run("train_vit.py", f"--workdir={workdir}", "--model_name=testing",
                "--model_overrides=patch_size=4,hidden_size=64,mlp_dim=128,num_heads=4,"
                "num_layers=2,dropout_rate=0.1", f"--dataset={tmp_path / 'digits'}",
                "--image_size=16", "--train_augment=none", "--total_steps=1000",
                "--warmup_steps=50", "--base_lr=0.1", "--batch=64", "--batch_eval=450",
                "--accum_steps=1", "--eval_every=1000", "--progress_every=250",
                "--checkpoint_every=1000")
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = dict(line.split(" = ") for line in
                   open(os.path.join(workdir, "eval_results.txt")).read().splitlines())
    assert float(results["accuracy"]) >= 0.95, proc.stdout[-2000:]
    # The saved original-format model gives the same test accuracy when reloaded.
    model = load_vit(os.path.join(workdir, "model.npz"), "testing", image_size=16,
                     patch_size=4, hidden_size=64, mlp_dim=128, num_heads=4, num_layers=2)
    x = (images[test].astype(np.float32) - 127.5) / 127.5
    acc = np.mean(model(np.repeat(x, 3, axis=-1)).numpy().argmax(1) == digits.target[test])
    assert acc == pytest.approx(float(results["accuracy"]), abs=1e-6)
