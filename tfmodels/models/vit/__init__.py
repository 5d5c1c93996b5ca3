"""Vision Transformer (Dosovitskiy et al. 2021) on the shared layers, compatible with the
original google-research/vision_transformer ``.npz`` checkpoints and HF safetensors."""

from tfmodels.models.vit.checkpoint import checkpoint_architecture, load_vit, save_npz
from tfmodels.models.vit.config import MODEL_CONFIGS, ViTConfig, get_config
from tfmodels.models.vit.model import VisionTransformer
from tfmodels.models.vit.posemb import interpolate_posembed

__all__ = [
    "MODEL_CONFIGS",
    "ViTConfig",
    "VisionTransformer",
    "checkpoint_architecture",
    "get_config",
    "interpolate_posembed",
    "load_vit",
    "save_npz",
]
