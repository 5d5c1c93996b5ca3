"""A linear-regression task with a known optimum for the trainer tests."""

import keras
import numpy as np
import tensorflow as tf

TRUE_W = np.array([1.0, -2.0, 0.5], np.float32)
TRUE_B = 0.3


def regression_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x @ TRUE_W + TRUE_B).astype(np.float32)
    return x, y


def linear_model(seed=1):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, name="dense")])
    return model


def mse_loss_fn(model, batch, training):
    """Batch-mean squared error; metrics as (numerator, denominator) sums."""
    x, y = batch
    pred = tf.cast(tf.squeeze(model(x, training=training), -1), tf.float32)
    se = tf.square(pred - y)
    count = tf.cast(tf.size(y), tf.float32)
    return tf.reduce_mean(se), {
        "mse": (tf.reduce_sum(se), count),
        "mae": (tf.reduce_sum(tf.abs(pred - y)), count),
    }


def repeated(x, y, batch):
    return tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(batch, drop_remainder=True)
