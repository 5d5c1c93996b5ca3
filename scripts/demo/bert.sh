#!/usr/bin/env bash
# Demo part "bert": the BERT core tour, then pre-training (MLM + NSP).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
base="$DEMO_OUT"
DEMO_OUT="$base/core" bash "$here/bert_core.sh"
DEMO_OUT="$base/pretraining" bash "$here/bert_pretraining.sh"
