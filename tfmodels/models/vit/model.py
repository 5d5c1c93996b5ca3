"""Vision Transformer (Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words").

Mirrors ``VisionTransformer`` / ``Encoder`` / ``Encoder1DBlock`` / ``MlpBlock`` of
google-research/vision_transformer ``vit_jax/models_vit.py`` on the shared layers:

    x = conv(images, kernel = stride = patch)             # ``embedding``, [B, h, w, D]
    x = reshape(x, [B, h·w, D]);  x = [cls; x]             # ``cls`` (classifier "token")
    x = dropout(x + pos_embedding)                         # ``Transformer/posembed_input``
    x = Encoder1DBlock(x) × num_layers                     # pre-norm, LayerNorm eps 1e-6
    x = LayerNorm(x)                                       # ``Transformer/encoder_norm``
    x = x[:, 0] ("token") | mean over tokens ("gap")
    x = tanh(Dense(x)) if representation_size              # ``pre_logits``
    logits = Dense(x)                                      # ``head``, kernel and bias start at 0

Each block is ``x + drop(MHA(LN(x)))`` then ``x + drop(Dense(drop(act(Dense(LN(x))))))``.
``act`` is ``config.hidden_act``: the original calls flax ``nn.gelu``, whose default is the
tanh approximation (``"gelu_tanh"``, our default); timm and HF run the same checkpoints with
the exact erf GELU (``"gelu"``), which an HF ``config.json`` selects.

Initialisers follow the original: patch conv and ``pre_logits`` LeCun normal, attention and
MLP kernels Xavier uniform, position embedding normal(0.02), class token and head zeros.
Inputs are NHWC float images already scaled to [-1, 1] (``(x - 127.5) / 127.5``).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfmodels.layers import LayerNorm, PatchEmbedding, TransformerEncoderBlock
from tfmodels.models.vit.config import ViTConfig


@keras.saving.register_keras_serializable(package="tfmodels")
class VisionTransformer(keras.Model):
    """ViT classifier (or feature extractor when ``config.num_classes`` is falsy).

    Args:
      config: a :class:`ViTConfig` or its ``to_dict()``.

    ``call(images)`` takes ``[B, H, W, num_channels]`` with ``(H, W) == config.image_size``
    and returns logits ``[B, num_classes]`` (or pooled features ``[B, D]`` without a head).
    To run at another resolution, build a model with that ``image_size`` and load the
    checkpoint through :func:`tfmodels.models.vit.load_vit`, which resizes the position
    embeddings as the original's ``interpolate_posembed``.
    """

    def __init__(self, config, **kwargs):
        kwargs.setdefault("name", "vit")
        super().__init__(**kwargs)
        if isinstance(config, dict):
            config = ViTConfig.from_dict(config)
        self.config = config
        c = config
        self.patch_embedding = PatchEmbedding(c.patch_size, c.hidden_size,
                                              kernel_initializer="lecun_normal",
                                              name="patch_embedding")
        self.embedding_dropout = keras.layers.Dropout(c.dropout_rate)
        n = max(c.num_layers - 1, 1)
        self.encoder_layers = [
            TransformerEncoderBlock(
                c.num_heads, c.hidden_size, c.mlp_dim, activation=c.hidden_act,
                hidden_dropout=c.dropout_rate, attention_dropout=c.attention_dropout_rate,
                inner_dropout=c.dropout_rate, norm_first=True, epsilon=c.layer_norm_eps,
                kernel_initializer="glorot_uniform",
                drop_path=c.stochastic_depth * i / n if c.num_layers > 1 else c.stochastic_depth,
                name=f"encoderblock_{i}")
            for i in range(c.num_layers)
        ]
        self.encoder_norm = LayerNorm(epsilon=c.layer_norm_eps, name="encoder_norm")
        self.pre_logits = None
        if c.representation_size:
            self.pre_logits = keras.layers.Dense(c.representation_size, activation="tanh",
                                                 kernel_initializer="lecun_normal",
                                                 name="pre_logits")
        self.head = None
        if c.num_classes:
            self.head = keras.layers.Dense(c.num_classes, kernel_initializer="zeros",
                                           bias_initializer="zeros", name="head")

    def build(self, input_shape=None):
        if self.built:
            return
        c = self.config
        shape = (None, *c.image_size, c.num_channels)
        if input_shape is not None:
            self._check_images_shape(input_shape)
        self.patch_embedding.build(shape)
        d = c.hidden_size
        self.cls = None
        if c.classifier == "token":
            self.cls = self.add_weight(name="cls", shape=(1, 1, d), initializer="zeros")
        self.pos_embedding = self.add_weight(
            name="pos_embedding", shape=(1, c.num_tokens, d),
            initializer=keras.initializers.RandomNormal(stddev=0.02))
        seq = (None, c.num_tokens, d)
        for block in self.encoder_layers:
            block.build(seq)
        self.encoder_norm.build(seq)
        width = d
        if self.pre_logits is not None:
            self.pre_logits.build((None, d))
            width = c.representation_size
        if self.head is not None:
            self.head.build((None, width))
        self.built = True

    def _check_images_shape(self, shape):
        c = self.config
        shape = tuple(shape)
        if len(shape) != 4:
            raise ValueError(f"images must be [batch, height, width, {c.num_channels}]; "
                             f"got shape {shape}")
        if shape[3] is not None and shape[3] != c.num_channels:
            raise ValueError(f"images have {shape[3]} channels; the model expects "
                             f"{c.num_channels} (num_channels)")
        for got, want, name in zip(shape[1:3], c.image_size, ("height", "width")):
            if got is not None and got % c.patch_size:
                raise ValueError(f"image {name} {got} is not a multiple of patch_size "
                                 f"{c.patch_size}")
            if got is not None and got != want:
                raise ValueError(
                    f"image {name} {got} differs from image_size {c.image_size} the position "
                    "embeddings were built for; build the model at the new size and load the "
                    "checkpoint with load_vit(..., image_size=...) to interpolate them")

    def embed(self, images, training=None):
        """Patch tokens (+ class token) with position embeddings: ``[B, T, D]``."""
        x = self.patch_embedding(images)
        b = tf.shape(x)[0]
        if self.cls is not None:
            cls = tf.cast(tf.tile(self.cls, [b, 1, 1]), x.dtype)
            x = tf.concat([cls, x], axis=1)
        x = x + tf.cast(self.pos_embedding, x.dtype)
        return self.embedding_dropout(x, training=training)

    def encode(self, images, training=None):
        """The ``Transformer`` output after ``encoder_norm``: ``[B, T, D]``."""
        x = self.embed(images, training=training)
        for block in self.encoder_layers:
            x = block(x, training=training)
        return self.encoder_norm(x)

    def call(self, images, training=None):
        self._check_images_shape(images.shape)
        x = self.encode(images, training=training)
        if self.config.classifier == "token":
            x = x[:, 0]
        else:  # gap
            x = tf.reduce_mean(x, axis=1)
        if self.pre_logits is not None:
            x = self.pre_logits(x)
        if self.head is not None:
            x = self.head(x)
        return x

    def get_config(self):
        config = super().get_config()
        config.update(config=self.config.to_dict())
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(config.pop("config"), **config)
