"""Resizing learned position embeddings to another patch grid.

Follows ``interpolate_posembed`` of google-research/vision_transformer
``vit_jax/checkpoint.py``: the class-token row is kept, the remaining rows are reshaped to
their (square) grid, resized with ``scipy.ndimage.zoom(grid, zoom, order=1)`` and flattened
back. ``zoom`` with ``order=1`` is linear interpolation in which output index ``i`` of a
length-``m`` axis reads input coordinate ``i·(n-1)/(m-1)`` (corners aligned), separable over
rows and columns — computed here with numpy, so scipy is not needed. (HF's
``interpolate_pos_encoding`` uses bicubic ``torch.nn.functional.interpolate`` instead; we
follow the original.) An addition: the target grid may be non-square, ``(rows, cols)``.
"""

from __future__ import annotations

import math

import numpy as np


def _linear_resize_axis(x, size, axis):
    """Linear resize of one axis with aligned corners (scipy ``zoom(order=1)``)."""
    n = x.shape[axis]
    if n == size:
        return x
    if n == 1:
        return np.repeat(x, size, axis=axis)
    pos = np.zeros(size) if size == 1 else np.arange(size) * (n - 1) / (size - 1)
    lo = np.clip(np.floor(pos).astype(np.int64), 0, n - 1)
    hi = np.minimum(lo + 1, n - 1)
    frac = (pos - lo).astype(np.float64)
    shape = [1] * x.ndim
    shape[axis] = size
    frac = frac.reshape(shape)
    return np.take(x, lo, axis=axis) * (1.0 - frac) + np.take(x, hi, axis=axis) * frac


def interpolate_posembed(posemb, grid_size, has_class_token=True):
    """``posemb`` ``[1, N, D]`` -> ``[1, rows·cols (+1), D]`` for a ``grid_size`` patch grid.

    Args:
      posemb: the checkpoint's ``Transformer/posembed_input/pos_embedding``; its grid
        (N without the class token) must be square, as in every released checkpoint.
      grid_size: an int (square) or ``(rows, cols)``.
      has_class_token: True when row 0 is the class token's (classifier ``token``).

    Returns a float array of ``posemb``'s dtype; unchanged values when the grid is the same.
    """
    posemb = np.asarray(posemb)
    if posemb.ndim != 3 or posemb.shape[0] != 1:
        raise ValueError(f"posemb must have shape [1, tokens, hidden]; got {posemb.shape}")
    rows, cols = (grid_size, grid_size) if np.isscalar(grid_size) else tuple(grid_size)
    start = 1 if has_class_token else 0
    tok, grid = posemb[:, :start], posemb[0, start:]
    gs_old = int(math.isqrt(len(grid)))
    if gs_old * gs_old != len(grid):
        raise ValueError(f"position embeddings hold {len(grid)} grid tokens "
                         f"(has_class_token={has_class_token}), not a square grid")
    if (rows, cols) == (gs_old, gs_old):
        return posemb.copy()
    grid = grid.reshape(gs_old, gs_old, -1).astype(np.float64)
    grid = _linear_resize_axis(_linear_resize_axis(grid, rows, 0), cols, 1)
    grid = grid.reshape(1, rows * cols, -1).astype(posemb.dtype)
    return np.concatenate([tok, grid], axis=1)
