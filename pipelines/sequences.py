"""User item sequences for SASRec: reading, the leave-one-out split, tf.data training batches.

Input formats:

- the kang205/SASRec format (``data/<name>.txt``): one ``user item`` line per interaction,
  ids from 1, each user's lines in time order (``util.data_partition``);
- a GRU4Rec session file (TAB-separated with a ``SessionId ItemId Time`` header, as
  ``scripts/prepare_ml100k.py`` / ``preprocess_rsc15.py`` write): every session is one
  sequence, items numbered 1.. in order of first appearance.

Split (``data_partition``): users with fewer than 3 interactions train only; otherwise valid =
the second last item, test = the last, train = the rest.

Training batches (``sampler.sample_function``): a batch of users drawn uniformly among users
with at least 2 training items; input = train[:-1] (last ``maxlen``, left-padded with 0),
positives = the next items, one negative per positive position drawn uniformly from the items
NOT in the user's training history. Everything runs in tf.data from a step counter with
stateless random ops, so a batch depends only on (seed, step): no Python sampler processes,
and a resumed run continues the same stream. Negatives are drawn exactly uniformly from the
complement without rejection: the k-th item not in a sorted history h is
k + 1 + #{j : h_j - (j + 1) <= k}.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from tfmodels import io

__all__ = [
    "SequenceData",
    "read_user_item_file",
    "read_sequences",
    "resolve_dataset",
    "leave_one_out",
    "SplitData",
    "complement_sampler_arrays",
    "sample_complement_np",
    "training_dataset",
    "eval_inputs",
    "sampled_candidates",
]


@dataclasses.dataclass
class SequenceData:
    """Chronological item sequences: user ``user_ids[u]`` has ``items[offsets[u]:offsets[u+1]]``.

    Item ids are 1..num_items (0 is padding); ``item_ids`` maps them back to the source ids
    when the file was a session file (else None: ids are the file's own).
    """

    user_ids: np.ndarray
    offsets: np.ndarray
    items: np.ndarray
    num_items: int
    item_ids: np.ndarray | None = None

    @property
    def num_users(self) -> int:
        return len(self.user_ids)

    def sequence(self, u: int) -> np.ndarray:
        return self.items[self.offsets[u]:self.offsets[u + 1]]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


def _from_pairs(users: np.ndarray, items: np.ndarray, num_items: int, item_ids=None):
    order = np.argsort(users, kind="stable")  # file order within a user (time order)
    users, items = users[order], items[order]
    uniq, counts = np.unique(users, return_counts=True)
    offsets = np.zeros(len(uniq) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    return SequenceData(uniq, offsets, items.astype(np.int32), int(num_items), item_ids)


def read_user_item_file(path: str) -> SequenceData:
    """Reads the original ``user item`` format (1-indexed, chronological per user).

    Raises:
      FileNotFoundError: no such file.
      ValueError: a line that is not two integers, an id < 1 (0 is the padding id), or no
        interaction at all; the message names the file and line.
    """
    if not io.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    text = io.read_text(path)
    lines = text.splitlines()
    rows = [line.split() for line in lines]
    keep = [i for i, r in enumerate(rows) if r]
    bad = next((i for i in keep if len(rows[i]) != 2), None)
    if bad is None:
        try:
            values = np.array([rows[i] for i in keep], dtype=np.int64).reshape(-1, 2)
        except (ValueError, OverflowError):
            values = None
            bad = next(i for i in keep if not all(_is_int(t) for t in rows[i]))
    if bad is not None:
        raise ValueError(f"{path}:{bad + 1}: expected 'user item' (two integers), "
                         f"got {lines[bad]!r}")
    if len(values) == 0:
        raise ValueError(f"{path}: no interactions")
    low = np.flatnonzero((values < 1).any(axis=1))
    if len(low):
        i = keep[low[0]]
        raise ValueError(f"{path}:{i + 1}: ids start at 1 (item 0 is the padding id), "
                         f"got {lines[i]!r}")
    return _from_pairs(values[:, 0], values[:, 1], int(values[:, 1].max()))


def _is_int(token: str) -> bool:
    try:
        int(token)
        return True
    except ValueError:
        return False


def _read_session_file(path: str) -> SequenceData:
    # Imported here: the session reader is only needed for GRU4Rec files.
    from pipelines.sessions import load_sessions

    sessions = load_sessions(path)
    users = np.repeat(np.arange(1, sessions.n_sessions + 1), sessions.session_lengths)
    return _from_pairs(users, sessions.item_idx.astype(np.int64) + 1, sessions.n_items,
                       item_ids=sessions.item_ids)


def read_sequences(path: str) -> SequenceData:
    """Reads either format: a first line holding ``SessionId`` marks a GRU4Rec session file."""
    if not io.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    with io.open_file(path, "r") as f:
        first = f.readline()
    if "SessionId" in first.split("\t") or "SessionId" in first.split():
        return _read_session_file(path)
    return read_user_item_file(path)


def resolve_dataset(name_or_path: str, data_dir: str = "data") -> str:
    """``--dataset``: an existing path, else ``data/<name>.txt`` as the original."""
    if io.exists(name_or_path) and not io.isdir(name_or_path):
        return name_or_path
    candidate = io.join(data_dir, f"{name_or_path}.txt")
    if io.exists(candidate):
        return candidate
    raise FileNotFoundError(f"neither {name_or_path} nor {candidate} exists")


@dataclasses.dataclass
class SplitData:
    """The leave-one-out split; ``valid``/``test`` hold 0 where a user has none."""

    data: SequenceData
    train_offsets: np.ndarray
    valid: np.ndarray
    test: np.ndarray

    @property
    def num_items(self) -> int:
        return self.data.num_items

    def train(self, u: int) -> np.ndarray:
        return self.data.items[self.data.offsets[u]:self.train_offsets[u]]

    @property
    def train_lengths(self) -> np.ndarray:
        return self.train_offsets - self.data.offsets[:-1]

    def summary(self) -> dict:
        n = self.data.lengths
        return {
            "users": self.data.num_users,
            "items": self.num_items,
            "interactions": int(n.sum()),
            "average_train_length": float(self.train_lengths.mean()),
            "train_only_users": int((n < 3).sum()),
            "unsampled_users": int((self.train_lengths < 2).sum()),
        }


def leave_one_out(data: SequenceData) -> SplitData:
    """``util.data_partition``: < 3 interactions -> train only; else last two held out."""
    n = data.lengths
    held = np.where(n >= 3, 2, 0)
    ends = data.offsets[1:]
    train_offsets = ends - held
    valid = np.where(n >= 3, data.items[np.maximum(ends - 2, 0)], 0).astype(np.int32)
    test = np.where(n >= 3, data.items[np.maximum(ends - 1, 0)], 0).astype(np.int32)
    split = SplitData(data, train_offsets, valid, test)
    if not (split.train_lengths >= 2).any():
        raise ValueError("no user has 2 or more training interactions: nothing to train on")
    return split


def _last_rows(items, starts, ends, width) -> np.ndarray:
    """[U, width] int32: each segment's last `width` items, left-padded with 0."""
    out = np.zeros((len(starts), width), np.int32)
    lengths = np.minimum(ends - starts, width)
    row = np.repeat(np.arange(len(starts)), lengths)
    pos = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    col = width - np.repeat(lengths, lengths) + pos
    src = np.repeat(ends - lengths, lengths) + pos
    out[row, col] = items[src]
    return out


def complement_sampler_arrays(histories, num_items: int):
    """Keys for exact uniform sampling of items NOT in each history.

    histories: list of int arrays (ids 1..num_items). Returns (keys int64 [M], starts int64
    [U], free int64 [U]) with keys = u * (num_items + 1) + (h_j - (j + 1)) over each user's
    sorted unique history, and free = num_items - |history|.
    """
    keys, starts, free = [], np.zeros(len(histories), np.int64), np.zeros(len(histories),
                                                                            np.int64)
    total = 0
    for u, h in enumerate(histories):
        h = np.unique(np.asarray(h, np.int64))
        starts[u] = total
        free[u] = num_items - len(h)
        keys.append(u * (num_items + 1) + h - np.arange(1, len(h) + 1))
        total += len(h)
    keys = np.concatenate(keys) if keys else np.zeros(0, np.int64)
    return keys, starts, free


def sample_complement_np(keys, starts, free, rows, k, num_items):
    """Items for users `rows` ([n]) from uniform indices k ([n, m], 0 <= k < free[rows])."""
    base = (rows * (num_items + 1))[:, None]
    count = np.searchsorted(keys, base + k, side="right") - starts[rows][:, None]
    return k + 1 + count


def training_dataset(split: SplitData, batch_size: int, maxlen: int, seed: int = 0,
                     num_negatives: int = 1, start_step: int = 0) -> tf.data.Dataset:
    """Endless batches {"user", "input_seq", "pos", "neg"} (``WarpSampler.next_batch``).

    input_seq/pos int32 [B, maxlen]; neg int32 [B, maxlen] (or [B, maxlen, n] for
    ``num_negatives`` n > 1), 0 where pos is 0. Batch i depends only on (seed, i); the stream
    starts at ``start_step``.
    """
    if batch_size < 1 or maxlen < 1 or num_negatives < 1:
        raise ValueError("batch_size, maxlen and num_negatives must be >= 1, got "
                         f"{batch_size}, {maxlen}, {num_negatives}")
    data = split.data
    eligible = np.flatnonzero(split.train_lengths >= 2)
    starts, ends = data.offsets[:-1][eligible], split.train_offsets[eligible]
    rows = _last_rows(data.items, starts, ends, maxlen + 1)
    histories = [data.items[s:e] for s, e in zip(starts, ends)]
    keys, key_starts, free = complement_sampler_arrays(histories, split.num_items)
    full = np.flatnonzero(free == 0)
    if len(full):
        raise ValueError(f"user {data.user_ids[eligible[full[0]]]} has interacted with every "
                         "item: no negative can be drawn for them")
    n_items = split.num_items
    user_ids = tf.constant(data.user_ids[eligible].astype(np.int64))
    rows_t = tf.constant(rows)
    keys_t = tf.constant(keys[None, :])
    key_starts_t = tf.constant(key_starts)
    free_t = tf.constant(free.astype(np.float64))
    n_users = len(eligible)
    neg_shape = [maxlen] if num_negatives == 1 else [maxlen, num_negatives]

    def make_batch(step):
        s1, s2 = tf.unstack(tf.random.experimental.stateless_split(
            tf.stack([tf.constant(seed, tf.int64), step]), 2))
        u = tf.random.stateless_uniform([batch_size], s1, 0, n_users, dtype=tf.int32)
        row = tf.gather(rows_t, u)
        seq, pos = row[:, :-1], row[:, 1:]
        pos = pos * tf.cast(seq > 0, tf.int32)
        shape = [batch_size] + neg_shape
        r = tf.random.stateless_uniform(shape, s2, dtype=tf.float64)
        f = tf.reshape(tf.gather(free_t, u), [batch_size] + [1] * len(neg_shape))
        k = tf.minimum(tf.cast(tf.floor(r * f), tf.int64), tf.cast(f, tf.int64) - 1)
        u64 = tf.reshape(tf.cast(u, tf.int64), [batch_size] + [1] * len(neg_shape))
        query = tf.reshape(u64 * (n_items + 1) + k, [1, -1])
        count = tf.reshape(tf.searchsorted(keys_t, query, side="right", out_type=tf.int64),
                           shape) - tf.gather(key_starts_t, u64)
        neg = tf.cast(k + 1 + count, tf.int32)
        target = tf.cast(pos > 0, tf.int32)
        neg = neg * (target if num_negatives == 1 else target[..., None])
        return {"user": tf.gather(user_ids, u), "input_seq": seq, "pos": pos, "neg": neg}

    ds = tf.data.Dataset.counter(start_step, dtype=tf.int64)
    ds = ds.map(make_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def eval_inputs(split: SplitData, maxlen: int, stage: str = "test") -> dict:
    """Per evaluated user: the input history and the held-out item (``util.evaluate``).

    stage "test": input = train + valid (last maxlen), target = test; "valid": input = train,
    target = valid. Users with no training item or no target are skipped, as the original.
    Returns {"rows" (indices into the data's users), "user", "input_seq" [U, maxlen],
    "target" [U], "history" (list of arrays: every item the input holds)}.
    """
    if stage not in ("test", "valid"):
        raise ValueError(f"stage must be 'test' or 'valid', got {stage!r}")
    data = split.data
    target = split.test if stage == "test" else split.valid
    rows = np.flatnonzero((split.train_lengths >= 1) & (target > 0))
    starts = data.offsets[:-1][rows]
    ends = split.train_offsets[rows] + (1 if stage == "test" else 0)
    # For "test" the valid item sits right after train in the data, so the input is one
    # contiguous segment.
    seq = _last_rows(data.items, starts, ends, maxlen)
    return {"rows": rows, "user": data.user_ids[rows], "input_seq": seq,
            "target": target[rows].astype(np.int32),
            "history": [data.items[s:e] for s, e in zip(starts, ends)]}


def sampled_candidates(split: SplitData, rows, targets, num_negatives: int = 100,
                       seed: int = 0) -> np.ndarray:
    """[U, 1 + n] candidates: the target, then n items drawn uniformly (with replacement) from
    the items the user never interacted with (train, valid and test: the original excludes
    only the training items, so the held-out item itself could be drawn as a negative)."""
    data = split.data
    rows = np.asarray(rows)
    histories = [data.sequence(u) for u in rows]
    keys, starts, free = complement_sampler_arrays(histories, split.num_items)
    if (free == 0).any():
        raise ValueError("a user has interacted with every item: no negative can be drawn")
    rng = np.random.default_rng(seed)
    k = np.floor(rng.random((len(rows), num_negatives)) * free[:, None]).astype(np.int64)
    k = np.minimum(k, free[:, None] - 1)
    negs = sample_complement_np(keys, starts, free, np.arange(len(rows)), k, split.num_items)
    return np.concatenate([np.asarray(targets)[:, None], negs], axis=1).astype(np.int32)
