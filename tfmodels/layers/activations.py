"""Activation functions whose exact form matters for parity.

The original BERT ``modeling.gelu`` is the tanh approximation
(Hendrycks & Gimpel 2016, eq. 3); HF ``gelu`` and ViT/timm use the exact
erf form. Both are kept, under names that say which is which.
"""

from __future__ import annotations

import tensorflow as tf


def gelu_tanh(x):
    """0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as google-research/bert ``gelu``."""
    # tf.nn.gelu computes this very formula (x³ as pow(x, 3)) with a hand-written
    # gradient: 2x faster than the op-by-op composite outside XLA, same within rounding.
    return tf.nn.gelu(tf.convert_to_tensor(x), approximate=True)


def gelu_exact(x):
    """0.5·x·(1 + erf(x/√2)): PyTorch ``nn.GELU()``, HF ``gelu``, ViT."""
    return tf.nn.gelu(tf.convert_to_tensor(x), approximate=False)


_ACTIVATIONS = {
    "gelu_tanh": gelu_tanh,
    "gelu_new": gelu_tanh,
    "gelu_exact": gelu_exact,
    "gelu": gelu_exact,
    "relu": tf.nn.relu,
    "tanh": tf.tanh,
    "swish": tf.nn.silu,
    "silu": tf.nn.silu,
    "linear": tf.identity,
}


def get_activation(name):
    """Look up an activation by name.

    ``"gelu"`` here is the exact erf form (as in PyTorch and HF configs). The
    original ``bert_config.json`` calls its tanh approximation ``"gelu"``;
    :class:`tfmodels.models.bert.BertConfig` translates that name when it reads
    such a file, so each format keeps its own meaning.
    """
    if callable(name):
        return name
    key = str(name).lower()
    if key not in _ACTIVATIONS:
        raise ValueError(
            f"Unknown activation {name!r}; expected one of {sorted(_ACTIVATIONS)}"
        )
    return _ACTIVATIONS[key]
