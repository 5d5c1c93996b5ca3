"""Session-parallel GRU4Rec training, as the official ``GRU4Rec.fit``.

One GRU step per mini-batch, hidden state carried between steps (no BPTT), lanes reset
to zero when a new session starts in them, the batch compacted when it shrinks at the
end of the epoch (and the epoch stopped when fewer than 2 lanes remain and there are no
extra samples, as the official). Negatives: the other targets of the mini-batch plus
``n_sample`` shared samples from the popularity**alpha sample store. The loss of a step
is the loss sum divided by ``batch_size`` (not by the current lane count), Adagrad(+momentum)
with sparse row updates for the item matrices.

Speed: the per-event work runs in graph mode; up to ``CHUNK_STEPS`` consecutive steps with
the same lanes come from the iterator as one block and run in a single ``tf.function``
call holding the loop, so Python is entered once per chunk, not once per step.
"""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from tfmodels.models.gru4rec.losses import training_loss
from tfmodels.models.gru4rec.model import GRU4Rec
from tfmodels.models.gru4rec.optimizer import AdagradM
from tfmodels.models.gru4rec.sampling import SampleStore

CHUNK_STEPS = 128


class GRU4RecTrainer:
    """Holds the optimizer state, sample store and the compiled chunk step of one model."""

    def __init__(self, model: GRU4Rec, item_counts, jit_compile: bool = True):
        self.model = model
        p = self.params = model.params
        counts = np.asarray(item_counts, dtype=np.float64)
        if counts.shape != (model.n_items,):
            raise ValueError(f"item_counts must have shape ({model.n_items},), got {counts.shape}")
        self.opt = AdagradM(p.learning_rate, p.momentum)
        self.dense = [v.value for v in model.dense_variables()]
        self.sparse = [v.value for v in model.item_matrices()]
        self.opt.build(self.dense + self.sparse)
        self.store = (SampleStore(counts, p.n_sample, p.sample_alpha, p.sample_store_size, p.seed)
                      if p.n_sample > 0 else None)
        self.log_pop = None
        if p.loss == "cross-entropy" and p.logq > 0:
            self.log_pop = tf.constant(np.log(np.maximum(counts, 1e-12)), tf.float32)
        self.gen = tf.random.Generator.from_seed(p.seed)
        self.jit_compile = jit_compile
        self._chunk = self._make_chunk(None)
        self._chunk_full = self._make_chunk(p.batch_size, jit_compile) if jit_compile else None

    # ------------------------------------------------------------------ graph part
    def _make_chunk(self, width, jit_compile=False):
        """Chunk runner for a fixed lane count ``width`` (static shapes) or any (None).

        With ``jit_compile`` all of a step but the final row scatters is one XLA
        computation (``_fused_part``, compiled once for this width)."""
        spec_h = [tf.TensorSpec([width, u], tf.float32) for u in self.params.layers]
        step = None
        if jit_compile:
            fused = tf.function(self._fused_part, jit_compile=True)

            def step(x, y, s, h):
                return self._step_fused(x, y, s, h, fused)

        def run(xs, ys, resets, samples, hidden):
            return self._chunk_impl(xs, ys, resets, samples, hidden, step)

        return tf.function(run, input_signature=[
            tf.TensorSpec([None, width], tf.int32), tf.TensorSpec([None, width], tf.int32),
            tf.TensorSpec([None, width], tf.bool),
            tf.TensorSpec([None, self.params.n_sample], tf.int32), spec_h])

    def _dropout(self, rate):
        if rate <= 0:
            return None
        keep = 1.0 - rate

        def drop(x):
            mask = tf.cast(self.gen.uniform(tf.shape(x)) < keep, x.dtype)
            return x * mask / keep
        return drop

    def _grads(self, x, y, s, hidden, rows):
        """Loss, new hidden state and gradients (dense variables, gathered item rows)."""
        m, p = self.model, self.params
        b = tf.shape(x)[0]
        with tf.GradientTape() as tape:
            tape.watch(rows)
            if m.mode == "shared":
                in_rows, out_rows = rows[0][:b], rows[0][b:]
            else:
                in_rows, out_rows = rows[2], rows[0]
            out, new_h = m.hidden_forward(in_rows, hidden, self._dropout(p.dropout_p_embed),
                                          self._dropout(p.dropout_p_hidden))
            o = tf.matmul(out, out_rows, transpose_b=True) + rows[1][None, :]
            log_q = None
            if self.log_pop is not None:
                log_q = tf.concat([tf.gather(self.log_pop, y),
                                   p.sample_alpha * tf.gather(self.log_pop, s)], 0)
            loss = training_loss(p.loss, o, final_act=p.effective_final_act, bpreg=p.bpreg,
                                 log_q=log_q, logq=p.logq) / float(p.batch_size)
        grads = tape.gradient(loss, self.dense + rows)
        return loss, new_h, grads

    def _indices(self, x, y, s):
        out_idx = tf.concat([y, s], axis=0)
        if self.model.mode == "shared":
            return [tf.concat([x, out_idx], 0), out_idx]
        return [out_idx, out_idx, x]

    def _fused_part(self, x, y, s, hidden):
        """Everything of a step but the row scatters, with shapes fixed by the lane count
        (compiled with XLA in ``_make_chunk``): gathers, forward, loss, backward, dense
        updates and the new rows of the item matrices and their slots."""
        idx_list = self._indices(x, y, s)
        rows = [tf.gather(var, idx) for var, idx in zip(self.sparse, idx_list)]
        loss, new_h, grads = self._grads(x, y, s, hidden, rows)
        for var, g in zip(self.dense, grads[:len(self.dense)]):
            self.opt.apply_dense(var, g)
        updates = [self.opt.sparse_rows(var, idx, g) for var, idx, g in
                   zip(self.sparse, idx_list, grads[len(self.dense):])]
        return loss, new_h, updates

    def _step_fused(self, x, y, s, hidden, fused):
        loss, new_h, updates = fused(x, y, s, hidden)
        for var, (rows_idx, rows) in zip(self.sparse, updates):
            self.opt.write_rows(var, rows_idx, rows)
        return loss, new_h

    def _step(self, x, y, s, hidden):
        idx_list = self._indices(x, y, s)
        rows = [tf.gather(var, idx) for var, idx in zip(self.sparse, idx_list)]
        loss, new_h, grads = self._grads(x, y, s, hidden, rows)
        for var, g in zip(self.dense, grads[:len(self.dense)]):
            self.opt.apply_dense(var, g)
        for var, idx, g in zip(self.sparse, idx_list, grads[len(self.dense):]):
            self.opt.apply_sparse(var, idx, g)
        return loss, new_h

    def _chunk_impl(self, xs, ys, resets, samples, hidden, step=None):
        step = step or self._step
        n = tf.shape(xs)[0]
        losses = tf.TensorArray(tf.float32, size=n)
        for t in tf.range(n):
            tf.autograph.experimental.set_loop_options(
                shape_invariants=[(h, h.shape) for h in hidden])
            r = resets[t][:, None]
            hidden = [tf.where(r, tf.zeros_like(h), h) for h in hidden]
            loss, hidden = step(xs[t], ys[t], samples[t], hidden)
            losses = losses.write(t, loss)
        return losses.stack(), hidden

    # ------------------------------------------------------------------ python part
    def train_epoch(self, iterator) -> tuple[float, float, int, int]:
        """One pass over a SessionParallelIterator: (loss, seconds, events, steps).

        Consumes ``iterator.chunks(CHUNK_STEPS)``: blocks of consecutive steps with the same
        active lanes; the hidden state is compacted with ``active_lanes`` when they shrink.
        """
        p = self.params
        t0 = time.perf_counter()
        hidden, lanes = None, None
        tot_loss, tot_events, n_steps = 0.0, 0, 0
        for xs, ys, rs, active in iterator.chunks(CHUNK_STEPS):
            if p.n_sample == 0 and len(active) < 2:
                break  # no negatives left: the official stops the epoch here
            if hidden is None:
                hidden = self.model.initial_state(len(active))
            elif len(active) != len(lanes):
                pos = np.searchsorted(lanes, active)
                hidden = [tf.gather(h, pos) for h in hidden]
            lanes = active
            k, width = xs.shape
            s = self.store.take(k) if self.store is not None else np.zeros((k, 0), np.int32)
            run = self._chunk_full if (self._chunk_full and width == p.batch_size) else self._chunk
            losses, hidden = run(xs, ys, rs, s, hidden)
            losses = losses.numpy()
            if not np.all(np.isfinite(losses)):
                raise FloatingPointError("NaN/inf training loss: lower learning_rate or check data")
            tot_loss += float(losses.sum()) * width
            tot_events += k * width
            n_steps += k
        dt = time.perf_counter() - t0
        return tot_loss / max(tot_events, 1), dt, tot_events, n_steps


def fit(model: GRU4Rec, train, item_counts, n_epochs: int | None = None, log=print,
        summary_dir: str | None = None, trainer: GRU4RecTrainer | None = None):
    """Train ``model`` for ``n_epochs`` epochs (default ``params.n_epochs``).

    ``train`` is a session-parallel stream: an object whose ``chunks(max_steps)`` yields
    ``(inputs int[k, B], targets int[k, B], resets bool[k, B], active_lanes int[B])``
    blocks of consecutive steps (e.g. ``pipelines.sessions.SessionParallelIterator(data,
    params.batch_size)``); ``item_counts`` [n_items] are the training events per item (the
    popularity of the negative sampler and logq). Prints the official per-epoch line (loss,
    seconds, mini-batches/s, events/s) and writes ``loss`` and ``events_per_sec``
    TensorBoard scalars to ``summary_dir``. Returns the list of per-epoch dicts.

    Raises:
      ValueError: ``item_counts`` does not match the model, or an epoch has no
        (input, next item) event (e.g. every session has a single event).
    """
    p = model.params
    if np.shape(item_counts) != (model.n_items,):
        raise ValueError(f"item_counts must have shape ({model.n_items},) (one count per item "
                         f"of the model), got {np.shape(item_counts)}")
    trainer = trainer or GRU4RecTrainer(model, item_counts)
    writer = tf.summary.create_file_writer(summary_dir) if summary_dir else None
    history = []
    for epoch in range(p.n_epochs if n_epochs is None else n_epochs):
        loss, dt, events, steps = trainer.train_epoch(train)
        if events == 0:
            raise ValueError("the training data has no (input, next item) events: every "
                             "session has a single event")
        rec = {"epoch": epoch + 1, "loss": loss, "seconds": dt, "events": events,
               "steps": steps, "events_per_sec": events / max(dt, 1e-9)}
        history.append(rec)
        if log:
            log(f"Epoch{epoch + 1} --> loss: {loss:.6f} \t({dt:.2f}s) \t"
                f"[{steps / max(dt, 1e-9):.2f} mb/s | {rec['events_per_sec']:.0f} e/s]")
        if writer is not None:
            _write_scalars(writer, {"loss": loss, "events_per_sec": rec["events_per_sec"]},
                           epoch + 1)
    return history


def _write_scalars(writer, values: dict, step: int) -> None:
    """TensorBoard scalars via ``tf.summary.write`` with the scalar plugin's metadata, so
    no ``tensorboard`` package is needed to write them."""
    from tensorflow.core.framework import summary_pb2

    meta = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    with writer.as_default():
        for tag, value in values.items():
            tf.summary.write(tag, tf.constant(float(value), tf.float32), step=step,
                             metadata=meta)
    writer.flush()
