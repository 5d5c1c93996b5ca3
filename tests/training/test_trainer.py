"""tfmodels.training.Trainer in-process on one device: learning, gradient accumulation,
steps per call, checkpoint/resume, eval against numpy, retention, mixed precision,
learning-rate multipliers, a numpy_function inside the loss."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.training.helpers import (
    TRUE_B,
    TRUE_W,
    linear_model,
    mse_loss_fn,
    regression_data,
    repeated,
)
from tfmodels import training
from tfmodels.training.checkpoints import NamedCheckpoint, with_optimizer_slots


def _trainer(model, optimizer, out=None, **kwargs):
    kwargs.setdefault("global_batch_size", 16)
    kwargs.setdefault("log_steps", 1000)
    kwargs.setdefault("save_checkpoints_steps", 1000)
    return training.Trainer(model, optimizer, mse_loss_fn, output_dir=out,
                            print_fn=lambda *a: None, **kwargs)


def _weights(model):
    return [w.copy() for w in model.get_weights()]


def test_learns_known_optimum_and_writes_progress(tmp_path):
    x, y = regression_data()
    model = linear_model()
    lines = []
    trainer = training.Trainer(model, keras.optimizers.SGD(0.1), mse_loss_fn,
                               output_dir=str(tmp_path), global_batch_size=16, log_steps=20,
                               save_checkpoints_steps=1000, steps_per_loop=10,
                               print_fn=lines.append)
    first = trainer.train(repeated(x, y, 16), 1)["loss"]
    last = trainer.train(repeated(x, y, 16), 60)["loss"]
    assert last < 1e-3 * first
    w, b = model.get_weights()
    np.testing.assert_allclose(w[:, 0], TRUE_W, atol=1e-2)
    np.testing.assert_allclose(b, [TRUE_B], atol=1e-2)
    progress = [ln for ln in lines if ln.startswith("step 60/60")]
    assert progress and " lr 0.1 " in progress[0] and "examples/s" in progress[0]
    assert any(n.startswith("events.out.tfevents") for n in os.listdir(tmp_path))
    assert (tmp_path / "model.ckpt-60.index").exists()  # the end of training is saved


def test_accumulation_equals_one_big_batch():
    x, y = regression_data()
    runs = []
    for k in (1, 4):
        model = linear_model()
        trainer = _trainer(model, keras.optimizers.SGD(0.05), gradient_accumulation_steps=k)
        trainer.train(repeated(x, y, 16), 5)
        runs.append(_weights(model))
    for a, b in zip(*runs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_accumulation_must_divide_the_replica_batch():
    with pytest.raises(ValueError, match="gradient_accumulation_steps=3 does not divide"):
        _trainer(linear_model(), keras.optimizers.SGD(0.1), gradient_accumulation_steps=3)


def test_steps_per_loop_and_xla_equal_one_step_per_call():
    x, y = regression_data()
    runs = []
    for spl, jit in ((1, False), (4, False), (3, True)):
        model = linear_model()
        trainer = _trainer(model, keras.optimizers.Adam(0.05), steps_per_loop=spl,
                           jit_compile=jit)
        metrics = trainer.train(repeated(x, y, 16), 8)
        runs.append((_weights(model), metrics["loss"], trainer.learning_rate()))
    for weights, _, lr in runs[1:]:
        for a, b in zip(runs[0][0], weights):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert lr == runs[0][2]


def _named(model, optimizer):
    table = with_optimizer_slots({"linear/kernel": model.layers[0].kernel,
                                  "linear/bias": model.layers[0].bias}, optimizer,
                                 {"Adam": "_momentums", "Adam_1": "_velocities"})
    return lambda d: NamedCheckpoint(d, table, step_variable=optimizer.iterations)


@pytest.mark.parametrize("kind", ["object", "named"])
def test_resume_reproduces_an_uninterrupted_run(tmp_path, kind):
    x, y = regression_data()

    def setup(out, spl=2):
        model = linear_model()
        schedule = keras.optimizers.schedules.PolynomialDecay(0.05, 10, 0.0)
        optimizer = keras.optimizers.Adam(schedule)
        optimizer.build(model.trainable_variables)
        ckpt = _named(model, optimizer) if kind == "named" else None
        return model, _trainer(model, optimizer, str(out), checkpoint=ckpt,
                               save_checkpoints_steps=4, steps_per_loop=spl)

    # Each step sees the same batch, so a restarted input pipeline changes nothing.
    data = tf.data.Dataset.from_tensors((x[:16], y[:16])).repeat()
    model, trainer = setup(tmp_path / "full")
    trainer.train(data, 10)
    full = (_weights(model), trainer.learning_rate(), int(trainer.optimizer.iterations))

    model, trainer = setup(tmp_path / "cut")
    assert trainer.restore() is None
    trainer.train(data, 6)  # checkpoints at 4 and 6: "killed" after 6 ...
    # ... a kill during the next save leaves temporaries; the rerun ignores and removes them
    (tmp_path / "cut" / ".model.ckpt-8.tmp-0123456789ab.index").write_bytes(b"junk")
    model, trainer = setup(tmp_path / "cut", spl=3)
    assert trainer.restore() == 6
    assert not (tmp_path / "cut" / ".model.ckpt-8.tmp-0123456789ab.index").exists()
    assert trainer.learning_rate(6) == pytest.approx(0.05 * (1 - 6 / 10))
    trainer.train(data, 10)
    for a, b in zip(full[0], _weights(model)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert trainer.learning_rate() == pytest.approx(full[1])
    assert int(trainer.optimizer.iterations) == full[2] == 10


@pytest.mark.parametrize("kind", ["object", "named"])
@pytest.mark.parametrize("keep", [1, 2])
def test_max_to_keep(tmp_path, kind, keep):
    model = linear_model()
    optimizer = keras.optimizers.Adam(0.1)
    optimizer.build(model.trainable_variables)
    if kind == "named":
        ckpt = _named(model, optimizer)(str(tmp_path))
        ckpt.max_to_keep = keep
    else:
        ckpt = training.ObjectCheckpoint(str(tmp_path), max_to_keep=keep, model=model,
                                         optimizer=optimizer)
    for step in (1, 2, 3):
        ckpt.save(step)
    expected = [f"model.ckpt-{s}" for s in (1, 2, 3)[-keep:]]
    assert [os.path.basename(p) for p in ckpt.checkpoints()] == expected
    on_disk = sorted(n[:-len(".index")] for n in os.listdir(tmp_path) if n.endswith(".index"))
    assert on_disk == expected


def test_eval_metrics_exact_against_numpy(tmp_path):
    x, y = regression_data(n=50)
    model = linear_model()
    trainer = _trainer(model, keras.optimizers.SGD(0.1), str(tmp_path))
    # 50 examples in batches of 16: the last batch holds 2; max 3 steps covers 48.
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    pred = x @ model.get_weights()[0][:, 0] + model.get_weights()[1][0]
    for steps, n in ((3, 48), (100, 50)):
        result = trainer.evaluate(data, steps)
        err = pred[:n] - y[:n]
        assert result["mse"] == pytest.approx(float(np.mean(err ** 2)), rel=1e-5)
        assert result["mae"] == pytest.approx(float(np.mean(np.abs(err))), rel=1e-5)
    assert trainer.eval_steps_run == 4
    path = trainer.write_eval_results(result)
    text = open(path).read()
    assert text == "".join(f"{k} = {result[k]}\n" for k in ("global_step", "mae", "mse"))
    assert sorted(os.listdir(tmp_path)) == ["eval", "eval_results.txt"]  # no temporaries


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_mixed_precision_trains(dtype):
    x, y = regression_data()
    try:
        training.set_mixed_precision(True, dtype)
        model = linear_model()
        optimizer = training.loss_scaled(keras.optimizers.SGD(0.1))
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer) == (dtype == "float16")
        trainer = _trainer(model, optimizer)
        first = trainer.train(repeated(x, y, 16), 1)["loss"]
        last = trainer.train(repeated(x, y, 16), 30)["loss"]
    finally:
        training.set_mixed_precision(False)
    assert model.layers[0].compute_dtype == dtype
    assert np.isfinite(last) and last < 0.05 * first


def test_lr_multipliers_scale_the_update():
    x, y = regression_data()
    runs = {}
    for name, mult in (("plain", {}), ("bias_slow", {"bias": 0.1})):
        model = linear_model()
        optimizer = training.set_lr_multipliers(keras.optimizers.SGD(0.1), mult)
        start = _weights(model)
        _trainer(model, optimizer).train(repeated(x, y, 16), 1)
        runs[name] = [b - a for a, b in zip(start, _weights(model))]
    np.testing.assert_allclose(runs["bias_slow"][0], runs["plain"][0], rtol=1e-6)
    np.testing.assert_allclose(runs["bias_slow"][1], 0.1 * runs["plain"][1], rtol=1e-5)


def test_numpy_function_in_the_loss():
    """A host-side step inside the loss (DETR's Hungarian matching): here a permutation
    computed in numpy that pairs predictions with targets."""
    x, y = regression_data()

    def loss_fn(model, batch, training):
        xb, yb = batch
        pred = tf.squeeze(model(xb, training=training), -1)
        order = tf.numpy_function(lambda a: np.argsort(np.argsort(a)).astype(np.int32),
                                  [yb], tf.int32)  # identity pairing, found on the host
        order.set_shape(yb.shape)
        se = tf.square(pred - tf.gather(tf.sort(yb), order))
        return tf.reduce_mean(se), {"mse": (tf.reduce_sum(se), tf.cast(tf.size(yb), tf.float32))}

    model = linear_model()
    trainer = training.Trainer(model, keras.optimizers.SGD(0.1), loss_fn, global_batch_size=16,
                               steps_per_loop=5, print_fn=lambda *a: None)
    first = trainer.train(repeated(x, y, 16), 1)["loss"]
    assert trainer.train(repeated(x, y, 16), 30)["loss"] < 0.01 * first


def test_metrics_must_be_pairs():
    def loss_fn(model, batch, training):
        loss, _ = mse_loss_fn(model, batch, training)
        return loss, {"mse": loss}

    x, y = regression_data()
    trainer = training.Trainer(linear_model(), keras.optimizers.SGD(0.1), loss_fn,
                               global_batch_size=16, print_fn=lambda *a: None)
    with pytest.raises(ValueError, match="numerator, denominator"):
        trainer.train(repeated(x, y, 16), 1)
