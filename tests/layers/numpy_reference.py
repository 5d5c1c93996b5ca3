"""float64 numpy re-derivations of the shared layers, written from the papers
and the original code's formulas, used as independent references in tests."""

from __future__ import annotations

import math

import numpy as np


def layer_norm(x, gamma, beta, eps):
    x = np.asarray(x, np.float64)
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def gelu_exact(x):
    from scipy.special import erf

    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def dense(x, layer):
    kernel, bias = (np.asarray(w, np.float64) for w in (layer.kernel, layer.bias))
    return np.asarray(x, np.float64) @ kernel + bias


def softmax(z):
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def attention(mha, query, value, key, mask=None, mask_value=-10000.0, causal=False):
    """BERT ``attention_layer``: per-head softmax(q·kᵀ/√d + (1−mask)·mask_value)·v."""
    h, d, dv = mha.num_heads, mha.key_dim, mha.value_dim
    q, k, v = dense(query, mha.query), dense(key, mha.key), dense(value, mha.value)
    b, tq, tk = q.shape[0], q.shape[1], k.shape[1]
    q = q.reshape(b, tq, h, d).transpose(0, 2, 1, 3)
    k = k.reshape(b, tk, h, d).transpose(0, 2, 1, 3)
    v = v.reshape(b, tk, h, dv).transpose(0, 2, 1, 3)
    logits = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d)
    full = np.ones((b, tq, tk))
    if mask is not None:
        m = np.asarray(mask, np.float64)
        full = full * (m[:, None, :] if m.ndim == 2 else m)
    if causal:
        full = full * np.tril(np.ones((tq, tk)), tk - tq)[None]
    logits = logits + (1.0 - full[:, None]) * mask_value
    probs = softmax(logits)
    ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(b, tq, h * dv)
    return dense(ctx, mha.output_dense), probs


def ln_of(layer, x):
    return layer_norm(x, np.asarray(layer.gamma, np.float64), np.asarray(layer.beta, np.float64),
                      layer.epsilon)


def ffn(layer, x, act):
    return dense(act(dense(x, layer.intermediate)), layer.output_dense)
