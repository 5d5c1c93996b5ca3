"""Session data for session-based recommendation (GRU4Rec).

Reads the TAB-separated event files of the official GRU4Rec code (hidasib/GRU4Rec: one row
per event with SessionId, ItemId and Time columns and a header), orders them the way the
official `SessionDataIterator` does (events by session then time; sessions by the time of
their first event) and feeds them session-parallel: `batch_size` lanes each hold one session,
every step gives the current item of every lane as input and its next item as target, a lane
whose session ends takes the next session (its hidden state row must be reset), and the batch
shrinks once no sessions are left.

Synthetic sessions from a sparse Markov chain: `pipelines.synthetic_sessions`.
"""

from __future__ import annotations

import dataclasses
import heapq
import re

import numpy as np

from pipelines.fileio import io

__all__ = [
    "SessionData",
    "SessionParallelIterator",
    "load_sessions",
    "sessions_from_arrays",
    "write_sessions",
    "read_tsv_columns",
]


@dataclasses.dataclass
class SessionData:
    """Events of a set of sessions, ready for session-parallel iteration.

    Sessions are stored in the order of their first event's time (ties: session id) and the
    events of a session in time order (ties: file order), so iterating sessions 0..n-1 is the
    official `session_order='time'`.

    Attributes:
      item_idx: int32 [n_events], item index of every event (index into `item_ids`).
      offsets: int64 [n_sessions + 1], session s is `item_idx[offsets[s]:offsets[s + 1]]`.
      item_ids: [n_items], original item id of every item index (int64 or str).
      session_ids: [n_sessions], original session id of every session.
      times: float64 [n_events], event timestamps.
    """

    item_idx: np.ndarray
    offsets: np.ndarray
    item_ids: np.ndarray
    session_ids: np.ndarray
    times: np.ndarray

    @property
    def n_items(self) -> int:
        return int(len(self.item_ids))

    @property
    def n_sessions(self) -> int:
        return int(len(self.offsets) - 1)

    @property
    def n_events(self) -> int:
        return int(len(self.item_idx))

    @property
    def session_lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def n_predictions(self) -> int:
        """Number of (input, next item) pairs: every event except the last of a session."""
        return self.n_events - self.n_sessions

    def item_index(self, ids) -> np.ndarray:
        """Maps item ids to item indices (int64); ids not in the map give -1."""
        return _lookup(self.item_ids, np.asarray(ids))

    def item_counts(self) -> np.ndarray:
        """Number of events of every item (int64 [n_items]): the item popularity."""
        return np.bincount(self.item_idx, minlength=self.n_items).astype(np.int64)


# ----------------------------------------------------------------------------- reading

_ONE_EVENT = ("{source}: every one of its {sessions} sessions has a single event, so there is "
              "no next item to predict (sessions need at least 2 events)")



def read_tsv_columns(path: str, columns, sep: str = "\t") -> dict:
    """Reads the named columns of a delimited text file with a header row.

    Returns {name: numpy bytes array}. Parsing is vectorised (whole blocks of lines are
    split at once), so tens of millions of rows load without pandas.

    Raises:
      FileNotFoundError: `path` does not exist.
      ValueError: empty file, missing columns (naming the ones present), or a row whose
        number of fields differs from the header's (naming the line).
    """
    if not io.isfile(path):
        raise FileNotFoundError(f"session file not found: {path}")
    with io.open_file(path, "rb") as f:
        header = f.readline()
    if not header.strip():
        raise ValueError(f"{path}: file is empty (expected a header row)")
    names = [h.strip() for h in header.decode("utf-8", errors="replace").rstrip("\r\n").split(sep)]
    missing = [c for c in columns if c not in names]
    if missing:
        raise ValueError(
            f"{path}: missing column(s) {missing}; the header has {names} "
            f"(columns must be {sep!r}-separated; set the column names if they differ)"
        )
    index = [names.index(c) for c in columns]
    parts = [[] for _ in columns]
    for fields in iter_delimited_blocks(path, sep, len(names), skip_lines=1):
        for part, i in zip(parts, index):
            part.append(fields[:, i])
    return {
        c: np.concatenate(p) if p else np.zeros(0, dtype="S1") for c, p in zip(columns, parts)
    }


def iter_delimited_blocks(path: str, sep: str, n_cols: int, skip_lines: int = 0,
                          block_bytes: int = 1 << 26):
    """Yields the fields of a delimited text file as bytes arrays [lines, n_cols], block by
    block (about `block_bytes` each). Blank lines are skipped.

    Raises:
      ValueError: a line with a different number of fields (naming the 1-based line).
    """
    sep_b = sep.encode()
    if len(sep_b) != 1:
        raise ValueError(f"the separator must be one byte, got {sep!r}")
    line_no = skip_lines + 1  # 1-based number of the first line of the next block
    with io.open_file(path, "rb") as f:
        for _ in range(skip_lines):
            f.readline()
        rest = b""
        while True:
            chunk = f.read(block_bytes)
            data = rest + chunk
            if chunk:
                cut = data.rfind(b"\n")
                if cut < 0:
                    rest = data
                    continue
                data, rest = data[:cut], data[cut + 1 :]
            else:
                rest = b""
            data = data.replace(b"\r", b"")
            if data:
                buf = np.frombuffer(data, dtype=np.uint8)
                line_ends = np.append(np.flatnonzero(buf == 10), len(buf))
                seps = np.flatnonzero(buf == sep_b[0])
                counts = np.diff(np.concatenate([[0], np.searchsorted(seps, line_ends)]))
                blank = np.diff(np.concatenate([[-1], line_ends])) == 1
                bad = np.flatnonzero((counts != n_cols - 1) & ~blank)
                if len(bad):
                    raise ValueError(
                        f"{path}: line {line_no + int(bad[0])} has {int(counts[bad[0]]) + 1} "
                        f"fields, expected {n_cols}"
                    )
                if blank.any():
                    data = re.sub(b"\n\n+", b"\n", data).strip(b"\n")
                if not data:
                    line_no += len(line_ends)
                    continue
                fields = np.array(data.replace(sep_b, b"\n").split(b"\n"))
                yield fields.reshape(-1, n_cols)
                line_no += len(line_ends)
            if not chunk:
                return


def parse_ids(values: np.ndarray) -> np.ndarray:
    """Ids as int64 when every value is a plain integer (one that prints back the same, so
    "007" and "7" stay distinct ids), else as str."""
    values = np.char.strip(values) if values.dtype.kind == "S" else values
    try:
        ints = values.astype(np.int64)
    except (ValueError, OverflowError):
        return values.astype(str)
    if values.dtype.kind in "SU" and not np.array_equal(ints.astype(values.dtype.kind), values):
        return values.astype(str)
    return ints


def parse_times(values: np.ndarray, path: str, column: str) -> np.ndarray:
    try:
        times = values.astype(np.float64)
    except ValueError:
        times = None
    if times is None or not np.all(np.isfinite(times)):
        for i, v in enumerate(values):
            try:
                ok = np.isfinite(float(v))
            except ValueError:
                ok = False
            if not ok:
                shown = v.decode("utf-8", errors="replace") if isinstance(v, bytes) else v
                raise ValueError(
                    f"{path}: column {column!r} must hold numeric timestamps; line {i + 2} has "
                    f"{shown!r}"
                )
    return times


def _lookup(keys: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Position of every query value in `keys` (unique values), -1 where absent."""
    if keys.dtype.kind != query.dtype.kind:
        keys, query = keys.astype(str), query.astype(str)
    query = query.reshape(-1)
    if len(keys) == 0:
        return np.full(len(query), -1, dtype=np.int64)
    sorter = np.argsort(keys, kind="stable")
    pos = np.searchsorted(keys, query, sorter=sorter)
    pos = np.minimum(pos, len(keys) - 1)
    found = keys[sorter[pos]] == query
    return np.where(found, sorter[pos], -1).astype(np.int64)


def sessions_from_arrays(
    session_ids,
    item_ids,
    times,
    itemidmap=None,
    source: str = "<arrays>",
) -> SessionData:
    """Builds a `SessionData` from per-event arrays (any order).

    Without `itemidmap` the item map is built from these events (item index = order of first
    appearance in session/time order). With `itemidmap` (a `SessionData` or an array of item
    ids whose position is the item index, e.g. the training data's `item_ids`) events of
    unknown items are dropped and then sessions shorter than 2 events are dropped, as the
    official evaluation does for test data.

    Raises:
      ValueError: no events, or (with a map) no session left after filtering.
    """
    session_ids = np.asarray(session_ids)
    item_ids = np.asarray(item_ids)
    times = np.asarray(times, dtype=np.float64)
    if not (len(session_ids) == len(item_ids) == len(times)):
        raise ValueError(f"{source}: session, item and time arrays differ in length")
    if len(times) == 0:
        raise ValueError(f"{source}: no events")
    if isinstance(itemidmap, SessionData):
        itemidmap = itemidmap.item_ids
    if itemidmap is not None:
        itemidmap = np.asarray(itemidmap)
        item_idx = _lookup(itemidmap, item_ids)
        keep = item_idx >= 0
        session_ids, times, item_idx = session_ids[keep], times[keep], item_idx[keep]
        _, sess_code, sess_len = np.unique(session_ids, return_inverse=True, return_counts=True)
        keep = sess_len[sess_code] >= 2
        session_ids, times, item_idx = session_ids[keep], times[keep], item_idx[keep]
        if len(item_idx) == 0:
            raise ValueError(
                f"{source}: no test events left after dropping items unseen in training and "
                "sessions shorter than 2 events"
            )

    uniq_sessions, sess_code = np.unique(session_ids, return_inverse=True)
    sess_code = sess_code.reshape(-1)
    order = np.lexsort((times, sess_code))  # stable: equal times keep file order
    code_sorted = sess_code[order]
    starts = np.flatnonzero(np.r_[True, code_sorted[1:] != code_sorted[:-1]])
    first_time = times[order][starts]  # per session, in session-code order
    session_rank = np.empty(len(starts), dtype=np.int64)
    session_rank[np.argsort(first_time, kind="stable")] = np.arange(len(starts))
    order = order[np.argsort(session_rank[code_sorted], kind="stable")]
    lengths = np.bincount(session_rank[sess_code], minlength=len(starts))
    offsets = np.zeros(len(starts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    ordered_sessions = np.empty_like(uniq_sessions)
    ordered_sessions[session_rank] = uniq_sessions

    if itemidmap is None:
        ids_sorted = item_ids[order]
        uniq_items, first_pos, inverse = np.unique(
            ids_sorted, return_index=True, return_inverse=True
        )
        appearance = np.argsort(first_pos, kind="stable")
        remap = np.empty(len(uniq_items), dtype=np.int64)
        remap[appearance] = np.arange(len(uniq_items))
        item_idx_sorted = remap[inverse.reshape(-1)]
        item_map = uniq_items[appearance]
    else:
        item_idx_sorted = item_idx[order]
        item_map = itemidmap
    return SessionData(
        item_idx=item_idx_sorted.astype(np.int32),
        offsets=offsets,
        item_ids=item_map,
        session_ids=ordered_sessions,
        times=times[order],
    )


def load_sessions(
    path: str,
    session_key: str = "SessionId",
    item_key: str = "ItemId",
    time_key: str = "Time",
    itemidmap=None,
) -> SessionData:
    """Loads a TAB-separated session file (official GRU4Rec format, header required).

    `itemidmap` (the training `SessionData` or its `item_ids`) marks test data: events of
    items unseen in training are dropped, then sessions shorter than 2 events.

    Raises:
      FileNotFoundError: `path` does not exist.
      ValueError: missing columns, non-numeric or non-finite times, no events, every
        session of one event (nothing to predict: training would see no step), or an empty
        test set after filtering; the message names the file.
    """
    cols = read_tsv_columns(path, [session_key, item_key, time_key])
    if len(cols[time_key]) == 0:
        raise ValueError(f"{path}: no events (only a header row)")
    times = parse_times(cols[time_key], path, time_key)
    data = sessions_from_arrays(
        parse_ids(cols[session_key]),
        parse_ids(cols[item_key]),
        times,
        itemidmap=itemidmap,
        source=path,
    )
    if data.n_predictions == 0:
        raise ValueError(_ONE_EVENT.format(source=path, sessions=data.n_sessions))
    return data


def write_sessions(
    path: str,
    data: SessionData,
    session_key: str = "SessionId",
    item_key: str = "ItemId",
    time_key: str = "Time",
) -> None:
    """Writes `data` as a TAB-separated file with a header, atomically."""
    sess = np.repeat(data.session_ids, data.session_lengths)
    items = data.item_ids[data.item_idx]
    write_event_table(path, [session_key, item_key, time_key], [sess, items, data.times])


def write_event_table(path: str, header, columns) -> None:
    """Writes equal-length columns as a TAB-separated file with a header, atomically (to a
    temporary name, then renamed), creating the directory if needed; any TF filesystem.

    Floats are written with `repr` (shortest round-trip form, as pandas does).
    """
    text_cols = []
    for col in columns:
        col = np.asarray(col)
        if col.dtype.kind == "f":
            text_cols.append([repr(v) for v in col.astype(np.float64).tolist()])
        else:
            text_cols.append(col.astype(str).tolist())
    io.makedirs(io.dirname(path))
    with io.atomic_write(path, "w") as f:
        f.write("\t".join(header) + "\n")
        f.writelines("\t".join(row) + "\n" for row in zip(*text_cols))


# ----------------------------------------------------------------------------- iterator


class SessionParallelIterator:
    """Session-parallel mini-batches, as the official GRU4Rec `SessionDataIterator`.

    `batch_size` lanes; lane l starts with session l. Every step feeds the current item of
    every active lane and targets its next item. A lane whose session is exhausted takes the
    next unused session; when several lanes run out at the same step they take sessions in
    lane order; once no sessions are left such lanes are dropped, so the batch shrinks at
    the very end. Sessions of length 1 produce no step (their lane moves straight on to the
    next session). This is exactly the official round scheme (advance every lane by the
    shortest remaining length, then refill the finished lanes in lane order).

    Iterating yields `(input_items int32[B'], target_items int32[B'], reset_lanes bool[B'],
    active_lanes int64[B'])`: `reset_lanes` is True where a new session starts in that lane
    at this step (on the first step: every lane), so the lane's hidden state must be zeroed
    before the step; `active_lanes` (ascending) maps the rows to lanes 0..batch_size-1.
    Yielded arrays are read-only (or fresh copies once the batch has shrunk). `chunks(k)`
    yields k steps at a time.

    Speed: the lane and first step of every session are found first (vectorised over the
    lanes freed together, or one heap operation per session when lanes are few), then the
    whole epoch is laid out as [steps, lanes] arrays with vectorised NumPy; iteration only
    slices rows. With `shuffle_sessions` the session order is a fresh
    seeded permutation every epoch (an addition: the official trainer uses time order).
    """

    def __init__(self, data: SessionData, batch_size: int, shuffle_sessions: bool = False,
                 seed: int = 0):
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if data.n_sessions == 0:
            raise ValueError("no sessions to iterate over")
        if data.n_predictions == 0:
            raise ValueError(_ONE_EVENT.format(source="session data", sessions=data.n_sessions))
        self.data = data
        self.batch_size = int(batch_size)
        self.shuffle_sessions = bool(shuffle_sessions)
        self._rng = np.random.default_rng(seed)
        self._cached = None

    def schedule(self, session_order=None):
        """Lays out one epoch: `(inputs, targets, resets)` of shape [steps, lanes].

        Inactive slots (after a lane ran out of sessions) hold -1 in inputs/targets.
        """
        data = self.data
        if session_order is None:
            session_order = np.arange(data.n_sessions)
        lengths = data.session_lengths[session_order]
        lane, start = _assign_lanes(lengths, self.batch_size)
        n_lanes = min(self.batch_size, data.n_sessions)
        steps_per = np.maximum(lengths - 1, 0)
        n_steps = int((start + steps_per).max())
        inputs = np.full((n_steps, n_lanes), -1, dtype=np.int32)
        targets = np.full((n_steps, n_lanes), -1, dtype=np.int32)
        resets = np.zeros((n_steps, n_lanes), dtype=bool)
        has_steps = steps_per > 0
        resets.ravel()[start[has_steps] * n_lanes + lane[has_steps]] = True
        # flat slot of every (input, target) pair: (start + j) * n_lanes + lane
        first_pair = np.cumsum(steps_per) - steps_per
        n_pairs = int(steps_per.sum())
        sess_of_pair = np.repeat(np.arange(len(lengths)), steps_per)
        j = np.arange(n_pairs) - first_pair[sess_of_pair]
        slot = (start * n_lanes + lane)[sess_of_pair] + j * n_lanes
        event = data.offsets[session_order][sess_of_pair] + j
        inputs.ravel()[slot] = data.item_idx[event]
        targets.ravel()[slot] = data.item_idx[event + 1]
        return inputs, targets, resets

    def _epoch_arrays(self):
        if self.shuffle_sessions:
            arrays = self.schedule(self._rng.permutation(self.data.n_sessions))
        else:
            if self._cached is None:
                self._cached = self.schedule()
            arrays = self._cached
        for a in arrays:
            a.setflags(write=False)
        return arrays

    def __iter__(self):
        for inputs, targets, resets, lanes in self.chunks(1):
            yield inputs[0], targets[0], resets[0], lanes

    def chunks(self, max_steps: int):
        """Like iterating, but yields up to `max_steps` consecutive steps at once:
        `(inputs int32[k, B'], targets int32[k, B'], resets bool[k, B'], active_lanes)`,
        with the same active lanes for all k steps (a chunk ends where the batch shrinks).
        Lets a training loop run many steps in one compiled call without stacking."""
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        inputs, targets, resets = self._epoch_arrays()
        n_steps, n_lanes = inputs.shape
        n_active = (inputs >= 0).sum(axis=1)
        # segments of steps with the same active lanes (the set only shrinks)
        bounds = np.flatnonzero(np.diff(n_active)) + 1
        seg_starts = np.concatenate([[0], bounds]).tolist()
        seg_ends = np.concatenate([bounds, [n_steps]]).tolist()
        for a, b in zip(seg_starts, seg_ends):
            if a >= b:
                continue
            if n_active[a] == n_lanes:
                lanes = np.arange(n_lanes, dtype=np.int64)
                pick = slice(None)
            else:
                lanes = np.flatnonzero(inputs[a] >= 0)
                pick = lanes
            lanes.setflags(write=False)
            for c in range(a, b, max_steps):
                e = min(c + max_steps, b)
                yield inputs[c:e, pick], targets[c:e, pick], resets[c:e, pick], lanes


def _assign_lanes(lengths: np.ndarray, batch_size: int):
    """Lane and first step of every session (in iteration order) under the official scheme.

    A lane is free at step T when its session's last target was at step T - 1. All lanes
    free at the earliest such T take the next sessions in lane order; a lane handed a
    length-1 session is free again at the same T, and is served after those (as in the
    official refill round). Two exact implementations: vectorised over the lanes freed
    together (cost ~ number of steps, best for many lanes) or a heap over sessions (cost ~
    number of sessions, best for few lanes).
    """
    steps = np.maximum(lengths.astype(np.int64) - 1, 0)
    if batch_size >= 20 * max(float(steps.mean()), 1.0):
        return _assign_lanes_rounds(steps, batch_size)
    return _assign_lanes_heap(steps, batch_size)


def _assign_lanes_rounds(steps: np.ndarray, batch_size: int):
    n = len(steps)
    free = np.zeros(min(batch_size, n), dtype=np.int64)  # step at which each lane is free
    lane = np.empty(n, dtype=np.int64)
    start = np.empty(n, dtype=np.int64)
    nxt = 0
    while nxt < n:
        t = free.min()
        ready = np.flatnonzero(free == t)[: n - nxt]
        k = len(ready)
        lane[nxt : nxt + k] = ready
        start[nxt : nxt + k] = t
        free[ready] = t + steps[nxt : nxt + k]
        nxt += k
    return lane, start


def _assign_lanes_heap(steps: np.ndarray, batch_size: int):
    n = len(steps)
    lane_out = [0] * n
    start_out = [0] * n
    # (free step, times re-queued at that step, lane): lanes freed by a length-1 session
    # queue behind the lanes already free at that step
    heap = [(0, 0, lane) for lane in range(min(batch_size, n))]
    for s, k in enumerate(steps.tolist()):
        t, wave, lane = heap[0]
        lane_out[s] = lane
        start_out[s] = t
        heapq.heapreplace(heap, (t + k, 0, lane) if k > 0 else (t, wave + 1, lane))
    return np.asarray(lane_out, dtype=np.int64), np.asarray(start_out, dtype=np.int64)
