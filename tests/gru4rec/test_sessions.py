"""Session loading, ordering, validation, the session-parallel iterator and the Markov generator."""

import numpy as np
import pytest

from pipelines.sessions import (
    SessionParallelIterator,
    load_sessions,
    sessions_from_arrays,
    write_sessions,
)
from pipelines.synthetic_sessions import (
    generate_markov_sessions,
    make_markov_chain,
    markov_best_metrics,
)


def _write(path, text):
    path.write_text(text)
    return str(path)


# ----------------------------------------------------------------------------- loading

CLICKS = (
    "SessionId\tItemId\tTime\n"
    "7\t100\t50\n"      # session 7 starts at 10 (row below), so it comes first
    "7\t200\t10\n"
    "3\t300\t20\n"      # session 3 starts at 20
    "3\t100\t30\n"
    "3\t200\t30\n"      # tie in time with the row above: file order kept
    "9\t400\t5\n"       # session 9 starts at 5: first of all
    "9\t100\t6\n"
)


def test_load_orders_sessions_by_first_time_and_events_by_time(tmp_path):
    d = load_sessions(_write(tmp_path / "c.tsv", CLICKS))
    assert d.session_ids.tolist() == [9, 7, 3]
    assert d.offsets.tolist() == [0, 2, 4, 7]
    # item index = order of first appearance in session/time order
    assert d.item_ids.tolist() == [400, 100, 200, 300]
    ids = d.item_ids[d.item_idx].tolist()
    assert ids == [400, 100, 200, 100, 300, 100, 200]
    assert d.times.tolist() == [5, 6, 10, 50, 20, 30, 30]
    assert d.item_idx.dtype == np.int32 and d.offsets.dtype == np.int64
    assert d.n_items == 4 and d.n_sessions == 3 and d.n_events == 7 and d.n_predictions == 4
    assert d.item_index([300, 999, 400]).tolist() == [3, -1, 0]
    assert d.item_counts().tolist() == [1, 3, 2, 1]


def test_load_custom_column_names_extra_columns_and_string_ids(tmp_path):
    text = "ts\tuser\tsess\tproduct\n1.5\tu\tx\tP1\n2.5\tu\tx\tP2\n0.5\tv\ty\tP2\n0.7\tv\ty\tP3\n"
    d = load_sessions(_write(tmp_path / "c.tsv", text), session_key="sess", item_key="product",
                      time_key="ts")
    assert d.session_ids.tolist() == ["y", "x"]
    assert d.item_ids.tolist() == ["P2", "P3", "P1"]
    assert d.item_ids[d.item_idx].tolist() == ["P2", "P3", "P1", "P2"]


def test_ids_are_integers_only_when_they_print_back_the_same():
    from pipelines.sessions import parse_ids

    assert parse_ids(np.array([b"12", b" 7", b"-3"])).tolist() == [12, 7, -3]
    assert parse_ids(np.array([b"12", b"007"])).tolist() == ["12", "007"]
    assert parse_ids(np.array([b"12", b"x1"])).tolist() == ["12", "x1"]


def test_test_set_uses_training_map_and_drops_unseen_items_and_short_sessions(tmp_path):
    train = load_sessions(_write(tmp_path / "tr.tsv", CLICKS))
    test_text = (
        "SessionId\tItemId\tTime\n"
        "1\t100\t1\n1\t555\t2\n1\t200\t3\n"   # 555 unseen: dropped, session keeps 100, 200
        "2\t300\t1\n2\t666\t2\n"             # only one known event left: session dropped
        "4\t400\t0\n4\t400\t9\n"
    )
    test = load_sessions(_write(tmp_path / "te.tsv", test_text), itemidmap=train)
    assert test.session_ids.tolist() == [4, 1]
    assert test.item_ids is train.item_ids or test.item_ids.tolist() == train.item_ids.tolist()
    assert test.item_ids[test.item_idx].tolist() == [400, 400, 100, 200]
    # the map may also be given as the id array
    test2 = load_sessions(str(tmp_path / "te.tsv"), itemidmap=train.item_ids)
    assert test2.item_idx.tolist() == test.item_idx.tolist()


def test_bad_input_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.tsv"):
        load_sessions(str(tmp_path / "nope.tsv"))
    p = _write(tmp_path / "m.tsv", "SessionId\tItem\tTime\n1\t2\t3\n")
    with pytest.raises(ValueError, match=r"m\.tsv.*missing column.*'ItemId'"):
        load_sessions(p)
    p = _write(tmp_path / "t.tsv", "SessionId\tItemId\tTime\n1\t2\t3\n1\t3\t2014-04-01\n")
    with pytest.raises(ValueError, match=r"t\.tsv.*'Time'.*numeric.*line 3.*2014-04-01"):
        load_sessions(p)
    p = _write(tmp_path / "n.tsv", "SessionId\tItemId\tTime\n1\t2\tnan\n")
    with pytest.raises(ValueError, match="numeric"):
        load_sessions(p)
    p = _write(tmp_path / "f.tsv", "SessionId\tItemId\tTime\n1\t2\t3\n1\t2\n")
    with pytest.raises(ValueError, match=r"f\.tsv: line 3 has 2 fields, expected 3"):
        load_sessions(p)
    p = _write(tmp_path / "e.tsv", "")
    with pytest.raises(ValueError, match="empty"):
        load_sessions(p)
    p = _write(tmp_path / "h.tsv", "SessionId\tItemId\tTime\n")
    with pytest.raises(ValueError, match="no events"):
        load_sessions(p)
    train = load_sessions(_write(tmp_path / "tr.tsv", CLICKS))
    p = _write(tmp_path / "te.tsv", "SessionId\tItemId\tTime\n1\t8\t1\n1\t9\t2\n2\t100\t3\n")
    with pytest.raises(ValueError, match=r"te\.tsv: no test events left"):
        load_sessions(p, itemidmap=train)


def test_block_reader_across_block_boundaries_and_crlf(tmp_path):
    from pipelines.sessions import iter_delimited_blocks

    rows = [f"{i // 2}\t{i * 7 % 13}\t{i * 1.5}" for i in range(200)]
    p = _write(tmp_path / "b.tsv", "SessionId\tItemId\tTime\r\n" + "\r\n".join(rows) + "\r\n\n")
    blocks = list(iter_delimited_blocks(p, "\t", 3, skip_lines=1, block_bytes=64))
    assert len(blocks) > 5
    got = np.concatenate(blocks)
    assert [b"\t".join(r).decode() for r in got] == rows
    d = load_sessions(p)
    assert d.n_events == 200 and d.times.max() == 199 * 1.5
    bad = _write(tmp_path / "bad.tsv", "\n".join(["a\tb\tc"] + rows[:150] + ["1\t2"] + rows))
    with pytest.raises(ValueError, match="line 152 has 2 fields"):
        list(iter_delimited_blocks(bad, "\t", 3, skip_lines=1, block_bytes=50))


def test_write_then_load_round_trip(tmp_path):
    d = load_sessions(_write(tmp_path / "c.tsv", CLICKS.replace("\t50\n", "\t50.125\n")))
    write_sessions(str(tmp_path / "out.tsv"), d)
    again = load_sessions(str(tmp_path / "out.tsv"))
    assert again.session_ids.tolist() == d.session_ids.tolist()
    assert again.item_ids[again.item_idx].tolist() == d.item_ids[d.item_idx].tolist()
    assert again.times.tolist() == d.times.tolist()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


# ----------------------------------------------------------------------------- iterator


def _data(lengths):
    """Sessions 0..n-1 in this order; event e of session s has item 10 * s + e."""
    sess = np.repeat(np.arange(len(lengths)), lengths)
    within = np.concatenate([np.arange(n) for n in lengths])
    items = 10 * sess + within
    d = sessions_from_arrays(sess, items, sess * 1000.0 + within)
    return d


def _steps(d, batch_size, **kw):
    out = []
    for inp, tgt, reset, lanes in SessionParallelIterator(d, batch_size, **kw):
        out.append((d.item_ids[inp].tolist(), d.item_ids[tgt].tolist(), reset.tolist(),
                    lanes.tolist()))
    return out


def test_iterator_hand_worked_lanes_resets_and_shrinking():
    # sessions A(3) B(2) C(4) D(2) E(3), two lanes:
    # lane 0: A A D E E    lane 1: B C C C -
    steps = _steps(_data([3, 2, 4, 2, 3]), 2)
    assert steps == [
        ([0, 10], [1, 11], [True, True], [0, 1]),
        ([1, 20], [2, 21], [False, True], [0, 1]),
        ([30, 21], [31, 22], [True, False], [0, 1]),
        ([40, 22], [41, 23], [True, False], [0, 1]),
        ([41], [42], [False], [0]),  # lane 1 ran out of sessions: the batch shrinks
    ]


def test_iterator_length_one_sessions_are_skipped_in_official_refill_order():
    # A B C end together at step 0; lanes 0,1,2 take D(length 1), E, F in lane order;
    # only then does lane 0 (whose D yields nothing) take G.
    steps = _steps(_data([2, 2, 2, 1, 2, 2, 2]), 3)
    assert steps == [
        ([0, 10, 20], [1, 11, 21], [True, True, True], [0, 1, 2]),
        ([60, 40, 50], [61, 41, 51], [True, True, True], [0, 1, 2]),
    ]


def test_iterator_more_lanes_than_sessions_and_last_lane_dropped_in_the_middle():
    steps = _steps(_data([2, 3]), 4)
    assert steps == [
        ([0, 10], [1, 11], [True, True], [0, 1]),
        ([11], [12], [False], [1]),
    ]


def _reference_rounds(d, batch_size, order):
    """Direct transcription of the official round scheme (advance every lane by the shortest
    remaining length minus one, then refill finished lanes in lane order)."""
    off = d.offsets
    n = d.n_sessions
    lanes = list(range(min(batch_size, n)))
    nxt = len(lanes)
    start = [off[order[i]] for i in lanes]
    end = [off[order[i] + 1] for i in lanes]
    reset = [True] * len(lanes)
    out = []
    while lanes:
        m = min(e - s for s, e in zip(start, end)) - 1
        for i in range(m):
            out.append(([int(d.item_idx[s + i]) for s in start],
                        [int(d.item_idx[s + i + 1]) for s in start],
                        list(reset) if i == 0 else [False] * len(lanes), list(lanes)))
        if m > 0:
            reset = [False] * len(lanes)
        start = [s + m for s in start]
        keep = []
        for j in range(len(lanes)):
            if end[j] - start[j] <= 1:
                if nxt < n:
                    start[j], end[j] = off[order[nxt]], off[order[nxt] + 1]
                    reset[j] = True
                    keep.append(j)
                nxt += 1
            else:
                keep.append(j)
        lanes = [lanes[j] for j in keep]
        start = [start[j] for j in keep]
        end = [end[j] for j in keep]
        reset = [reset[j] for j in keep]
    return out


@pytest.mark.parametrize("batch_size", [1, 3, 8, 50])
def test_iterator_matches_round_scheme_on_random_sessions(batch_size):
    rng = np.random.default_rng(batch_size)
    lengths = rng.choice([1, 2, 3, 4, 7, 12], size=120, p=[0.15, 0.3, 0.2, 0.15, 0.1, 0.1])
    d = _data(lengths)
    got = [(i.tolist(), t.tolist(), r.tolist(), a.tolist())
           for i, t, r, a in SessionParallelIterator(d, batch_size)]
    assert got == _reference_rounds(d, batch_size, np.arange(d.n_sessions))
    assert sum(len(s[0]) for s in got) == d.n_predictions
    # shuffled: a seeded permutation per epoch, the same scheme on that order
    it = SessionParallelIterator(d, batch_size, shuffle_sessions=True, seed=5)
    epoch1 = [(i.tolist(), t.tolist(), r.tolist(), a.tolist()) for i, t, r, a in it]
    order = np.random.default_rng(5).permutation(d.n_sessions)
    assert epoch1 == _reference_rounds(d, batch_size, order)
    epoch2 = [(i.tolist(), t.tolist()) for i, t, _, _ in it]
    assert epoch2 != [(a, b) for a, b, _, _ in epoch1]


def test_iterator_arrays_are_read_only_and_bad_batch_size():
    d = _data([3, 2, 4])
    inp, tgt, reset, lanes = next(iter(SessionParallelIterator(d, 2)))
    assert inp.dtype == np.int32 and tgt.dtype == np.int32 and reset.dtype == bool
    with pytest.raises(ValueError):
        reset[0] = False
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="batch_size"):
            SessionParallelIterator(d, bad)


# ----------------------------------------------------------------------------- Markov data


def test_markov_sessions_follow_the_chain():
    chain = make_markov_chain(n_items=60, n_successors=5, concentration=0.5, seed=3)
    assert np.allclose(chain.probs.sum(1), 1.0)
    assert np.all(np.diff(chain.probs, axis=1) <= 0)
    assert not np.any(chain.successors == np.arange(60)[:, None])
    assert all(len(set(row)) == 5 for row in chain.successors.tolist())
    d = generate_markov_sessions(chain, n_sessions=3000, mean_length=6, seed=1)
    assert d.session_lengths.min() >= 2
    assert abs(d.session_lengths.mean() - 6) < 0.3
    assert np.all(np.diff(d.times[d.offsets[:-1]]) > 0)  # sessions in time order
    last = np.zeros(d.n_events, bool)
    last[d.offsets[1:] - 1] = True
    src, dst = d.item_idx[~last], d.item_idx[1:][~last[:-1]]
    assert np.all((chain.successors[src] == dst[:, None]).any(axis=1))
    # empirical transition frequencies of item 0 match its probabilities
    dst0 = dst[src == 0]
    freq = np.array([(dst0 == s).mean() for s in chain.successors[0]])
    assert np.abs(freq - chain.probs[0]).max() < 4 * np.sqrt(0.25 / len(dst0))
    dense = chain.next_item_probs([0, 2])
    assert dense.shape == (2, 60) and np.allclose(dense.sum(1), 1)
    assert np.allclose(dense[1, chain.successors[2]], chain.probs[2])


def test_sessions_module_has_no_synthetic_re_export():
    import pipelines.sessions as sessions

    assert not hasattr(sessions, "make_markov_chain")
    assert not hasattr(sessions, "__getattr__")


def test_markov_best_metrics_hand_worked():
    from pipelines.synthetic_sessions import MarkovChain

    chain = MarkovChain(
        start_probs=np.full(3, 1 / 3),
        successors=np.array([[1, 2], [2, 0], [0, 1]]),
        probs=np.array([[0.7, 0.3], [0.6, 0.4], [0.5, 0.5]]),
    )
    # sessions [0, 0, 1] and [2, 0]: the inputs (all but the last event) are 0, 0 and 2
    d = sessions_from_arrays([1, 1, 1, 2, 2], [0, 0, 1, 2, 0], [0, 1, 2, 3, 4],
                             itemidmap=np.arange(3))
    res = markov_best_metrics(chain, d, cutoffs=(1, 2))
    assert res[1] == pytest.approx(((0.7 + 0.7 + 0.5) / 3,) * 2)
    mrr2 = (2 * (0.7 + 0.3 / 2) + (0.5 + 0.5 / 2)) / 3
    assert res[2] == pytest.approx((1.0, mrr2))


@pytest.mark.parametrize("batch_size", [1, 2, 5, 16, 200])
def test_both_lane_assignment_methods_agree(batch_size):
    from pipelines.sessions import _assign_lanes_heap, _assign_lanes_rounds

    rng = np.random.default_rng(batch_size)
    steps = rng.choice([0, 1, 2, 3, 9], size=3000, p=[0.2, 0.35, 0.2, 0.15, 0.1])
    lane_h, start_h = _assign_lanes_heap(steps, batch_size)
    lane_r, start_r = _assign_lanes_rounds(steps, batch_size)
    assert lane_h.tolist() == lane_r.tolist() and start_h.tolist() == start_r.tolist()
    # the lanes run their sessions back to back: no two sessions overlap in a lane
    for lane in range(min(batch_size, len(steps))):
        mine = np.flatnonzero(lane_h == lane)
        assert np.all(start_h[mine][1:] == (start_h + steps)[mine][:-1])


def test_chunks_equal_the_steps_and_keep_one_lane_set():
    d = _data(np.random.default_rng(4).choice([1, 2, 3, 6], size=70))
    steps = [(i.tolist(), t.tolist(), r.tolist(), a.tolist())
             for i, t, r, a in SessionParallelIterator(d, 6)]
    for k in (1, 4, 1000):
        flat = []
        for inp, tgt, res, lanes in SessionParallelIterator(d, 6).chunks(k):
            assert inp.shape == tgt.shape == res.shape == (len(inp), len(lanes))
            assert 1 <= len(inp) <= k
            flat += [(inp[j].tolist(), tgt[j].tolist(), res[j].tolist(), lanes.tolist())
                     for j in range(len(inp))]
        assert flat == steps
    with pytest.raises(ValueError, match="max_steps"):
        next(SessionParallelIterator(d, 6).chunks(0))


@pytest.mark.parametrize("root", ["local", "ram"])
def test_every_session_of_one_event_is_an_error(tmp_path, root):
    import uuid

    import tensorflow as tf

    d = str(tmp_path) if root == "local" else f"ram://sessions-{uuid.uuid4().hex}"
    tf.io.gfile.makedirs(d)
    path = d + "/single.tsv"
    with tf.io.gfile.GFile(path, "w") as f:
        f.write("SessionId\tItemId\tTime\n1\t5\t1\n2\t6\t2\n3\t5\t3\n")
    with pytest.raises(ValueError, match=r"single\.tsv: every one of its 3 sessions has a "
                                         r"single event"):
        load_sessions(path)
    with pytest.raises(ValueError, match="every one of its 2 sessions has a single event"):
        SessionParallelIterator(sessions_from_arrays([1, 2], [5, 6], [1.0, 2.0]), 4)
    tf.io.gfile.remove(path)  # (ram:// appends on reopening)
    with tf.io.gfile.GFile(path, "w") as f:  # one session of two events is enough
        f.write("SessionId\tItemId\tTime\n1\t5\t1\n2\t6\t2\n2\t5\t3\n")
    assert load_sessions(path).n_predictions == 1


def test_load_and_write_sessions_on_ram_filesystem():
    import uuid

    import tensorflow as tf

    root = f"ram://sessions-{uuid.uuid4().hex}"
    d = load_sessions(_write_ram(root + "/in/c.tsv", CLICKS))
    write_sessions(root + "/out/c.tsv", d)  # the directory is created
    assert tf.io.gfile.listdir(root + "/out") == ["c.tsv"]
    again = load_sessions(root + "/out/c.tsv")
    assert again.session_ids.tolist() == d.session_ids.tolist()
    assert again.item_ids[again.item_idx].tolist() == d.item_ids[d.item_idx].tolist()
    with pytest.raises(FileNotFoundError, match="session file not found"):
        load_sessions(root + "/in/missing.tsv")


def _write_ram(path, text):
    import tensorflow as tf

    tf.io.gfile.makedirs(path.rsplit("/", 1)[0])
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(text)
    return path
