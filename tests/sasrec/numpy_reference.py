"""float64 numpy re-derivation of kang205/SASRec (model.py, modules.py), step by step.

Written from the TF1 code, not from tfmodels: heads split and concatenated along the batch
axis, keys masked with sign(sum|keys|), causality and key masking by replacement with
-2**32+1, query masking of the probabilities, residual from the normalised queries.
"""

import numpy as np

PAD = -(2.0**32) + 1


def normalize(x, gamma, beta, eps=1e-8):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return gamma * (x - mean) / (var + eps) ** 0.5 + beta


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def multihead_attention(queries, keys, w, num_heads):
    q = queries @ w["q_k"] + w["q_b"]
    k = keys @ w["k_k"] + w["k_b"]
    v = keys @ w["v_k"] + w["v_b"]
    q_ = np.concatenate(np.split(q, num_heads, axis=2), axis=0)
    k_ = np.concatenate(np.split(k, num_heads, axis=2), axis=0)
    v_ = np.concatenate(np.split(v, num_heads, axis=2), axis=0)
    out = q_ @ k_.transpose(0, 2, 1) / (k_.shape[-1] ** 0.5)
    key_masks = np.sign(np.abs(keys).sum(-1))
    key_masks = np.tile(key_masks, [num_heads, 1])[:, None, :].repeat(queries.shape[1], 1)
    out = np.where(key_masks == 0, PAD, out)
    tril = np.tril(np.ones(out.shape[1:]))
    out = np.where(tril[None] == 0, PAD, out)
    out = softmax(out)
    query_masks = np.sign(np.abs(queries).sum(-1))
    query_masks = np.tile(query_masks, [num_heads, 1])[:, :, None]
    out = out * query_masks
    out = out @ v_
    out = np.concatenate(np.split(out, num_heads, axis=0), axis=2)
    return out + queries


def feedforward(inputs, w):
    h = np.maximum(inputs @ w["c1_k"] + w["c1_b"], 0.0)
    return h @ w["c2_k"] + w["c2_b"] + inputs


def block(seq, mask, w, num_heads):
    seq = multihead_attention(normalize(seq, w["ln1_g"], w["ln1_b"]), seq, w, num_heads)
    seq = feedforward(normalize(seq, w["ln2_g"], w["ln2_b"]), w)
    return seq * mask


def model(input_seq, item_table, pos_table, blocks, final, num_heads):
    d = item_table.shape[1]
    table = np.concatenate([np.zeros((1, d)), item_table[1:]], 0)
    mask = (input_seq != 0).astype(np.float64)[..., None]
    seq = table[input_seq] * d**0.5 + pos_table[np.arange(input_seq.shape[1])][None]
    seq = seq * mask
    for w in blocks:
        seq = block(seq, mask, w, num_heads)
    return normalize(seq, final[0], final[1]), table


def block_weights(block_layer):
    """The tfmodels block's weights under the reference's names (float64)."""
    a = block_layer.attention
    f = block_layer.feed_forward
    g = lambda v: np.asarray(v, np.float64)  # noqa: E731
    return {
        "ln1_g": g(block_layer.attention_norm.gamma), "ln1_b": g(block_layer.attention_norm.beta),
        "q_k": g(a.query.kernel), "q_b": g(a.query.bias), "k_k": g(a.key.kernel),
        "k_b": g(a.key.bias), "v_k": g(a.value.kernel), "v_b": g(a.value.bias),
        "ln2_g": g(block_layer.forward_norm.gamma), "ln2_b": g(block_layer.forward_norm.beta),
        "c1_k": g(f.intermediate.kernel), "c1_b": g(f.intermediate.bias),
        "c2_k": g(f.output_dense.kernel), "c2_b": g(f.output_dense.bias),
    }


def bce(pos_logits, neg_logits, pos):
    sig = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
    target = (pos != 0).astype(np.float64)
    loss = (-np.log(sig(pos_logits) + 1e-24) * target
            - np.log(1 - sig(neg_logits) + 1e-24) * target).sum()
    return loss / target.sum()
