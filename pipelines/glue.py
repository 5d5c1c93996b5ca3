"""Sentence(-pair) classification data: the original ``run_classifier.py`` data API.

Mirrors google-research/bert ``run_classifier.py`` so that users' own ``DataProcessor``
subclasses written for the original run unchanged: :class:`InputExample`,
:class:`PaddingInputExample`, :class:`InputFeatures`, :class:`DataProcessor` (with
``get_train_examples`` / ``get_dev_examples`` / ``get_test_examples`` / ``get_labels`` /
``_read_tsv``), :func:`convert_single_example`, :func:`_truncate_seq_pair`,
:func:`file_based_convert_examples_to_features` and :func:`file_based_input_fn_builder`.

Processors: the original ``cola``, ``mnli``, ``xnli``, ``mrpc`` and the rest of GLUE that
the original lacks (``sst2``, ``qqp``, ``qnli``, ``rte``, ``wnli``, ``stsb``), reading the
TSV layouts of the GLUE download script, plus :class:`TsvProcessor` for users' own files
(columns named by header or index). STS-B is a regression task: its ``get_labels()`` is
``[]`` (:data:`REGRESSION_LABELS`) and its labels are floats.

Unlike the original, which raises a bare ``IndexError``/``KeyError``, a row with too few
columns, an empty or unknown label, or a non-numeric regression label raises a
``ValueError`` naming the file, the line and what is wrong.
"""

from __future__ import annotations

import collections
import csv
import os
import sys

from pipelines import tokenization
from pipelines.fileio import io

# get_labels() of a regression processor: no classes, one float output.
REGRESSION_LABELS: list = []

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class InputExample:
    """A single training/test example (original ``InputExample``).

    Args:
      guid: unique id of the example.
      text_a: the first sequence (untokenized text).
      text_b: optional second sequence, for pair tasks.
      label: the label (a string for classification, a float for regression); test
        examples carry a dummy label.
    """

    def __init__(self, guid, text_a, text_b=None, label=None):
        self.guid = guid
        self.text_a = text_a
        self.text_b = text_b
        self.label = label

    def __repr__(self):
        return (f"InputExample(guid={self.guid!r}, text_a={self.text_a!r}, "
                f"text_b={self.text_b!r}, label={self.label!r})")


class PaddingInputExample:
    """A fake example padding the last batch to a full batch (original semantics:
    it becomes all-zero features with ``is_real_example=False`` and is not counted)."""


class InputFeatures:
    """A single set of features of data (original ``InputFeatures``)."""

    def __init__(self, input_ids, input_mask, segment_ids, label_id, is_real_example=True):
        self.input_ids = input_ids
        self.input_mask = input_mask
        self.segment_ids = segment_ids
        self.label_id = label_id
        self.is_real_example = is_real_example


class DataProcessor:
    """Base class for data converters for sequence classification data sets."""

    def get_train_examples(self, data_dir):
        """Gets a collection of `InputExample`s for the train set."""
        raise NotImplementedError()

    def get_dev_examples(self, data_dir):
        """Gets a collection of `InputExample`s for the dev set."""
        raise NotImplementedError()

    def get_test_examples(self, data_dir):
        """Gets a collection of `InputExample`s for prediction."""
        raise NotImplementedError()

    def get_labels(self):
        """Gets the list of labels for this data set ([] for regression)."""
        raise NotImplementedError()

    @classmethod
    def _read_tsv(cls, input_file, quotechar=None):
        """Reads a tab separated value file (through tf.io.gfile, as the original)."""
        if not io.exists(input_file):
            raise FileNotFoundError(f"data file not found: {input_file}")
        with io.open_file(input_file, "r") as f:
            return list(csv.reader(f, delimiter="\t", quotechar=quotechar))


# --------------------------------------------------------------------------------------
# Row validation shared by the processors.

def _row(lines, i, min_columns, path, what):
    """Returns line i after checking it has at least `min_columns` columns."""
    line = lines[i]
    if len(line) < min_columns:
        raise ValueError(
            f"{path}: line {i + 1} has {len(line)} tab-separated column(s), expected at least "
            f"{min_columns} ({what}); the row is: {chr(9).join(line)[:200]!r}")
    return line


def _label(value, path, i):
    value = tokenization.convert_to_unicode(value).strip()
    if not value:
        raise ValueError(f"{path}: line {i + 1} has an empty label")
    return value


def _float_label(value, path, i):
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{path}: line {i + 1} has label {value!r}, which is not a number "
                         "(this task is a regression)") from None


class _GlueProcessor(DataProcessor):
    """GLUE layout: train.tsv, dev.tsv, test.tsv with a header row.

    Subclasses set ``labels``, ``text_columns`` (a, b or None) and ``label_column`` for the
    labelled files and ``test_text_columns`` for test.tsv (whose label is the first class,
    as the original's dummy labels).
    """

    labels: tuple = ()
    text_columns = (0, None)
    label_column = -1
    test_text_columns = (1, None)
    has_header = True
    train_file, dev_file, test_file = "train.tsv", "dev.tsv", "test.tsv"
    regression = False

    def get_train_examples(self, data_dir):
        return self._examples(os.path.join(data_dir, self.train_file), "train")

    def get_dev_examples(self, data_dir):
        return self._examples(os.path.join(data_dir, self.dev_file), "dev")

    def get_test_examples(self, data_dir):
        return self._examples(os.path.join(data_dir, self.test_file), "test")

    def get_labels(self):
        return list(self.labels)

    def _examples(self, path, set_type):
        lines = self._read_tsv(path)
        test = set_type == "test"
        a, b = self.test_text_columns if test else self.text_columns
        columns = (a, b) if test else (a, b, self.label_column)
        needed = max(c if c >= 0 else -c - 1 for c in columns if c is not None) + 1
        what = "text" if b is None else "text_a, text_b"
        if not test:
            what += ", label"
        examples = []
        for i in range(len(lines)):
            if i == 0 and self.has_header:
                continue
            line = _row(lines, i, needed, path, what)
            guid = f"{set_type}-{i}"
            text_a = tokenization.convert_to_unicode(line[a])
            text_b = None if b is None else tokenization.convert_to_unicode(line[b])
            if test:
                label = 0.0 if self.regression else self.labels[0]
            elif self.regression:
                label = _float_label(line[self.label_column], path, i)
            else:
                label = _label(line[self.label_column], path, i)
            examples.append(InputExample(guid=guid, text_a=text_a, text_b=text_b, label=label))
        return examples


class ColaProcessor(_GlueProcessor):
    """CoLA (original): train/dev have no header, columns source, label, -, sentence;
    test.tsv has a header and columns index, sentence."""

    labels = ("0", "1")
    text_columns = (3, None)
    label_column = 1
    test_text_columns = (1, None)

    def _examples(self, path, set_type):
        self.has_header = set_type == "test"
        return super()._examples(path, set_type)


class MrpcProcessor(_GlueProcessor):
    """MRPC (original): Quality, #1 ID, #2 ID, #1 String, #2 String."""

    labels = ("0", "1")
    text_columns = (3, 4)
    label_column = 0
    test_text_columns = (3, 4)


class MnliProcessor(_GlueProcessor):
    """MultiNLI (original): sentence1/sentence2 in columns 8/9, gold label last; the dev and
    test sets are the matched ones. guids use the pairID column as the original."""

    labels = ("contradiction", "entailment", "neutral")
    text_columns = (8, 9)
    label_column = -1
    test_text_columns = (8, 9)
    dev_file, test_file = "dev_matched.tsv", "test_matched.tsv"

    def _examples(self, path, set_type):
        examples = super()._examples(path, set_type)
        lines = self._read_tsv(path)
        for ex in examples:
            i = int(ex.guid.rsplit("-", 1)[1])
            set_name = "dev_matched" if set_type == "dev" else set_type
            ex.guid = f"{set_name}-{tokenization.convert_to_unicode(lines[i][0])}"
        return examples


class XnliProcessor(DataProcessor):
    """XNLI (original): train from ``multinli/multinli.train.<language>.tsv`` (premise,
    hypo, label; "contradictory" read as "contradiction"), dev from ``xnli.dev.tsv``
    filtered on the language column (text in columns 6/7, label in 1). Language "zh" as the
    original."""

    def __init__(self, language="zh"):
        self.language = language

    def get_train_examples(self, data_dir):
        path = os.path.join(data_dir, "multinli", f"multinli.train.{self.language}.tsv")
        lines = self._read_tsv(path)
        examples = []
        for i in range(1, len(lines)):
            line = _row(lines, i, 3, path, "premise, hypothesis, label")
            label = _label(line[2], path, i)
            if label == "contradictory":
                label = "contradiction"
            examples.append(InputExample(
                guid=f"train-{i}", text_a=tokenization.convert_to_unicode(line[0]),
                text_b=tokenization.convert_to_unicode(line[1]), label=label))
        return examples

    def get_dev_examples(self, data_dir):
        path = os.path.join(data_dir, "xnli.dev.tsv")
        lines = self._read_tsv(path)
        examples = []
        for i in range(1, len(lines)):
            line = _row(lines, i, 8, path, "language, gold label, ..., sentence1, sentence2")
            if tokenization.convert_to_unicode(line[0]) != self.language:
                continue
            examples.append(InputExample(
                guid=f"dev-{i}", text_a=tokenization.convert_to_unicode(line[6]),
                text_b=tokenization.convert_to_unicode(line[7]), label=_label(line[1], path, i)))
        return examples

    def get_test_examples(self, data_dir):
        raise ValueError("the xnli task has no test set (the original has none either); "
                         "use do_eval on xnli.dev.tsv")

    def get_labels(self):
        return ["contradiction", "entailment", "neutral"]


class Sst2Processor(_GlueProcessor):
    """SST-2: sentence, label; test: index, sentence."""

    labels = ("0", "1")
    text_columns = (0, None)
    label_column = 1
    test_text_columns = (1, None)


class QqpProcessor(_GlueProcessor):
    """QQP: id, qid1, qid2, question1, question2, is_duplicate; test: id, q1, q2."""

    labels = ("0", "1")
    text_columns = (3, 4)
    label_column = 5
    test_text_columns = (1, 2)


class QnliProcessor(_GlueProcessor):
    """QNLI: index, question, sentence, label; test: index, question, sentence."""

    labels = ("entailment", "not_entailment")
    text_columns = (1, 2)
    label_column = 3
    test_text_columns = (1, 2)


class RteProcessor(QnliProcessor):
    """RTE: index, sentence1, sentence2, label (entailment / not_entailment)."""


class WnliProcessor(QnliProcessor):
    """WNLI: index, sentence1, sentence2, label (0 / 1)."""

    labels = ("0", "1")


class StsbProcessor(_GlueProcessor):
    """STS-B (regression, score 0-5): sentence1, sentence2 in columns 7/8, score last."""

    regression = True
    text_columns = (7, 8)
    label_column = -1
    test_text_columns = (7, 8)

    def get_labels(self):
        return list(REGRESSION_LABELS)


class TsvProcessor(DataProcessor):
    """Users' own data: ``train.tsv``, ``dev.tsv``, ``test.tsv`` in data_dir.

    Args:
      text_a_column, text_b_column, label_column: a header name (files have a header
        row) or a 0-based index (with ``has_header=False``, indices only).
        ``text_b_column`` None for single-sentence tasks; test.tsv may lack the label.
      labels: the class list; None reads it from train.tsv (sorted unique labels),
        which needs ``data_dir``.
      has_header: whether the first row names the columns.
      regression: labels are floats (``get_labels()`` is ``[]``).
    """

    def __init__(self, text_a_column="sentence", text_b_column=None, label_column="label",
                 labels=None, has_header=True, regression=False, data_dir=None):
        self.text_a_column = text_a_column
        self.text_b_column = text_b_column or None
        self.label_column = label_column
        self.has_header = bool(has_header)
        self.regression = bool(regression)
        self._labels = list(labels) if labels else None
        self._data_dir = data_dir

    def _index(self, header, column, path, flag):
        if column is None:
            return None
        if isinstance(column, int) or str(column).lstrip("-").isdigit():
            return int(column)
        if not self.has_header:
            raise ValueError(f"{flag}={column!r} names a column but {path} is read without a "
                             "header: give a 0-based index")
        if column not in header:
            raise ValueError(f"{flag}={column!r}: no such column in the header of {path} "
                             f"(columns: {', '.join(header)})")
        return header.index(column)

    def _examples(self, path, set_type):
        lines = self._read_tsv(path)
        header = lines[0] if (self.has_header and lines) else []
        a = self._index(header, self.text_a_column, path, "text_a_column")
        b = self._index(header, self.text_b_column, path, "text_b_column")
        test = set_type == "test"
        label_col = None
        if not (test and self.has_header and self.label_column not in header
                and not str(self.label_column).lstrip("-").isdigit()):
            label_col = self._index(header, self.label_column, path, "label_column")
        cols = [c for c in (a, b, label_col) if c is not None]
        needed = max(c if c >= 0 else -c - 1 for c in cols) + 1
        examples = []
        for i in range(1 if self.has_header else 0, len(lines)):
            line = _row(lines, i, needed, path, "columns named by the flags")
            if label_col is None:
                label = 0.0 if self.regression else self.get_labels()[0]
            elif self.regression:
                label = _float_label(line[label_col], path, i)
            else:
                label = _label(line[label_col], path, i)
            examples.append(InputExample(
                guid=f"{set_type}-{i}", text_a=tokenization.convert_to_unicode(line[a]),
                text_b=None if b is None else tokenization.convert_to_unicode(line[b]),
                label=label))
        return examples

    def get_train_examples(self, data_dir):
        self._data_dir = data_dir
        return self._examples(os.path.join(data_dir, "train.tsv"), "train")

    def get_dev_examples(self, data_dir):
        self._data_dir = data_dir
        return self._examples(os.path.join(data_dir, "dev.tsv"), "dev")

    def get_test_examples(self, data_dir):
        self._data_dir = data_dir
        return self._examples(os.path.join(data_dir, "test.tsv"), "test")

    def get_labels(self):
        if self.regression:
            return list(REGRESSION_LABELS)
        if self._labels is None:
            if self._data_dir is None:
                raise ValueError("the tsv task needs its labels (flag tsv_labels) or a data_dir "
                                 "whose train.tsv they are read from")
            self._labels = sorted({ex.label for ex in self._examples(
                os.path.join(self._data_dir, "train.tsv"), "train")})
        return list(self._labels)


PROCESSORS = {
    "cola": ColaProcessor,
    "mnli": MnliProcessor,
    "mrpc": MrpcProcessor,
    "xnli": XnliProcessor,
    "sst2": Sst2Processor,
    "qqp": QqpProcessor,
    "qnli": QnliProcessor,
    "rte": RteProcessor,
    "wnli": WnliProcessor,
    "stsb": StsbProcessor,
    "tsv": TsvProcessor,
}


def get_processor(task_name, **tsv_options):
    """The processor for `task_name` (case-insensitive); options go to TsvProcessor."""
    name = str(task_name).lower()
    if name not in PROCESSORS:
        raise ValueError(f"Task not found: {task_name} (known: {', '.join(sorted(PROCESSORS))})")
    if name == "tsv":
        return TsvProcessor(**tsv_options)
    return PROCESSORS[name]()


def is_regression(label_list):
    """True when `label_list` is empty, the regression convention of this module."""
    return len(label_list) == 0


# --------------------------------------------------------------------------------------
# Features.

def _truncate_seq_pair(tokens_a, tokens_b, max_length):
    """Truncates a sequence pair in place to the maximum length (original: pop one token
    at a time from the longer one, so that each keeps a fair share)."""
    while len(tokens_a) + len(tokens_b) > max_length:
        if len(tokens_a) > len(tokens_b):
            tokens_a.pop()
        else:
            tokens_b.pop()


def _label_id(example, label_list):
    if is_regression(label_list):
        try:
            return float(example.label)
        except (TypeError, ValueError):
            raise ValueError(f"example {example.guid}: label {example.label!r} is not a number "
                             "(regression task)") from None
    for i, label in enumerate(label_list):
        if label == example.label:
            return i
    raise ValueError(f"example {example.guid}: label {example.label!r} is not one of the "
                     f"task's labels {list(label_list)}")


def check_labels(examples, label_list):
    """Raises a ValueError naming the first example whose label is not in `label_list`
    (or not a number, for a regression), before any work is done on them."""
    for example in examples:
        if not isinstance(example, PaddingInputExample):
            _label_id(example, label_list)


def convert_single_example(ex_index, example, label_list, max_seq_length, tokenizer):
    """Converts a single `InputExample` into a single `InputFeatures` (original semantics:
    ``[CLS] a [SEP] (b [SEP])``, pair truncation, zero padding; a PaddingInputExample
    gives all-zero features with ``is_real_example=False``)."""
    if max_seq_length < 3:
        raise ValueError(f"max_seq_length must be at least 3 ([CLS] x [SEP]); got "
                         f"{max_seq_length}")
    if isinstance(example, PaddingInputExample):
        return InputFeatures(input_ids=[0] * max_seq_length, input_mask=[0] * max_seq_length,
                             segment_ids=[0] * max_seq_length,
                             label_id=0.0 if is_regression(label_list) else 0,
                             is_real_example=False)
    label_id = _label_id(example, label_list)
    tokens_a = tokenizer.tokenize(example.text_a)
    tokens_b = None
    if example.text_b:
        tokens_b = tokenizer.tokenize(example.text_b)
    if tokens_b:
        # [CLS], [SEP], [SEP] with "- 3".
        _truncate_seq_pair(tokens_a, tokens_b, max_seq_length - 3)
    elif len(tokens_a) > max_seq_length - 2:
        tokens_a = tokens_a[0:(max_seq_length - 2)]
    tokens = ["[CLS]", *tokens_a, "[SEP]"]
    segment_ids = [0] * len(tokens)
    if tokens_b:
        tokens += [*tokens_b, "[SEP]"]
        segment_ids += [1] * (len(tokens_b) + 1)
    input_ids = tokenizer.convert_tokens_to_ids(tokens)
    input_mask = [1] * len(input_ids)
    pad = max_seq_length - len(input_ids)
    input_ids += [0] * pad
    input_mask += [0] * pad
    segment_ids += [0] * pad
    return InputFeatures(input_ids=input_ids, input_mask=input_mask, segment_ids=segment_ids,
                         label_id=label_id, is_real_example=True)


def convert_examples_to_features(examples, label_list, max_seq_length, tokenizer):
    """A list of `InputFeatures` (the original's in-memory variant)."""
    return [convert_single_example(i, ex, label_list, max_seq_length, tokenizer)
            for i, ex in enumerate(examples)]


def features_to_arrays(features):
    """Columns of `features` as numpy arrays: input_ids, input_mask, segment_ids (int32
    [N, T]), label_ids (int32, float32 for regression [N]) and is_real_example (int32)."""
    import numpy as np

    label_dtype = np.float32 if any(isinstance(f.label_id, float) for f in features) else np.int32
    return collections.OrderedDict(
        input_ids=np.asarray([f.input_ids for f in features], np.int32),
        input_mask=np.asarray([f.input_mask for f in features], np.int32),
        segment_ids=np.asarray([f.segment_ids for f in features], np.int32),
        label_ids=np.asarray([f.label_id for f in features], label_dtype),
        is_real_example=np.asarray([int(f.is_real_example) for f in features], np.int32),
    )


def file_based_convert_examples_to_features(examples, label_list, max_seq_length, tokenizer,
                                            output_file):
    """Converts `examples` to a TFRecord file of tf.train.Example (original feature names:
    input_ids, input_mask, segment_ids, label_ids, is_real_example; label_ids is a float
    list for regression). Written atomically."""
    import tensorflow as tf

    def int_feature(values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))

    with io.atomic_path(output_file) as tmp:
        with tf.io.TFRecordWriter(tmp) as writer:
            for ex_index, example in enumerate(examples):
                feature = convert_single_example(ex_index, example, label_list, max_seq_length,
                                                 tokenizer)
                if is_regression(label_list):
                    label = tf.train.Feature(float_list=tf.train.FloatList(
                        value=[float(feature.label_id)]))
                else:
                    label = int_feature([feature.label_id])
                features = collections.OrderedDict(
                    input_ids=int_feature(feature.input_ids),
                    input_mask=int_feature(feature.input_mask),
                    segment_ids=int_feature(feature.segment_ids),
                    label_ids=label,
                    is_real_example=int_feature([int(feature.is_real_example)]),
                )
                writer.write(tf.train.Example(
                    features=tf.train.Features(feature=features)).SerializeToString())


def file_based_input_fn_builder(input_file, seq_length, is_training, drop_remainder,
                                regression=False, seed=None):
    """Returns ``input_fn(params)`` giving a tf.data.Dataset of feature dicts read from the
    TFRecord file (repeated and shuffled with a 100-record buffer when training, as the
    original); ``params["batch_size"]`` sets the batch size."""
    import tensorflow as tf

    name_to_features = {
        "input_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
        "input_mask": tf.io.FixedLenFeature([seq_length], tf.int64),
        "segment_ids": tf.io.FixedLenFeature([seq_length], tf.int64),
        "label_ids": tf.io.FixedLenFeature([], tf.float32 if regression else tf.int64),
        "is_real_example": tf.io.FixedLenFeature([], tf.int64),
    }

    def _decode(record):
        example = tf.io.parse_single_example(record, name_to_features)
        return {k: tf.cast(v, tf.int32) if v.dtype == tf.int64 else v
                for k, v in example.items()}

    def input_fn(params):
        d = tf.data.TFRecordDataset(input_file)
        if is_training:
            d = d.repeat().shuffle(buffer_size=100, seed=seed)
        d = d.map(_decode, num_parallel_calls=tf.data.AUTOTUNE)
        return d.batch(params["batch_size"], drop_remainder=drop_remainder)

    return input_fn
