"""BertConfig: the original ``bert_config.json`` and HF ``config.json``, one dataclass.

Field names and defaults follow ``modeling.BertConfig`` of google-research/bert.
Activation names keep each format's meaning: in an original ``bert_config.json``
``"gelu"`` is the tanh approximation (``modeling.gelu``); in an HF ``config.json``
(recognised by its ``model_type`` key) ``"gelu"`` is the exact erf form and
``"gelu_new"`` the tanh one. HF names are translated on reading, so ``hidden_act``
always holds the original vocabulary plus ``"gelu_exact"`` for the erf form.
"""

from __future__ import annotations

import copy
import dataclasses
import json

from tfmodels import io

# hidden_act (original vocabulary) -> tfmodels.layers.get_activation name.
_ACTIVATION_TO_LAYER = {
    "gelu": "gelu_tanh",
    "gelu_exact": "gelu_exact",
    "relu": "relu",
    "tanh": "tanh",
    "linear": "linear",
}
# HF config hidden_act -> original vocabulary.
_HF_ACTIVATIONS = {
    "gelu": "gelu_exact",
    "gelu_new": "gelu",
    "gelu_pytorch_tanh": "gelu",
    "relu": "relu",
    "tanh": "tanh",
    "linear": "linear",
}
_ORIGINAL_FIELDS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "hidden_act",
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "max_position_embeddings",
    "type_vocab_size",
    "initializer_range",
)


@dataclasses.dataclass
class BertConfig:
    """Configuration of a BertModel (original ``modeling.BertConfig`` fields and defaults).

    ``layer_norm_eps`` is an addition (the original hard-codes 1e-12); it is only
    written to JSON when it differs from 1e-12, so files stay original-readable.
    """

    vocab_size: int
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 16
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12

    def __post_init__(self):
        if self.hidden_act not in _ACTIVATION_TO_LAYER:
            raise ValueError(
                f"Unsupported hidden_act {self.hidden_act!r}; expected one of "
                f"{sorted(_ACTIVATION_TO_LAYER)}"
            )
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                     "intermediate_size", "max_position_embeddings", "type_vocab_size"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"BertConfig.{name} must be positive, got {getattr(self, name)}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"The hidden size ({self.hidden_size}) is not a multiple of the number of "
                f"attention heads ({self.num_attention_heads})"
            )

    @property
    def activation(self):
        """Name of the activation for ``tfmodels.layers.get_activation``."""
        return _ACTIVATION_TO_LAYER[self.hidden_act]

    @classmethod
    def from_dict(cls, json_object):
        """Builds a config from a dict in either format (HF when it has ``model_type``)."""
        d = dict(json_object)
        if "model_type" in d:
            return cls._from_hf_dict(d)
        if "vocab_size" not in d:
            raise ValueError("BERT config has no vocab_size")
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def _from_hf_dict(cls, d):
        if d["model_type"] not in ("bert",):
            raise ValueError(f"HF config model_type {d['model_type']!r} is not 'bert'")
        pos = d.get("position_embedding_type", "absolute")
        if pos != "absolute":
            raise ValueError(f"Unsupported position_embedding_type {pos!r} (only 'absolute')")
        act = d.get("hidden_act", "gelu")
        if act not in _HF_ACTIVATIONS:
            raise ValueError(f"Unsupported HF hidden_act {act!r}")
        kwargs = {f: d[f] for f in _ORIGINAL_FIELDS if f in d and f != "hidden_act"}
        kwargs["hidden_act"] = _HF_ACTIVATIONS[act]
        if "layer_norm_eps" in d:
            kwargs["layer_norm_eps"] = float(d["layer_norm_eps"])
        # HF's BertConfig defaults differ from the original in type_vocab_size (2).
        kwargs.setdefault("type_vocab_size", 2)
        return cls(**kwargs)

    @classmethod
    def from_json_file(cls, json_file):
        """Reads ``bert_config.json`` (original) or ``config.json`` (HF)."""
        if not io.isfile(json_file):
            raise FileNotFoundError(f"bert_config_file not found: {json_file}")
        with io.open_file(json_file, "r") as f:
            try:
                d = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f"bert_config_file {json_file} is not valid JSON: {e}") from e
        return cls.from_dict(d)

    def to_dict(self):
        d = {k: copy.deepcopy(getattr(self, k)) for k in _ORIGINAL_FIELDS}
        if self.layer_norm_eps != 1e-12:
            d["layer_norm_eps"] = self.layer_norm_eps
        return d

    def to_json_string(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def to_json_file(self, json_file):
        """Writes the original ``bert_config.json`` layout, atomically."""
        with io.atomic_write(json_file, "w") as f:
            f.write(self.to_json_string())
