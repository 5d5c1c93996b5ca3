"""GLUE evaluation metrics beyond accuracy: F1 and Matthews correlation from confusion
counts, Pearson and Spearman correlations (Wang et al. 2019: CoLA MCC, MRPC/QQP F1,
STS-B Pearson/Spearman).

F1 and MCC take the four confusion counts (or any common multiple of them, e.g. the
fractions a distributed evaluation sums), as both are invariant to scaling them.
Spearman is Pearson on average ranks (ties share their mean rank), as scipy computes it.
"""

from __future__ import annotations

import math

import numpy as np


def f1_from_counts(tp, fp, fn):
    """F1 of the positive class = 2tp / (2tp + fp + fn); 0 when undefined."""
    den = 2.0 * tp + fp + fn
    return float(2.0 * tp / den) if den > 0 else 0.0


def mcc_from_counts(tp, fp, fn, tn):
    """Matthews correlation (tp tn - fp fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)); 0 when
    a margin is empty (sklearn's convention)."""
    den = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    return float((tp * tn - fp * fn) / math.sqrt(den)) if den > 0 else 0.0


def pearson(x, y):
    """Pearson correlation of two 1-D arrays (0 when one is constant)."""
    x = np.asarray(x, np.float64).ravel()
    y = np.asarray(y, np.float64).ravel()
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"pearson needs two arrays of the same length >= 2; got {x.shape} "
                         f"and {y.shape}")
    xc, yc = x - x.mean(), y - y.mean()
    den = math.sqrt(float(np.dot(xc, xc)) * float(np.dot(yc, yc)))
    return float(np.dot(xc, yc) / den) if den > 0 else 0.0


def average_ranks(x):
    """1-based ranks with ties given their average rank."""
    x = np.asarray(x, np.float64).ravel()
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(x.size, np.float64)
    sorted_x = x[order]
    i = 0
    while i < x.size:
        j = i
        while j + 1 < x.size and sorted_x[j + 1] == sorted_x[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def spearman(x, y):
    """Spearman rank correlation (Pearson on average ranks)."""
    return pearson(average_ranks(x), average_ranks(y))
