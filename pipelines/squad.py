"""SQuAD data for BERT: reading, sliding-window features and answer decoding.

Mirrors google-research/bert ``run_squad.py``:

* :func:`read_squad_examples` - split each context on whitespace (space, tab, CR, LF,
  U+202F) into ``doc_tokens`` with a char -> word map; training answers become word
  positions; an answer whose text is not found in its context is skipped with a warning
  (as the original); v2.0 ``is_impossible`` questions get positions -1.
* :func:`convert_examples_to_features` - WordPiece the question (cut to
  ``max_query_length``) and the document, cut the document into windows of
  ``max_seq_length - len(query) - 3`` tokens moved by ``doc_stride``, pack
  ``[CLS] query [SEP] window [SEP]``, mark each token's max-context window
  (:func:`_check_is_max_context`), and refine training spans with
  :func:`_improve_answer_span`; an answer outside a window points at [CLS] (0, 0).
* :func:`compute_predictions` / :func:`write_predictions` - n-best start/end pairs per
  window (only max-context starts, end >= start, length <= ``max_answer_length``), sorted
  by start+end logit, text mapped back with :func:`get_final_text`, softmax over the
  n-best; v2.0 adds the null answer (minimum [CLS] score over windows) and predicts ""
  when ``null - best non-null > null_score_diff_threshold``. Outputs
  ``predictions.json``, ``nbest_predictions.json`` and (v2.0) ``null_odds.json``, indented
  by 4 as the original, written atomically.

Deviations: missing JSON fields, an ``answer_start`` outside its context and a
``max_seq_length`` leaving no room for the document raise a ``ValueError`` naming the
file / flag (the original fails with a KeyError, an IndexError or loops forever); a v2.0
question whose n-best holds only the null answer predicts "" with null odds 1e6 (the
original fails on it).
"""

from __future__ import annotations

import collections
import json
import logging
import math

from pipelines import tokenization
from pipelines.fileio import io

logger = logging.getLogger(__name__)

# score_null of the original before any window is seen; also the null odds of a question
# that has no non-null candidate.
_LARGE = 1000000


class SquadExample:
    """A single training/test example (original ``SquadExample``)."""

    def __init__(self, qas_id, question_text, doc_tokens, orig_answer_text=None,
                 start_position=None, end_position=None, is_impossible=False):
        self.qas_id = qas_id
        self.question_text = question_text
        self.doc_tokens = doc_tokens
        self.orig_answer_text = orig_answer_text
        self.start_position = start_position
        self.end_position = end_position
        self.is_impossible = is_impossible

    def __repr__(self):
        s = (f"qas_id: {self.qas_id}, question_text: {self.question_text}, "
             f"doc_tokens: [{' '.join(self.doc_tokens)}]")
        if self.start_position is not None:
            s += f", start_position: {self.start_position}, end_position: {self.end_position}"
        if self.is_impossible:
            s += f", is_impossible: {self.is_impossible}"
        return s


class InputFeatures:
    """A single set of features of one window (original ``InputFeatures``)."""

    def __init__(self, unique_id, example_index, doc_span_index, tokens, token_to_orig_map,
                 token_is_max_context, input_ids, input_mask, segment_ids, start_position=None,
                 end_position=None, is_impossible=None):
        self.unique_id = unique_id
        self.example_index = example_index
        self.doc_span_index = doc_span_index
        self.tokens = tokens
        self.token_to_orig_map = token_to_orig_map
        self.token_is_max_context = token_is_max_context
        self.input_ids = input_ids
        self.input_mask = input_mask
        self.segment_ids = segment_ids
        self.start_position = start_position
        self.end_position = end_position
        self.is_impossible = is_impossible


RawResult = collections.namedtuple("RawResult", ["unique_id", "start_logits", "end_logits"])
DocSpan = collections.namedtuple("DocSpan", ["start", "length"])


def _is_whitespace(c):
    return c in (" ", "\t", "\r", "\n") or ord(c) == 0x202F


def split_context(paragraph_text):
    """Whitespace split of the original: (doc_tokens, char_to_word_offset)."""
    doc_tokens = []
    char_to_word_offset = []
    prev_is_whitespace = True
    for c in paragraph_text:
        if _is_whitespace(c):
            prev_is_whitespace = True
        else:
            if prev_is_whitespace:
                doc_tokens.append(c)
            else:
                doc_tokens[-1] += c
            prev_is_whitespace = False
        char_to_word_offset.append(len(doc_tokens) - 1)
    return doc_tokens, char_to_word_offset


def _field(obj, key, where, source):
    if not isinstance(obj, dict) or key not in obj:
        raise ValueError(f"{source}: {where} has no {key!r} field (not a SQuAD file?)")
    return obj[key]


def parse_squad_examples(input_data, is_training, version_2_with_negative=False,
                         source="SQuAD data"):
    """SquadExamples from the parsed ``data`` list of a SQuAD JSON file."""
    if not isinstance(input_data, list):
        raise ValueError(f"{source}: 'data' must be a list of articles")
    examples = []
    for a, entry in enumerate(input_data):
        for p, paragraph in enumerate(_field(entry, "paragraphs", f"article {a}", source)):
            where = f"article {a} paragraph {p}"
            paragraph_text = _field(paragraph, "context", where, source)
            doc_tokens, char_to_word_offset = split_context(paragraph_text)
            for qa in _field(paragraph, "qas", where, source):
                qas_id = _field(qa, "id", f"{where}: a question", source)
                question_text = _field(qa, "question", f"question {qas_id}", source)
                start_position = end_position = orig_answer_text = None
                is_impossible = False
                if is_training:
                    if version_2_with_negative:
                        is_impossible = bool(_field(qa, "is_impossible", f"question {qas_id}",
                                                    source))
                    answers = _field(qa, "answers", f"question {qas_id}", source)
                    if len(answers) != 1 and not is_impossible:
                        raise ValueError(
                            f"{source}: question {qas_id} has {len(answers)} answers; for "
                            "training, each question should have exactly 1 answer.")
                    if not is_impossible:
                        answer = answers[0]
                        orig_answer_text = _field(answer, "text", f"answer of {qas_id}", source)
                        answer_offset = _field(answer, "answer_start", f"answer of {qas_id}",
                                               source)
                        end_char = answer_offset + len(orig_answer_text) - 1
                        if not (0 <= answer_offset <= end_char < len(char_to_word_offset)):
                            logger.warning("Could not find answer of %s: answer_start %s and "
                                           "length %d fall outside its context; skipped",
                                           qas_id, answer_offset, len(orig_answer_text))
                            continue
                        start_position = char_to_word_offset[answer_offset]
                        end_position = char_to_word_offset[end_char]
                        # Only answers recoverable from the document are used (the original
                        # skips the others with a warning, e.g. bad unicode or offsets).
                        actual_text = " ".join(doc_tokens[start_position:(end_position + 1)])
                        cleaned_answer_text = " ".join(
                            tokenization.whitespace_tokenize(orig_answer_text))
                        if actual_text.find(cleaned_answer_text) == -1:
                            logger.warning("Could not find answer: '%s' vs. '%s'",
                                           actual_text, cleaned_answer_text)
                            continue
                    else:
                        start_position = end_position = -1
                        orig_answer_text = ""
                examples.append(SquadExample(
                    qas_id=qas_id, question_text=question_text, doc_tokens=doc_tokens,
                    orig_answer_text=orig_answer_text, start_position=start_position,
                    end_position=end_position, is_impossible=is_impossible))
    return examples


def read_squad_examples(input_file, is_training, version_2_with_negative=False):
    """Reads a SQuAD JSON file (through tf.io.gfile) into a list of SquadExample."""
    if not io.exists(input_file):
        raise FileNotFoundError(f"SQuAD file not found: {input_file}")
    try:
        data = json.loads(io.read_text(input_file))
    except json.JSONDecodeError as e:
        raise ValueError(f"{input_file} is not valid JSON ({e})") from None
    return parse_squad_examples(_field(data, "data", "the file", input_file), is_training,
                                version_2_with_negative, source=input_file)


def check_lengths(max_seq_length, max_query_length, doc_stride=1):
    """The original's ``validate_flags_or_throw`` length checks, as one clear error."""
    if max_seq_length <= max_query_length + 3:
        raise ValueError(f"The max_seq_length ({max_seq_length}) must be greater than "
                         f"max_query_length ({max_query_length}) + 3")
    if doc_stride < 1:
        raise ValueError(f"doc_stride must be >= 1; got {doc_stride}")


def _improve_answer_span(doc_tokens, input_start, input_end, tokenizer, orig_answer_text):
    """Returns tokenized answer spans that better match the annotated answer (e.g.
    "1895" inside "(1895-1943)." tokenized as "( 1895 - 1943 ) .")."""
    tok_answer_text = " ".join(tokenizer.tokenize(orig_answer_text))
    for new_start in range(input_start, input_end + 1):
        for new_end in range(input_end, new_start - 1, -1):
            text_span = " ".join(doc_tokens[new_start:(new_end + 1)])
            if text_span == tok_answer_text:
                return new_start, new_end
    return input_start, input_end


def _check_is_max_context(doc_spans, cur_span_index, position):
    """True if span `cur_span_index` is the one where token `position` has the most
    context: score = min(left, right context) + 0.01 * span length, first best wins."""
    best_score = None
    best_span_index = None
    for span_index, doc_span in enumerate(doc_spans):
        end = doc_span.start + doc_span.length - 1
        if position < doc_span.start or position > end:
            continue
        num_left_context = position - doc_span.start
        num_right_context = end - position
        score = min(num_left_context, num_right_context) + 0.01 * doc_span.length
        if best_score is None or score > best_score:
            best_score = score
            best_span_index = span_index
    return cur_span_index == best_span_index


def doc_spans_for(num_tokens, max_tokens_for_doc, doc_stride):
    """The original's sliding windows: (start, length) moving by min(length, doc_stride)."""
    doc_spans = []
    start_offset = 0
    while start_offset < num_tokens:
        length = min(num_tokens - start_offset, max_tokens_for_doc)
        doc_spans.append(DocSpan(start=start_offset, length=length))
        if start_offset + length == num_tokens:
            break
        start_offset += min(length, doc_stride)
    return doc_spans


def convert_examples_to_features(examples, tokenizer, max_seq_length, doc_stride,
                                 max_query_length, is_training, output_fn):
    """Calls ``output_fn(InputFeatures)`` for every window of every example (unique ids
    from 1000000000, as the original). Returns the number of features."""
    check_lengths(max_seq_length, max_query_length, doc_stride)
    unique_id = 1000000000
    for example_index, example in enumerate(examples):
        query_tokens = tokenizer.tokenize(example.question_text)[:max_query_length]

        tok_to_orig_index = []
        orig_to_tok_index = []
        all_doc_tokens = []
        for i, token in enumerate(example.doc_tokens):
            orig_to_tok_index.append(len(all_doc_tokens))
            for sub_token in tokenizer.tokenize(token):
                tok_to_orig_index.append(i)
                all_doc_tokens.append(sub_token)

        tok_start_position = tok_end_position = None
        if is_training and example.is_impossible:
            tok_start_position = tok_end_position = -1
        if is_training and not example.is_impossible:
            tok_start_position = orig_to_tok_index[example.start_position]
            if example.end_position < len(example.doc_tokens) - 1:
                tok_end_position = orig_to_tok_index[example.end_position + 1] - 1
            else:
                tok_end_position = len(all_doc_tokens) - 1
            tok_start_position, tok_end_position = _improve_answer_span(
                all_doc_tokens, tok_start_position, tok_end_position, tokenizer,
                example.orig_answer_text)

        # The -3 accounts for [CLS], [SEP] and [SEP].
        max_tokens_for_doc = max_seq_length - len(query_tokens) - 3
        doc_spans = doc_spans_for(len(all_doc_tokens), max_tokens_for_doc, doc_stride)

        for doc_span_index, doc_span in enumerate(doc_spans):
            tokens = ["[CLS]", *query_tokens, "[SEP]"]
            segment_ids = [0] * len(tokens)
            token_to_orig_map = {}
            token_is_max_context = {}
            for i in range(doc_span.length):
                split_token_index = doc_span.start + i
                token_to_orig_map[len(tokens)] = tok_to_orig_index[split_token_index]
                token_is_max_context[len(tokens)] = _check_is_max_context(
                    doc_spans, doc_span_index, split_token_index)
                tokens.append(all_doc_tokens[split_token_index])
                segment_ids.append(1)
            tokens.append("[SEP]")
            segment_ids.append(1)

            input_ids = tokenizer.convert_tokens_to_ids(tokens)
            input_mask = [1] * len(input_ids)
            pad = max_seq_length - len(input_ids)
            input_ids += [0] * pad
            input_mask += [0] * pad
            segment_ids += [0] * pad

            start_position = end_position = None
            if is_training and not example.is_impossible:
                doc_start = doc_span.start
                doc_end = doc_span.start + doc_span.length - 1
                if tok_start_position >= doc_start and tok_end_position <= doc_end:
                    doc_offset = len(query_tokens) + 2
                    start_position = tok_start_position - doc_start + doc_offset
                    end_position = tok_end_position - doc_start + doc_offset
                else:  # the answer is not fully inside this window: point at [CLS]
                    start_position = end_position = 0
            if is_training and example.is_impossible:
                start_position = end_position = 0

            output_fn(InputFeatures(
                unique_id=unique_id, example_index=example_index,
                doc_span_index=doc_span_index, tokens=tokens,
                token_to_orig_map=token_to_orig_map, token_is_max_context=token_is_max_context,
                input_ids=input_ids, input_mask=input_mask, segment_ids=segment_ids,
                start_position=start_position, end_position=end_position,
                is_impossible=example.is_impossible))
            unique_id += 1
    return unique_id - 1000000000


def features_to_arrays(features, is_training):
    """Columns of `features` as numpy arrays (int32): unique_ids, input_ids, input_mask,
    segment_ids and, for training, start_positions, end_positions, is_impossible."""
    import numpy as np

    out = collections.OrderedDict(
        unique_ids=np.asarray([f.unique_id for f in features], np.int64),
        input_ids=np.asarray([f.input_ids for f in features], np.int32),
        input_mask=np.asarray([f.input_mask for f in features], np.int32),
        segment_ids=np.asarray([f.segment_ids for f in features], np.int32),
    )
    if is_training:
        out["start_positions"] = np.asarray([f.start_position for f in features], np.int32)
        out["end_positions"] = np.asarray([f.end_position for f in features], np.int32)
        out["is_impossible"] = np.asarray([int(bool(f.is_impossible)) for f in features],
                                          np.int32)
    return out


class FeatureWriter:
    """Writes InputFeatures to a TFRecord file (original ``FeatureWriter``; the file is
    written under a temporary name and renamed by :meth:`close`)."""

    def __init__(self, filename, is_training):
        import tensorflow as tf

        self.filename = filename
        self.is_training = is_training
        self.num_features = 0
        self._tmp = io.temp_name(filename)
        self._writer = tf.io.TFRecordWriter(self._tmp)
        self._tf = tf

    def process_feature(self, feature):
        tf = self._tf
        self.num_features += 1

        def ints(values):
            return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))

        features = collections.OrderedDict(
            unique_ids=ints([feature.unique_id]), input_ids=ints(feature.input_ids),
            input_mask=ints(feature.input_mask), segment_ids=ints(feature.segment_ids))
        if self.is_training:
            features["start_positions"] = ints([feature.start_position])
            features["end_positions"] = ints([feature.end_position])
            features["is_impossible"] = ints([1 if feature.is_impossible else 0])
        self._writer.write(tf.train.Example(
            features=tf.train.Features(feature=features)).SerializeToString())

    def close(self):
        self._writer.close()
        io.rename(self._tmp, self.filename)


# --------------------------------------------------------------------------------------
# Decoding.

def _get_best_indexes(logits, n_best_size):
    """Indexes of the n largest logits, best first (stable for ties, as sorted())."""
    index_and_score = sorted(enumerate(logits), key=lambda x: x[1], reverse=True)
    return [i for i, _ in index_and_score[:n_best_size]]


def _compute_softmax(scores):
    """Softmax over raw logits (plain Python, as the original)."""
    if not scores:
        return []
    max_score = max(scores)
    exp_scores = [math.exp(s - max_score) for s in scores]
    total_sum = sum(exp_scores)
    return [x / total_sum for x in exp_scores]


def _strip_spaces(text):
    ns_chars = []
    ns_to_s_map = collections.OrderedDict()
    for i, c in enumerate(text):
        if c == " ":
            continue
        ns_to_s_map[len(ns_chars)] = i
        ns_chars.append(c)
    return "".join(ns_chars), ns_to_s_map


def get_final_text(pred_text, orig_text, do_lower_case, verbose_logging=False):
    """Projects the tokenized prediction back to the original text.

    E.g. pred_text "steve smith", orig_text "Steve Smith's" -> "Steve Smith": find
    pred_text in the basic-tokenized orig_text, then map its character span back through
    the space-stripped strings (which must align character for character). Any failure
    returns orig_text, as the original."""
    tokenizer = tokenization.BasicTokenizer(do_lower_case=do_lower_case)
    tok_text = " ".join(tokenizer.tokenize(orig_text))
    start_position = tok_text.find(pred_text)
    if start_position == -1:
        if verbose_logging:
            logger.info("Unable to find text: '%s' in '%s'", pred_text, orig_text)
        return orig_text
    end_position = start_position + len(pred_text) - 1

    orig_ns_text, orig_ns_to_s_map = _strip_spaces(orig_text)
    tok_ns_text, tok_ns_to_s_map = _strip_spaces(tok_text)
    if len(orig_ns_text) != len(tok_ns_text):
        if verbose_logging:
            logger.info("Length not equal after stripping spaces: '%s' vs '%s'",
                        orig_ns_text, tok_ns_text)
        return orig_text
    tok_s_to_ns_map = {tok_index: i for i, tok_index in tok_ns_to_s_map.items()}

    orig_start_position = None
    if start_position in tok_s_to_ns_map:
        orig_start_position = orig_ns_to_s_map.get(tok_s_to_ns_map[start_position])
    if orig_start_position is None:
        if verbose_logging:
            logger.info("Couldn't map start position")
        return orig_text
    orig_end_position = None
    if end_position in tok_s_to_ns_map:
        orig_end_position = orig_ns_to_s_map.get(tok_s_to_ns_map[end_position])
    if orig_end_position is None:
        if verbose_logging:
            logger.info("Couldn't map end position")
        return orig_text
    return orig_text[orig_start_position:(orig_end_position + 1)]


_Prelim = collections.namedtuple(
    "PrelimPrediction", ["feature_index", "start_index", "end_index", "start_logit", "end_logit"])
_Nbest = collections.namedtuple("NbestPrediction", ["text", "start_logit", "end_logit"])


def compute_predictions(all_examples, all_features, all_results, n_best_size,
                        max_answer_length, do_lower_case, version_2_with_negative=False,
                        null_score_diff_threshold=0.0, verbose_logging=False):
    """The original ``write_predictions`` without the files.

    Returns (predictions {qas_id: text}, nbest {qas_id: [{text, probability, start_logit,
    end_logit}]}, null_odds {qas_id: score_null - best non-null score}, v2.0 only)."""
    example_index_to_features = collections.defaultdict(list)
    for feature in all_features:
        example_index_to_features[feature.example_index].append(feature)
    unique_id_to_result = {result.unique_id: result for result in all_results}

    all_predictions = collections.OrderedDict()
    all_nbest_json = collections.OrderedDict()
    scores_diff_json = collections.OrderedDict()
    for example_index, example in enumerate(all_examples):
        features = example_index_to_features[example_index]
        prelim_predictions = []
        score_null = _LARGE  # the minimum null score over the windows
        min_null_feature_index = 0
        null_start_logit = null_end_logit = 0.0
        for feature_index, feature in enumerate(features):
            if feature.unique_id not in unique_id_to_result:
                raise ValueError(f"no model output for feature {feature.unique_id} of "
                                 f"question {example.qas_id}")
            result = unique_id_to_result[feature.unique_id]
            start_logits = [float(x) for x in result.start_logits]
            end_logits = [float(x) for x in result.end_logits]
            start_indexes = _get_best_indexes(start_logits, n_best_size)
            end_indexes = _get_best_indexes(end_logits, n_best_size)
            if version_2_with_negative:
                feature_null_score = start_logits[0] + end_logits[0]
                if feature_null_score < score_null:
                    score_null = feature_null_score
                    min_null_feature_index = feature_index
                    null_start_logit = start_logits[0]
                    null_end_logit = end_logits[0]
            for start_index in start_indexes:
                for end_index in end_indexes:
                    # Skip indexes outside the document part, not max-context starts,
                    # reversed and too long spans.
                    if start_index >= len(feature.tokens) or end_index >= len(feature.tokens):
                        continue
                    if (start_index not in feature.token_to_orig_map
                            or end_index not in feature.token_to_orig_map):
                        continue
                    if not feature.token_is_max_context.get(start_index, False):
                        continue
                    if end_index < start_index:
                        continue
                    if end_index - start_index + 1 > max_answer_length:
                        continue
                    prelim_predictions.append(_Prelim(
                        feature_index, start_index, end_index, start_logits[start_index],
                        end_logits[end_index]))
        if version_2_with_negative:
            prelim_predictions.append(_Prelim(min_null_feature_index, 0, 0, null_start_logit,
                                              null_end_logit))
        prelim_predictions = sorted(prelim_predictions,
                                    key=lambda x: x.start_logit + x.end_logit, reverse=True)

        seen_predictions = {}
        nbest = []
        for pred in prelim_predictions:
            if len(nbest) >= n_best_size:
                break
            feature = features[pred.feature_index]
            if pred.start_index > 0:  # a non-null prediction
                tok_tokens = feature.tokens[pred.start_index:(pred.end_index + 1)]
                orig_doc_start = feature.token_to_orig_map[pred.start_index]
                orig_doc_end = feature.token_to_orig_map[pred.end_index]
                orig_tokens = example.doc_tokens[orig_doc_start:(orig_doc_end + 1)]
                # De-tokenize WordPieces that have been split off.
                tok_text = " ".join(tok_tokens).replace(" ##", "").replace("##", "")
                tok_text = " ".join(tok_text.strip().split())
                orig_text = " ".join(orig_tokens)
                final_text = get_final_text(tok_text, orig_text, do_lower_case, verbose_logging)
                if final_text in seen_predictions:
                    continue
                seen_predictions[final_text] = True
            else:
                final_text = ""
                seen_predictions[final_text] = True
            nbest.append(_Nbest(final_text, pred.start_logit, pred.end_logit))

        # v2.0: the null answer is always among the candidates.
        if version_2_with_negative and "" not in seen_predictions:
            nbest.append(_Nbest("", null_start_logit, null_end_logit))
        # In very rare edge cases there is no valid prediction.
        if not nbest:
            nbest.append(_Nbest("empty", 0.0, 0.0))

        total_scores = [e.start_logit + e.end_logit for e in nbest]
        best_non_null_entry = next((e for e in nbest if e.text), None)
        probs = _compute_softmax(total_scores)
        nbest_json = []
        for i, entry in enumerate(nbest):
            output = collections.OrderedDict()
            output["text"] = entry.text
            output["probability"] = probs[i]
            output["start_logit"] = entry.start_logit
            output["end_logit"] = entry.end_logit
            nbest_json.append(output)

        if not version_2_with_negative:
            all_predictions[example.qas_id] = nbest_json[0]["text"]
        elif best_non_null_entry is None:
            scores_diff_json[example.qas_id] = float(_LARGE)
            all_predictions[example.qas_id] = ""
        else:
            score_diff = (score_null - best_non_null_entry.start_logit
                          - best_non_null_entry.end_logit)
            scores_diff_json[example.qas_id] = score_diff
            if score_diff > null_score_diff_threshold:
                all_predictions[example.qas_id] = ""
            else:
                all_predictions[example.qas_id] = best_non_null_entry.text
        all_nbest_json[example.qas_id] = nbest_json
    return all_predictions, all_nbest_json, scores_diff_json


def write_predictions(all_examples, all_features, all_results, n_best_size, max_answer_length,
                      do_lower_case, output_prediction_file, output_nbest_file,
                      output_null_log_odds_file, version_2_with_negative=False,
                      null_score_diff_threshold=0.0, verbose_logging=False):
    """Writes predictions.json, nbest_predictions.json and (v2.0) null_odds.json."""
    predictions, nbest, null_odds = compute_predictions(
        all_examples, all_features, all_results, n_best_size, max_answer_length,
        do_lower_case, version_2_with_negative, null_score_diff_threshold, verbose_logging)
    outputs = [(output_prediction_file, predictions), (output_nbest_file, nbest)]
    if version_2_with_negative:
        outputs.append((output_null_log_odds_file, null_odds))
    for path, value in outputs:
        with io.atomic_write(path, "w") as writer:
            writer.write(json.dumps(value, indent=4) + "\n")
    return predictions, nbest, null_odds


def input_fn_builder(input_file, seq_length, is_training, drop_remainder, seed=None):
    """``input_fn(params)`` -> tf.data.Dataset of feature dicts from a FeatureWriter file
    (int32; ``unique_ids`` int64), repeated and shuffled (buffer 100) when training."""
    import tensorflow as tf

    name_to_features = {
        "unique_ids": tf.io.FixedLenFeature([], tf.int64),
        "input_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
        "input_mask": tf.io.FixedLenFeature([seq_length], tf.int64),
        "segment_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
    }
    if is_training:
        name_to_features["start_positions"] = tf.io.FixedLenFeature([], tf.int64)
        name_to_features["end_positions"] = tf.io.FixedLenFeature([], tf.int64)

    def _decode(record):
        example = tf.io.parse_single_example(record, name_to_features)
        return {k: v if k == "unique_ids" else tf.cast(v, tf.int32) for k, v in example.items()}

    def input_fn(params):
        d = tf.data.TFRecordDataset(input_file)
        if is_training:
            d = d.repeat().shuffle(buffer_size=100, seed=seed)
        d = d.map(_decode, num_parallel_calls=tf.data.AUTOTUNE)
        return d.batch(params["batch_size"], drop_remainder=drop_remainder)

    return input_fn
