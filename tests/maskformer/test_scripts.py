"""train_maskformer.py → eval_maskformer.py → export_maskformer.py → a SavedModel served by
a process that cannot import tfmodels (semantic map and panoptic segments of a PNG)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from pipelines import synthetic_segmentation as S

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OPTS = ["MODEL.SEM_SEG_HEAD.NUM_CLASSES", "5", "MODEL.RESNETS.LAYERS", "1,1,1,1",
        "MODEL.RESNETS.WIDTH", "16", "MODEL.RESNETS.NORM", "BN",
        "MODEL.SEM_SEG_HEAD.CONVS_DIM", "32", "MODEL.SEM_SEG_HEAD.MASK_DIM", "32",
        "MODEL.MASK_FORMER.HIDDEN_DIM", "32", "MODEL.MASK_FORMER.NUM_OBJECT_QUERIES", "6",
        "MODEL.MASK_FORMER.NHEADS", "2", "MODEL.MASK_FORMER.DIM_FEEDFORWARD", "64",
        "MODEL.MASK_FORMER.DEC_LAYERS", "2", "SOLVER.IMS_PER_BATCH", "4",
        "SOLVER.MAX_ITER", "2", "INPUT.CROP.SIZE", "48", "DATASETS.FORMAT", "panoptic"]


def run(script, *args, check=True):
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", script), *args],
                          capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    if check and proc.returncode != 0:
        raise AssertionError(f"{script} failed ({proc.returncode}):\n{proc.stdout}\n"
                             f"{proc.stderr[-3000:]}")
    return proc


def _results(path):
    with open(path) as f:
        return {k.strip(): float(v) for k, v in (line.split("=") for line in f if "=" in line)}


@pytest.mark.slow
def test_train_eval_export_serve(tmp_path):
    data = str(tmp_path / "data")
    S.write_dataset(f"{data}/train", 8, seed=1, size=(48, 40))
    S.write_dataset(f"{data}/val", 2, seed=2, size=(48, 40))
    out = str(tmp_path / "out")
    run("train_maskformer.py", *OPTS, "DATASETS.TRAIN_ROOT", f"{data}/train",
        "DATASETS.TEST_ROOT", f"{data}/val", "OUTPUT_DIR", out)
    stats = _results(os.path.join(out, "eval_results.txt"))
    assert {"mIoU", "pACC", "PQ", "PQ_th", "PQ_st"} <= set(stats)
    ev = str(tmp_path / "ev")
    run("eval_maskformer.py", f"--checkpoint={out}", f"--data_root={data}/val",
        "--dataset_format=panoptic", f"--output_dir={ev}")
    assert _results(os.path.join(ev, "eval_results.txt")) == pytest.approx(stats, abs=1e-6)

    export = str(tmp_path / "saved")
    run("export_maskformer.py", f"--checkpoint={out}", f"--export_dir={export}", "--size=0",
        "--thing_classes=2,3,4")
    image = os.path.join(data, "val", "images", "000000.png")
    serve = (
        "import sys, json\n"
        "sys.modules['tfmodels'] = None  # the package must not be needed\n"
        "import tensorflow as tf\n"
        f"m = tf.saved_model.load({export!r})\n"
        f"o = m.signatures['serving_default'](image_bytes=tf.constant(open({image!r}, 'rb')"
        ".read()))\n"
        "print(json.dumps({k: v.numpy().tolist() for k, v in o.items()}))\n")
    proc = subprocess.run([sys.executable, "-c", serve], capture_output=True, text=True,
                          cwd=str(tmp_path), env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    served = json.loads(proc.stdout.strip().splitlines()[-1])

    from pipelines.segmentation import normalize
    from tfmodels.models.maskformer.inference import semantic_inference
    from tfmodels.models.maskformer.weights import restore_maskformer

    model = restore_maskformer(out)
    pixels = normalize(np.asarray(tf.io.decode_png(open(image, "rb").read(), 3)))[None]
    o = model({"pixel_values": pixels}, training=False)
    want = semantic_inference(o["class_queries_logits"], o["masks_queries_logits"],
                              (48, 40)).numpy()[0]
    got = np.array(served["semantic"])
    assert got.shape == (48, 40)
    assert (got == want).mean() > 0.99
    pan = np.array(served["panoptic"])
    assert pan.shape == (48, 40) and pan.max() <= len(served["segment_classes"])
    assert len(served["segment_is_thing"]) == len(served["segment_classes"])


def test_bad_flags():
    proc = run("train_maskformer.py", "SOLVER.NOPE", "1", check=False)
    assert proc.returncode == 2 and "unknown config key SOLVER.NOPE" in proc.stderr
    proc = run("eval_maskformer.py", "--checkpoint=/nonexistent", "--data_root=/x", check=False)
    assert proc.returncode == 2 and "--checkpoint not found" in proc.stderr
