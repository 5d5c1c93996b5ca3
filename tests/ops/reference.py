"""float64 numpy re-derivation of LayerNorm over the last axis (forward and backward)."""

import numpy as np


def layer_norm_forward(x, gamma, beta, epsilon):
    """Returns y, mean, rstd (Ba et al. 2016: biased variance, epsilon inside the root)."""
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=-1)
    var = np.square(x - mean[..., None]).mean(axis=-1)
    rstd = 1.0 / np.sqrt(var + epsilon)
    y = (x - mean[..., None]) * rstd[..., None] * np.asarray(gamma, np.float64)
    return y + np.asarray(beta, np.float64), mean, rstd


def layer_norm_backward(dy, x, gamma, epsilon):
    """Returns dx, dgamma, dbeta for upstream gradient dy.

    With xhat = (x - mean) * rstd and g = dy * gamma, differentiating y = xhat * gamma + beta
    through mean and var gives dx = rstd / n * (n * g - sum(g) - xhat * sum(g * xhat)).
    """
    dy = np.asarray(dy, np.float64)
    x = np.asarray(x, np.float64)
    n = x.shape[-1]
    _, mean, rstd = layer_norm_forward(x, np.ones(n), np.zeros(n), epsilon)
    xhat = (x - mean[..., None]) * rstd[..., None]
    g = dy * np.asarray(gamma, np.float64)
    dx = rstd[..., None] / n * (n * g - g.sum(-1, keepdims=True)
                                - xhat * (g * xhat).sum(-1, keepdims=True))
    lead = tuple(range(x.ndim - 1))
    return dx, (dy * xhat).sum(axis=lead), dy.sum(axis=lead)
