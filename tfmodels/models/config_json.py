"""JSON round trip shared by the dataclass configs (ViT, DETR, MaskFormer).

``to_dict`` gives plain JSON values (tuples become lists); ``from_dict`` refuses fields
the class does not have, naming them; files are read and written through
:mod:`tfmodels.io` (any TensorFlow filesystem, written atomically).
"""

from __future__ import annotations

import dataclasses
import json

from tfmodels import io


class JsonConfig:
    """Mixin for ``@dataclasses.dataclass`` configs."""

    def to_dict(self):
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields: {', '.join(unknown)}")
        return cls(**d)

    @classmethod
    def from_json_file(cls, path):
        try:
            return cls.from_dict(json.loads(io.read_text(path)))
        except json.JSONDecodeError as e:
            raise ValueError(f"{cls.__name__} file {path} is not valid JSON: {e}") from e

    def to_json_file(self, path):
        with io.atomic_write(path, "w") as f:
            f.write(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
