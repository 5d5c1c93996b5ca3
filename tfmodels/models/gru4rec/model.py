"""GRU4Rec network (Hidasi et al., ICLR 2016; Hidasi & Karatzoglou, CIKM 2018) in Keras 3.

Follows the official implementations (hidasib/GRU4Rec ``model``, GRU4Rec_Tensorflow_Official
``GRU4RecModel``/``GRULayer``/``GRUEmbedding``):

- Input modes: ``constrained_embedding`` (shared: the output item matrix ``Wy`` is also
  the input embedding), ``embedding=N`` (separate input matrix ``E``) or neither (the
  one-hot input goes straight into the first GRU layer, whose input matrix is then an
  item matrix ``[n_items, 3 * units]``).
- GRU cell as the Theano and TF originals: ``r, z = sigmoid(x Wx_{r,z} + h Wrz + b)``,
  ``c = tanh((r * h) Wh + x Wx_c + b_c)``, ``h' = (1 - z) h + z c``: the reset gate is
  applied BEFORE the hidden matmul. The official PyTorch code uses ``nn.GRUCell`` for
  these layers, which applies it after, with a separate bias:
  ``c = tanh(x Wx_c + b_c + r * (h Wh + b_hh))``; ``reset_after=True`` (a GRU4Rec
  parameter, off by default) selects that cell (new weight ``Bhh``; the item-input first
  layer keeps the original cell, as the PyTorch ``GRUEmbedding`` does). Weight blocks
  ``Wx = [candidate | reset | update]``, ``Wrz = [reset | update]``; every gate block
  initialised uniform in ``±sqrt(6 / (fan_in + fan_out))``, biases zero.
- Scores ``h Wy^T + By``. Dropout on the embedding (``dropout_p_embed``) and on every
  GRU output (``dropout_p_hidden``); the hidden state carried to the next step is the
  dropped-out one, as in the official code.
- Prediction scores are the raw ``h Wy^T + By`` (as the PyTorch/TF official; the Theano
  original also applied the final activation, which cannot reorder items except by ties).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from tfmodels.models.gru4rec.params import GRU4RecParams


def block_uniform(fan_in: int, fan_out: int, seed: int):
    """Uniform in ±sqrt(6 / (fan_in + fan_out)) (official ``init_parameter_matrix``)."""
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return keras.initializers.RandomUniform(-limit, limit, seed=seed)


@keras.saving.register_keras_serializable(package="tfmodels")
class _BlockInit(keras.initializers.Initializer):
    """Concatenation along the last axis of independently drawn uniform blocks."""

    def __init__(self, fan_in, block, n_blocks, seed):
        self.fan_in, self.block, self.n_blocks, self.seed = fan_in, block, n_blocks, seed

    def __call__(self, shape, dtype=None):
        parts = [block_uniform(self.fan_in, self.block, self.seed + i)(
            (shape[0], self.block), dtype=dtype) for i in range(self.n_blocks)]
        return tf.concat(parts, axis=-1)

    def get_config(self):
        return {"fan_in": self.fan_in, "block": self.block, "n_blocks": self.n_blocks,
                "seed": self.seed}


@keras.saving.register_keras_serializable(package="tfmodels")
class GRULayer(keras.layers.Layer):
    """One official GRU4Rec GRU layer; ``item_input=True`` makes ``Wx`` an item matrix.

    ``reset_after=False``: ``c = tanh((r * h) Wh + x Wx_c + b_c)`` (Theano/TF originals);
    ``reset_after=True``: ``c = tanh(x Wx_c + b_c + r * (h Wh + Bhh))`` (PyTorch
    ``nn.GRUCell``, as the official PyTorch GRU4Rec).
    """

    def __init__(self, units: int, input_dim: int, item_input: bool = False, seed: int = 0,
                 reset_after: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.units, self.input_dim, self.item_input, self.seed = units, input_dim, item_input, seed
        self.reset_after = bool(reset_after)
        u = units
        self.Wx = self.add_weight(shape=(input_dim, 3 * u), name="Wx",
                                  initializer=_BlockInit(input_dim, u, 3, seed))
        self.Wrz = self.add_weight(shape=(u, 2 * u), name="Wrz",
                                   initializer=_BlockInit(u, u, 2, seed + 3))
        self.Wh = self.add_weight(shape=(u, u), name="Wh",
                                  initializer=block_uniform(u, u, seed + 5))
        self.Bh = self.add_weight(shape=(3 * u,), name="Bh", initializer="zeros")
        self.Bhh = (self.add_weight(shape=(u,), name="Bhh", initializer="zeros")
                    if self.reset_after else None)
        self.built = True

    def project(self, x):
        """Input projection ``x Wx + Bh`` ([B, 3u]); item indices when ``item_input``."""
        if self.item_input:
            return tf.gather(self.Wx, x) + self.Bh
        return tf.matmul(x, self.Wx) + self.Bh

    def step(self, vx, h):
        """One GRU update from the projected input ``vx`` [B, 3u] and state ``h`` [B, u]."""
        u = self.units
        vrz = tf.matmul(h, self.Wrz)
        rz = tf.sigmoid(vx[:, u:] + vrz)
        r, z = rz[:, :u], rz[:, u:]
        if self.reset_after:
            c = tf.tanh(vx[:, :u] + r * (tf.matmul(h, self.Wh) + self.Bhh))
        else:
            c = tf.tanh(tf.matmul(h * r, self.Wh) + vx[:, :u])
        return h + z * (c - h)  # == (1 - z) h + z c

    def call(self, x, h):
        return self.step(self.project(x), h)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "input_dim": self.input_dim,
                "item_input": self.item_input, "seed": self.seed,
                "reset_after": self.reset_after}


@keras.saving.register_keras_serializable(package="tfmodels")
class GRU4Rec(keras.Model):
    """GRU4Rec over ``n_items`` item indices (0 .. n_items-1).

    ``initial_state(B)`` -> list of zero hidden states; ``score_step(items, hidden)`` ->
    (scores over all items ``[B, n_items]``, new hidden list); ``recommend(items, k)``
    -> top-k (item indices, scores) after feeding one session's history.
    """

    def __init__(self, n_items: int, params: GRU4RecParams | dict | None = None,
                 item_ids=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(params, dict):
            params = GRU4RecParams.from_dict(params)
        self.params = params or GRU4RecParams()
        if n_items < 1:
            raise ValueError(f"n_items must be >= 1, got {n_items}")
        self.n_items = int(n_items)
        self.item_ids = None if item_ids is None else np.asarray(item_ids)
        p, seed = self.params, self.params.seed
        layers = p.layers
        if p.constrained_embedding:
            self.mode, n_input = "shared", layers[-1]
        elif p.embedding:
            self.mode, n_input = "separate", p.embedding
        else:
            self.mode, n_input = "none", self.n_items
        self.E = None
        if self.mode == "separate":
            self.E = self.add_weight(shape=(self.n_items, p.embedding), name="E",
                                     initializer=block_uniform(self.n_items, p.embedding, seed))
        self.grus = []
        for i, units in enumerate(layers):
            fan_in = layers[i - 1] if i > 0 else n_input
            item_input = i == 0 and self.mode == "none"
            self.grus.append(GRULayer(units, fan_in, item_input=item_input,
                                      seed=seed + 10 * (i + 1),
                                      reset_after=p.reset_after and not item_input,
                                      name=f"gru_{i}"))
        self.Wy = self.add_weight(shape=(self.n_items, layers[-1]), name="Wy",
                                  initializer=block_uniform(self.n_items, layers[-1], seed + 1))
        self.By = self.add_weight(shape=(self.n_items,), name="By", initializer="zeros")
        self.built = True
        spec_h = [tf.TensorSpec([None, u], tf.float32) for u in layers]
        self._score_fn = tf.function(
            self._score_impl,
            input_signature=[tf.TensorSpec([None], tf.int32), spec_h], reduce_retracing=True)
        self._history_fn = tf.function(
            self._history_impl, input_signature=[tf.TensorSpec([None], tf.int32)])

    # ---------------------------------------------------------------- variables
    @property
    def state_sizes(self) -> list[int]:
        return list(self.params.layers)

    def named_weights(self) -> dict:
        """Stable name -> variable (independent of Keras' auto-generated model name)."""
        out = {"Wy": self.Wy, "By": self.By}
        if self.E is not None:
            out["E"] = self.E
        for i, g in enumerate(self.grus):
            out.update({f"gru_{i}/Wx": g.Wx, f"gru_{i}/Wrz": g.Wrz, f"gru_{i}/Wh": g.Wh,
                        f"gru_{i}/Bh": g.Bh})
            if g.Bhh is not None:
                out[f"gru_{i}/Bhh"] = g.Bhh
        return out

    def item_matrices(self) -> list:
        """Variables updated by sparse row updates: indexed by item."""
        mats = [self.Wy, self.By]
        if self.E is not None:
            mats.append(self.E)
        if self.mode == "none":
            mats.append(self.grus[0].Wx)
        return mats

    def dense_variables(self) -> list:
        out = []
        for i, g in enumerate(self.grus):
            if not (i == 0 and self.mode == "none"):
                out.append(g.Wx)
            out += [g.Wrz, g.Wh, g.Bh] + ([g.Bhh] if g.Bhh is not None else [])
        return out

    # ---------------------------------------------------------------- forward
    def input_rows(self, items):
        """The item-indexed input representation: embedding rows or the GRU projection."""
        if self.mode == "shared":
            return tf.gather(self.Wy, items)
        if self.mode == "separate":
            return tf.gather(self.E, items)
        return tf.gather(self.grus[0].Wx, items)

    def hidden_forward(self, rows, hidden, drop_embed=None, drop_hidden=None):
        """GRU stack on the gathered input ``rows``; returns (output, new hidden list)."""
        new_h = []
        if self.mode == "none":
            h = self.grus[0].step(rows + self.grus[0].Bh, hidden[0])
            x = drop_embed(h) if drop_embed else h
            new_h.append(x)
            start = 1
        else:
            x = drop_embed(rows) if drop_embed else rows
            start = 0
        for i in range(start, len(self.grus)):
            h = self.grus[i](x, hidden[i])
            x = drop_hidden(h) if drop_hidden else h
            new_h.append(x)
        return x, new_h

    def _score_impl(self, items, hidden):
        x, new_h = self.hidden_forward(self.input_rows(items), hidden)
        scores = tf.matmul(x, self.Wy, transpose_b=True) + self.By
        return scores, new_h

    def initial_state(self, batch: int) -> list:
        return [tf.zeros((batch, u), tf.float32) for u in self.params.layers]

    def score_step(self, input_items, hidden, training: bool = False):
        """Scores of every item after one step: ``([B, n_items], new hidden list)``."""
        items = tf.convert_to_tensor(input_items, tf.int32)
        hidden = [tf.convert_to_tensor(h, tf.float32) for h in hidden]
        if not training:
            return self._score_fn(items, hidden)
        p = self.params
        de = _dropout(p.dropout_p_embed)
        dh = _dropout(p.dropout_p_hidden)
        x, new_h = self.hidden_forward(self.input_rows(items), hidden, de, dh)
        return tf.matmul(x, self.Wy, transpose_b=True) + self.By, new_h

    def call(self, inputs, training=False):
        items, hidden = inputs
        return self.score_step(items, hidden, training=training)

    def _history_impl(self, items):
        hidden = [tf.zeros((1, u), tf.float32) for u in self.params.layers]
        x = tf.zeros((1, self.params.layers[-1]), tf.float32)
        n = tf.shape(items)[0]
        for t in tf.range(n):
            tf.autograph.experimental.set_loop_options(
                shape_invariants=[(x, tf.TensorShape([1, None]))]
                + [(h, tf.TensorShape([1, None])) for h in hidden])
            x, hidden = self.hidden_forward(self.input_rows(tf.reshape(items[t], [1])), hidden)
        scores = tf.matmul(x, self.Wy, transpose_b=True) + self.By
        return scores[0], hidden

    def session_state(self, session_items):
        """Feed one session's item indices from a zero state: (scores [n_items], hidden)."""
        items = np.asarray(session_items, dtype=np.int64).reshape(-1)
        if items.size == 0:
            raise ValueError("session_items is empty: give at least one item index")
        if items.min() < 0 or items.max() >= self.n_items:
            raise ValueError(f"session_items must be item indices in [0, {self.n_items})")
        return self._history_fn(tf.constant(items, tf.int32))

    def recommend(self, session_items, k: int = 20):
        """Top-k next items for one live session: ``(item indices [k], scores [k])``."""
        k = int(k)
        if not 1 <= k <= self.n_items:
            raise ValueError(f"k must be in [1, {self.n_items}], got {k}")
        scores, _ = self.session_state(session_items)
        top = tf.math.top_k(scores, k=k)
        return top.indices.numpy(), top.values.numpy()

    def get_config(self):
        """Constructor arguments (JSON-able), so ``model.save("x.keras")`` round-trips."""
        item_ids = None if self.item_ids is None else self.item_ids.tolist()
        return {"n_items": self.n_items, "params": self.params.to_dict(),
                "item_ids": item_ids, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(config["n_items"], GRU4RecParams.from_dict(config["params"]),
                   item_ids=config.get("item_ids"), name=config.get("name"))


def _dropout(p: float):
    if p <= 0:
        return None
    return lambda x: tf.nn.dropout(x, rate=p)
