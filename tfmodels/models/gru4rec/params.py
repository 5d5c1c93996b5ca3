"""GRU4Rec hyperparameters with the official names, defaults and string syntax.

Mirrors ``GRU4Rec.__init__``/``set_params`` of the official implementations
(hidasib/GRU4Rec_PyTorch_Official, GRU4Rec_Tensorflow_Official): the run script's
``-ps "loss=bpr-max,layers=100,constrained_embedding=True"`` string, ``/`` as the
list separator (``layers=100/100``), ``True``/``False``/``1``/``0`` booleans and
``embedding=layersize``. Unknown names raise ``ValueError`` naming the parameter
(the official prints "Unkown attribute" and raises ``NotImplementedError``).

Additions, all optional: ``final_act`` (the Theano original's final activation for
the ranking losses), ``sample_store_size`` (the run script's ``-ss``), ``seed``,
``reset_after`` (the GRU cell of the official PyTorch code: see ``model.GRULayer``).
``layers=100,100`` is also accepted in a parameter string: a bare value after a list
parameter extends that list.
"""

from __future__ import annotations

import dataclasses
import json
import re

LOSSES = ("cross-entropy", "bpr-max", "top1-max", "top1", "bpr")
_FINAL_ACT_RE = re.compile(
    r"^(linear|relu|tanh|leaky-[0-9.eE+-]+|elu-[0-9.eE+-]+|selu-[0-9.eE+-]+-[0-9.eE+-]+)$"
)


@dataclasses.dataclass
class GRU4RecParams:
    """Training hyperparameters (defaults of the official PyTorch/TF ``GRU4Rec``)."""

    layers: list[int] = dataclasses.field(default_factory=lambda: [100])
    loss: str = "cross-entropy"
    batch_size: int = 64
    dropout_p_embed: float = 0.0
    dropout_p_hidden: float = 0.0
    learning_rate: float = 0.05
    momentum: float = 0.0
    sample_alpha: float = 0.5
    n_sample: int = 2048
    embedding: int = 0
    constrained_embedding: bool = True
    n_epochs: int = 10
    bpreg: float = 1.0
    elu_param: float = 0.5
    logq: float = 0.0
    final_act: str = ""
    sample_store_size: int = 10_000_000
    seed: int = 42
    reset_after: bool = False

    def __post_init__(self):
        self.validate()

    # -- validation -----------------------------------------------------------------
    def validate(self) -> None:
        if isinstance(self.layers, int):
            self.layers = [self.layers]
        self.layers = [int(x) for x in self.layers]
        if not self.layers or min(self.layers) <= 0:
            raise ValueError(f"layers must be positive sizes, got {self.layers}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {self.loss!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        for name in ("dropout_p_embed", "dropout_p_hidden"):
            p = getattr(self, name)
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{name} is a drop probability in [0, 1), got {p}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.momentum < 0:
            raise ValueError(f"momentum must be >= 0, got {self.momentum}")
        if self.n_sample < 0:
            raise ValueError(f"n_sample must be >= 0, got {self.n_sample}")
        if self.embedding < 0:
            raise ValueError(f"embedding must be >= 0 or 'layersize', got {self.embedding}")
        if self.n_epochs < 0:
            raise ValueError(f"n_epochs must be >= 0, got {self.n_epochs}")
        if self.logq and self.loss != "cross-entropy":
            raise ValueError("logq is only defined for loss=cross-entropy")
        if self.final_act:
            if self.loss == "cross-entropy" and self.final_act != "softmax":
                raise ValueError("loss=cross-entropy always uses a softmax; drop final_act")
            if self.loss != "cross-entropy" and not _FINAL_ACT_RE.match(self.final_act):
                raise ValueError(
                    "final_act must be linear, relu, tanh, leaky-<X>, elu-<X> or "
                    f"selu-<X>-<Y>; got {self.final_act!r}"
                )
        if self.n_sample > 0 and self.sample_store_size // self.n_sample < 1:
            raise ValueError("sample_store_size must hold at least one batch of n_sample items")

    @property
    def effective_final_act(self) -> str:
        """Activation applied to the training score matrix before the loss.

        cross-entropy: softmax (inside the loss). bpr-max: ``elu-<elu_param>`` as in the
        PyTorch/TF official (``linear`` when elu_param is 0) unless ``final_act`` is set.
        Other losses: ``final_act`` or ``linear``.
        """
        if self.loss == "cross-entropy":
            return "softmax"
        if self.final_act:
            return self.final_act
        if self.loss == "bpr-max" and self.elu_param > 0:
            return f"elu-{self.elu_param}"
        return "linear"

    # -- (de)serialisation ---------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GRU4RecParams:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, values: dict) -> GRU4RecParams:
        """Build from name -> value (strings converted like the official set_params)."""
        base = cls()
        kwargs = {}
        for name, value in values.items():
            kwargs[name] = _convert(base, name, value)
        if kwargs.get("embedding") == "layersize":
            kwargs["embedding"] = int(kwargs.get("layers", base.layers)[0])
        return cls(**{**base.to_dict(), **kwargs})


def _field_types() -> dict:
    return {f.name: f for f in dataclasses.fields(GRU4RecParams)}


def _convert(base: GRU4RecParams, name: str, value):
    fields = _field_types()
    if name not in fields:
        raise ValueError(
            f"unknown GRU4Rec parameter {name!r}; known parameters: {', '.join(sorted(fields))}"
        )
    default = getattr(base, name)
    try:
        if isinstance(default, list):
            if isinstance(value, str):
                return [int(x) for x in value.replace(",", "/").split("/") if x.strip()]
            if isinstance(value, int | float):
                return [int(value)]
            return [int(x) for x in value]
        if isinstance(default, bool):
            if isinstance(value, str):
                if value in ("True", "1"):
                    return True
                if value in ("False", "0"):
                    return False
                raise ValueError
            return bool(value)
        if name == "embedding" and value == "layersize":
            return "layersize"
        if isinstance(default, int):
            f = float(value)
            if f != int(f):
                raise ValueError
            return int(f)
        if isinstance(default, float):
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"invalid value {value!r} for GRU4Rec parameter {name!r} "
            f"(expected {type(default).__name__})"
        ) from None


def parse_param_string(text: str) -> dict:
    """Split an official ``-ps`` string into an ordered name -> string dict.

    ``"loss=bpr-max,layers=100/100"`` -> ``{"loss": "bpr-max", "layers": "100/100"}``.
    A token without ``=`` right after a list parameter extends it (``layers=100,100``).
    """
    out: dict[str, str] = {}
    last = None
    list_names = {n for n, f in _field_types().items() if f.type in ("list[int]", list)}
    for token in (t.strip() for t in text.split(",")):
        if not token:
            continue
        if "=" not in token:
            if last in list_names and re.fullmatch(r"[0-9/]+", token):
                out[last] = f"{out[last]}/{token}"
                continue
            raise ValueError(f"bad parameter string token {token!r}: expected name=value")
        name, value = (s.strip() for s in token.split("=", 1))
        if name not in _field_types():
            raise ValueError(
                f"unknown GRU4Rec parameter {name!r}; known parameters: "
                f"{', '.join(sorted(_field_types()))}"
            )
        out[name] = value
        last = name
    return out


def params_from_string(text: str) -> GRU4RecParams:
    return GRU4RecParams.from_dict(parse_param_string(text))
