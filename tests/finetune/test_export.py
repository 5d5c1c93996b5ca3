"""SavedModel export: raw strings in, probabilities out, loadable without tfmodels."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from pipelines import glue, squad, tokenization
from tests.finetune.fixtures import run_script
from tfmodels.models.bert import BertConfig
from tfmodels.models.bert.classifier import BertClassifier
from tfmodels.models.bert.finetuning import init_from_checkpoint

HERE = os.path.dirname(os.path.abspath(__file__))

PAIRS = [("the good movie", "a dog sat on the mat"),
         ("bad bad bad the cat sat on the mat and the dog sat on the mat", "red blue city"),
         ("a cat", ""),                       # empty text_b: one segment, as the original
         ("it was very good", "   "),          # text_b without tokens: one segment too
         ("x", "the cat sat on the big red mat of the small city and the dog")]


def _graph_ops(export_dir):
    from tensorflow.core.protobuf import saved_model_pb2

    sm = saved_model_pb2.SavedModel()
    with open(os.path.join(export_dir, "saved_model.pb"), "rb") as f:
        sm.ParseFromString(f.read())
    ops = set()
    for mg in sm.meta_graphs:
        ops.update(n.op for n in mg.graph_def.node)
        for fn in mg.graph_def.library.function:
            ops.update(n.op for n in fn.node_def)
    return ops


@pytest.fixture(scope="module")
def exported(clf_run, tmp_path_factory):
    d = tmp_path_factory.mktemp("export")
    export_dir = d / "classifier"
    proc = run_script("export_savedmodel", "--task=classifier", *clf_run["model"],
                      f"--init_checkpoint={clf_run['out']}", "--num_labels=2",
                      "--max_seq_length=16", f"--export_dir={export_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    test_texts = [row[0] for row in clf_run["test"]]
    requests = {"single": {"text_a": test_texts},
                "serving_default": {"text_a": [a for a, _ in PAIRS],
                                    "text_b": [b for _, b in PAIRS]}}
    (d / "requests.json").write_text(json.dumps(requests))
    # A fresh interpreter, outside the repository: tfmodels is not even importable there.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    client = subprocess.run(
        [sys.executable, os.path.join(HERE, "serving_client.py"), str(export_dir),
         str(d / "requests.json"), str(d / "responses.json")],
        capture_output=True, text=True, timeout=300, cwd=str(d), env=env)
    assert client.returncode == 0, client.stderr[-3000:]
    return export_dir, json.loads((d / "responses.json").read_text())


def test_fresh_process_without_tfmodels_matches_test_results(clf_run, exported):
    _, responses = exported
    assert responses["loaded_libraries"] == [] and responses["tfmodels_imported"] is False
    expected = np.loadtxt(clf_run["out"] / "test_results.tsv", delimiter="\t")
    got = np.asarray(responses["single"]["probabilities"])
    np.testing.assert_allclose(got, expected, atol=1e-4)
    logits = np.asarray(responses["single"]["logits"])
    np.testing.assert_allclose(got, tf.nn.softmax(logits).numpy(), atol=1e-6)


def test_pairs_match_in_process_model(clf_run, exported):
    """In-graph tokenization, _truncate_seq_pair and packing equal the Python pipeline: the
    fresh process's outputs equal the in-process model (fused LayerNorm op) within 1e-5."""
    _, responses = exported
    config = BertConfig.from_json_file(clf_run["config"])
    model = BertClassifier(config, 2)
    model.build()
    init_from_checkpoint(str(clf_run["out"]), model, print_fn=lambda s: None)
    tokenizer = tokenization.FullTokenizer(str(clf_run["vocab"]), do_lower_case=True)
    examples = [glue.InputExample(f"p-{i}", a, b, "0") for i, (a, b) in enumerate(PAIRS)]
    arrays = glue.features_to_arrays(glue.convert_examples_to_features(
        examples, ["0", "1"], 16, tokenizer))
    logits = model({k: tf.constant(arrays[k]) for k in ("input_ids", "input_mask",
                                                        "segment_ids")}, training=False)
    np.testing.assert_allclose(np.asarray(responses["serving_default"]["logits"]),
                               logits.numpy(), atol=1e-5)


def test_graph_holds_no_op_of_ours(exported):
    ops = _graph_ops(str(exported[0]))
    assert not [op for op in ops if op.startswith("Tfm")]
    assert "FastWordpieceTokenizeWithOffsets" in ops or any("Wordpiece" in op for op in ops)


def test_saved_model_cli_lists_named_signature(exported):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    proc = subprocess.run([cli, "show", "--dir", str(exported[0]), "--tag_set", "serve",
                           "--signature_def", "serving_default"], capture_output=True,
                          text=True, timeout=120,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in ("inputs['text_a']", "inputs['text_b']", "outputs['probabilities']",
                 "outputs['logits']"):
        assert name in proc.stdout, proc.stdout


def test_squad_export_matches_features(squad_run, tmp_path):
    """The squad signature equals BertSpanLabeler on run_squad's first window."""
    from tfmodels.models.bert import serving
    from tfmodels.models.bert.span_labeler import BertSpanLabeler

    d, _, _ = squad_run
    config = BertConfig.from_json_file(str(d / "bert_config.json"))
    model = BertSpanLabeler(config)
    model.build()
    init_from_checkpoint(str(d / "out"), model, print_fn=lambda s: None)
    in_graph = tokenization.InGraphTokenizer(str(d / "vocab.txt"))
    serving.export(serving.SquadServing(model, in_graph, 24, max_query_length=4),
                   str(tmp_path / "squad"))
    assert not [op for op in _graph_ops(str(tmp_path / "squad")) if op.startswith("Tfm")]
    examples = squad.read_squad_examples(str(d / "dev.json"), is_training=False)[:4]
    features = []
    squad.convert_examples_to_features(examples, tokenization.FullTokenizer(
        str(d / "vocab.txt")), 24, 8, 4, False, features.append)
    first = [f for f in features if f.doc_span_index == 0]
    arrays = squad.features_to_arrays(first, False)
    expected = model({k: tf.constant(arrays[k]) for k in ("input_ids", "input_mask",
                                                         "segment_ids")}, training=False)
    loaded = tf.saved_model.load(str(tmp_path / "squad")).signatures["serving_default"]
    got = loaded(question=tf.constant([e.question_text for e in examples]),
                 context=tf.constant([" ".join(e.doc_tokens) for e in examples]))
    np.testing.assert_array_equal(got["input_word_ids"].numpy(), arrays["input_ids"])
    np.testing.assert_allclose(got["start_logits"].numpy(),
                               expected["start_logits"].numpy(), atol=1e-5)
    np.testing.assert_allclose(got["end_logits"].numpy(), expected["end_logits"].numpy(),
                               atol=1e-5)
