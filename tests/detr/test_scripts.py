"""End to end: synthetic COCO scenes → train_detr.py (resumed once) → AP50 on held-out
images → eval_detr.py, predict_detr.py (drawing), export_detr.py served without tfmodels."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from pipelines import synthetic_coco

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# A small DETR trained from scratch (the original's recipe and loss at 96 px; the backbone
# with trainable batch norm, as no ImageNet weights exist here); 6 queries for 1-2 shapes.
SIZE = 96
MODEL_FLAGS = ["--num_classes=4", "--hidden_dim=64", "--nheads=4", "--dim_feedforward=128",
               "--enc_layers=1", "--dec_layers=2", "--num_queries=6", "--dropout=0",
               "--backbone_layers=1,1,1,1", "--backbone_width=16", "--dilation",
               "--frozen_stages=-1", "--backbone_norm=batch"]
TRAIN_FLAGS = [f"--scales={SIZE}", f"--max_size={SIZE}", f"--val_size={SIZE}",
               f"--pad_to={SIZE},{SIZE}", "--crop_sizes=96", "--crop_range=72,96",
               "--batch_size=8", "--lr=5e-4", "--lr_backbone=5e-4", "--log_steps=100",
               "--save_checkpoints_steps=400"]


def run(script, *args, check=True, env=None):
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", script), *args],
                          capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **(env or {})))
    if check and proc.returncode != 0:
        raise AssertionError(f"{script} failed ({proc.returncode}):\n{proc.stdout}\n"
                             f"{proc.stderr[-3000:]}")
    return proc


def _results(path):
    out = {}
    with open(path) as f:
        for line in f:
            key, value = line.split(" = ")
            out[key] = float(value)
    return out


def test_bad_flags_give_one_line(tmp_path):
    proc = run("train_detr.py", f"--output_dir={tmp_path}", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == "train_detr.py: error: --coco_path is required"


@pytest.mark.slow
def test_learns_synthetic_scenes_then_eval_predict_export(tmp_path):
    data = str(tmp_path / "coco")
    synthetic_coco.write_coco_layout(data, 400, 60, seed=0, size=(SIZE, SIZE), max_objects=2)
    out = str(tmp_path / "run")
    common = [f"--coco_path={data}", f"--output_dir={out}", *MODEL_FLAGS, *TRAIN_FLAGS]
    first = run("train_detr.py", *common, "--max_steps=400")
    assert "step 400/400" in first.stdout
    second = run("train_detr.py", *common, "--max_steps=1800")
    assert "Resuming from" in second.stdout and "at global step 400" in second.stdout
    stats = _results(os.path.join(out, "eval_results.txt"))
    assert stats["AP50"] >= 0.5, stats

    ev = str(tmp_path / "eval")
    run("eval_detr.py", f"--coco_path={data}", f"--resume={out}", f"--output_dir={ev}",
        "--num_classes=4", f"--val_size={SIZE}", f"--max_size={SIZE}", "--batch_size=8")
    assert _results(os.path.join(ev, "eval_results.txt")) == pytest.approx(stats, abs=1e-6)

    image = os.path.join(data, "val2017", "000000.png")
    draw = str(tmp_path / "draw")
    pred = run("predict_detr.py", f"--checkpoint={out}", image, "--threshold=0.5",
               f"--draw_dir={draw}", f"--output_json={tmp_path}/pred.json", "--num_classes=4",
               f"--annotation_file={data}/annotations/instances_val2017.json",
               f"--size={SIZE}", f"--max_size={SIZE}")
    assert os.path.exists(os.path.join(draw, "000000_detr.png"))
    dets = json.load(open(tmp_path / "pred.json"))[image]
    assert dets and dets[0]["label_name"] in ("rectangle", "ellipse", "triangle")
    assert dets[0]["label_name"] in pred.stdout

    export = str(tmp_path / "saved")
    run("export_detr.py", f"--checkpoint={out}", f"--export_dir={export}", "--num_classes=4",
        f"--size={SIZE}", f"--max_size={SIZE}")
    serve = (
        "import sys, json\n"
        "sys.modules['tfmodels'] = None  # the package must not be needed\n"
        "import tensorflow as tf\n"
        f"m = tf.saved_model.load({export!r})\n"
        f"b = open({image!r}, 'rb').read()\n"
        "o = m.signatures['serving_default'](image_bytes=tf.constant(b))\n"
        "print(json.dumps({k: v.numpy().tolist() for k, v in o.items()}))\n")
    proc = subprocess.run([sys.executable, "-c", serve], capture_output=True, text=True,
                          cwd=str(tmp_path), env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    served = json.loads(proc.stdout.strip().splitlines()[-1])
    scores = np.array(served["scores"])
    best = int(scores.argmax())
    # Same top detection as predict_detr.py (PIL vs TF resize: a small tolerance).
    assert served["labels"][best] == dets[0]["label"]
    np.testing.assert_allclose(served["boxes"][best], dets[0]["box"], atol=3.0)
    assert abs(scores[best] - dets[0]["score"]) < 0.05
