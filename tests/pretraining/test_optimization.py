"""AdamWeightDecay + schedule vs a numpy re-derivation of the original update."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfmodels.optimization import AdamWeightDecay, WarmupPolynomialDecay, create_optimizer


def numpy_lr(step, init_lr, num_train, num_warmup):
    # Original create_optimizer: polynomial_decay(power=1, end=0) then linear warmup.
    decayed = init_lr * (1.0 - min(step, num_train) / num_train)
    if num_warmup and step < num_warmup:
        return init_lr * step / num_warmup
    return decayed


@pytest.mark.parametrize("step", [0, 1, 3, 4, 5, 9, 10, 12])
def test_schedule_matches_original_formula(step):
    sched = WarmupPolynomialDecay(1e-3, num_train_steps=10, num_warmup_steps=4)
    np.testing.assert_allclose(float(sched(step)), numpy_lr(step, 1e-3, 10, 4), rtol=1e-6)


def test_schedule_without_warmup_starts_at_init_lr():
    sched = WarmupPolynomialDecay(2e-5, num_train_steps=100, num_warmup_steps=0)
    assert float(sched(0)) == pytest.approx(2e-5)
    assert float(sched(50)) == pytest.approx(1e-5)
    assert float(sched(150)) == 0.0


def test_three_steps_match_numpy_rederivation():
    rng = np.random.default_rng(0)
    names = ["bert/encoder/layer_0/output/dense/kernel",
             "bert/encoder/layer_0/output/dense/bias",
             "bert/encoder/layer_0/output/LayerNorm/gamma",
             "bert/embeddings/word_embeddings"]
    shapes = [(3, 4), (4,), (4,), (5, 3)]
    init = [rng.normal(size=s).astype(np.float32) for s in shapes]
    kvars = [keras.Variable(x, name=n.replace("/", "_")) for x, n in zip(init, names)]
    opt = create_optimizer(0.1, num_train_steps=5, num_warmup_steps=2,
                           variable_names={v.path: n for v, n in zip(kvars, names)})
    # Gradients big enough that global-norm clipping at 1.0 is active.
    grads_per_step = [[rng.normal(size=s).astype(np.float32) * scale for s in shapes]
                      for scale in (3.0, 0.05, 2.0)]

    w = [x.astype(np.float64) for x in init]
    m = [np.zeros_like(x) for x in w]
    v = [np.zeros_like(x) for x in w]
    decay = [True, False, False, True]  # bias / LayerNorm excluded
    for step, grads in enumerate(grads_per_step):
        opt.apply([tf.constant(g) for g in grads], kvars)
        g = [x.astype(np.float64) for x in grads]
        norm = np.sqrt(sum((x ** 2).sum() for x in g))
        g = [x * 1.0 / max(norm, 1.0) for x in g]
        lr = numpy_lr(step, 0.1, 5, 2)
        for i in range(len(w)):
            m[i] = 0.9 * m[i] + 0.1 * g[i]
            v[i] = 0.999 * v[i] + 0.001 * g[i] ** 2
            update = m[i] / (np.sqrt(v[i]) + 1e-6)
            if decay[i]:
                update = update + 0.01 * w[i]
            w[i] = w[i] - lr * update
        for i in range(len(w)):
            np.testing.assert_allclose(kvars[i].numpy(), w[i], rtol=2e-5, atol=2e-6)
    assert int(opt.iterations.numpy()) == 3
    # Step 0 has learning rate 0 under warmup: the first update changed nothing...
    # ...but the slots did move (as in the original, m/v update regardless of lr).
    np.testing.assert_allclose(opt.adam_m[0].numpy(), m[0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(opt.adam_v[3].numpy(), v[3], rtol=1e-5, atol=1e-9)


def test_exclusion_uses_regex_search_on_names():
    opt = AdamWeightDecay(weight_decay_rate=0.01,
                          exclude_from_weight_decay=["LayerNorm", "layer_norm", "bias"])
    assert opt.do_use_weight_decay("bert/pooler/dense/kernel")
    assert not opt.do_use_weight_decay("cls/predictions/output_bias")
    assert not opt.do_use_weight_decay("bert/embeddings/LayerNorm/beta")
    assert not AdamWeightDecay(weight_decay_rate=0.0).do_use_weight_decay("kernel")


def test_bad_schedule_arguments():
    with pytest.raises(ValueError, match="num_train_steps"):
        WarmupPolynomialDecay(1e-4, num_train_steps=0)
