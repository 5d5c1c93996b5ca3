"""Filtering and time-based splitting of session event logs (official RSC15 preprocessing).

Mirrors hidasib/GRU4Rec `examples/rsc15/preprocess.py`: drop sessions of length 1, then
items with fewer than 5 events, then sessions shorter than 2 again; the test set is every
session whose last event is within the last day of the data, restricted to items of the
training part and to sessions still of length >= 2 after that. Applying the same split to
the training part gives train_tr / train_valid. Rows keep their input order, as the
original's DataFrame filtering does.

Also: splitting a user's events into sessions at time gaps (for MovieLens), reading the
raw RSC15 (YOOCHOOSE) click file, and per-user item sequences in the SASRec data format.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from pipelines.fileio import io
from pipelines.sessions import iter_delimited_blocks, write_event_table

__all__ = [
    "Events",
    "filter_sessions_and_items",
    "split_last_days",
    "sessionize",
    "read_yoochoose_clicks",
    "write_events",
    "write_time_splits",
    "describe",
    "user_sequences",
    "write_user_item_pairs",
]


@dataclasses.dataclass
class Events:
    """An event log: parallel arrays, one entry per event, in file order."""

    session_ids: np.ndarray
    item_ids: np.ndarray
    times: np.ndarray

    def __len__(self) -> int:
        return len(self.times)

    def select(self, mask) -> Events:
        return Events(self.session_ids[mask], self.item_ids[mask], self.times[mask])

    def summary(self) -> tuple:
        """(events, sessions, items)."""
        return (len(self), len(np.unique(self.session_ids)), len(np.unique(self.item_ids)))


def _group_sizes(keys: np.ndarray) -> np.ndarray:
    """Per-event size of the group its key belongs to."""
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return counts[inverse.reshape(-1)]


def filter_sessions_and_items(events: Events, min_item_support: int = 5,
                              min_session_length: int = 2) -> Events:
    """Drops length-1 sessions, then items with < `min_item_support` events, then sessions
    shorter than `min_session_length` (the official order of the three filters)."""
    events = events.select(_group_sizes(events.session_ids) > 1)
    events = events.select(_group_sizes(events.item_ids) >= min_item_support)
    return events.select(_group_sizes(events.session_ids) >= min_session_length)


def split_last_days(events: Events, seconds: float = 86400.0,
                    min_session_length: int = 2) -> tuple:
    """Time split: sessions whose last event is before `tmax - seconds` form the training
    part, the others the test part; test events of items absent from the training part are
    dropped, then test sessions shorter than `min_session_length`.

    Returns (train, test) `Events`. Raises ValueError if either part is empty.
    """
    if len(events) == 0:
        raise ValueError("no events left to split")
    tmax = events.times.max()
    uniq, inverse = np.unique(events.session_ids, return_inverse=True)
    inverse = inverse.reshape(-1)
    session_max = np.full(len(uniq), -np.inf)
    np.maximum.at(session_max, inverse, events.times)
    in_train = (session_max < tmax - seconds)[inverse]
    train, test = events.select(in_train), events.select(~in_train)
    if len(train) == 0:
        raise ValueError(
            f"no training sessions end more than {seconds:g} s before the last event"
        )
    test = test.select(np.isin(test.item_ids, train.item_ids))
    test = test.select(_group_sizes(test.session_ids) >= min_session_length)
    if len(test) == 0:
        raise ValueError(
            "the test set is empty after keeping training items and sessions of length >= "
            f"{min_session_length}"
        )
    return train, test


def sessionize(user_ids, times, session_gap: float) -> np.ndarray:
    """Session number of every event: a user's events (in time order, ties in input order)
    start a new session whenever more than `session_gap` seconds pass between two of them.
    Sessions are numbered 0, 1, ... in (user, time) order."""
    if session_gap <= 0:
        raise ValueError(f"session_gap must be > 0 seconds, got {session_gap}")
    user_ids = np.asarray(user_ids)
    times = np.asarray(times, dtype=np.float64)
    order = np.lexsort((times, user_ids))
    u, t = user_ids[order], times[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (u[1:] != u[:-1]) | (t[1:] - t[:-1] > session_gap)
    sessions = np.empty(len(order), dtype=np.int64)
    sessions[order] = np.cumsum(new) - 1
    return sessions


def read_yoochoose_clicks(path: str) -> Events:
    """Reads `yoochoose-clicks.dat` (comma-separated, no header: session id, ISO timestamp
    `2014-04-07T10:51:09.277Z`, item id, category).

    Times are seconds since the epoch read as UTC. (The original converts with the local
    time zone of the machine; that shifts every time by the same amount, which changes no
    split, only the numbers written in the Time column.)

    Raises:
      FileNotFoundError / ValueError naming the file and line.
    """
    if not io.isfile(path):
        raise FileNotFoundError(f"click file not found: {path}")
    sessions, items, times = [], [], []
    line_no = 1
    for fields in iter_delimited_blocks(path, ",", 4):
        try:
            sessions.append(fields[:, 0].astype(np.int64))
            items.append(fields[:, 2].astype(np.int64))
        except ValueError:
            bad = _first_bad(fields[:, [0, 2]], int)
            raise ValueError(
                f"{path}: line {line_no + bad}: session and item ids must be integers"
            ) from None
        stamps = np.char.rstrip(fields[:, 1], b"Z").astype(str)
        try:
            dt = stamps.astype("datetime64[us]")
        except ValueError:
            bad = _first_bad(stamps, lambda v: np.datetime64(v, "us"))
            raise ValueError(
                f"{path}: line {line_no + bad}: timestamp {str(stamps[bad])!r} is not of the form "
                "YYYY-MM-DDTHH:MM:SS.fffZ"
            ) from None
        times.append((dt - np.datetime64(0, "us")).astype(np.int64) / 1e6)
        line_no += len(fields)
    if not sessions:
        raise ValueError(f"{path}: no clicks")
    return Events(np.concatenate(sessions), np.concatenate(items), np.concatenate(times))


def _first_bad(values, convert) -> int:
    for i, row in enumerate(values):
        try:
            for v in np.atleast_1d(row):
                convert(v)
        except ValueError:
            return i
    return 0


def write_events(path: str, events: Events, header=("SessionId", "ItemId", "Time")) -> None:
    """Writes the events as a TAB-separated file with a header (atomically)."""
    write_event_table(path, header, [events.session_ids, events.item_ids, events.times])


def describe(title: str, events: Events) -> str:
    """The official preprocessing's summary of a set ("Full train set\\n\\tEvents: ...")."""
    n_events, n_sessions, n_items = events.summary()
    return f"{title}\n\tEvents: {n_events}\n\tSessions: {n_sessions}\n\tItems: {n_items}"


def write_time_splits(out_dir: str, prefix: str, events: Events, seconds: float,
                      min_session_length: int = 2, report=print) -> dict:
    """Writes the four files of the official ``preprocess.py`` (RSC15 and ml-100k alike):
    ``{prefix}_train_full.txt`` / ``{prefix}_test.txt`` from :func:`split_last_days` on
    ``events``, then ``{prefix}_train_tr.txt`` / ``{prefix}_train_valid.txt`` from the same
    split of the full training part. ``report`` gets each set's :func:`describe` text.

    Both splits are made before anything is written, so a split error leaves no files.
    Returns ``{"train_full" | "test" | "train_tr" | "train_valid": path}``.
    """
    train, test = split_last_days(events, seconds, min_session_length)
    train_tr, valid = split_last_days(train, seconds, min_session_length)
    parts = (("Full train set", "train_full", train), ("Test set", "test", test),
             ("Train set", "train_tr", train_tr), ("Validation set", "train_valid", valid))
    paths = {}
    for title, name, part in parts:
        report(describe(title, part))
        paths[name] = io.join(out_dir, f"{prefix}_{name}.txt")
        write_events(paths[name], part)
    return paths


def user_sequences(user_ids, item_ids, times, min_count: int = 5) -> tuple:
    """Per-user item sequences as kang205/SASRec `data/DataProcessing.py` builds them.

    Interactions of users or items with fewer than `min_count` interactions (counted once,
    before any filtering) are dropped; users and items are renumbered 1, 2, ... in order of
    first appearance in the input; every user's items are sorted by time (ties keep input
    order). Returns (users, items) int64 arrays ordered by user, then time.
    """
    user_ids, item_ids = np.asarray(user_ids), np.asarray(item_ids)
    times = np.asarray(times, dtype=np.float64)
    keep = (_group_sizes(user_ids) >= min_count) & (_group_sizes(item_ids) >= min_count)
    if not keep.any():
        raise ValueError(f"no interactions left with at least {min_count} per user and item")
    user_ids, item_ids, times = user_ids[keep], item_ids[keep], times[keep]
    users = _number_by_appearance(user_ids)
    items = _number_by_appearance(item_ids)
    order = np.lexsort((times, users))
    return users[order], items[order]


def _number_by_appearance(ids: np.ndarray) -> np.ndarray:
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(1, len(first) + 1)
    return rank[inverse.reshape(-1)]


def write_user_item_pairs(path: str, users, items) -> None:
    """Writes `user item` lines (space-separated, no header; the SASRec format) atomically."""
    io.makedirs(io.dirname(path))
    with io.atomic_write(path, "w") as f:
        f.writelines(f"{u} {i}\n" for u, i in zip(np.asarray(users).tolist(),
                                                  np.asarray(items).tolist()))
