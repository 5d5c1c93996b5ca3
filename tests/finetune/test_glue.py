"""GLUE/XNLI processors on small files in the GLUE download layouts, the original
feature conversion on hand-worked cases, and bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

from pipelines import glue, tokenization
from tests.finetune.fixtures import write_tsv, write_vocab


@pytest.fixture
def tokenizer(tmp_path):
    return tokenization.FullTokenizer(write_vocab(tmp_path), do_lower_case=True)


def _check(examples, expected):
    got = [(e.guid, e.text_a, e.text_b, e.label) for e in examples]
    assert got == expected


def test_cola(tmp_path):
    write_tsv(tmp_path, "train.tsv", [["gj04", "1", "", "The cat sat."],
                                      ["gj04", "0", "*", "Cat the sat."]])
    write_tsv(tmp_path, "dev.tsv", [["gj04", "1", "", "A dog sat."]])
    write_tsv(tmp_path, "test.tsv", [["index", "sentence"], ["0", "The dog sat."]])
    p = glue.get_processor("CoLA")
    assert p.get_labels() == ["0", "1"]
    _check(p.get_train_examples(str(tmp_path)), [("train-0", "The cat sat.", None, "1"),
                                                 ("train-1", "Cat the sat.", None, "0")])
    _check(p.get_dev_examples(str(tmp_path)), [("dev-0", "A dog sat.", None, "1")])
    _check(p.get_test_examples(str(tmp_path)), [("test-1", "The dog sat.", None, "0")])


def test_mrpc(tmp_path):
    header = ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"]
    write_tsv(tmp_path, "train.tsv", [header, ["1", "11", "12", "John sat.", "John sat down."]])
    write_tsv(tmp_path, "dev.tsv", [header, ["0", "13", "14", "A cat.", "A dog."]])
    write_tsv(tmp_path, "test.tsv", [["index"] + header[1:], ["0", "15", "16", "x y", "z"]])
    p = glue.get_processor("mrpc")
    _check(p.get_train_examples(str(tmp_path)), [("train-1", "John sat.", "John sat down.", "1")])
    _check(p.get_dev_examples(str(tmp_path)), [("dev-1", "A cat.", "A dog.", "0")])
    _check(p.get_test_examples(str(tmp_path)), [("test-1", "x y", "z", "0")])


def test_mnli(tmp_path):
    header = ["index", "promptID", "pairID", "genre", "s1b", "s2b", "s1p", "s2p",
              "sentence1", "sentence2", "label1", "gold_label"]
    write_tsv(tmp_path, "train.tsv", [header, ["0", "31", "31e", "gov", "", "", "", "",
                                               "It is.", "It is not.", "c", "contradiction"]])
    dev_row = ["0", "1", "9n", "fic", "", "", "", "", "A", "B", "n", "n", "n", "n", "n",
               "neutral"]
    write_tsv(tmp_path, "dev_matched.tsv", [header[:10] + ["l1", "l2", "l3", "l4", "l5", "gold"],
                                            dev_row])
    write_tsv(tmp_path, "test_matched.tsv", [header[:10], ["0", "2", "7x", "g", "", "", "", "",
                                                           "C", "D"]])
    p = glue.get_processor("mnli")
    assert p.get_labels() == ["contradiction", "entailment", "neutral"]
    _check(p.get_train_examples(str(tmp_path)), [("train-0", "It is.", "It is not.",
                                                  "contradiction")])
    _check(p.get_dev_examples(str(tmp_path)), [("dev_matched-0", "A", "B", "neutral")])
    _check(p.get_test_examples(str(tmp_path)), [("test-0", "C", "D", "contradiction")])


def test_xnli(tmp_path):
    write_tsv(tmp_path / "multinli", "multinli.train.zh.tsv",
              [["premise", "hypo", "label"], ["\u4f60\u597d", "\u518d\u89c1", "contradictory"],
               ["a", "b", "neutral"]])
    dev_header = ["language", "gold_label", "s1bp", "s2bp", "s1p", "s2p", "sentence1",
                  "sentence2"]
    write_tsv(tmp_path, "xnli.dev.tsv", [dev_header,
                                         ["en", "neutral", "", "", "", "", "x", "y"],
                                         ["zh", "entailment", "", "", "", "", "p", "q"]])
    p = glue.get_processor("xnli")
    _check(p.get_train_examples(str(tmp_path)), [
        ("train-1", "\u4f60\u597d", "\u518d\u89c1", "contradiction"),
        ("train-2", "a", "b", "neutral")])
    _check(p.get_dev_examples(str(tmp_path)), [("dev-2", "p", "q", "entailment")])


@pytest.mark.parametrize("task,train_rows,test_rows,expected,test_expected", [
    ("sst2", [["sentence", "label"], ["a good movie", "1"]],
     [["index", "sentence"], ["0", "bad"]], ("a good movie", None, "1"), ("bad", None, "0")),
    ("qqp", [["id", "qid1", "qid2", "question1", "question2", "is_duplicate"],
             ["5", "1", "2", "who?", "what?", "0"]],
     [["id", "question1", "question2"], ["0", "q1", "q2"]], ("who?", "what?", "0"),
     ("q1", "q2", "0")),
    ("qnli", [["index", "question", "sentence", "label"], ["0", "who?", "John.", "entailment"]],
     [["index", "question", "sentence"], ["0", "a", "b"]], ("who?", "John.", "entailment"),
     ("a", "b", "entailment")),
    ("rte", [["index", "sentence1", "sentence2", "label"], ["0", "x", "y", "not_entailment"]],
     [["index", "sentence1", "sentence2"], ["0", "a", "b"]], ("x", "y", "not_entailment"),
     ("a", "b", "entailment")),
    ("wnli", [["index", "sentence1", "sentence2", "label"], ["0", "x", "y", "1"]],
     [["index", "sentence1", "sentence2"], ["0", "a", "b"]], ("x", "y", "1"), ("a", "b", "0")),
])
def test_glue_pair_and_single_tasks(tmp_path, task, train_rows, test_rows, expected,
                                    test_expected):
    write_tsv(tmp_path, "train.tsv", train_rows)
    write_tsv(tmp_path, "dev.tsv", train_rows)
    write_tsv(tmp_path, "test.tsv", test_rows)
    p = glue.get_processor(task)
    _check(p.get_train_examples(str(tmp_path)), [("train-1", *expected)])
    _check(p.get_dev_examples(str(tmp_path)), [("dev-1", *expected)])
    _check(p.get_test_examples(str(tmp_path)), [("test-1", *test_expected)])


def test_stsb_regression(tmp_path, tokenizer):
    header = ["index", "genre", "filename", "year", "old_index", "source1", "source2",
              "sentence1", "sentence2", "score"]
    write_tsv(tmp_path, "train.tsv", [header, ["0", "g", "f", "y", "0", "s", "s", "a cat",
                                               "a dog", "3.800"]])
    write_tsv(tmp_path, "test.tsv", [header[:9], ["0", "g", "f", "y", "0", "s", "s", "x", "y"]])
    p = glue.get_processor("stsb")
    assert p.get_labels() == []
    ex = p.get_train_examples(str(tmp_path))
    _check(ex, [("train-1", "a cat", "a dog", 3.8)])
    _check(p.get_test_examples(str(tmp_path)), [("test-1", "x", "y", 0.0)])
    f = glue.convert_single_example(0, ex[0], p.get_labels(), 8, tokenizer)
    assert f.label_id == pytest.approx(3.8)


def test_generic_tsv_by_header_and_index(tmp_path):
    write_tsv(tmp_path, "train.tsv", [["id", "review", "sentiment"], ["1", "good", "pos"],
                                      ["2", "bad", "neg"]])
    write_tsv(tmp_path, "test.tsv", [["id", "review"], ["1", "fine"]])
    p = glue.get_processor("tsv", text_a_column="review", label_column="sentiment",
                           data_dir=str(tmp_path))
    assert p.get_labels() == ["neg", "pos"]
    _check(p.get_train_examples(str(tmp_path)), [("train-1", "good", None, "pos"),
                                                 ("train-2", "bad", None, "neg")])
    _check(p.get_test_examples(str(tmp_path)), [("test-1", "fine", None, "neg")])
    p2 = glue.TsvProcessor(text_a_column=1, label_column=2, labels=["pos", "neg"])
    assert [e.label for e in p2.get_train_examples(str(tmp_path))] == ["pos", "neg"]
    with pytest.raises(ValueError, match="text_a_column='text'.*columns: id, review"):
        glue.TsvProcessor(text_a_column="text", labels=["a"]).get_train_examples(str(tmp_path))


def test_feature_conversion_hand_worked(tokenizer):
    vocab = tokenizer.vocab
    ex = glue.InputExample("g-1", "The cat sat on the mat.", "A dog!", label="1")
    f = glue.convert_single_example(0, ex, ["0", "1"], 9, tokenizer)
    # budget 9 - 3 = 6: a has 7 tokens, b 3 -> pop from a: a=[the cat sat], b=[a dog !]
    tokens = ["[CLS]", "the", "cat", "sat", "[SEP]", "a", "dog", "!", "[SEP]"]
    assert f.input_ids == [vocab[t] for t in tokens]
    assert f.segment_ids == [0] * 5 + [1] * 4
    assert f.input_mask == [1] * 9
    assert f.label_id == 1 and f.is_real_example
    single = glue.convert_single_example(
        0, glue.InputExample("g-2", "the cat sat on the mat", None, "0"), ["0", "1"], 6, tokenizer)
    assert single.input_ids == [vocab[t] for t in ["[CLS]", "the", "cat", "sat", "on", "[SEP]"]]
    short = glue.convert_single_example(
        0, glue.InputExample("g-3", "cat", "", "0"), ["0", "1"], 6, tokenizer)
    assert short.input_ids == [vocab["[CLS]"], vocab["cat"], vocab["[SEP]"], 0, 0, 0]
    assert short.input_mask == [1, 1, 1, 0, 0, 0]
    pad = glue.convert_single_example(0, glue.PaddingInputExample(), ["0", "1"], 4, tokenizer)
    assert pad.input_ids == [0] * 4 and pad.label_id == 0 and not pad.is_real_example


def test_truncate_seq_pair_pops_longer():
    a, b = list("abcde"), list("xy")
    glue._truncate_seq_pair(a, b, 4)
    assert a == list("ab") and b == list("xy")
    a, b = list("ab"), list("xy")
    glue._truncate_seq_pair(a, b, 3)  # tie -> pop from b
    assert a == list("ab") and b == list("x")


def test_file_based_features_round_trip(tmp_path, tokenizer):
    examples = [glue.InputExample(f"t-{i}", text, None, label)
                for i, (text, label) in enumerate([("good movie", "1"), ("bad", "0")])]
    examples.append(glue.PaddingInputExample())
    out = str(tmp_path / "train.tf_record")
    glue.file_based_convert_examples_to_features(examples, ["0", "1"], 6, tokenizer, out)
    ds = glue.file_based_input_fn_builder(out, 6, False, False)({"batch_size": 8})
    batch = next(iter(ds))
    expected = glue.features_to_arrays(
        glue.convert_examples_to_features(examples, ["0", "1"], 6, tokenizer))
    for key, value in expected.items():
        np.testing.assert_array_equal(batch[key].numpy(), value)
    assert batch["is_real_example"].numpy().tolist() == [1, 1, 0]
    assert batch["input_ids"].dtype == tf.int32


def test_processor_written_as_the_original(tmp_path, tokenizer):
    """A user's processor in the original's style (its MrpcProcessor pattern) runs
    unchanged against the original names."""
    from pipelines import glue as run_classifier
    from pipelines import tokenization as tok

    class MyProcessor(run_classifier.DataProcessor):
        def get_train_examples(self, data_dir):
            return self._create_examples(
                self._read_tsv(os.path.join(data_dir, "train.tsv")), "train")

        def get_dev_examples(self, data_dir):
            return self._create_examples(
                self._read_tsv(os.path.join(data_dir, "dev.tsv")), "dev")

        def get_test_examples(self, data_dir):
            return self._create_examples(
                self._read_tsv(os.path.join(data_dir, "test.tsv")), "test")

        def get_labels(self):
            return ["0", "1"]

        def _create_examples(self, lines, set_type):
            examples = []
            for (i, line) in enumerate(lines):
                if i == 0:
                    continue
                guid = "%s-%s" % (set_type, i)  # noqa: UP031 (as the original)
                text_a = tok.convert_to_unicode(line[3])
                text_b = tok.convert_to_unicode(line[4])
                if set_type == "test":
                    label = "0"
                else:
                    label = tok.convert_to_unicode(line[0])
                examples.append(
                    run_classifier.InputExample(guid=guid, text_a=text_a, text_b=text_b,
                                                label=label))
            return examples

    write_tsv(tmp_path, "train.tsv", [["q", "i1", "i2", "s1", "s2"], ["1", "1", "2", "cat", "dog"]])
    examples = MyProcessor().get_train_examples(str(tmp_path))
    feature = run_classifier.convert_single_example(
        0, examples[0], MyProcessor().get_labels(), 8, tokenizer)
    assert isinstance(feature, run_classifier.InputFeatures)
    v = tokenizer.vocab
    assert feature.input_ids == [v["[CLS]"], v["cat"], v["[SEP]"], v["dog"], v["[SEP]"], 0, 0, 0]
    assert feature.label_id == 1
    out = str(tmp_path / "x.tf_record")
    run_classifier.file_based_convert_examples_to_features(
        examples, MyProcessor().get_labels(), 8, tokenizer, out)
    assert tf.io.gfile.exists(out)


# ------------------------------------------------------------------------------ bad input

def test_malformed_row_names_file_and_line(tmp_path):
    write_tsv(tmp_path, "train.tsv", [["sentence", "label"], ["good", "1"], ["no label here"]])
    with pytest.raises(ValueError, match=r"train.tsv: line 3 has 1 tab-separated column"):
        glue.get_processor("sst2").get_train_examples(str(tmp_path))


def test_empty_label(tmp_path):
    write_tsv(tmp_path, "train.tsv", [["sentence", "label"], ["good", " "]])
    with pytest.raises(ValueError, match="line 2 has an empty label"):
        glue.get_processor("sst2").get_train_examples(str(tmp_path))


def test_label_outside_list(tokenizer):
    ex = glue.InputExample("train-7", "cat", None, label="positive")
    with pytest.raises(ValueError, match=r"train-7: label 'positive' is not one of .*'0', '1'"):
        glue.convert_single_example(0, ex, ["0", "1"], 8, tokenizer)


def test_missing_file_and_unknown_task(tmp_path):
    with pytest.raises(FileNotFoundError, match="dev.tsv"):
        glue.get_processor("rte").get_dev_examples(str(tmp_path))
    with pytest.raises(ValueError, match="Task not found: foo"):
        glue.get_processor("foo")


def test_regression_label_not_a_number(tmp_path):
    header = ["i", "g", "f", "y", "o", "s1", "s2", "sentence1", "sentence2", "score"]
    write_tsv(tmp_path, "dev.tsv", [header, ["0", "", "", "", "", "", "", "a", "b", "high"]])
    with pytest.raises(ValueError, match="label 'high', which is not a number"):
        glue.get_processor("stsb").get_dev_examples(str(tmp_path))
