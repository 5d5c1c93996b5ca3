"""DETR (Carion et al. 2020) on the shared layers, compatible with the original checkpoints."""

from tfmodels.models.detr.backbone import (
    Bottleneck,
    FrozenBatchNorm,
    ResNetBackbone,
    downsample_mask,
)
from tfmodels.models.detr.checkpoint import (
    config_from_state_dict,
    load_detr,
    load_state_dict,
    read_state_dict,
)
from tfmodels.models.detr.config import DetrConfig
from tfmodels.models.detr.heads import MLP
from tfmodels.models.detr.model import DETR
from tfmodels.models.detr.position_encoding import (
    LearnedPositionEncoding2D,
    build_position_encoding,
)
from tfmodels.models.detr.transformer import DetrTransformer

__all__ = [
    "DETR",
    "MLP",
    "Bottleneck",
    "DetrConfig",
    "DetrTransformer",
    "FrozenBatchNorm",
    "LearnedPositionEncoding2D",
    "ResNetBackbone",
    "build_position_encoding",
    "config_from_state_dict",
    "load_detr",
    "load_state_dict",
    "read_state_dict",
    "downsample_mask",
]
