"""SASRec model: parity with a numpy transcription of the original, masking, losses, saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.sasrec import numpy_reference as ref
from tfmodels.models.sasrec import SASRec, SASRecBlock, bce_loss, pairwise_auc, softmax_ce_loss

RNG = np.random.default_rng(0)
SEQ = np.array([[0, 0, 0, 3, 7, 1, 9, 4], [0, 0, 0, 0, 0, 0, 2, 5], [6, 1, 2, 3, 8, 9, 10, 4]])


def _randomize(model, seed=1):
    """Non-trivial LayerNorm scales/offsets and biases, so a wrong wiring shows."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(rng.normal(0, 0.3, w.shape).astype(np.float32)
                 + (1.0 if w.path.endswith("gamma") else 0.0))


def _model(**kw):
    args = dict(num_items=12, maxlen=8, hidden_units=16, num_blocks=2, num_heads=2,
                dropout_rate=0.3)
    args.update(kw)
    m = SASRec(**args)
    _randomize(m)
    return m


def test_one_block_matches_numpy_transcription_of_original():
    blk = SASRecBlock(16, num_heads=2, dropout_rate=0.5)
    blk.build((None, 8, 16))
    rng = np.random.default_rng(3)
    for w in blk.weights:
        w.assign(rng.normal(0, 0.3, w.shape).astype(np.float32))
    mask = (SEQ != 0).astype(np.float32)
    x = rng.normal(0, 1, SEQ.shape + (16,)).astype(np.float32) * mask[..., None]
    ours = blk(tf.constant(x), tf.constant(mask), training=False).numpy()
    want = ref.block(x.astype(np.float64), mask[..., None], ref.block_weights(blk), 2)
    np.testing.assert_allclose(ours, want, atol=1e-4)


def test_model_matches_numpy_transcription_of_original():
    m = _model()
    ours = m(SEQ, training=False).numpy()
    blocks = [ref.block_weights(b) for b in m.blocks]
    final = (np.asarray(m.final_norm.gamma, np.float64), np.asarray(m.final_norm.beta))
    want, table = ref.model(SEQ, np.asarray(m.item_embedding, np.float64),
                            np.asarray(m.position_embedding.embeddings, np.float64), blocks,
                            final, 2)
    np.testing.assert_allclose(ours, want, atol=1e-4)
    items = np.array([[1, 5, 9], [2, 0, 12], [4, 4, 3]])
    np.testing.assert_allclose(m.score_items(ours[:, -1], items).numpy(),
                               np.einsum("bd,bnd->bn", want[:, -1], table[items]), atol=1e-4)
    np.testing.assert_allclose(m.score_all(ours[:, -1]).numpy(), want[:, -1] @ table.T,
                               atol=1e-4)
    assert np.all(m.item_table().numpy()[0] == 0)


def test_causal_a_later_item_never_changes_earlier_outputs():
    m = _model()
    base = m(SEQ, training=False).numpy()
    for t in range(3, 7):
        changed = SEQ.copy()
        changed[:, t + 1] = 11
        out = m(changed, training=False).numpy()
        np.testing.assert_allclose(out[0, : t + 1], base[0, : t + 1], atol=1e-5)
        assert np.abs(out[0, t + 1] - base[0, t + 1]).max() > 1e-3


def test_left_padding_does_not_change_scores():
    m = _model()
    hist = np.array([[3, 7, 1]])
    widths = [np.array([[3, 7, 1]]), np.array([[0, 0, 3, 7, 1]]),
              np.array([[0, 0, 0, 0, 0, 3, 7, 1]])]
    scores = [m.score_all(m.last_features(w)).numpy() for w in widths]
    for s in scores[1:]:
        np.testing.assert_allclose(s, scores[0], atol=1e-5)
    # The item embedding of padding is zero whatever the variable holds.
    m.item_embedding.assign(tf.tensor_scatter_nd_update(
        m.item_embedding, [[0]], tf.fill([1, 16], 100.0)))
    np.testing.assert_allclose(m.score_all(m.last_features(hist)).numpy(), scores[0], atol=1e-5)


def test_too_long_input_raises():
    m = _model()
    with pytest.raises(ValueError, match="maxlen"):
        m(np.ones((1, 9), np.int32))


def test_dropout_only_in_training():
    m = _model()
    a, b = m(SEQ, training=False), m(SEQ, training=False)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert np.abs(m(SEQ, training=True).numpy() - a.numpy()).max() > 1e-3


def test_bce_loss_matches_numpy():
    pos_logits = RNG.normal(0, 3, (3, 8)).astype(np.float32)
    neg_logits = RNG.normal(0, 3, (3, 8)).astype(np.float32)
    neg_logits[0, 5] = 40.0  # saturates: 1 - sigmoid = 0, the 1e-24 bounds the term
    pos = np.where(SEQ > 0, SEQ, 0)
    got = bce_loss(pos_logits, neg_logits, pos).numpy()
    np.testing.assert_allclose(got, ref.bce(pos_logits.astype(np.float64), neg_logits, pos),
                               rtol=1e-5)
    # several negatives: the negative terms add up (a positive logit of 1e3 adds 0)
    negs = np.stack([neg_logits, neg_logits * 0.5], -1)
    want = (ref.bce(pos_logits, neg_logits, pos)
            + ref.bce(np.full_like(pos_logits, 1e3), neg_logits * 0.5, pos))
    np.testing.assert_allclose(bce_loss(pos_logits, negs, pos).numpy(), want, rtol=1e-5)
    # the original's auc: sign(pos - neg) over target positions
    t = pos != 0
    want_auc = ((np.sign(pos_logits - neg_logits) + 1) / 2 * t).sum() / t.sum()
    np.testing.assert_allclose(pairwise_auc(pos_logits, neg_logits, pos).numpy(), want_auc)


def test_softmax_ce_loss_matches_numpy():
    logits = RNG.normal(0, 2, (3, 8, 13)).astype(np.float64)
    pos = SEQ
    z = logits[..., 1:]
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    t = pos != 0
    want = -(np.take_along_axis(logp, np.maximum(pos - 1, 0)[..., None], -1)[..., 0] * t).sum()
    np.testing.assert_allclose(softmax_ce_loss(logits.astype(np.float32), pos).numpy(),
                               want / t.sum(), rtol=1e-5)


def test_l2_emb_is_the_original_l2_regularizer():
    m = _model(l2_emb=0.1)
    want = 0.1 * (np.sum(np.square(m.item_embedding.numpy())) / 2
                  + np.sum(np.square(m.position_embedding.embeddings.numpy())) / 2)
    np.testing.assert_allclose(m.regularization_loss().numpy(), want, rtol=1e-5)
    assert float(_model().regularization_loss()) == 0.0


def test_norm_first_is_pre_norm():
    blk = SASRecBlock(16, num_heads=2, norm_first=True)
    blk.build((None, 8, 16))
    rng = np.random.default_rng(4)
    for w in blk.weights:
        w.assign(rng.normal(0, 0.3, w.shape).astype(np.float32))
    mask = (SEQ != 0).astype(np.float64)
    x = rng.normal(0, 1, SEQ.shape + (16,)) * mask[..., None]
    w = ref.block_weights(blk)
    h = ref.normalize(x, w["ln1_g"], w["ln1_b"])
    # keys = LN(x) with padded rows zeroed, so the reference masks them as the block does;
    # the reference adds the queries h as residual, pre-norm adds x
    a = ref.multihead_attention(h, h * mask[..., None], w, 2) - h + x
    f = ref.normalize(a, w["ln2_g"], w["ln2_b"])
    want = (ref.feedforward(f, w) - f + a) * mask[..., None]
    got = blk(tf.constant(x, tf.float32), tf.constant(mask, tf.float32)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_keras_save_round_trip(tmp_path):
    m = _model(norm_first=True, l2_emb=0.01)
    path = str(tmp_path / "sasrec.keras")
    m.save(path)
    back = keras.models.load_model(path)
    assert back.get_config() == m.get_config()
    np.testing.assert_allclose(back(SEQ).numpy(), m(SEQ).numpy(), atol=1e-6)


@pytest.mark.parametrize("kw,match", [(dict(hidden_units=10, num_heads=3), "multiple"),
                                      (dict(num_items=0), "num_items"),
                                      (dict(dropout_rate=1.0), "dropout_rate")])
def test_bad_arguments(kw, match):
    args = dict(num_items=5, maxlen=4, hidden_units=8)
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        SASRec(**args)


@pytest.mark.slow
@pytest.mark.parametrize("jit", [False, True])
def test_trains_with_and_without_jit(jit):
    """Dropout 0.3 in training: the XLA step (Threefry masks) fits a fixed batch as well."""
    tf.keras.utils.set_random_seed(0)
    m = SASRec(num_items=12, maxlen=8, hidden_units=16, num_blocks=2, num_heads=2,
               dropout_rate=0.3)
    opt = keras.optimizers.Adam(0.03)
    pos = tf.constant(np.concatenate([SEQ[:, 1:], [[5], [7], [11]]], 1), tf.int32)
    neg = tf.constant(np.where(SEQ > 0, (SEQ + 6) % 12 + 1, 0), tf.int32)
    seq = tf.constant(SEQ, tf.int32)

    def step():
        with tf.GradientTape() as tape:
            f = m(seq, training=True)
            loss = bce_loss(m.score_items(f, pos[..., None])[..., 0],
                            m.score_items(f, neg[..., None])[..., 0], pos)
        opt.apply_gradients(zip(tape.gradient(loss, m.trainable_variables),
                                m.trainable_variables))
        return loss

    step = tf.function(step, jit_compile=jit)
    losses = [float(step()) for _ in range(30)]
    assert np.isfinite(losses).all()
    assert np.mean(losses[-10:]) < 0.7 * np.mean(losses[:5])
    # inference is deterministic and dropout-free in both modes
    a = tf.function(lambda s: m(s, training=False), jit_compile=jit)(seq)
    np.testing.assert_allclose(a.numpy(), m(seq, training=False).numpy(), atol=1e-5)
