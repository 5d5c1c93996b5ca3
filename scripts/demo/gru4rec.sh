#!/usr/bin/env bash
# Demo part "gru4rec": MovieLens-100k (read from the installed recbole wheel) turned into
# sessions, GRU4Rec trained with the official run-script command line, then recall@20 /
# MRR@20 next to the most-popular and item-to-item co-occurrence baselines (GRU4Rec must
# beat both), and a live-session recommendation from the exported SavedModel.
set -euo pipefail
: "${PY:=python}" "${DEMO_OUT:=demo_out/gru4rec}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mkdir -p "$DEMO_OUT"
export TF_CPP_MIN_LOG_LEVEL=2
echo "--- ml-100k -> session files"
"$PY" "$root/scripts/prepare_ml100k.py" --output_dir "$DEMO_OUT/data" | tail -n 12
echo "--- train GRU4Rec (bpr-max, 100 units, 512 shared negatives, 6 epochs)"
"$PY" "$root/scripts/train_gru4rec.py" "$DEMO_OUT/data/ml100k_train_full.txt" \
  -t "$DEMO_OUT/data/ml100k_test.txt" -m 5 20 \
  -ps loss=bpr-max,layers=100,batch_size=32,n_sample=512,sample_alpha=0.3,learning_rate=0.05,momentum=0.5,bpreg=1.0,elu_param=0.5,dropout_p_embed=0.2,n_epochs=6 \
  -s "$DEMO_OUT/gru4rec_ml100k.npz" --export_saved_model "$DEMO_OUT/gru4rec_savedmodel" \
  --summary_dir "$DEMO_OUT/tensorboard" | tee "$DEMO_OUT/train_log.txt"
echo "--- GRU4Rec vs baselines (full ranking over all items, standard ties)"
"$PY" - "$DEMO_OUT" <<'PYEOF'
import importlib.util
import os
import sys

import numpy as np
import tensorflow as tf

from pipelines.sessions import SessionParallelIterator, load_sessions, read_tsv_columns
from tfmodels.models.gru4rec.baselines import ItemCoOccurrence, MostPopular
from tfmodels.models.gru4rec.checkpoint import load_model
from tfmodels.models.gru4rec.evaluation import evaluate

out = sys.argv[1]
train = load_sessions(f"{out}/data/ml100k_train_full.txt")
test = load_sessions(f"{out}/data/ml100k_test.txt", itemidmap=train)
model = load_model(f"{out}/gru4rec_ml100k.npz")
rows = {}
for name, m in (("most-popular", MostPopular(train)),
                ("item co-occurrence", ItemCoOccurrence(train)), ("GRU4Rec", model)):
    rows[name] = evaluate(m, SessionParallelIterator(test, 512), cutoffs=(20,))[20]
print(f"{'model':<20}{'Recall@20':>10}{'MRR@20':>10}   ({test.n_predictions} test events)")
for name, (r, m) in rows.items():
    print(f"{name:<20}{r:>10.6f}{m:>10.6f}")
g = rows["GRU4Rec"]
beaten = all(g[0] > v[0] and g[1] > v[1] for k, v in rows.items() if k != "GRU4Rec")
print("GRU4Rec beats both baselines:", beaten)

# movie titles: the ml-100k item file next to the interactions in the recbole wheel
spec = importlib.util.find_spec("recbole")
item_file = os.path.join(list(spec.submodule_search_locations)[0], "dataset_example",
                         "ml-100k", "ml-100k.item")
cols = read_tsv_columns(item_file, ["item_id:token", "movie_title:token_seq",
                                    "release_year:token"])
titles = {int(i): f"{t.decode()} ({y.decode()})" for i, t, y in
          zip(cols["item_id:token"], cols["movie_title:token_seq"], cols["release_year:token"])}

print("--- live session from the SavedModel (state kept per session)")
served = tf.saved_model.load(f"{out}/gru4rec_savedmodel")
session = test.item_idx[test.offsets[0]:test.offsets[1]][:5]
step = served.signatures["recommend_step"]
h = tf.zeros((1, sum(model.params.layers)))
print("the user watches, one after the other:")
for it in session:
    res = step(hidden=h, item=tf.constant([it], tf.int32), k=tf.constant(5))
    h = res["hidden"]
    print(f"  {titles.get(int(train.item_ids[it]), train.item_ids[it])}")
print("GRU4Rec recommends next:")
for movie, score in zip(res["item_ids"].numpy()[0], res["scores"].numpy()[0]):
    print(f"  {score:7.3f}  {titles.get(int(movie), movie)}")
ids, _ = model.recommend(session, k=5)
assert np.array_equal(ids, res["item_idx"].numpy()[0]), "SavedModel and model disagree"
sys.exit(0 if beaten else 1)
PYEOF
