"""One training runtime for every training script.

Modules:

* :mod:`~tfmodels.training.distribute` - :func:`make_strategy` (``one_device``,
  ``mirrored``, ``multi_worker`` from ``TF_CONFIG``, ``tpu``) and :func:`task_info`
  (chief detection);
* :mod:`~tfmodels.training.precision` - :func:`set_mixed_precision` (Keras policy:
  float16 on GPU, bfloat16 elsewhere) and :func:`loss_scaled` (``LossScaleOptimizer``
  for float16 only);
* :mod:`~tfmodels.training.lr_multipliers` - :func:`set_lr_multipliers` (per-variable
  learning-rate multipliers for any Keras optimizer);
* :mod:`~tfmodels.training.checkpoints` - :class:`NamedCheckpoint` (TF1 bundles under
  original names) and :class:`ObjectCheckpoint` (``tf.train.Checkpoint``), both
  ``model.ckpt-<step>`` + ``checkpoint`` state file, atomic, resumable, ``max_to_keep``;
* :mod:`~tfmodels.training.summaries` - TensorBoard scalars, ``eval_results.txt``;
* :mod:`~tfmodels.training.trainer` - :class:`Trainer`: replica step (gradient
  accumulation, loss scaling, optional XLA), ``steps_per_loop`` steps per compiled
  call, progress lines (step, loss, metrics, lr, examples/s), checkpoints and resume,
  evaluation with metrics summed over replicas before dividing.

A task plugs in with a model, an optimizer (with its schedule), a loss function and
datasets::

    from tfmodels import training

    strategy = training.make_strategy(FLAGS.strategy)   # first: before other TF ops
    training.set_mixed_precision(FLAGS.use_mixed_precision)
    with strategy.scope():
        model = MyModel(config)
        model.build(...)
        optimizer = training.loss_scaled(keras.optimizers.AdamW(
            keras.optimizers.schedules.PolynomialDecay(1e-4, num_steps, 0.0)))

    def loss_fn(model, batch, training):
        features, labels = batch
        logits = tf.cast(model(features, training=training), tf.float32)
        per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
        count = tf.cast(tf.size(labels), tf.float32)
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, -1, tf.int32),
                                                 labels), tf.float32))
        return tf.reduce_mean(per_example), {
            "loss": (tf.reduce_sum(per_example), count),   # (numerator, denominator)
            "accuracy": (correct, count)}

    trainer = training.Trainer(
        model, optimizer, loss_fn, strategy=strategy, output_dir=FLAGS.output_dir,
        global_batch_size=FLAGS.train_batch_size, jit_compile=FLAGS.use_xla,
        steps_per_loop=FLAGS.iterations_per_loop, log_steps=FLAGS.log_steps,
        save_checkpoints_steps=FLAGS.save_checkpoints_steps)
    trainer.restore()                      # resumes after kill -9 at the same step/lr
    trainer.train(lambda ctx: make_dataset(ctx.get_per_replica_batch_size(B), ctx),
                  FLAGS.num_train_steps)   # or a tf.data.Dataset of global batches
    result = trainer.evaluate(eval_dataset, steps=FLAGS.max_eval_steps)
    trainer.write_eval_results(result)     # output_dir/eval_results.txt, chief only

Original checkpoint names: pass ``checkpoint=lambda d: NamedCheckpoint(d, table,
step_variable=optimizer.iterations)``. DETR-style tasks: ``jit_compile=False`` lets
the loss call ``tf.numpy_function`` (Hungarian matching); ``set_lr_multipliers(
optimizer, {"backbone": 0.1})`` trains the backbone at a tenth of the rate;
``clip_norm=0.1`` clips the cross-replica gradient. BERT's original TPU loop clips
each replica's gradient and sums them: ``gradient_reduction="sum"`` with the clip in
the optimizer.
"""

from tfmodels.training.checkpoints import NamedCheckpoint, ObjectCheckpoint
from tfmodels.training.distribute import STRATEGIES, make_strategy, task_info
from tfmodels.training.lr_multipliers import set_lr_multipliers
from tfmodels.training.precision import inner_optimizer, loss_scaled, set_mixed_precision
from tfmodels.training.summaries import (
    EVAL_RESULTS,
    format_eval_results,
    write_eval_results,
    write_scalars,
)
from tfmodels.training.trainer import Trainer, check_batch_split

__all__ = [
    "EVAL_RESULTS", "NamedCheckpoint", "ObjectCheckpoint", "STRATEGIES", "Trainer",
    "check_batch_split", "format_eval_results", "inner_optimizer", "loss_scaled",
    "make_strategy", "set_lr_multipliers", "set_mixed_precision", "task_info",
    "write_eval_results", "write_scalars",
]
