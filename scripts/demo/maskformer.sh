#!/usr/bin/env bash
# Demo part "maskformer": generated scenes (things over two stuff regions, COCO panoptic
# layout), a small MaskFormer trained with train_net.py-style options on the shared trainer
# (Hungarian matching, CE + focal + dice, deep supervision), mIoU and PQ on held-out scenes
# with eval_maskformer.py, a picture of the predicted segmentation, and the SavedModel export
# served on raw PNG bytes by a process that cannot import tfmodels.
set -euo pipefail
: "${PY:=python}" "${DEMO_OUT:=demo_out/maskformer}"
: "${MASKFORMER_STEPS:=150}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mkdir -p "$DEMO_OUT"
export TF_CPP_MIN_LOG_LEVEL=2
cd "$root"
echo "--- synthetic panoptic scenes (200 train, 20 held-out, 64x64; sky/ground + 1-2 shapes)"
"$PY" - "$DEMO_OUT/data" <<'PYEOF'
import sys
from pipelines.synthetic_segmentation import write_dataset
write_dataset(sys.argv[1] + "/train", 200, seed=1)
write_dataset(sys.argv[1] + "/val", 20, seed=2)
print("written to", sys.argv[1])
PYEOF
echo "--- train MaskFormer (ResNet 1-1-1-1 width 16, d 64, 2 decoder layers, 8 queries; $MASKFORMER_STEPS steps)"
"$PY" scripts/train_maskformer.py --log_steps=50 \
  MODEL.SEM_SEG_HEAD.NUM_CLASSES 5 MODEL.RESNETS.LAYERS 1,1,1,1 MODEL.RESNETS.WIDTH 16 \
  MODEL.RESNETS.NORM BN MODEL.SEM_SEG_HEAD.CONVS_DIM 64 MODEL.SEM_SEG_HEAD.MASK_DIM 64 \
  MODEL.MASK_FORMER.HIDDEN_DIM 64 MODEL.MASK_FORMER.NUM_OBJECT_QUERIES 8 \
  MODEL.MASK_FORMER.NHEADS 4 MODEL.MASK_FORMER.DIM_FEEDFORWARD 128 \
  MODEL.MASK_FORMER.DEC_LAYERS 2 MODEL.MASK_FORMER.DROPOUT 0 SOLVER.IMS_PER_BATCH 8 \
  SOLVER.BASE_LR 3e-4 SOLVER.BACKBONE_MULTIPLIER 1.0 SOLVER.MAX_ITER "$MASKFORMER_STEPS" \
  SOLVER.CHECKPOINT_PERIOD 100 INPUT.CROP.SIZE 64 INPUT.MIN_SCALE 0.8 INPUT.MAX_SCALE 1.25 \
  DATASETS.FORMAT panoptic DATASETS.TRAIN_ROOT "$DEMO_OUT/data/train" \
  DATASETS.TEST_ROOT "$DEMO_OUT/data/val" OUTPUT_DIR "$DEMO_OUT/run" | tee "$DEMO_OUT/train_log.txt"
echo "--- eval_maskformer.py on the held-out scenes"
"$PY" scripts/eval_maskformer.py --checkpoint="$DEMO_OUT/run" --data_root="$DEMO_OUT/data/val" \
  --dataset_format=panoptic --output_dir="$DEMO_OUT/eval"
echo "--- predicted segmentation of held-out scenes -> $DEMO_OUT/segmentation.png"
"$PY" - "$DEMO_OUT" <<'PYEOF'
import sys
import numpy as np
from PIL import Image
from pipelines import segmentation as P
from tfmodels.models.maskformer.inference import semantic_inference
from tfmodels.models.maskformer.weights import restore_maskformer
out = sys.argv[1]
model = restore_maskformer(out + "/run")
val = P.CocoPanoptic(out + "/data/val/panoptic.json",
                     out + "/data/val/images", out + "/data/val/panoptic", 5)
palette = np.array([(110, 160, 220), (120, 100, 60), (220, 40, 40), (40, 200, 60),
                    (240, 220, 40)], np.uint8)
rows = []
for i in range(4):
    image, pan, segments = val[i]
    gt = P.semantic_from_panoptic(pan, segments)
    o = model({"pixel_values": P.normalize(image)[None]}, training=False)
    pred = semantic_inference(o["class_queries_logits"], o["masks_queries_logits"],
                              image.shape[:2]).numpy()[0]
    rows.append(np.concatenate([image, palette[gt], palette[pred]], 1))
    print(f"scene {i}: pixel accuracy {100 * (pred == gt).mean():.1f}%")
Image.fromarray(np.concatenate(rows, 0)).resize((3 * 64 * 3, 4 * 64 * 3), Image.NEAREST).save(
    out + "/segmentation.png")
print("columns: image | ground truth | prediction; saved", out + "/segmentation.png")
PYEOF
echo "--- SavedModel export, served from a process that cannot import tfmodels"
"$PY" scripts/export_maskformer.py --checkpoint="$DEMO_OUT/run" --export_dir="$DEMO_OUT/saved_model" \
  --size=0 --thing_classes=2,3,4
(cd "$DEMO_OUT" && "$PY" - <<'PYEOF'
import sys
sys.modules["tfmodels"] = None
import numpy as np
import tensorflow as tf
m = tf.saved_model.load("saved_model")
out = m.signatures["serving_default"](image_bytes=tf.constant(open("data/val/images/000000.png", "rb").read()))
names = ["sky", "ground", "rectangle", "ellipse", "triangle"]
sem = out["semantic"].numpy()
print("served semantic map", sem.shape, "classes:", [names[c] for c in np.unique(sem)])
print("served panoptic segments:", [(i + 1, names[c], bool(t)) for i, (c, t) in enumerate(
    zip(out["segment_classes"].numpy(), out["segment_is_thing"].numpy()))])
PYEOF
)
