"""DetrConfig: the model arguments of facebookresearch/detr ``main.py`` (names and defaults).

Training arguments (learning rates, loss coefficients) stay with the training script and
the criterion. ``backbone_layers``/``backbone_width`` are additions for small models (a
ResNet with fewer blocks or channels than ``backbone``); unset, the torchvision layout of
``backbone`` is used. ``frozen_stages`` (addition, mmdetection's name) is 1 as the original
(stem + layer1 frozen); −1 trains the whole backbone (a model trained from scratch), as
does ``backbone_norm="batch"`` (trainable batch norm instead of frozen statistics).
"""

from __future__ import annotations

import dataclasses

from tfmodels.models.config_json import JsonConfig

BACKBONES = {"resnet50": 50, "resnet101": 101, "resnet152": 152}


@dataclasses.dataclass
class DetrConfig(JsonConfig):
    num_classes: int = 91  # COCO: max category id 90, + 1 (the original's num_classes)
    backbone: str = "resnet50"
    dilation: bool = False
    position_embedding: str = "sine"
    enc_layers: int = 6
    dec_layers: int = 6
    dim_feedforward: int = 2048
    hidden_dim: int = 256
    dropout: float = 0.1
    nheads: int = 8
    num_queries: int = 100
    pre_norm: bool = False
    aux_loss: bool = True
    train_backbone: bool = True  # the original: lr_backbone > 0
    backbone_layers: tuple | None = None
    backbone_width: int = 64
    frozen_stages: int = 1  # stem + layer1 frozen while the backbone trains (the original)
    backbone_norm: str = "frozen"  # "batch": trainable batch norm (training from scratch)

    def __post_init__(self):
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {sorted(BACKBONES)}; got {self.backbone!r}")
        if self.backbone_layers is not None:
            self.backbone_layers = tuple(int(n) for n in self.backbone_layers)
        for name in ("num_classes", "hidden_dim", "nheads", "num_queries", "dec_layers",
                     "dim_feedforward"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be positive; got {getattr(self, name)}")
        if self.hidden_dim % self.nheads:
            raise ValueError(f"hidden_dim ({self.hidden_dim}) is not a multiple of nheads "
                             f"({self.nheads})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {self.dropout}")

    @property
    def depth(self):
        return BACKBONES[self.backbone]
