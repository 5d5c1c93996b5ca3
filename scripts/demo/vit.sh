#!/usr/bin/env bash
# Demo part "vit": scikit-learn's digits (real 8x8 scans, upsampled to 16x16 PNG files in
# class folders), a small ViT trained with train_vit.py (the original recipe: SGD momentum
# 0.9, warmup + cosine, global-norm clip 1.0) to >= 95% test accuracy, then predict_vit.py
# on test images from the saved original-format model.npz, and the exported SavedModel
# (encoded PNG bytes -> class probabilities) served by plain TensorFlow.
set -euo pipefail
: "${PY:=python}" "${DEMO_OUT:=demo_out/vit}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mkdir -p "$DEMO_OUT"
export TF_CPP_MIN_LOG_LEVEL=2
ARCH=patch_size=4,hidden_size=64,mlp_dim=128,num_heads=4,num_layers=2,dropout_rate=0.1
echo "--- sklearn digits -> $DEMO_OUT/digits/{train,test}/<digit>/*.png"
"$PY" "$root/scripts/prepare_digits.py" --output_dir="$DEMO_OUT/digits" --scale=2 2>&1 \
  | grep -v '^[IWE][0-9]\{4\} \|^WARNING: All log' || true
echo "--- train a ViT (16x16 images, patch 4, hidden 64, 2 layers) for 1000 steps"
rm -rf "$DEMO_OUT/workdir" "$DEMO_OUT/savedmodel"
"$PY" "$root/scripts/train_vit.py" --workdir="$DEMO_OUT/workdir" --model_name=testing \
  --model_overrides="$ARCH" --dataset="$DEMO_OUT/digits" --image_size=16 \
  --train_augment=none --total_steps=1000 --warmup_steps=50 --base_lr=0.1 --batch=64 \
  --batch_eval=450 --accum_steps=1 --eval_every=250 --progress_every=250 \
  --checkpoint_every=500 --export_dir="$DEMO_OUT/savedmodel" 2>&1 \
  | grep -v '^[IWE][0-9]\{4\} \|^WARNING: All log' | tee "$DEMO_OUT/train_log.txt"
"$PY" - "$DEMO_OUT/workdir/eval_results.txt" <<'PYEOF'
import sys
acc = float(dict(l.split(" = ") for l in open(sys.argv[1]).read().splitlines())["accuracy"])
print(f"--- test accuracy {acc:.4f} (target >= 0.95): {'OK' if acc >= 0.95 else 'MISSED'}")
sys.exit(0 if acc >= 0.95 else 1)
PYEOF
echo "--- predict_vit.py on three test digits (from model.npz, original names)"
imgs=("$DEMO_OUT"/digits/test/3/*.png)
"$PY" "$root/scripts/predict_vit.py" --model_name=testing --checkpoint="$DEMO_OUT/workdir/model.npz" \
  --model_config="$DEMO_OUT/workdir/config.json" --image_size=16 --top_k=3 --output_logits="$DEMO_OUT/logits.npy" \
  "${imgs[0]}" "$DEMO_OUT"/digits/test/7/$(ls "$DEMO_OUT/digits/test/7" | head -1) \
  "$DEMO_OUT"/digits/test/9/$(ls "$DEMO_OUT/digits/test/9" | head -1) 2>&1 \
  | grep -v '^[IWE][0-9]\{4\} \|^WARNING: All log'
echo "--- the SavedModel served by TensorFlow alone (no tfmodels import)"
(cd "$DEMO_OUT" && "$PY" - savedmodel digits/test <<'PYEOF'
import os, sys
import tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
files, labels = [], []
for d in sorted(os.listdir(sys.argv[2])):
    for f in sorted(os.listdir(os.path.join(sys.argv[2], d))):
        files.append(os.path.join(sys.argv[2], d, f)); labels.append(int(d))
out = serve(images=tf.constant([tf.io.read_file(f).numpy() for f in files]))
acc = float(tf.reduce_mean(tf.cast(out["classes"] == tf.constant(labels, tf.int64), tf.float32)))
print(f"SavedModel on {len(files)} test PNGs: accuracy {acc:.4f}; "
      f"tfmodels imported: {any(m.startswith('tfmodels') for m in sys.modules)}")
PYEOF
) 2>&1 | grep -v '^[IWE][0-9]\{4\} \|^WARNING: All log'
echo "--- outputs: $DEMO_OUT/workdir (checkpoints, TensorBoard, eval_results.txt, model.npz), $DEMO_OUT/savedmodel"
