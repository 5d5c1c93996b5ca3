"""GRU4Rec network: GRU cell formula, per-block init, embedding modes, training step."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfmodels.models.gru4rec.model import GRU4Rec, GRULayer
from tfmodels.models.gru4rec.params import GRU4RecParams
from tfmodels.models.gru4rec.training import GRU4RecTrainer


def sig(x):
    return 1 / (1 + np.exp(-x))


def np_gru(x, h, wx, wrz, wh, bh):
    """The original GRU4Rec cell: reset applied to h before Wh, h' = (1-z) h + z c."""
    u = h.shape[1]
    vx = x @ wx + bh
    r = sig(vx[:, u:2 * u] + h @ wrz[:, :u])
    z = sig(vx[:, 2 * u:] + h @ wrz[:, u:])
    c = np.tanh((r * h) @ wh + vx[:, :u])
    return (1 - z) * h + z * c


def np_gru_reset_after(x, h, wx, wrz, wh, bh, bhh):
    """PyTorch nn.GRUCell form: reset applied after Wh, with its own bias."""
    u = h.shape[1]
    vx = x @ wx + bh
    r = sig(vx[:, u:2 * u] + h @ wrz[:, :u])
    z = sig(vx[:, 2 * u:] + h @ wrz[:, u:])
    c = np.tanh(vx[:, :u] + r * (h @ wh + bhh))
    return (1 - z) * h + z * c


@pytest.mark.parity
def test_reset_after_matches_numpy_and_torch_grucell():
    rng = np.random.default_rng(3)
    layer = GRULayer(4, 3, seed=2, reset_after=True)
    layer.Bh.assign(rng.normal(size=12).astype(np.float32))
    layer.Bhh.assign(rng.normal(size=4).astype(np.float32))
    x = rng.normal(size=(5, 3)).astype(np.float32)
    h = rng.normal(size=(5, 4)).astype(np.float32)
    got = layer(tf.constant(x), tf.constant(h)).numpy()
    wx, wrz, wh, bh, bhh = (v.numpy() for v in (layer.Wx, layer.Wrz, layer.Wh, layer.Bh,
                                                 layer.Bhh))
    ref = np_gru_reset_after(x, h, wx, wrz, wh, bh, bhh)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    assert np.abs(got - np_gru(x, h, wx, wrz, wh, bh)).max() > 1e-3  # the cells differ
    import torch

    # torch: gates (r, z, n), h' = (1 - z') n + z' h, so z' = 1 - z: negate the z block
    cell = torch.nn.GRUCell(3, 4)
    u = 4
    with torch.no_grad():
        cell.weight_ih.copy_(torch.tensor(np.concatenate(
            [wx[:, u:2 * u], -wx[:, 2 * u:], wx[:, :u]], axis=1).T))
        cell.weight_hh.copy_(torch.tensor(np.concatenate(
            [wrz[:, :u], -wrz[:, u:], wh], axis=1).T))
        cell.bias_ih.copy_(torch.tensor(np.concatenate([bh[u:2 * u], -bh[2 * u:], bh[:u]])))
        cell.bias_hh.copy_(torch.tensor(np.concatenate([np.zeros(2 * u, np.float32), bhh])))
        want = cell(torch.tensor(x), torch.tensor(h)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_reset_after_model_weights_and_default():
    assert GRU4RecParams().reset_after is False
    m = GRU4Rec(30, GRU4RecParams(layers=[8, 6], reset_after=True))
    assert {"gru_0/Bhh", "gru_1/Bhh"} <= set(m.named_weights())
    assert any(v is m.grus[0].Bhh for v in m.dense_variables())
    # the item-input first layer keeps the original cell (as the PyTorch GRUEmbedding)
    m2 = GRU4Rec(30, GRU4RecParams(layers=[8, 6], reset_after=True,
                                   constrained_embedding=False, embedding=0))
    assert m2.grus[0].Bhh is None and m2.grus[1].Bhh is not None
    assert "gru_0/Bhh" not in GRU4Rec(30, GRU4RecParams(layers=[8])).named_weights()


@pytest.mark.parametrize("ps", [dict(layers=[6, 5]),
                                dict(layers=[6], reset_after=True, constrained_embedding=False,
                                     embedding=4)])
def test_keras_save_and_load_model_round_trip(tmp_path, ps):
    import keras

    m = GRU4Rec(25, GRU4RecParams(**ps), item_ids=np.arange(100, 125))
    m.By.assign(np.linspace(-1, 1, 25).astype(np.float32))
    path = str(tmp_path / "g4r.keras")
    m.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, GRU4Rec)
    assert loaded.params == m.params and loaded.item_ids.tolist() == m.item_ids.tolist()
    items = np.array([3, 7, 24])
    state = [tf.random.stateless_normal((3, u), seed=(1, i)) for i, u in enumerate(m.state_sizes)]
    a, ha = m.score_step(items, state)
    b, hb = loaded.score_step(items, state)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    for x, y in zip(ha, hb):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    np.testing.assert_array_equal(m.recommend([1, 2], 5)[0], loaded.recommend([1, 2], 5)[0])


def test_gru_layer_matches_formula():
    rng = np.random.default_rng(0)
    layer = GRULayer(4, 3, seed=1)
    layer.Bh.assign(rng.normal(size=12).astype(np.float32))
    x = rng.normal(size=(2, 3)).astype(np.float32)
    h = rng.normal(size=(2, 4)).astype(np.float32)
    got = layer(tf.constant(x), tf.constant(h)).numpy()
    ref = np_gru(x, h, layer.Wx.numpy(), layer.Wrz.numpy(), layer.Wh.numpy(), layer.Bh.numpy())
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def _check_uniform_block(w, fan_in, fan_out):
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    assert np.abs(w).max() <= limit + 1e-7
    assert np.abs(w).max() > 0.9 * limit  # the whole interval is used, not a narrower one
    assert abs(w.mean()) < 0.1 * limit


def test_init_per_gate_block():
    m = GRU4Rec(300, GRU4RecParams(layers=[40, 20], constrained_embedding=False, embedding=64))
    g0, g1 = m.grus
    for b in range(3):
        _check_uniform_block(g0.Wx.numpy()[:, b * 40:(b + 1) * 40], 64, 40)
        _check_uniform_block(g1.Wx.numpy()[:, b * 20:(b + 1) * 20], 40, 20)
    for b in range(2):
        _check_uniform_block(g1.Wrz.numpy()[:, b * 20:(b + 1) * 20], 20, 20)
    _check_uniform_block(g1.Wh.numpy(), 20, 20)
    _check_uniform_block(m.E.numpy(), 300, 64)
    _check_uniform_block(m.Wy.numpy(), 300, 20)
    assert not np.any(m.By.numpy()) and not np.any(g0.Bh.numpy())
    # Blocks are drawn independently (not one matrix reshaped / copied).
    assert not np.allclose(g1.Wx.numpy()[:, :20], g1.Wx.numpy()[:, 20:40])


@pytest.mark.parametrize("ps,mode,first_wx", [
    (dict(constrained_embedding=True), "shared", (8, 24)),
    (dict(constrained_embedding=False, embedding=5), "separate", (5, 24)),
    (dict(constrained_embedding=False, embedding=0), "none", (30, 24)),
])
def test_embedding_modes(ps, mode, first_wx):
    m = GRU4Rec(30, GRU4RecParams(layers=[8], **ps))
    assert m.mode == mode
    assert tuple(m.grus[0].Wx.shape) == first_wx
    scores, h = m.score_step(np.array([1, 2, 3]), m.initial_state(3))
    assert scores.shape == (3, 30) and h[0].shape == (3, 8)


def test_score_step_is_the_formula_and_recommend_replays_it():
    m = GRU4Rec(20, GRU4RecParams(layers=[6, 5], constrained_embedding=True))
    items = [3, 7, 7, 1]
    h = [np.zeros((1, 6), np.float32), np.zeros((1, 5), np.float32)]
    g0, g1 = m.grus
    wy, by = m.Wy.numpy(), m.By.numpy() + np.linspace(-1, 1, 20).astype(np.float32)
    m.By.assign(by)
    for it in items:
        x = wy[[it]]
        h[0] = np_gru(x, h[0], g0.Wx.numpy(), g0.Wrz.numpy(), g0.Wh.numpy(), g0.Bh.numpy())
        h[1] = np_gru(h[0], h[1], g1.Wx.numpy(), g1.Wrz.numpy(), g1.Wh.numpy(), g1.Bh.numpy())
    ref = (h[1] @ wy.T + by)[0]
    state = m.initial_state(1)
    for it in items:
        scores, state = m.score_step(np.array([it]), state)
    np.testing.assert_allclose(scores.numpy()[0], ref, rtol=1e-5, atol=1e-6)
    ids, vals = m.recommend(items, k=5)
    np.testing.assert_array_equal(ids, np.argsort(-ref)[:5])
    np.testing.assert_allclose(vals, np.sort(ref)[::-1][:5], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="item indices"):
        m.recommend([25], k=3)
    with pytest.raises(ValueError, match="k must be"):
        m.recommend([1], k=0)


def test_dropout_only_in_training():
    m = GRU4Rec(20, GRU4RecParams(layers=[16], dropout_p_embed=0.5, dropout_p_hidden=0.5))
    s1, _ = m.score_step(np.array([1, 2]), m.initial_state(2))
    s2, _ = m.score_step(np.array([1, 2]), m.initial_state(2))
    np.testing.assert_array_equal(s1.numpy(), s2.numpy())
    t1, _ = m.score_step(np.array([1, 2]), m.initial_state(2), training=True)
    assert not np.allclose(t1.numpy(), s1.numpy())


# ------------------------------------------------------------------ one training step


def _ref_step(w, x, y, s, h, p, n_items):
    """Independent re-derivation of one official training step (shared embedding, 1 layer,
    no dropout) with dense TF gradients and numpy Adagrad (first step: acc starts at 0)."""
    v = {k: tf.Variable(a.astype(np.float64)) for k, a in w.items()}
    with tf.GradientTape() as tape:
        u = h.shape[1]
        xin = tf.gather(v["Wy"], x)
        vx = xin @ v["Wx"] + v["Bh"]
        vrz = tf.constant(h) @ v["Wrz"]
        r = tf.sigmoid(vx[:, u:2 * u] + vrz[:, :u])
        z = tf.sigmoid(vx[:, 2 * u:] + vrz[:, u:])
        c = tf.tanh((r * h) @ v["Wh"] + vx[:, :u])
        hn = (1 - z) * h + z * c
        cols = np.r_[y, s]
        o = hn @ tf.transpose(tf.gather(v["Wy"], cols)) + tf.gather(v["By"], cols)
        if p.loss == "cross-entropy":
            pr = tf.nn.softmax(o, axis=1)
            loss = -tf.reduce_sum(tf.math.log(tf.linalg.diag_part(pr) + 1e-24))
        else:  # bpr-max with elu(0.5)
            o = tf.where(o >= 0, o, 0.5 * (tf.exp(o) - 1))
            m_, n_ = o.shape
            mask = 1 - np.eye(m_, n_)
            e = tf.exp(o * mask - tf.reduce_max(o * mask, 1, keepdims=True)) * mask
            sm = e / tf.reduce_sum(e, 1, keepdims=True)
            d = tf.linalg.diag_part(o)[:, None]
            loss = tf.reduce_sum(-tf.math.log(tf.reduce_sum(tf.sigmoid(d - o) * sm, 1) + 1e-24)
                                 + p.bpreg * tf.reduce_sum(o * o * sm, 1))
        loss = loss / p.batch_size
    grads = tape.gradient(loss, v)
    out = {}
    for k, var in v.items():
        g = tf.convert_to_tensor(grads[k]).numpy()
        out[k] = var.numpy() - p.learning_rate * g / np.sqrt(g * g + 1e-6)
    return float(loss), out, hn.numpy()


@pytest.mark.parametrize("runner", ["_chunk", "_chunk_full"])  # plain graph / XLA-fused step
@pytest.mark.parametrize("loss", ["cross-entropy", "bpr-max"])
def test_training_step_matches_rederivation(loss, runner):
    p = GRU4RecParams(layers=[6], loss=loss, batch_size=3, n_sample=4, learning_rate=0.3,
                      sample_store_size=40, elu_param=0.5, bpreg=0.7)
    m = GRU4Rec(12, p)
    m.By.assign(np.linspace(-0.5, 0.5, 12).astype(np.float32))
    trainer = GRU4RecTrainer(m, np.arange(1, 13))
    g = m.grus[0]
    w = {"Wy": m.Wy.numpy(), "By": m.By.numpy(), "Wx": g.Wx.numpy(), "Wrz": g.Wrz.numpy(),
         "Wh": g.Wh.numpy(), "Bh": g.Bh.numpy()}
    rng = np.random.default_rng(0)
    h0 = rng.normal(scale=0.5, size=(3, 6)).astype(np.float32)
    x, y = np.array([2, 5, 2], np.int32), np.array([5, 9, 0], np.int32)
    s = np.array([[9, 1, 1, 11]], np.int32)  # repeats and overlaps with x/y on purpose
    ref_loss, ref_w, ref_h = _ref_step(w, x, y, s[0], h0.astype(np.float64), p, 12)
    losses, hidden = getattr(trainer, runner)(x[None], y[None], np.zeros((1, 3), bool), s, [h0])
    np.testing.assert_allclose(losses.numpy()[0], ref_loss, rtol=1e-5)
    np.testing.assert_allclose(hidden[0].numpy(), ref_h, rtol=1e-5, atol=1e-6)
    got = {"Wy": m.Wy, "By": m.By, "Wx": g.Wx, "Wrz": g.Wrz, "Wh": g.Wh, "Bh": g.Bh}
    for k, var in got.items():
        np.testing.assert_allclose(var.numpy(), ref_w[k], rtol=1e-4, atol=1e-6, err_msg=k)
    untouched = [3, 4, 6, 7, 8, 10]
    np.testing.assert_array_equal(m.Wy.numpy()[untouched], w["Wy"][untouched])


def test_chunk_resets_hidden_rows_and_carries_state():
    p = GRU4RecParams(layers=[5], batch_size=2, n_sample=0, learning_rate=1e-9)
    m = GRU4Rec(10, p)
    trainer = GRU4RecTrainer(m, np.ones(10))
    h0 = [tf.ones((2, 5))]
    xs = np.array([[1, 2], [3, 4]], np.int32)
    ys = np.array([[3, 4], [5, 6]], np.int32)
    resets = np.array([[False, True], [True, False]])
    _, h = trainer._chunk(xs, ys, resets, np.zeros((2, 0), np.int32), h0)
    # Manual replay: zero lane 1 before step 0, lane 0 before step 1.
    s = tf.constant([[1.0] * 5, [0.0] * 5])
    _, s = m.score_step(xs[0], [s])
    s = [tf.concat([tf.zeros((1, 5)), s[0][1:]], 0)]
    _, s = m.score_step(xs[1], s)
    np.testing.assert_allclose(h[0].numpy(), s[0].numpy(), rtol=1e-5, atol=1e-6)


def test_fit_rejects_data_without_next_item_events():
    from pipelines.sessions import SessionParallelIterator, sessions_from_arrays
    from tfmodels.models.gru4rec.training import fit

    data = sessions_from_arrays([1, 2, 3], [5, 6, 7], [0.0, 1.0, 2.0])  # one event each
    m = GRU4Rec(data.n_items, GRU4RecParams(layers=[4], batch_size=2, n_sample=2))
    with pytest.raises(ValueError, match="single event"):
        fit(m, SessionParallelIterator(data, 2), data.item_counts(), log=None)
    two = sessions_from_arrays([1, 1, 2, 2], [5, 6, 6, 7], [0.0, 1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="item_counts"):
        fit(m, SessionParallelIterator(two, 2), np.ones(7), log=None)
