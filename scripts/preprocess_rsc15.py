"""Preprocess the RecSys Challenge 2015 (YOOCHOOSE) clicks as the official GRU4Rec example.

Same steps and output files as hidasib/GRU4Rec `examples/rsc15/preprocess.py`:

  1. read `yoochoose-clicks.dat` (SessionId, timestamp, ItemId);
  2. drop sessions of length 1, then items with fewer than 5 events, then sessions
     shorter than 2 events;
  3. test = sessions whose last event is within the last day, restricted to items of the
     remaining (training) sessions and to sessions of length >= 2 → `rsc15_test.txt`;
     training part → `rsc15_train_full.txt`;
  4. the same split on the training part → `rsc15_train_tr.txt`, `rsc15_train_valid.txt`.

Output files are TAB-separated with the header `SessionId ItemId Time`, rows in input
order. The original's two path constants are flags (`--path_to_original_data`, a folder
holding yoochoose-clicks.dat, and `--path_to_processed_data`); the filter thresholds and the
split length are flags with the original values as defaults. Deviation: timestamps are
converted as UTC (the original uses the machine's time zone; the splits are the same).

Logic: :mod:`pipelines.session_splits`.
"""

from __future__ import annotations

import functools
import os
import sys
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pipelines.fileio import io  # noqa: E402
from pipelines.session_splits import (  # noqa: E402
    filter_sessions_and_items,
    read_yoochoose_clicks,
    write_time_splits,
)

flags.DEFINE_string("path_to_original_data", None,
                    "Folder holding yoochoose-clicks.dat (or the path of the file itself).")
flags.DEFINE_string("path_to_processed_data", None, "Folder to write the rsc15_*.txt files to.")
flags.DEFINE_integer("min_item_support", 5, "Items with fewer events are dropped.")
flags.DEFINE_integer("min_session_length", 2, "Shorter sessions are dropped.")
flags.DEFINE_float("test_seconds", 86400.0,
                   "Sessions ending within this many seconds of the last event are the test "
                   "(validation) sessions.")

FLAGS = flags.FLAGS


def run():
    src = FLAGS.path_to_original_data
    clicks = io.join(src, "yoochoose-clicks.dat") if io.isdir(src) else src
    if not io.isfile(clicks):
        raise FileNotFoundError(f"--path_to_original_data: {clicks} does not exist")
    if FLAGS.min_item_support < 1 or FLAGS.min_session_length < 2:
        raise ValueError("--min_item_support must be >= 1 and --min_session_length >= 2")
    if FLAGS.test_seconds <= 0:
        raise ValueError("--test_seconds must be > 0")
    out = FLAGS.path_to_processed_data
    io.makedirs(out)
    t0 = time.time()
    data = read_yoochoose_clicks(clicks)
    print(f"Read {len(data)} clicks from {clicks} in {time.time() - t0:.1f} s", flush=True)
    data = filter_sessions_and_items(data, FLAGS.min_item_support, FLAGS.min_session_length)
    report = functools.partial(print, flush=True)
    write_time_splits(out, "rsc15", data, FLAGS.test_seconds, FLAGS.min_session_length, report)
    print(f"Done in {time.time() - t0:.1f} s", flush=True)


def main(argv):
    del argv
    try:
        run()
    except (ValueError, FileNotFoundError) as e:
        print(f"preprocess_rsc15.py: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    flags.mark_flag_as_required("path_to_original_data")
    flags.mark_flag_as_required("path_to_processed_data")
    app.run(main)
