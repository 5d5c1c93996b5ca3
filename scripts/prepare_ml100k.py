"""Turn MovieLens-100k into GRU4Rec session files and SASRec user sequences.

Reads the MovieLens-100k interactions shipped in the `recbole` wheel
(`recbole/dataset_example/ml-100k/ml-100k.inter`: user_id, item_id, rating, timestamp;
ratings are used as implicit interactions) and writes, into `--output_dir`:

- session files in the official GRU4Rec format (TAB-separated, `SessionId ItemId Time`):
  a user's ratings are split into sessions wherever more than `--session_gap` seconds pass
  between two of them; then the official RSC15 preprocessing is applied with the last day
  widened to `--test_days` days (MovieLens is much sparser in time than RSC15):
  `ml100k_train_full.txt`, `ml100k_test.txt`, `ml100k_train_tr.txt`, `ml100k_train_valid.txt`;
- `ml-100k.txt`: one `user item` line per interaction, users and items numbered from 1,
  every user's items in time order, users and items with fewer than 5 interactions
  dropped: the kang205/SASRec data format (its leave-last-out split is done by the reader).

Nothing is downloaded: the file is only read from the installed package.

Logic: :mod:`pipelines.session_splits`.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pipelines.fileio import io  # noqa: E402
from pipelines.session_splits import (  # noqa: E402
    Events,
    filter_sessions_and_items,
    sessionize,
    user_sequences,
    write_time_splits,
    write_user_item_pairs,
)
from pipelines.sessions import parse_ids, parse_times, read_tsv_columns  # noqa: E402

flags.DEFINE_string("inter_file", None,
                    "MovieLens-100k .inter file (default: the one in the installed recbole "
                    "package).")
flags.DEFINE_string("output_dir", None, "Folder to write the output files to.")
flags.DEFINE_float("session_gap", 3600.0,
                   "Seconds without a rating after which a user's next rating starts a new "
                   "session.")
flags.DEFINE_float("test_days", 14.0,
                   "Sessions ending within this many days of the last rating are the test "
                   "(validation) sessions.")
flags.DEFINE_integer("min_item_support", 5, "Items with fewer events are dropped.")
flags.DEFINE_integer("min_session_length", 2, "Shorter sessions are dropped.")
flags.DEFINE_integer("sasrec_min_count", 5,
                     "Users and items with fewer interactions are left out of ml-100k.txt.")

FLAGS = flags.FLAGS

USER, ITEM, TIME = "user_id:token", "item_id:token", "timestamp:float"


def default_inter_file():
    spec = importlib.util.find_spec("recbole")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "--inter_file not given and the recbole package is not installed "
            "(pip install --no-deps recbole)")
    return os.path.join(list(spec.submodule_search_locations)[0], "dataset_example",
                        "ml-100k", "ml-100k.inter")


def run():
    path = FLAGS.inter_file or default_inter_file()
    if not io.isfile(path):
        raise FileNotFoundError(f"--inter_file: {path} does not exist")
    if FLAGS.test_days <= 0:
        raise ValueError("--test_days must be > 0")
    if FLAGS.session_gap <= 0:
        raise ValueError("--session_gap must be > 0")
    cols = read_tsv_columns(path, [USER, ITEM, TIME])
    if len(cols[TIME]) == 0:
        raise ValueError(f"--inter_file: {path} has no interactions")
    users, items = parse_ids(cols[USER]), parse_ids(cols[ITEM])
    times = parse_times(cols[TIME], path, TIME)
    print(f"Read {len(times)} interactions from {path}", flush=True)
    out = FLAGS.output_dir
    io.makedirs(out)

    events = Events(sessionize(users, times, FLAGS.session_gap), items, times)
    events = filter_sessions_and_items(events, FLAGS.min_item_support, FLAGS.min_session_length)
    test_seconds = FLAGS.test_days * 86400.0
    report = functools.partial(print, flush=True)
    write_time_splits(out, "ml100k", events, test_seconds, FLAGS.min_session_length, report)

    seq_users, seq_items = user_sequences(users, items, times, FLAGS.sasrec_min_count)
    write_user_item_pairs(io.join(out, "ml-100k.txt"), seq_users, seq_items)
    print(f"SASRec sequences\n\tInteractions: {len(seq_users)}\n\tUsers: {seq_users.max()}"
          f"\n\tItems: {seq_items.max()}", flush=True)


def main(argv):
    del argv
    try:
        run()
    except (ValueError, FileNotFoundError) as e:
        print(f"prepare_ml100k.py: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    flags.mark_flag_as_required("output_dir")
    app.run(main)
