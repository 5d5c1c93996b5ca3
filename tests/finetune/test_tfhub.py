"""run_classifier_with_tfhub.py on an encoder exported with the TF Hub BERT interface."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tests.finetune.fixtures import run_script
from tests.finetune.test_run_classifier import eval_results
from tfmodels.models.bert import BertConfig, BertModel, load_checkpoint


def test_hub_encoder_interface_and_fine_tuning(clf_run, tmp_path):
    from tfmodels.models.bert import original_names, serving

    hub = tmp_path / "hub"
    encoder = BertModel(BertConfig.from_json_file(clf_run["config"]), output_all_layers=False)
    load_checkpoint(clf_run["init"], encoder, strict=True)
    serving.export(serving.EncoderServing(encoder, original_names(encoder),
                                          vocab_file=str(clf_run["vocab"])), str(hub))
    # The TF Hub BERT encoder interface, equal to the encoder it was exported from.
    loaded = tf.saved_model.load(str(hub))
    fn = loaded.signatures["serving_default"]
    assert set(fn.structured_input_signature[1]) == {"input_word_ids", "input_mask",
                                                     "input_type_ids"}
    ids = tf.constant([[2, 7, 8, 3, 0], [2, 12, 3, 13, 3]], tf.int32)
    mask = tf.constant([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], tf.int32)
    types = tf.constant([[0, 0, 0, 0, 0], [0, 0, 0, 1, 1]], tf.int32)
    got = fn(input_word_ids=ids, input_mask=mask, input_type_ids=types)
    assert set(got) == {"pooled_output", "sequence_output"}
    want = encoder({"input_ids": ids, "input_mask": mask, "token_type_ids": types})
    np.testing.assert_allclose(got["pooled_output"], want["pooled_output"], atol=1e-5)
    np.testing.assert_allclose(got["sequence_output"], want["sequence_output"], atol=1e-5)
    info = loaded.tokenization_info()
    assert info["vocab_file"].numpy().decode().endswith("vocab.txt")
    assert bool(info["do_lower_case"].numpy())

    # Fine-tuning from the module reaches run_classifier's accuracy from the same weights.
    proc = run_script("run_classifier_with_tfhub", f"--bert_hub_module_handle={hub}",
                      *clf_run["task"], f"--output_dir={tmp_path / 'out'}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    hub_results = eval_results(tmp_path / "out" / "eval_results.txt")
    base_results = eval_results(clf_run["out"] / "eval_results.txt")
    assert float(hub_results["eval_accuracy"]) >= 0.95, proc.stdout[-2000:]
    assert abs(float(hub_results["eval_accuracy"]) - float(base_results["eval_accuracy"])) \
        <= 1 / 64 + 1e-9
    rows = np.loadtxt(tmp_path / "out" / "test_results.tsv", delimiter="\t")
    assert rows.shape == (len(clf_run["test"]), 2)
