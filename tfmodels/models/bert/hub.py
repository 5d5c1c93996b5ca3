"""A BERT encoder loaded from a SavedModel with the TF Hub BERT interface, fine-tunable.

Mirrors what ``run_classifier_with_tfhub.py`` does with ``hub.Module(handle,
trainable=True)``, on local SavedModels written by ``scripts/export_savedmodel.py
--task=encoder`` (hubs cannot be reached from here):

* :class:`HubBertEncoder` - a Keras layer calling the SavedModel's ``call_training`` /
  ``call_inference`` functions on ``{input_word_ids, input_mask, input_type_ids}`` and
  returning ``pooled_output`` / ``sequence_output``. The SavedModel's own variables are
  the layer's weights (Keras variables wrapping the same resources), so training updates
  what the restored functions read. :meth:`HubBertEncoder.original_names` gives them the
  original checkpoint names, which the optimizer's weight-decay exclusion
  (LayerNorm/bias) needs.
* :class:`HubClassifier` - that encoder + :class:`ClassifierHead`, the model of
  ``run_classifier_with_tfhub.create_model`` (same head, dropout and loss).
* :func:`tokenization_info` - the module's ``vocab_file`` and ``do_lower_case`` (the
  original's ``create_tokenizer_from_hub_module``).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfmodels import io
from tfmodels.models.bert.classifier import bert_inputs
from tfmodels.models.bert.heads import ClassifierHead

_REQUIRED = ("call_training", "call_inference", "original_variables")


def load_hub_module(handle):
    """tf.saved_model.load(handle) after checking it is an encoder export."""
    if not io.isdir(handle) or not io.exists(io.join(handle, "saved_model.pb")):
        raise FileNotFoundError(f"bert_hub_module_handle: {handle} is not a SavedModel "
                                "directory (no saved_model.pb)")
    loaded = tf.saved_model.load(handle)
    missing = [name for name in _REQUIRED if not hasattr(loaded, name)]
    if missing:
        raise ValueError(f"bert_hub_module_handle: {handle} is not a BERT encoder export "
                         f"(lacks {', '.join(missing)}; export one with "
                         "scripts/export_savedmodel.py --task=encoder)")
    return loaded


def tokenization_info(loaded):
    """(vocab_file, do_lower_case) stored in the module."""
    info = loaded.tokenization_info()
    return info["vocab_file"].numpy().decode("utf-8"), bool(info["do_lower_case"].numpy())


@keras.saving.register_keras_serializable(package="tfmodels")
class HubBertEncoder(keras.layers.Layer):
    """``call(features, training)`` -> {"pooled_output", "sequence_output"}."""

    def __init__(self, handle, trainable=True, **kwargs):
        kwargs.setdefault("name", "bert_module")
        super().__init__(trainable=trainable, **kwargs)
        self.handle = handle
        self._module = load_hub_module(handle)
        self._names = {}
        for name, var in sorted(self._module.original_variables.items()):
            wrapped = keras.Variable(initializer=var, trainable=trainable and var.trainable,
                                     name=name.replace("/", "__"))
            self._track_variable(wrapped)
            self._names[name] = wrapped
        self.hidden_size = int(self._names["bert/pooler/dense/kernel"].shape[-1])
        self.built = True

    def original_names(self):
        """{original checkpoint name: Keras variable} of the module's weights."""
        return dict(self._names)

    def call(self, features, training=None):
        inputs = bert_inputs(features)
        inputs = {"input_word_ids": tf.cast(inputs["input_ids"], tf.int32),
                  "input_mask": tf.cast(inputs["input_mask"], tf.int32),
                  "input_type_ids": tf.cast(inputs["token_type_ids"], tf.int32)}
        fn = self._module.call_training if training else self._module.call_inference
        return fn(inputs)

    def get_config(self):
        return {**super().get_config(), "handle": self.handle}


@keras.saving.register_keras_serializable(package="tfmodels")
class HubClassifier(keras.Model):
    """Encoder from a SavedModel + the run_classifier head; logits [B, num_labels]."""

    def __init__(self, handle, num_labels, regression=False, dropout=0.1, **kwargs):
        kwargs.setdefault("name", "hub_classifier")
        super().__init__(**kwargs)
        self.handle = handle
        self.num_labels = int(num_labels)
        self.regression = bool(regression)
        self.dropout = float(dropout)
        self.bert_module = HubBertEncoder(handle)
        self.classifier = ClassifierHead(self.num_labels, self.bert_module.hidden_size,
                                         dropout=dropout)

    def build(self, input_shape=None):
        if self.built:
            return
        self.classifier.build()
        self.built = True

    def call(self, features, training=None):
        pooled = self.bert_module(features, training=training)["pooled_output"]
        return self.classifier(pooled, training=training)

    def original_names(self):
        """Original names of every weight: the module's plus ``output_weights``/``_bias``."""
        table = self.bert_module.original_names()
        table["output_weights"] = self.classifier.output_weights
        table["output_bias"] = self.classifier.output_bias
        return table

    def get_config(self):
        return {"name": self.name, "handle": self.handle, "num_labels": self.num_labels,
                "regression": self.regression, "dropout": self.dropout}
