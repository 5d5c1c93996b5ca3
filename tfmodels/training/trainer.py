"""The training loop every training script runs: :class:`Trainer`.

What it does per global step (one call of the replica step on every replica):

1. ``loss, metrics = loss_fn(model, batch, training=True)`` on the replica's batch
   (split into ``gradient_accumulation_steps`` micro-batches whose gradients are
   averaged, so k micro-batches give the gradient of one batch of k times the size
   when the loss is a batch mean);
2. the gradient of ``loss`` (times the loss scale under float16, times ``1/N`` for
   ``gradient_reduction="mean"``) with respect to the trainable variables;
3. ``optimizer.apply``: Keras sums the replicas' gradients (all-reduce) and updates.
   Clipping inside the optimizer (``clipnorm``/``global_clipnorm``, BERT's
   ``clip_norm``) sees each replica's own gradient, before the sum - what the original
   BERT TPU loop did (``tf.gradients``; ``clip_by_global_norm``;
   ``CrossShardOptimizer.apply_gradients`` = ``cross_replica_sum`` then apply).
   ``Trainer(clip_norm=...)`` instead clips the reduced gradient (PyTorch DDP order).

Several steps run inside one ``tf.function`` call (``steps_per_loop``); the replica
step itself may be XLA-compiled (``jit_compile``). Progress lines, TensorBoard
scalars and checkpoints happen between calls.

Evaluation sums metric numerators and denominators over replicas and batches and
divides once at the end, so results do not depend on the number of replicas.
"""

from __future__ import annotations

import time

import keras
import tensorflow as tf

from tfmodels import io
from tfmodels.training.checkpoints import ObjectCheckpoint
from tfmodels.training.distribute import task_info
from tfmodels.training.precision import inner_optimizer
from tfmodels.training.summaries import EVAL_RESULTS, write_eval_results, write_scalars

SUM = tf.distribute.ReduceOp.SUM
MEAN = tf.distribute.ReduceOp.MEAN


class Trainer:
    """Distributed training and evaluation of one model.

    Create the strategy first (:func:`~tfmodels.training.make_strategy`), build the model
    and the optimizer under ``strategy.scope()``, then hand them over.

    Args:
      model: a built ``keras.Model`` (created under ``strategy.scope()``).
      optimizer: a Keras optimizer (wrap it with :func:`loss_scaled` for float16).
      loss_fn: ``loss_fn(model, batch, training) -> (loss, metrics)`` run on each
        replica's batch: ``loss`` a float32 scalar to minimise (usually the batch
        mean); ``metrics`` a dict ``{name: (numerator, denominator)}`` of per-replica
        sums (e.g. ``(sum of per-example losses, number of examples)``,
        ``(correct, count)``). The trainer sums both over replicas, steps and batches
        and reports ``numerator / denominator``. May call ``tf.numpy_function`` when
        ``jit_compile`` is False.
      strategy: the ``tf.distribute`` strategy (default: the current one).
      output_dir: TensorBoard events and the checkpoints (the chief's); other workers
        write theirs under ``output_dir/.<task>_<index>``. None: no files.
      checkpoint: ``checkpoint(directory) -> checkpoint object`` (``save(step)``,
        ``restore()``, ``latest()``, ``remove_temporaries()``; e.g. a
        :class:`NamedCheckpoint` under original names). Default: an
        :class:`ObjectCheckpoint` of the model and optimizer.
      global_batch_size: examples per global step over all replicas (for examples/s
        and the accumulation check).
      gradient_accumulation_steps: micro-batches per replica batch; the per-replica
        batch must divide evenly.
      jit_compile: XLA-compile the replica step (train and eval).
      steps_per_loop: most steps run inside one compiled call.
      log_steps: progress line and TensorBoard scalars every this many steps.
      save_checkpoints_steps: checkpoint every this many steps (and at the end).
      gradient_reduction: ``"mean"`` (the gradient of the replicas' mean loss, the
        default of Keras ``fit``) or ``"sum"`` (the sum of the replicas' gradients:
        the original BERT TPU loop).
      clip_norm: optional global-norm clip of the cross-replica gradient, after the
        reduction (leave None when the optimizer clips per replica).
      eval_batch_metrics: optional ``f(sums) -> {name: (numerator, denominator)}`` run
        once per eval step on the metrics summed over replicas (the global batch), for
        metrics that are a mean over batches of a per-batch ratio (the Estimator's
        ``loss``).
      print_fn: where progress lines go.
    """

    def __init__(self, model, optimizer, loss_fn, *, strategy=None, output_dir=None,
                 checkpoint=None, global_batch_size=None, gradient_accumulation_steps=1,
                 jit_compile=False, steps_per_loop=1, log_steps=100,
                 save_checkpoints_steps=1000, gradient_reduction="mean", clip_norm=None,
                 eval_batch_metrics=None, max_to_keep=5, print_fn=None):
        self.strategy = strategy or tf.distribute.get_strategy()
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.output_dir = output_dir
        self.num_replicas = self.strategy.num_replicas_in_sync
        for name, value in (("gradient_accumulation_steps", gradient_accumulation_steps),
                            ("steps_per_loop", steps_per_loop), ("log_steps", log_steps),
                            ("save_checkpoints_steps", save_checkpoints_steps)):
            if int(value) < 1:
                raise ValueError(f"{name} must be positive, got {value}")
        if gradient_reduction not in ("mean", "sum"):
            raise ValueError(f"gradient_reduction must be 'mean' or 'sum', got "
                             f"{gradient_reduction!r}")
        self.accum = int(gradient_accumulation_steps)
        self.global_batch_size = global_batch_size
        if global_batch_size is not None:
            check_batch_split(global_batch_size, self.num_replicas, self.accum)
        self.jit_compile = bool(jit_compile)
        self.steps_per_loop = int(steps_per_loop)
        self.log_steps = int(log_steps)
        self.save_checkpoints_steps = int(save_checkpoints_steps)
        self.gradient_reduction = gradient_reduction
        self.clip_norm = clip_norm
        self.eval_batch_metrics = eval_batch_metrics
        self.print = print_fn or (lambda *a: print(*a, flush=True))
        self.is_chief, task_name = task_info()
        self.step = 0
        self.last_train_metrics = {}

        with self.strategy.scope():
            if not optimizer.built:
                optimizer.build(model.trainable_variables)
        self.checkpoint = None
        self._checkpoint_fn = checkpoint or (
            lambda d: ObjectCheckpoint(d, max_to_keep=max_to_keep, model=model,
                                       optimizer=optimizer))
        self.checkpoint_dir = None
        self._writer = None
        if output_dir is not None:
            self.checkpoint_dir = (output_dir if self.is_chief
                                   else io.join(output_dir, f".{task_name}"))
            io.makedirs(self.checkpoint_dir)
            self.checkpoint = self._checkpoint_fn(self.checkpoint_dir)
        self._train_loop = None
        self._eval_loop = None

    # ----------------------------------------------------------------- checkpoints
    def restore(self):
        """Resumes from the chief's latest checkpoint (every worker reads the chief's);
        returns the restored global step, or None when there is none."""
        if self.checkpoint is None:
            return None
        if self.is_chief:
            self.checkpoint.remove_temporaries()
        source = self._checkpoint_fn(self.output_dir)
        step = source.restore()
        if step is not None:
            self.step = int(step)
            self.print(f"Resuming from {source.latest()} at global step {self.step}")
        return step

    def save(self):
        if self.checkpoint is not None:
            return self.checkpoint.save(self.step)
        return None

    # ----------------------------------------------------------------- datasets
    def distribute(self, dataset):
        """A ``tf.data.Dataset`` of global batches, or ``fn(input_context)`` returning
        per-replica batches (``input_context.get_per_replica_batch_size``), distributed
        over the strategy's replicas."""
        if isinstance(dataset, tf.distribute.DistributedDataset) or hasattr(
                dataset, "_input_workers"):
            return dataset
        if callable(dataset) and not isinstance(dataset, tf.data.Dataset):
            return self.strategy.distribute_datasets_from_function(dataset)
        return self.strategy.experimental_distribute_dataset(dataset)

    # ----------------------------------------------------------------- training
    def _replica_step(self, batch):
        tvars = self.model.trainable_variables
        optimizer = self.optimizer
        factor = 1.0 / self.num_replicas if self.gradient_reduction == "mean" else 1.0

        def grads_of(b):
            with tf.GradientTape() as tape:
                loss, metrics = self.loss_fn(self.model, b, True)
                loss = tf.cast(loss, tf.float32)
                scaled = loss * factor if factor != 1.0 else loss
                scaled = optimizer.scale_loss(scaled)
            return tape.gradient(scaled, tvars), loss, _pairs(metrics)

        if self.accum == 1:
            grads, loss, metrics = grads_of(batch)
        else:
            k = self.accum
            splits = [tf.split(t, k, axis=0) for t in tf.nest.flatten(batch)]
            grads, loss, metrics = None, 0.0, None
            for i in range(k):
                g, one_loss, m = grads_of(
                    tf.nest.pack_sequence_as(batch, [parts[i] for parts in splits]))
                g = [None if x is None else tf.convert_to_tensor(x) / k for x in g]
                grads = g if grads is None else [
                    b_ if a is None else (a if b_ is None else a + b_) for a, b_ in zip(g, grads)]
                loss = loss + one_loss / k
                metrics = m if metrics is None else {
                    n: (metrics[n][0] + m[n][0], metrics[n][1] + m[n][1]) for n in m}
        if self.clip_norm is not None:
            grads = self._clip_reduced(grads)
        optimizer.apply(grads, tvars)
        return loss, metrics

    def _clip_reduced(self, grads):
        """Clips the all-reduced gradient by global norm; returns per-replica shares whose
        sum (Keras' all-reduce) is the clipped gradient."""
        n = self.num_replicas
        present = [i for i, g in enumerate(grads) if g is not None]
        dense = [tf.convert_to_tensor(grads[i]) for i in present]
        if n > 1:
            dense = tf.distribute.get_replica_context().all_reduce(SUM, dense)
        scale = getattr(self.optimizer, "dynamic_scale", None)
        if scale is not None:
            dense = [g / tf.cast(scale, g.dtype) for g in dense]
        dense, _ = tf.clip_by_global_norm(dense, self.clip_norm)
        if scale is not None:
            dense = [g * tf.cast(scale, g.dtype) for g in dense]
        out = list(grads)
        for i, g in zip(present, dense):
            out[i] = g / n if n > 1 else g
        return out

    def _make_train_loop(self):
        step_fn = tf.function(self._replica_step, jit_compile=self.jit_compile or None)
        strategy = self.strategy

        # The first step outside the loop fixes the structure of the loop state.
        @tf.function
        def train_loop(iterator, n):
            loss, metrics = strategy.run(step_fn, args=(next(iterator),))
            loss_sum = strategy.reduce(MEAN, loss, axis=None)
            sums = {k: (strategy.reduce(SUM, v[0], axis=None),
                        strategy.reduce(SUM, v[1], axis=None)) for k, v in metrics.items()}
            for _ in tf.range(n - 1):
                loss, metrics = strategy.run(step_fn, args=(next(iterator),))
                loss_sum += strategy.reduce(MEAN, loss, axis=None)
                sums = {k: (sums[k][0] + strategy.reduce(SUM, v[0], axis=None),
                            sums[k][1] + strategy.reduce(SUM, v[1], axis=None))
                        for k, v in metrics.items()}
            return loss_sum / tf.cast(n, tf.float32), sums

        return train_loop

    def learning_rate(self, step=None):
        """The learning rate the optimizer used for ``step`` (default: the last step)."""
        opt = inner_optimizer(self.optimizer)
        lr = opt._learning_rate
        if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
            step = self.step - 1 if step is None else step
            return float(lr(max(step, 0)))
        return float(keras.ops.convert_to_numpy(opt.learning_rate))

    def train(self, dataset, num_steps):
        """Trains until global step ``num_steps`` (a resume-safe target) from
        :attr:`step`; returns the training metrics of the last call."""
        if self.step >= num_steps:
            return self.last_train_metrics
        iterator = iter(self.distribute(dataset))
        if self._train_loop is None:
            self._train_loop = self._make_train_loop()
        self.print(f"***** Running training ***** batch size {self.global_batch_size}, "
                   f"steps {self.step} -> {num_steps}, {self.num_replicas} replica(s)")
        writer = self._summary_writer()
        t_last, step_last, first = time.time(), self.step, True
        while self.step < num_steps:
            n = min(self.steps_per_loop, num_steps - self.step,
                    self.save_checkpoints_steps - self.step % self.save_checkpoints_steps,
                    self.log_steps - self.step % self.log_steps)
            if first:
                n = 1  # the first call traces (and compiles): keep it out of examples/s
            loss, sums = self._train_loop(iterator, tf.constant(n, tf.int32))
            self.step += n
            values = {"loss": float(loss)}
            values.update(_ratios(sums))
            self.last_train_metrics = values
            end = self.step == num_steps
            if first and self.step % self.log_steps and not end:
                now = time.time()
                self.print(f"step {self.step}/{num_steps} loss {values['loss']:.4f} (first "
                           f"step, with graph tracing and compilation: {now - t_last:.1f} s)")
                t_last, step_last = now, self.step
            first = False
            if self.step % self.log_steps == 0 or end:
                now = time.time()
                rate = ((self.step - step_last) * (self.global_batch_size or 0)
                        / max(now - t_last, 1e-9))
                t_last, step_last = now, self.step
                lr = self.learning_rate()
                shown = " ".join(f"{k} {v:.4f}" for k, v in values.items())
                self.print(f"step {self.step}/{num_steps} {shown} lr {lr:.3g} "
                           f"examples/s {rate:.1f}")
                if writer is not None:
                    write_scalars(writer, self.step, dict(
                        values, learning_rate=lr, examples_per_sec=rate))
            if self.step % self.save_checkpoints_steps == 0 or end:
                self.save()
        return self.last_train_metrics

    def _summary_writer(self):
        if self._writer is None and self.checkpoint_dir is not None:
            self._writer = tf.summary.create_file_writer(self.checkpoint_dir)
        return self._writer

    # ----------------------------------------------------------------- evaluation
    def _make_eval_loop(self):
        def replica(batch):
            _, metrics = self.loss_fn(self.model, batch, False)
            return _pairs(metrics)

        step_fn = tf.function(replica, jit_compile=self.jit_compile or None)
        strategy = self.strategy
        per_batch = self.eval_batch_metrics

        def global_sums(batch):
            metrics = strategy.run(step_fn, args=(batch,))
            sums = {k: (strategy.reduce(SUM, v[0], axis=None),
                        strategy.reduce(SUM, v[1], axis=None)) for k, v in metrics.items()}
            if per_batch is not None:
                sums.update({k: (tf.cast(v[0], tf.float32), tf.cast(v[1], tf.float32))
                             for k, v in per_batch(sums).items()})
            return sums

        @tf.function
        def eval_loop(iterator, n):
            sums = global_sums(next(iterator))
            done = tf.constant(1)
            for _ in tf.range(n - 1):
                optional = iterator.get_next_as_optional()
                if not optional.has_value():
                    break
                more = global_sums(optional.get_value())
                sums = {k: (sums[k][0] + more[k][0], sums[k][1] + more[k][1]) for k in sums}
                done += 1
            return sums, done

        return eval_loop

    def evaluate(self, dataset, steps):
        """Runs at most ``steps`` eval batches (fewer if the dataset ends); returns
        ``{name: numerator / denominator}`` over all of them and ``global_step``."""
        if self._eval_loop is None:
            self._eval_loop = self._make_eval_loop()
        sums, done = self._eval_loop(iter(self.distribute(dataset)),
                                     tf.constant(int(steps), tf.int32))
        result = _ratios(sums)
        result["global_step"] = self.step
        self.eval_steps_run = int(done)
        return result

    def write_eval_results(self, result, name=EVAL_RESULTS):
        """Chief only: ``output_dir/eval_results.txt`` ("key = value", sorted keys,
        atomic) and the scalars under ``output_dir/eval``. Returns the path or None."""
        if not self.is_chief or self.output_dir is None:
            return None
        path = io.join(self.output_dir, name)
        write_eval_results(path, result)
        eval_dir = io.join(self.output_dir, "eval")
        write_scalars(tf.summary.create_file_writer(eval_dir), result.get("global_step", 0),
                      {k: v for k, v in result.items() if k != "global_step"})
        return path


def check_batch_split(global_batch_size, num_replicas, accumulation_steps):
    """Raises ValueError unless the global batch splits into replicas and each replica's
    batch into ``accumulation_steps`` micro-batches."""
    if global_batch_size % num_replicas:
        raise ValueError(f"batch size {global_batch_size} does not split over "
                         f"{num_replicas} replicas")
    per_replica = global_batch_size // num_replicas
    if per_replica % accumulation_steps:
        raise ValueError(
            f"gradient_accumulation_steps={accumulation_steps} does not divide the "
            f"per-replica batch size {per_replica} (batch size {global_batch_size} over "
            f"{num_replicas} replicas)")


def _pairs(metrics):
    out = {}
    for name, value in (metrics or {}).items():
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise ValueError(f"metric {name!r}: loss_fn must return (numerator, denominator)")
        out[name] = (tf.cast(value[0], tf.float32), tf.cast(value[1], tf.float32))
    return out


def _ratios(sums):
    out = {}
    for name, (num, den) in (sums or {}).items():
        num, den = float(num), float(den)
        out[name] = num / den if den else 0.0
    return out
