#!/usr/bin/env bash
# Demo part "bert": the BERT core tour, pre-training (MLM + NSP), then fine-tuning,
# SavedModel export and a query from a fresh process.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
base="$DEMO_OUT"
DEMO_OUT="$base/core" bash "$here/bert_core.sh"
DEMO_OUT="$base/pretraining" bash "$here/bert_pretraining.sh"
DEMO_OUT="$base/finetune" bash "$here/bert_finetune.sh"
