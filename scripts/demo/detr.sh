#!/usr/bin/env bash
# Demo part "detr": a generated COCO-format set of coloured shapes on textured backgrounds,
# a small DETR trained with the original main.py flags (shared trainer, Hungarian matching,
# set loss), COCO box AP on held-out images with pycocotools, predictions drawn on a
# held-out image, the SavedModel export served on raw PNG bytes, and the real quokka photo
# (imgaug wheel) through the original inference transform.
set -euo pipefail
: "${PY:=python}" "${DEMO_OUT:=demo_out/detr}"
: "${DETR_STEPS:=1000}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mkdir -p "$DEMO_OUT"
export TF_CPP_MIN_LOG_LEVEL=2
cd "$root"
echo "--- synthetic COCO scenes (400 train, 60 held-out val, 96x96, 1-2 shapes)"
"$PY" - "$DEMO_OUT/coco" <<'PYEOF'
import sys
from pipelines.synthetic_coco import write_coco_layout
write_coco_layout(sys.argv[1], 400, 60, seed=0, size=(96, 96), max_objects=2)
print("written to", sys.argv[1])
PYEOF
echo "--- train DETR (small: ResNet 1-1-1-1 width 16 DC5, d 64, 1+2 layers, 6 queries; $DETR_STEPS steps)"
"$PY" scripts/train_detr.py --coco_path="$DEMO_OUT/coco" --output_dir="$DEMO_OUT/run" \
  --num_classes=4 --hidden_dim=64 --nheads=4 --dim_feedforward=128 --enc_layers=1 \
  --dec_layers=2 --num_queries=6 --dropout=0 --backbone_layers=1,1,1,1 --backbone_width=16 \
  --dilation --frozen_stages=-1 --backbone_norm=batch --scales=96 --max_size=96 \
  --val_size=96 --pad_to=96,96 --crop_sizes=96 --crop_range=72,96 --batch_size=8 --lr=5e-4 \
  --lr_backbone=5e-4 --log_steps=100 --save_checkpoints_steps=300 \
  --max_steps="$DETR_STEPS" | grep -v "^  AR" | tee "$DEMO_OUT/train_log.txt"
echo "--- predictions on a held-out image (drawn to $DEMO_OUT/draw/)"
"$PY" scripts/predict_detr.py --checkpoint="$DEMO_OUT/run" --num_classes=4 \
  --annotation_file="$DEMO_OUT/coco/annotations/instances_val2017.json" --size=96 \
  --max_size=96 --threshold=0.5 --draw_dir="$DEMO_OUT/draw" \
  "$DEMO_OUT/coco/val2017/000000.png" "$DEMO_OUT/coco/val2017/000001.png"
echo "--- SavedModel export, served from a process that cannot import tfmodels"
"$PY" scripts/export_detr.py --checkpoint="$DEMO_OUT/run" --export_dir="$DEMO_OUT/saved_model" \
  --num_classes=4 --size=96 --max_size=96
(cd "$DEMO_OUT" && "$PY" - <<'PYEOF'
import sys
sys.modules["tfmodels"] = None
import tensorflow as tf
m = tf.saved_model.load("saved_model")
out = m.signatures["serving_default"](image_bytes=tf.constant(open("coco/val2017/000000.png", "rb").read()))
keep = out["scores"].numpy() > 0.5
print("served:", [(int(l), round(float(s), 3), [round(float(v), 1) for v in b])
                  for l, s, b in zip(out["labels"].numpy()[keep], out["scores"].numpy()[keep],
                                     out["boxes"].numpy()[keep])])
PYEOF
)
echo "--- the quokka photo (imgaug wheel) through the data pipeline and the set loss"
"$PY" - <<'PYEOF'
import importlib.util, json, os
import numpy as np
from PIL import Image
from pipelines import coco
from tfmodels.models.detr import DETR, DetrConfig
from tfmodels.models.detr.criterion import SetCriterion
src = importlib.util.find_spec("imgaug").submodule_search_locations[0]
ann = json.load(open(os.path.join(src, "quokka_annotations.json")))["bounding_boxes"][0]
image = Image.open(os.path.join(src, "quokka.jpg")).convert("RGB")
w, h = image.size
target = {"boxes": np.array([[ann["x1"], ann["y1"], ann["x2"], ann["y2"]]], np.float32),
          "labels": np.array([1]), "size": np.array([h, w])}
pixels, t = coco.make_transforms("val")(image, target, None)
print(f"quokka {w}x{h} -> {pixels.shape[1]}x{pixels.shape[0]} (shorter side 800), box cx,cy,w,h =",
      np.round(t["boxes"][0], 3))
model = DETR(DetrConfig(num_classes=2, hidden_dim=32, nheads=4, dim_feedforward=64, enc_layers=1,
                        dec_layers=1, num_queries=5, backbone_layers=(1, 1, 1, 1), backbone_width=8))
x = {"pixel_values": pixels[None], "pixel_mask": np.ones((1,) + pixels.shape[:2], np.float32)}
tg = {"labels": np.array([[1]]), "boxes": t["boxes"][None], "valid": np.ones((1, 1), np.float32)}
losses = SetCriterion(2)(model(x), tg)
print("set loss of an untrained model on it:", {k: round(float(v), 3) for k, v in losses.items()
                                                  if k[-1] not in "0123456789"})
PYEOF
echo "outputs: $DEMO_OUT/run (checkpoints, eval_results.txt), $DEMO_OUT/draw, $DEMO_OUT/saved_model"
