"""SavedModel export of fine-tuned BERT models and of the bare encoder.

The exported graphs hold only standard TensorFlow and tensorflow-text ops: they are
written by :func:`tfmodels.export.save` (traced under ``composite_only``), so LayerNorm is the
pure-TF composite, and a client needs neither this package nor its op library.

* :class:`ClassifierServing` - ``serving_default(text_a, text_b)`` (UTF-8 strings [B];
  an empty ``text_b`` means a single text, as the original's ``if example.text_b``) and
  ``single(text_a)`` -> ``probabilities`` [B, num_labels] and ``logits``; tokenization,
  truncation (``_truncate_seq_pair``) and packing run in the graph. For a regression
  (STS-B) ``probabilities`` is the score, as in ``test_results.tsv``. ``serve_ids``
  takes ``input_word_ids`` / ``input_mask`` / ``input_type_ids`` instead.
* :class:`SquadServing` - ``serving_default(question, context)`` -> ``start_logits``,
  ``end_logits`` [B, T] and the packed ``input_word_ids`` (the first window of
  run_squad's features: question cut to ``max_query_length``, context to the rest).
* :class:`EncoderServing` - the TF Hub BERT encoder interface:
  ``serving_default(input_word_ids, input_mask, input_type_ids)`` -> ``pooled_output``
  [B, H], ``sequence_output`` [B, T, H]; ``call_inference(inputs)`` /
  ``call_training(inputs)`` take the same dict (dropout on in the latter) for
  fine-tuning; ``tokenization_info()`` -> ``vocab_file`` (an asset) and
  ``do_lower_case``, like the original hub modules; ``original_variables`` maps the
  original checkpoint names to the variables.

The tokenizer is passed in (``pipelines.tokenization.InGraphTokenizer``), so this module
does not depend on ``pipelines``.
"""

from __future__ import annotations

import tensorflow as tf

from tfmodels import export as tfm_export
from tfmodels.models.bert.classifier import probabilities


def _ids_spec(seq_length):
    return {
        "input_word_ids": tf.TensorSpec([None, seq_length], tf.int32, name="input_word_ids"),
        "input_mask": tf.TensorSpec([None, seq_length], tf.int32, name="input_mask"),
        "input_type_ids": tf.TensorSpec([None, seq_length], tf.int32, name="input_type_ids"),
    }


def _features(packed):
    return {"input_ids": packed["input_ids"], "input_mask": packed["input_mask"],
            "segment_ids": packed["token_type_ids"]}


class ClassifierServing(tf.Module):
    """Raw text in, class probabilities out (see the module docstring)."""

    def __init__(self, model, tokenizer, seq_length, name="classifier_serving"):
        super().__init__(name=name)
        self.model = model
        self.tokenizer = tokenizer
        self.seq_length = int(seq_length)
        self.regression = bool(getattr(model, "regression", False))
        self.serve_pair = tf.function(self._serve_pair, input_signature=[
            tf.TensorSpec([None], tf.string, name="text_a"),
            tf.TensorSpec([None], tf.string, name="text_b")])
        self.serve_single = tf.function(self._serve_single, input_signature=[
            tf.TensorSpec([None], tf.string, name="text_a")])
        self.serve_ids = tf.function(self._serve_ids, input_signature=[
            *(_ids_spec(self.seq_length)[k] for k in ("input_word_ids", "input_mask",
                                                       "input_type_ids"))])

    def _outputs(self, features):
        logits = tf.cast(self.model(features, training=False), tf.float32)
        return {"probabilities": probabilities(logits, self.regression), "logits": logits}

    def _serve_pair(self, text_a, text_b):
        packed = self.tokenizer.bert_pack_inputs([text_a, text_b], self.seq_length,
                                                 drop_empty_second=True)
        return self._outputs(_features(packed))

    def _serve_single(self, text_a):
        return self._outputs(_features(self.tokenizer.bert_pack_inputs([text_a],
                                                                        self.seq_length)))

    def _serve_ids(self, input_word_ids, input_mask, input_type_ids):
        return self._outputs({"input_ids": input_word_ids, "input_mask": input_mask,
                              "segment_ids": input_type_ids})

    def signatures(self):
        return {"serving_default": self.serve_pair, "single": self.serve_single,
                "serve_ids": self.serve_ids}


class SquadServing(tf.Module):
    """Question + context in, start/end logits out (see the module docstring)."""

    def __init__(self, model, tokenizer, seq_length, max_query_length=64,
                 name="squad_serving"):
        super().__init__(name=name)
        self.model = model
        self.tokenizer = tokenizer
        self.seq_length = int(seq_length)
        self.max_query_length = int(max_query_length)
        self.serve = tf.function(self._serve, input_signature=[
            tf.TensorSpec([None], tf.string, name="question"),
            tf.TensorSpec([None], tf.string, name="context")])

    def _serve(self, question, context):
        packed = self.tokenizer.squad_pack_inputs(question, context, self.seq_length,
                                                  self.max_query_length)
        outputs = self.model(_features(packed), training=False)
        return {"start_logits": tf.cast(outputs["start_logits"], tf.float32),
                "end_logits": tf.cast(outputs["end_logits"], tf.float32),
                "input_word_ids": packed["input_ids"]}

    def signatures(self):
        return {"serving_default": self.serve}


class EncoderServing(tf.Module):
    """The TF Hub BERT encoder interface around a BertModel (see the module docstring)."""

    def __init__(self, bert, original_variables, seq_length=None, vocab_file=None,
                 do_lower_case=True, name="bert_encoder"):
        super().__init__(name=name)
        self.bert = bert
        self.original_variables = dict(original_variables)
        # Dropout's seed-generator states are read by call_training: keep them reachable.
        self.seed_states = [v for v in bert.variables if "seed_generator" in v.path]
        self.vocab_file = tf.saved_model.Asset(vocab_file) if vocab_file else None
        self.do_lower_case = tf.Variable(bool(do_lower_case), trainable=False,
                                         name="do_lower_case")
        specs = _ids_spec(seq_length)
        self.call_inference = tf.function(lambda inputs: self._encode(inputs, False),
                                          input_signature=[specs])
        self.call_training = tf.function(lambda inputs: self._encode(inputs, True),
                                         input_signature=[specs])
        self.serve = tf.function(self._serve, input_signature=[
            specs["input_word_ids"], specs["input_mask"], specs["input_type_ids"]])
        self.tokenization_info = tf.function(self._tokenization_info, input_signature=[])

    def _encode(self, inputs, training):
        outputs = self.bert({"input_ids": inputs["input_word_ids"],
                             "input_mask": inputs["input_mask"],
                             "token_type_ids": inputs["input_type_ids"]}, training=training)
        return {"pooled_output": outputs["pooled_output"],
                "sequence_output": outputs["sequence_output"]}

    def _serve(self, input_word_ids, input_mask, input_type_ids):
        return self._encode({"input_word_ids": input_word_ids, "input_mask": input_mask,
                             "input_type_ids": input_type_ids}, False)

    def _tokenization_info(self):
        vocab = self.vocab_file.asset_path if self.vocab_file is not None else tf.constant("")
        return {"vocab_file": vocab, "do_lower_case": tf.identity(self.do_lower_case)}

    def signatures(self):
        return {"serving_default": self.serve, "tokenization_info": self.tokenization_info}


def export(module, export_dir):
    """Traces ``module``'s signatures with the composite LayerNorm and saves it atomically
    (a previous export at ``export_dir`` is replaced only once the new one is complete)."""
    tfm_export.save(module, export_dir, signatures=module.signatures())
    return export_dir
