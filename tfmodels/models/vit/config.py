"""ViTConfig: the named model configurations of google-research/vision_transformer.

Field names follow ``vit_jax/configs/models.py`` (``hidden_size``, ``patches.size`` ->
``patch_size``, ``transformer.{mlp_dim, num_heads, num_layers, dropout_rate,
attention_dropout_rate}``, ``classifier``, ``representation_size``), flattened into one
dataclass. ``num_classes`` and ``image_size`` come from the fine-tuning config in the
original (``dataset`` / ``pp.crop``); they are fields here so one object builds a model.
``hidden_act`` is the MLP activation: the original's flax ``nn.gelu`` is the tanh
approximation (``"gelu_tanh"``, the default); timm/HF use the exact erf form (``"gelu"``,
read from an HF ``config.json``). ``stochastic_depth`` is an addition (the original ViT
model has none; AugReg's big_vision models use it): the drop-path rate of the last block,
rising linearly from 0 over the blocks (timm's rule).
"""

from __future__ import annotations

import dataclasses

from tfmodels.models.config_json import JsonConfig

CLASSIFIERS = ("token", "gap")
ACTIVATIONS = ("gelu_tanh", "gelu")


@dataclasses.dataclass
class ViTConfig(JsonConfig):
    """Configuration of a :class:`VisionTransformer`.

    ``image_size`` is an int (square) or ``(height, width)``; both must be multiples of
    ``patch_size``. ``num_classes`` None or 0 builds the model without the ``head`` layer
    (it then returns the pre-logits features, as the original with ``num_classes=None``).
    """

    model_name: str = "testing"
    patch_size: int = 16
    hidden_size: int = 10
    mlp_dim: int = 10
    num_heads: int = 2
    num_layers: int = 1
    dropout_rate: float = 0.1
    attention_dropout_rate: float = 0.0
    classifier: str = "token"
    representation_size: int | None = None
    num_classes: int | None = 1000
    image_size: int | tuple = 224
    num_channels: int = 3
    stochastic_depth: float = 0.0
    layer_norm_eps: float = 1e-6
    hidden_act: str = "gelu_tanh"

    def __post_init__(self):
        if isinstance(self.patch_size, (list, tuple)):
            if len(set(self.patch_size)) != 1:
                raise ValueError(f"patch_size must be square; got {self.patch_size}")
            self.patch_size = self.patch_size[0]
        self.image_size = image_hw(self.image_size, "image_size")
        for name in ("patch_size", "hidden_size", "mlp_dim", "num_heads", "num_layers",
                     "num_channels"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"ViTConfig.{name} must be positive; got {getattr(self, name)}")
        if self.hidden_size % self.num_heads:
            raise ValueError(f"ViTConfig.hidden_size ({self.hidden_size}) is not a multiple of "
                             f"num_heads ({self.num_heads})")
        if self.hidden_act not in ACTIVATIONS:
            raise ValueError(f"ViTConfig.hidden_act must be one of {ACTIVATIONS}; "
                             f"got {self.hidden_act!r}")
        if self.classifier not in CLASSIFIERS:
            raise ValueError(f"ViTConfig.classifier must be one of {CLASSIFIERS}; "
                             f"got {self.classifier!r}")
        for hw, name in zip(self.image_size, ("height", "width")):
            if hw % self.patch_size:
                raise ValueError(f"image_size {name} {hw} is not a multiple of patch_size "
                                 f"{self.patch_size}")
        for name in ("dropout_rate", "attention_dropout_rate", "stochastic_depth"):
            if not 0.0 <= float(getattr(self, name)) < 1.0:
                raise ValueError(f"ViTConfig.{name} must be in [0, 1); got "
                                 f"{getattr(self, name)}")

    @property
    def grid_size(self):
        """Patch grid ``(rows, cols)`` at ``image_size``."""
        return tuple(s // self.patch_size for s in self.image_size)

    @property
    def num_tokens(self):
        """Sequence length: patches plus the class token when ``classifier == 'token'``."""
        rows, cols = self.grid_size
        return rows * cols + (1 if self.classifier == "token" else 0)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, d):
        d = dict(d)
        if d.get("model_type") == "vit":  # an HF config.json
            return cls.from_hf_dict(d)
        return super().from_dict(d)

    @classmethod
    def from_hf_dict(cls, d):
        """Reads an HF ``ViTConfig`` ``config.json`` (``ViTForImageClassification``)."""
        act = d.get("hidden_act", "gelu")
        if act != "gelu":
            raise ValueError(f"HF ViT hidden_act {act!r} is not supported (only exact 'gelu')")
        labels = d.get("id2label")
        return cls(
            model_name=d.get("_name_or_path") or "hf-vit",
            patch_size=d.get("patch_size", 16),
            hidden_size=d.get("hidden_size", 768),
            mlp_dim=d.get("intermediate_size", 3072),
            num_heads=d.get("num_attention_heads", 12),
            num_layers=d.get("num_hidden_layers", 12),
            dropout_rate=d.get("hidden_dropout_prob", 0.0),
            attention_dropout_rate=d.get("attention_probs_dropout_prob", 0.0),
            num_classes=len(labels) if labels else None,
            image_size=d.get("image_size", 224),
            num_channels=d.get("num_channels", 3),
            layer_norm_eps=d.get("layer_norm_eps", 1e-12),
            hidden_act="gelu",
        )

def image_hw(size, name="image_size"):
    """``224`` or ``(224, 320)`` -> ``(h, w)`` of positive ints; raises naming ``name``."""
    if isinstance(size, (list, tuple)):
        hw = tuple(int(s) for s in size)
        if len(hw) != 2:
            raise ValueError(f"{name} must be an int or (height, width); got {size!r}")
    else:
        hw = (int(size), int(size))
    if min(hw) <= 0:
        raise ValueError(f"{name} must be positive; got {size!r}")
    return hw


def _named(name, patch, hidden, mlp, heads, layers, dropout):
    return dict(model_name=name, patch_size=patch, hidden_size=hidden, mlp_dim=mlp,
                num_heads=heads, num_layers=layers, dropout_rate=dropout,
                attention_dropout_rate=0.0, classifier="token", representation_size=None)


# vit_jax/configs/models.py (get_*_config): the architecture part of each named model.
MODEL_CONFIGS = {
    "testing": _named("testing", 16, 10, 10, 2, 1, 0.1),
    "ViT-Ti_16": _named("ViT-Ti_16", 16, 192, 768, 3, 12, 0.0),
    "ViT-S_16": _named("ViT-S_16", 16, 384, 1536, 6, 12, 0.0),
    "ViT-S_32": _named("ViT-S_32", 32, 384, 1536, 6, 12, 0.0),
    "ViT-B_8": _named("ViT-B_8", 8, 768, 3072, 12, 12, 0.0),
    "ViT-B_16": _named("ViT-B_16", 16, 768, 3072, 12, 12, 0.0),
    "ViT-B_32": _named("ViT-B_32", 32, 768, 3072, 12, 12, 0.0),
    "ViT-L_16": _named("ViT-L_16", 16, 1024, 4096, 16, 24, 0.1),
    "ViT-L_32": _named("ViT-L_32", 32, 1024, 4096, 16, 24, 0.0),
    "ViT-H_14": _named("ViT-H_14", 14, 1280, 5120, 16, 32, 0.1),
}
MODEL_CONFIGS["ViT-S_16-gap-norep"] = dict(MODEL_CONFIGS["ViT-S_16"],
                                           model_name="ViT-S_16-gap-norep", classifier="gap")
MODEL_CONFIGS["ViT-B_16-gap-norep"] = dict(MODEL_CONFIGS["ViT-B_16"],
                                           model_name="ViT-B_16-gap-norep", classifier="gap")


def get_config(model_name, **overrides):
    """The named configuration (``"ViT-B_16"``, ``"B_16"``, ``"testing"``, ...) with overrides
    such as ``num_classes=10, image_size=384``."""
    key = model_name if model_name in MODEL_CONFIGS else f"ViT-{model_name}"
    if key not in MODEL_CONFIGS:
        raise ValueError(f"unknown model_name {model_name!r}; choose from "
                         f"{', '.join(MODEL_CONFIGS)}")
    return ViTConfig(**{**MODEL_CONFIGS[key], **overrides})
