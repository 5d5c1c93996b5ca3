"""pipelines.sequences: the original file format, the split, tf.data batches, bad input."""

import numpy as np
import pytest

from pipelines import sequences as sq

TEXT = "1 1\n1 2\n2 5\n1 3\n1 4\n3 2\n3 3\n2 6\n2 7\n4 9\n"
# user 1: 1 2 3 4 -> train [1 2], valid 3, test 4; user 2: 5 6 7 -> [5], 6, 7
# user 3: 2 3 (train only); user 4: 9 (train only, never sampled)


@pytest.fixture
def split(tmp_path):
    path = tmp_path / "toy.txt"
    path.write_text(TEXT)
    return sq.leave_one_out(sq.read_user_item_file(str(path)))


def test_leave_one_out_as_data_partition(split):
    d = split.data
    assert list(d.user_ids) == [1, 2, 3, 4] and split.num_items == 9
    assert [list(split.train(u)) for u in range(4)] == [[1, 2], [5], [2, 3], [9]]
    assert list(split.valid) == [3, 6, 0, 0] and list(split.test) == [4, 7, 0, 0]
    s = split.summary()
    assert s["train_only_users"] == 2 and s["unsampled_users"] == 2


@pytest.mark.parametrize("text,match", [
    ("1 1\n1 2 3\n", ":2: expected 'user item'"),
    ("1 1\n1 x\n", ":2: expected"),
    ("1 1\n7\n", ":2: expected"),
    ("1 1\n2 0\n", ":2: ids start at 1"),
    ("0 4\n", ":1: ids start at 1"),
    ("\n\n", "no interactions"),
])
def test_bad_lines_are_named(tmp_path, text, match):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        sq.read_user_item_file(str(path))


def test_missing_file_and_dataset_name(tmp_path):
    with pytest.raises(FileNotFoundError):
        sq.read_user_item_file(str(tmp_path / "nope.txt"))
    (tmp_path / "ml.txt").write_text(TEXT)
    assert sq.resolve_dataset("ml", str(tmp_path)) == str(tmp_path / "ml.txt")
    assert sq.resolve_dataset(str(tmp_path / "ml.txt")) == str(tmp_path / "ml.txt")
    with pytest.raises(FileNotFoundError, match="nope"):
        sq.resolve_dataset("nope", str(tmp_path))


def test_only_short_users_is_an_error(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("1 1\n2 2\n3 4\n")
    with pytest.raises(ValueError, match="nothing to train on"):
        sq.leave_one_out(sq.read_user_item_file(str(path)))


def test_session_file_gives_one_sequence_per_session(tmp_path):
    path = tmp_path / "sessions.txt"
    path.write_text("SessionId\tItemId\tTime\n7\t100\t3\n7\t200\t1\n8\t300\t5\n8\t100\t6\n"
                    "8\t200\t7\n")
    d = sq.read_sequences(str(path))
    # session 7 first (earliest event); items numbered by first appearance: 200->1, 100->2
    assert [list(d.sequence(u)) for u in range(d.num_users)] == [[1, 2], [3, 2, 1]]
    assert list(d.item_ids) == [200, 100, 300] and d.num_items == 3
    other = tmp_path / "pairs.txt"
    other.write_text(TEXT)
    assert sq.read_sequences(str(other)).num_items == 9


def _original_sample(train, user, maxlen):
    """sampler.sample_function for a given user, negatives aside."""
    seq, pos = np.zeros(maxlen, int), np.zeros(maxlen, int)
    nxt, idx = train[-1], maxlen - 1
    for i in reversed(train[:-1]):
        seq[idx], pos[idx] = i, nxt
        nxt, idx = i, idx - 1
        if idx == -1:
            break
    return seq, pos


def test_training_batches_match_the_original_sampler(tmp_path):
    rng = np.random.default_rng(0)
    lines = []
    for u in range(1, 31):
        for i in rng.choice(np.arange(1, 41), size=rng.integers(1, 12), replace=False):
            lines.append(f"{u} {i}")
    path = tmp_path / "r.txt"
    path.write_text("\n".join(lines))
    split = sq.leave_one_out(sq.read_user_item_file(str(path)))
    by_user = {int(split.data.user_ids[u]): split.train(u) for u in range(split.data.num_users)}
    ds = sq.training_dataset(split, batch_size=64, maxlen=5, seed=3)
    seen_users = set()
    for batch in ds.take(3):
        for b in range(64):
            user = int(batch["user"][b])
            train = by_user[user]
            assert len(train) >= 2
            seen_users.add(user)
            seq, pos = _original_sample(list(train), user, 5)
            np.testing.assert_array_equal(batch["input_seq"][b], seq)
            np.testing.assert_array_equal(batch["pos"][b], pos)
            neg = batch["neg"][b].numpy()
            assert np.all((neg == 0) == (pos == 0))
            assert not set(neg[neg > 0]) & set(train) and neg.max() <= 40
    assert seen_users == {u for u, t in by_user.items() if len(t) >= 2}
    # same (seed, step) -> same batch; start_step continues the stream
    again = list(sq.training_dataset(split, 64, 5, seed=3, start_step=2).take(1))[0]
    third = list(ds.skip(2).take(1))[0]
    for key in again:
        np.testing.assert_array_equal(again[key], third[key])


def test_negatives_are_uniform_over_the_complement(tmp_path):
    path = tmp_path / "u.txt"
    path.write_text("1 2\n1 5\n1 6\n1 9\n1 3\n1 1\n")  # train 2 5 6 9; items 1..9
    split = sq.leave_one_out(sq.read_user_item_file(str(path)))
    batch = list(sq.training_dataset(split, 2000, 4, seed=1, num_negatives=4).take(1))[0]
    neg = batch["neg"].numpy()
    assert neg.shape == (2000, 4, 4)
    assert np.all(neg[:, 0] == 0)  # 3 inputs (2 5 6) in 4 positions: the first is padding
    counts = np.bincount(neg[:, 1:].ravel(), minlength=10)
    allowed = [1, 3, 4, 7, 8]
    assert counts[[2, 5, 6, 9]].sum() == 0 and counts[0] == 0
    frac = counts[allowed] / counts.sum()
    assert np.all(np.abs(frac - 0.2) < 0.02), frac


def test_eval_inputs_and_sampled_candidates(split):
    test = sq.eval_inputs(split, maxlen=3, stage="test")
    assert list(test["user"]) == [1, 2]
    np.testing.assert_array_equal(test["input_seq"], [[1, 2, 3], [0, 5, 6]])
    assert list(test["target"]) == [4, 7]
    valid = sq.eval_inputs(split, maxlen=3, stage="valid")
    np.testing.assert_array_equal(valid["input_seq"], [[0, 1, 2], [0, 0, 5]])
    assert list(valid["target"]) == [3, 6]
    cand = sq.sampled_candidates(split, test["rows"], test["target"], 200, seed=0)
    assert cand.shape == (2, 201) and list(cand[:, 0]) == [4, 7]
    assert not set(cand[0, 1:]) & {1, 2, 3, 4} and not set(cand[1, 1:]) & {5, 6, 7}
    assert cand[:, 1:].min() >= 1 and cand[:, 1:].max() <= 9
    assert set(cand[0, 1:]) == {5, 6, 7, 8, 9}
