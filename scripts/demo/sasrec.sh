#!/usr/bin/env bash
# Demo part "sasrec": MovieLens-100k (read from the installed recbole wheel) as SASRec user
# sequences, SASRec trained with the original main.py command line (both protocols printed),
# a recommendation from the exported SavedModel loaded with TensorFlow alone, then GRU4Rec vs
# SASRec vs popularity on the same leave-one-out split (SASRec must beat popularity).
set -euo pipefail
: "${PY:=python}" "${DEMO_OUT:=demo_out/sasrec}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mkdir -p "$DEMO_OUT"
DEMO_OUT="$(cd "$DEMO_OUT" && pwd)"
export TF_CPP_MIN_LOG_LEVEL=3
echo "--- ml-100k -> data/ml-100k.txt ('user item' lines, the original format)"
"$PY" "$root/scripts/prepare_ml100k.py" --output_dir "$DEMO_OUT/data" | tail -n 4
echo "--- train SASRec (original flags; 20 epochs here, 201 by default)"
(cd "$DEMO_OUT" && "$PY" "$root/scripts/train_sasrec.py" --dataset=ml-100k --train_dir=demo \
  --num_epochs=20 --dropout_rate=0.2 --export_dir=sasrec_savedmodel 2>&1 \
  | grep -v "^step [0-9]*/[0-9]* loss" | tee train_log.txt)
echo "outputs: $DEMO_OUT/ml-100k_demo/{args.txt,log.txt,eval_results.txt,model.ckpt-*}"
echo "--- SavedModel, loaded without tfmodels: top-5 for user 1's history, seen items excluded"
(cd /tmp && "$PY" - "$DEMO_OUT" <<'PYEOF'
import sys

import tensorflow as tf

out = sys.argv[1]
hist = [int(line.split()[1]) for line in open(f"{out}/data/ml-100k.txt") if line.split()[0] == "1"]
serve = tf.saved_model.load(f"{out}/sasrec_savedmodel").signatures["serving_default"]
r = serve(history=tf.constant([hist], tf.int64), exclude_seen=tf.constant(True))
assert "tfmodels" not in sys.modules
print(f"user 1: {len(hist)} items, last 5: {hist[-5:]}")
print("top-5:", r["item_ids"].numpy()[0][:5].tolist(), "scores:",
      [round(float(s), 3) for s in r["scores"].numpy()[0][:5]])
PYEOF
)
echo "--- GRU4Rec vs SASRec vs popularity (same data, same split, both protocols)"
"$PY" "$root/scripts/compare_recommenders.py" --dataset="$DEMO_OUT/data/ml-100k.txt" \
  --min_margin=1.2 2>&1 \
  | grep -v "^step [0-9]*/[0-9]* loss\|^Epoch\|Running training" | tee "$DEMO_OUT/compare.txt"
exit "${PIPESTATUS[0]}"
