"""Save / load a trained GRU4Rec as one ``.npz`` file (the run script's ``-s``/``-l``).

The file holds ``params`` (JSON), ``n_items``, ``item_ids`` (the item-id map: index ->
original id) and every weight by its path name, on any TensorFlow filesystem (``gs://``,
``file://``...). Written atomically: to a temporary name in the same directory, then
renamed (:func:`tfmodels.io.atomic_write`). The official saves a pickled Python object
instead; a model file from the official code cannot be read (different framework).
"""

from __future__ import annotations

import json
from io import BytesIO

import numpy as np

from tfmodels import io
from tfmodels.models.gru4rec.model import GRU4Rec
from tfmodels.models.gru4rec.params import GRU4RecParams

_FORMAT = "tfmodels.gru4rec.v1"


def save_model(model: GRU4Rec, path: str) -> None:
    arrays = {f"w/{name}": w.numpy() for name, w in model.named_weights().items()}
    meta = {"format": _FORMAT, "n_items": model.n_items, "params": model.params.to_dict()}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    if model.item_ids is not None:
        ids = np.asarray(model.item_ids)
        arrays["item_ids"] = ids.astype(str) if ids.dtype == object else ids
    buffer = BytesIO()  # np.savez seeks; object-store files cannot
    np.savez(buffer, **arrays)
    io.makedirs(io.dirname(path))
    with io.atomic_write(path, "wb") as f:
        f.write(buffer.getvalue())


def load_model(path: str) -> GRU4Rec:
    if not io.isfile(path):
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        with io.open_file(path, "rb") as f:
            data = np.load(BytesIO(f.read()), allow_pickle=False)
        meta = json.loads(bytes(data["meta"]).decode())
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(
            f"{path} is not a GRU4Rec model file saved by this package ({e})") from None
    if meta.get("format") != _FORMAT:
        raise ValueError(f"{path}: unsupported model format {meta.get('format')!r}")
    item_ids = data["item_ids"] if "item_ids" in data.files else None
    model = GRU4Rec(int(meta["n_items"]), GRU4RecParams.from_dict(meta["params"]),
                    item_ids=item_ids)
    weights = model.named_weights()
    names = list(weights)
    stored = {k[2:] for k in data.files if k.startswith("w/")}
    missing, unexpected = sorted(set(names) - stored), sorted(stored - set(names))
    if missing or unexpected:
        raise ValueError(f"{path}: weights do not match the model (missing {missing}, "
                         f"unexpected {unexpected})")
    for name, w in weights.items():
        value = data[f"w/{name}"]
        if value.shape != tuple(w.shape):
            raise ValueError(f"{path}: weight {name} has shape {value.shape}, expected {w.shape}")
        w.assign(value)
    return model
