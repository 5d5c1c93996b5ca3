"""Pieces shared by the fine-tuning scripts (run_classifier, run_squad, the TF Hub variant).

* :func:`init_from_checkpoint` - the original ``init_from_checkpoint`` step: load a
  pre-trained (or fine-tuned) checkpoint into ``model.bert`` and ``model.heads`` by the
  original names, any format :func:`~tfmodels.models.bert.load_checkpoint` reads (a
  directory means its latest checkpoint), printing the load report; head variables
  missing from a pre-trained checkpoint keep their initial values, as in the original.
* :func:`predict` - the Estimator's ``predict``: batches through the model in inference
  mode, yielding numpy arrays.
* :func:`train_steps` - ``int(num_examples / train_batch_size * num_train_epochs)`` and
  ``int(num_train_steps * warmup_proportion)``, the original's arithmetic.
"""

from __future__ import annotations

import tensorflow as tf

from tfmodels.models.bert.checkpoint import load_checkpoint, original_names, resolve_checkpoint


def init_from_checkpoint(init_checkpoint, model, print_fn=print):
    """Loads ``init_checkpoint`` into the model's encoder and heads; returns the report."""
    try:
        path = resolve_checkpoint(init_checkpoint)
    except FileNotFoundError as e:
        raise FileNotFoundError(f"--init_checkpoint: {e}") from None
    heads = list(getattr(model, "heads", []))
    report = load_checkpoint(path, model.bert, heads)
    print_fn(f"Initialised from {path}: {report.summary()}")
    if not report.loaded:
        raise ValueError(f"--init_checkpoint: {init_checkpoint} holds no variable of this model")
    num_head = len(original_names(model.bert, heads)) - len(original_names(model.bert))
    if len(report.missing) > num_head:  # more than the head: the encoder is incomplete
        raise ValueError(f"--init_checkpoint: {path} lacks {len(report.missing)} variables "
                         f"of this model, e.g. {report.missing[:3]} (does --bert_config_file "
                         "match it?)")
    return report


def train_steps(num_examples, train_batch_size, num_train_epochs, warmup_proportion):
    """(num_train_steps, num_warmup_steps) as the original run_classifier/run_squad."""
    num_train_steps = int(num_examples / train_batch_size * num_train_epochs)
    if num_train_steps < 1:
        raise ValueError(
            f"{num_examples} training examples at --train_batch_size={train_batch_size} and "
            f"--num_train_epochs={num_train_epochs} make no training step")
    return num_train_steps, int(num_train_steps * warmup_proportion)


def predict(model, dataset):
    """Yields ``(features, outputs)`` as numpy for every batch of ``dataset``."""

    @tf.function(reduce_retracing=True)
    def step(features):
        return model(features, training=False)

    for features in dataset:
        outputs = step(features)
        yield (tf.nest.map_structure(lambda t: t.numpy(), features),
               tf.nest.map_structure(lambda t: t.numpy(), outputs))
