"""MaskFormer (facebookresearch/MaskFormer) on DETR's backbone, positions and transformer."""

from tfmodels.models.maskformer.config import MaskFormerConfig
from tfmodels.models.maskformer.model import MaskFormer
from tfmodels.models.maskformer.pixel_decoder import (
    BasePixelDecoder,
    TransformerEncoderPixelDecoder,
)
from tfmodels.models.maskformer.predictor import TransformerPredictor
from tfmodels.models.maskformer.swin import SwinBackbone

__all__ = ["BasePixelDecoder", "MaskFormer", "MaskFormerConfig", "SwinBackbone",
           "TransformerEncoderPixelDecoder", "TransformerPredictor"]
