"""float64 numpy BERT forward pass and heads, written from google-research/bert
``modeling.py`` / ``run_pretraining.py`` formulas and driven by a dict of weights
under the ORIGINAL checkpoint names (so a wrong name table also fails the tests)."""

from __future__ import annotations

import math

import numpy as np

from tests.layers.numpy_reference import gelu_exact, gelu_tanh, layer_norm

ACTS = {"gelu": gelu_tanh, "gelu_exact": gelu_exact, "relu": lambda x: np.maximum(x, 0)}


def _dense(w, prefix, x):
    return x @ w[prefix + "/kernel"] + w[prefix + "/bias"]


def _ln(w, prefix, x, eps):
    return layer_norm(x, w[prefix + "/gamma"], w[prefix + "/beta"], eps)


def bert_forward(w, config, input_ids, input_mask, token_type_ids):
    """Returns (all_layers list, pooled) in float64."""
    w = {k: np.asarray(v, np.float64) for k, v in w.items()}
    eps = config.layer_norm_eps
    act = ACTS[config.hidden_act]
    b, t = input_ids.shape
    nh = config.num_attention_heads
    d = config.hidden_size // nh
    x = (w["bert/embeddings/word_embeddings"][input_ids]
         + w["bert/embeddings/token_type_embeddings"][token_type_ids]
         + w["bert/embeddings/position_embeddings"][:t][None])
    x = _ln(w, "bert/embeddings/LayerNorm", x, eps)
    adder = (1.0 - input_mask[:, None, None, :].astype(np.float64)) * -10000.0
    layers = []
    for i in range(config.num_hidden_layers):
        p = f"bert/encoder/layer_{i}"

        def heads(y):
            return y.reshape(b, t, nh, d).transpose(0, 2, 1, 3)

        q = heads(_dense(w, p + "/attention/self/query", x))
        k = heads(_dense(w, p + "/attention/self/key", x))
        v = heads(_dense(w, p + "/attention/self/value", x))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + adder
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probs = scores / scores.sum(-1, keepdims=True)
        ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(b, t, nh * d)
        a = _dense(w, p + "/attention/output/dense", ctx)
        x = _ln(w, p + "/attention/output/LayerNorm", a + x, eps)
        inter = act(_dense(w, p + "/intermediate/dense", x))
        out = _dense(w, p + "/output/dense", inter)
        x = _ln(w, p + "/output/LayerNorm", out + x, eps)
        layers.append(x)
    pooled = np.tanh(_dense(w, "bert/pooler/dense", x[:, 0]))
    return layers, pooled


def log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def masked_lm_log_probs(w, config, sequence_output, positions):
    w = {k: np.asarray(v, np.float64) for k, v in w.items()}
    seq = np.asarray(sequence_output, np.float64)
    gathered = np.stack([seq[i, positions[i]] for i in range(seq.shape[0])]).reshape(
        -1, seq.shape[-1])
    h = ACTS[config.hidden_act](_dense(w, "cls/predictions/transform/dense", gathered))
    h = _ln(w, "cls/predictions/transform/LayerNorm", h, config.layer_norm_eps)
    logits = h @ w["bert/embeddings/word_embeddings"].T + w["cls/predictions/output_bias"]
    return log_softmax(logits)


def next_sentence_log_probs(w, pooled):
    wt = np.asarray(w["cls/seq_relationship/output_weights"], np.float64)
    bias = np.asarray(w["cls/seq_relationship/output_bias"], np.float64)
    return log_softmax(np.asarray(pooled, np.float64) @ wt.T + bias)
