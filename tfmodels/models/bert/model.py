"""BertModel: embeddings, post-norm Transformer encoder and pooler.

Mirrors ``modeling.BertModel`` of google-research/bert (Devlin et al. 2019):

* embeddings = LayerNorm(word[input_ids] + token_type[token_type_ids] + position[:T]),
  then dropout (``embedding_lookup`` + ``embedding_postprocessor``);
* ``num_hidden_layers`` post-norm blocks (``transformer_model``), attention mask
  adding -10000 to padded keys, activation from ``config.hidden_act``;
* pooler = tanh(Dense(first token of the last layer)).

Variables: truncated normal (stddev ``initializer_range``) for kernels and tables,
zeros for biases. Under a mixed precision policy the softmax and LayerNorm
statistics stay in float32 (shared layers).
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from tfmodels.layers import LayerNorm, PositionEmbedding, TransformerEncoderBlock
from tfmodels.models.bert.config import BertConfig

_TYPE_KEYS = ("token_type_ids", "input_type_ids", "segment_ids")


def _initializer(config):
    return keras.initializers.TruncatedNormal(stddev=config.initializer_range)


def _unpack_inputs(inputs, input_mask, token_type_ids):
    """Accepts a dict, a (ids, mask, types) sequence or an ids tensor."""
    if isinstance(inputs, dict):
        if "input_ids" not in inputs:
            raise ValueError(f"BertModel inputs dict needs 'input_ids'; got {sorted(inputs)}")
        input_ids = inputs["input_ids"]
        input_mask = inputs.get("input_mask", input_mask)
        for key in _TYPE_KEYS:
            if key in inputs:
                token_type_ids = inputs[key]
                break
    elif isinstance(inputs, (list, tuple)):
        if not 1 <= len(inputs) <= 3:
            raise ValueError("BertModel takes (input_ids[, input_mask[, token_type_ids]])")
        input_ids = inputs[0]
        if len(inputs) > 1:
            input_mask = inputs[1]
        if len(inputs) > 2:
            token_type_ids = inputs[2]
    else:
        input_ids = inputs
    return input_ids, input_mask, token_type_ids


@keras.saving.register_keras_serializable(package="tfmodels")
class BertModel(keras.Model):
    """BERT encoder (original ``modeling.BertModel``).

    ``call(inputs, training=None)`` with ``inputs`` a dict with ``input_ids``
    ([B, T] int) and optionally ``input_mask`` (1 = real token; default all ones)
    and ``token_type_ids`` (default zeros), or positional ``(input_ids,
    input_mask, token_type_ids)``. Returns a dict:

    * ``sequence_output`` [B, T, H] (``get_sequence_output``),
    * ``pooled_output`` [B, H] (``get_pooled_output``),
    * ``encoder_outputs`` list of [B, T, H], one per layer
      (``get_all_encoder_layers``; omitted when ``output_all_layers=False``),
    * ``embedding_output`` [B, T, H] (``get_embedding_output``).

    Keras-serializable: ``get_config`` holds the BertConfig as a dict, so
    ``model.save("x.keras")`` / ``keras.models.load_model`` round-trip.
    """

    def __init__(self, config, output_all_layers=True, **kwargs):
        if isinstance(config, dict):  # from get_config / a bert_config.json dict
            config = BertConfig.from_dict(config)
        kwargs.setdefault("name", "bert")
        super().__init__(**kwargs)
        self.config = config
        self.output_all_layers = bool(output_all_layers)
        init = _initializer(config)
        h = config.hidden_size
        self.word_embeddings = keras.layers.Embedding(
            config.vocab_size, h, embeddings_initializer=init, name="word_embeddings")
        self.token_type_embeddings = keras.layers.Embedding(
            config.type_vocab_size, h, embeddings_initializer=init,
            name="token_type_embeddings")
        self.position_embeddings = PositionEmbedding(
            config.max_position_embeddings, initializer=init, name="position_embeddings")
        self.embeddings_layer_norm = LayerNorm(
            epsilon=config.layer_norm_eps, name="embeddings_layer_norm")
        self.embeddings_dropout = keras.layers.Dropout(config.hidden_dropout_prob)
        self.encoder_layers = [
            TransformerEncoderBlock(
                num_heads=config.num_attention_heads,
                hidden_size=h,
                intermediate_size=config.intermediate_size,
                activation=config.activation,
                hidden_dropout=config.hidden_dropout_prob,
                attention_dropout=config.attention_probs_dropout_prob,
                norm_first=False,
                epsilon=config.layer_norm_eps,
                kernel_initializer=init,
                name=f"layer_{i}",
            )
            for i in range(config.num_hidden_layers)
        ]
        self.pooler_dense = keras.layers.Dense(
            h, activation="tanh", kernel_initializer=init, name="pooler_dense")

    def build(self, input_shape=None):
        """Creates every variable (shapes do not depend on the input length)."""
        if self.built:
            return
        h = self.config.hidden_size
        self.word_embeddings.build((None, None))
        self.token_type_embeddings.build((None, None))
        self.position_embeddings.build((None, None, h))
        self.embeddings_layer_norm.build((None, None, h))
        for block in self.encoder_layers:
            block.build((None, None, h))
        self.pooler_dense.build((None, h))
        self.built = True

    def get_embedding_table(self):
        """The word embedding table [vocab_size, hidden_size] (tied to the MLM decoder)."""
        if not self.built:
            self.build()
        return self.word_embeddings.embeddings

    def call(self, inputs, input_mask=None, token_type_ids=None, training=None):
        input_ids, input_mask, token_type_ids = _unpack_inputs(
            inputs, input_mask, token_type_ids)
        input_ids = tf.convert_to_tensor(input_ids)
        if input_ids.shape.rank != 2:
            raise ValueError(f"input_ids must be [batch, seq_length], got {input_ids.shape}")
        if input_mask is None:
            input_mask = tf.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = tf.zeros_like(input_ids)

        x = self.word_embeddings(input_ids)
        x = x + self.token_type_embeddings(token_type_ids)
        x = x + self.position_embeddings(x)
        x = self.embeddings_layer_norm(x)
        embedding_output = self.embeddings_dropout(x, training=training)

        x = embedding_output
        encoder_outputs = []
        for block in self.encoder_layers:
            x = block(x, attention_mask=input_mask, training=training)
            encoder_outputs.append(x)
        pooled_output = self.pooler_dense(x[:, 0, :])
        outputs = {
            "sequence_output": x,
            "pooled_output": pooled_output,
            "embedding_output": embedding_output,
        }
        if self.output_all_layers:
            outputs["encoder_outputs"] = encoder_outputs
        return outputs

    def get_config(self):
        return {
            **super().get_config(),
            "config": dataclasses.asdict(self.config),
            "output_all_layers": self.output_all_layers,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(BertConfig.from_dict(config.pop("config")), **config)

