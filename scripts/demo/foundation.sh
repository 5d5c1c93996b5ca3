#!/usr/bin/env bash
# Demo part "foundation": the fused LayerNorm op's self-check (every lowering
# against float64 numpy) and a forward pass of a tiny BERT-shaped encoder.
set -euo pipefail
: "${PY:=python}" "${DEMO_OUT:=demo_out/foundation}"
mkdir -p "$DEMO_OUT"
export TF_CPP_MIN_LOG_LEVEL=2
echo "--- LayerNorm custom op self-check"
"$PY" -m tfmodels.ops.selfcheck | tee "$DEMO_OUT/layernorm_selfcheck.txt"
echo "--- tiny BERT forward pass (hidden 64, 2 layers, 4 heads)"
"$PY" - "$DEMO_OUT" <<'PYEOF'
import os
import sys
import time

import numpy as np
import tensorflow as tf

from tfmodels.ops.layer_norm_op import active_implementation
from tfmodels.models.bert import BertConfig, BertModel

config = BertConfig(vocab_size=100, hidden_size=64, num_hidden_layers=2,
                    num_attention_heads=4, intermediate_size=256)
model = BertModel(config)
rng = np.random.default_rng(0)
ids = rng.integers(1, 100, (8, 32)).astype("int32")
mask = np.ones((8, 32), "int32")
mask[:, 24:] = 0
inputs = {"input_ids": ids, "input_mask": mask, "token_type_ids": np.zeros_like(ids)}


# Defined in a here-document, so AutoGraph cannot read its source; it has no Python control
# flow to convert anyway.
@tf.autograph.experimental.do_not_convert
def sequence_output(x):
    return model(x)["sequence_output"]


eager = sequence_output(inputs).numpy()
graph = tf.function(sequence_output)(inputs).numpy()
t0 = time.perf_counter()
jit = tf.function(sequence_output, jit_compile=True)(inputs).numpy()
dt = time.perf_counter() - t0
err = max(float(np.max(np.abs(graph - eager))), float(np.max(np.abs(jit - eager))))
path = os.path.join(sys.argv[1], "tiny_bert_sequence_output.npy")
np.save(path, jit)
print(f"LayerNorm implementation: {active_implementation()}")
print(f"sequence_output {jit.shape}; eager vs tf.function vs jit_compile max abs diff "
      f"{err:.2e} (first jit call {dt:.2f} s); saved to {path}")
assert err < 1e-4, err
PYEOF
