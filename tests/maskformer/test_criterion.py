"""MaskFormer matcher and criterion against HF ``MaskFormerHungarianMatcher`` /
``MaskFormerLoss`` (torch) and numpy formulas."""

import numpy as np
import pytest
import tensorflow as tf

from tfmodels.models.maskformer.criterion import (
    HungarianMatcher,
    SetCriterion,
    dice_loss,
    focal_loss,
    pairwise_dice,
    pairwise_focal,
)


def _np_focal(x, t, alpha=0.25, gamma=2.0):
    p = 1 / (1 + np.exp(-x))
    ce = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    p_t = p * t + (1 - p) * (1 - t)
    return ((alpha * t + (1 - alpha) * (1 - t)) * ce * (1 - p_t) ** gamma).mean(-1)


def _np_dice(x, t):
    p = 1 / (1 + np.exp(-x))
    return 1 - (2 * (p * t).sum(-1) + 1) / (p.sum(-1) + t.sum(-1) + 1)


def test_losses_match_numpy():
    rng = np.random.RandomState(0)
    x = rng.randn(4, 30).astype(np.float32)
    t = (rng.rand(3, 30) > 0.5).astype(np.float32)
    pf = pairwise_focal(x, t).numpy()
    pd = pairwise_dice(x, t).numpy()
    for i in range(4):
        for j in range(3):
            np.testing.assert_allclose(pf[i, j], _np_focal(x[i], t[j]), rtol=1e-5)
            np.testing.assert_allclose(pd[i, j], _np_dice(x[i], t[j]), rtol=1e-5)
    np.testing.assert_allclose(focal_loss(x[:3], t, 2.0).numpy(),
                               _np_focal(x[:3], t).sum() / 2.0, rtol=1e-5)
    np.testing.assert_allclose(dice_loss(x[:3], t, 2.0).numpy(),
                               _np_dice(x[:3], t).sum() / 2.0, rtol=1e-5)


def _case():
    rng = np.random.RandomState(3)
    b, q, k = 2, 5, 3
    logits = rng.randn(b, q, k + 1).astype(np.float32) * 2
    masks = rng.randn(b, q, 6, 7).astype(np.float32) * 3
    counts = [3, 1]
    tmasks = np.zeros((b, 3, 13, 15), np.float32)
    labels = np.zeros((b, 3), np.int32)
    valid = np.zeros((b, 3), np.float32)
    for i, n in enumerate(counts):
        for j in range(n):
            y0, x0 = rng.randint(0, 8), rng.randint(0, 9)
            tmasks[i, j, y0:y0 + rng.randint(3, 6), x0:x0 + rng.randint(3, 7)] = 1
            labels[i, j] = rng.randint(0, k)
            valid[i, j] = 1
    return logits, masks, tmasks, labels, valid, counts, k


@pytest.mark.parity
def test_against_hf_loss():
    import torch
    from transformers.models.maskformer.modeling_maskformer import (
        MaskFormerHungarianMatcher,
        MaskFormerLoss,
    )

    logits, masks, tmasks, labels, valid, counts, k = _case()
    aux = [{"class_queries_logits": logits[..., ::-1].copy(),
            "masks_queries_logits": masks[:, ::-1].copy()}]
    outputs = {"class_queries_logits": logits, "masks_queries_logits": masks,
               "aux_outputs": aux}
    targets = {"labels": labels, "masks": tmasks, "valid": valid}
    criterion = SetCriterion(k)
    ours = criterion(outputs, targets)
    match = criterion.matcher(outputs, targets).numpy()

    hf_matcher = MaskFormerHungarianMatcher(cost_class=1.0, cost_mask=20.0, cost_dice=1.0)
    hf_loss = MaskFormerLoss(k, hf_matcher, {"loss_cross_entropy": 1.0, "loss_mask": 20.0,
                                              "loss_dice": 1.0}, eos_coef=0.1)
    mask_labels = [torch.from_numpy(tmasks[i, :n]) for i, n in enumerate(counts)]
    class_labels = [torch.from_numpy(labels[i, :n]).long() for i, n in enumerate(counts)]
    t = torch.from_numpy
    indices = hf_matcher(t(masks), t(logits), mask_labels, class_labels)
    for i, (src, tgt) in enumerate(indices):
        got = sorted((int(match[i, j]), j) for j in range(counts[i]))
        assert got == sorted(zip(src.tolist(), tgt.tolist()))
    ref = hf_loss(t(masks), t(logits), mask_labels, class_labels,
                  [{"masks_queries_logits": t(a["masks_queries_logits"]),
                    "class_queries_logits": t(a["class_queries_logits"])} for a in aux])
    names = {"loss_cross_entropy": "loss_ce", "loss_mask": "loss_mask", "loss_dice": "loss_dice"}
    for key, value in ref.items():
        base, _, idx = key.rpartition("_") if key[-1].isdigit() else (key, "", "")
        ours_key = names[base] + (f"_{idx}" if idx else "")
        np.testing.assert_allclose(ours[ours_key].numpy(), value.item(), rtol=1e-5, atol=1e-6)
    total = sum(v.item() * {"loss_ce": 1, "loss_mask": 20, "loss_dice": 1}[
        names[(k2.rpartition("_")[0] if k2[-1].isdigit() else k2)]] for k2, v in ref.items())
    np.testing.assert_allclose(ours["loss"].numpy(), total, rtol=1e-5)


def test_matcher_brute_force():
    import itertools

    logits, masks, tmasks, labels, valid, counts, k = _case()
    outputs = {"class_queries_logits": logits, "masks_queries_logits": masks}
    targets = {"labels": labels, "masks": tmasks, "valid": valid}
    matcher = HungarianMatcher()
    costs = matcher.costs(outputs, targets).numpy()
    match = matcher(outputs, targets).numpy()
    for i, n in enumerate(counts):
        best = min(itertools.permutations(range(5), n),
                   key=lambda p: sum(costs[i, p[j], j] for j in range(n)))
        assert tuple(match[i, :n]) == best
        assert (match[i, n:] == -1).all()


def test_gradients_flow_and_bad_labels():
    logits, masks, tmasks, labels, valid, counts, k = _case()
    lv, mv = tf.Variable(logits), tf.Variable(masks)
    criterion = SetCriterion(k, deep_supervision=False)
    with tf.GradientTape() as tape:
        loss = criterion({"class_queries_logits": lv, "masks_queries_logits": mv},
                         {"labels": labels, "masks": tmasks, "valid": valid})["loss"]
    g1, g2 = tape.gradient(loss, [lv, mv])
    assert np.abs(g1.numpy()).sum() > 0 and np.abs(g2.numpy()).sum() > 0
    bad = labels.copy()
    bad[0, 0] = k
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_classes"):
        criterion.check_targets(bad, valid)
    criterion.check_targets(np.where(valid > 0, labels, 255), valid)  # padding ignored


def test_images_without_targets():
    """Crops without any segment: every query is "no object" (CE only, mask terms 0)."""
    rng = np.random.RandomState(5)
    logits = rng.randn(2, 4, 4).astype(np.float32)
    outputs = {"class_queries_logits": logits,
               "masks_queries_logits": rng.randn(2, 4, 5, 6).astype(np.float32)}
    targets = {"labels": np.zeros((2, 0), np.int32), "masks": np.zeros((2, 0, 20, 24)),
               "valid": np.zeros((2, 0), np.float32)}
    losses = SetCriterion(3, deep_supervision=False)(outputs, targets)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    # all weights 0.1: the weighted mean is the plain mean of −log p(no object)
    np.testing.assert_allclose(losses["loss_ce"].numpy(), -log_p[..., 3].mean(), rtol=1e-5)
    assert float(losses["loss_mask"]) == 0.0 and float(losses["loss_dice"]) == 0.0
