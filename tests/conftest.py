"""Suite-wide set-up.

TensorFlow and tfmodels are imported first, for two reasons: the fused
LayerNorm library must be loaded before the first ``jit_compile`` function
runs (its XLA registration is otherwise ignored), and torch (a test-only
parity reference) must be imported after TensorFlow in one process.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402,F401

import tfmodels  # noqa: E402,F401
