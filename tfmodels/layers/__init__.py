"""Keras 3 layers shared by every model family."""

from tfmodels.layers.activations import gelu_exact, gelu_tanh, get_activation
from tfmodels.layers.attention import MultiHeadAttention
from tfmodels.layers.drop_path import DropPath
from tfmodels.layers.dropout import Dropout
from tfmodels.layers.feed_forward import FeedForward
from tfmodels.layers.layer_norm import LayerNorm
from tfmodels.layers.patch_embedding import PatchEmbedding
from tfmodels.layers.position import PositionEmbedding, SinePositionEncoding2D
from tfmodels.layers.transformer_decoder import TransformerDecoderBlock
from tfmodels.layers.transformer_encoder import TransformerEncoderBlock

__all__ = [
    "DropPath",
    "Dropout",
    "FeedForward",
    "LayerNorm",
    "MultiHeadAttention",
    "PatchEmbedding",
    "PositionEmbedding",
    "SinePositionEncoding2D",
    "TransformerDecoderBlock",
    "TransformerEncoderBlock",
    "gelu_exact",
    "gelu_tanh",
    "get_activation",
]
