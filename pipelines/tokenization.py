"""BERT WordPiece tokenization: the original Python tokenizer and an in-graph twin.

Mirrors google-research/bert ``tokenization.py``:

* :class:`BasicTokenizer` - clean text (drop NUL, U+FFFD and control characters,
  map whitespace to spaces), put spaces around CJK ideographs, split on whitespace,
  optionally lower-case and strip accents (NFD, drop ``Mn``), split punctuation.
* :class:`WordpieceTokenizer` - greedy longest-match-first WordPiece with ``##``
  continuations; a word longer than ``max_input_chars_per_word`` (200, the
  original's limit) or one that cannot be covered becomes ``[UNK]``.
* :class:`FullTokenizer` - both of the above plus vocab conversion. It memoises
  WordPiece results per word and splits all-ASCII lines with one regex,
  :func:`ascii_words`, the one Python fast path (also used by the pre-training data
  writer); same output, fewer Python loops; ``cache_size=0`` turns both off.

:class:`InGraphTokenizer` reproduces the same ids with TensorFlow ops, so it
runs inside ``tf.data`` and inside an exported SavedModel. Lines of printable
ASCII (plus tab/newline/CR) go through one C++ op, tensorflow-text's end-to-end
``FastWordpieceTokenizer`` (after a bytewise lower-casing): on such lines its
whitespace/punctuation split and byte limit are provably the original's. Other
lines take a general path of ``tf.strings`` regex ops + ``FastWordpieceTokenizer``
on pre-split words, whose character classes (punctuation, control, whitespace,
combining marks) are generated from this interpreter's ``unicodedata`` so they
agree with the Python tokenizer; lower-casing and NFD use ICU (TensorFlow's),
which agrees with Python's on the tested corpus.
"""

from __future__ import annotations

import collections
import functools
import os
import re
import sys
import unicodedata

# Original limit (google-research/bert); HF transformers uses 100.
MAX_INPUT_CHARS_PER_WORD = 200

_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)

_LOWER_MODELS = (
    "uncased_L-24_H-1024_A-16",
    "uncased_L-12_H-768_A-12",
    "multilingual_L-12_H-768_A-12",
    "chinese_L-12_H-768_A-12",
)
_CASED_MODELS = (
    "cased_L-12_H-768_A-12",
    "cased_L-24_H-1024_A-16",
    "multi_cased_L-12_H-768_A-12",
)


def validate_case_matches_checkpoint(do_lower_case, init_checkpoint):
    """Raises ValueError when `do_lower_case` contradicts a released checkpoint's name.

    Same heuristic as the original: the directory holding ``bert_model.ckpt`` is
    compared with the names of the released cased/uncased models.
    """
    if not init_checkpoint:
        return
    m = re.match(r"^.*?([A-Za-z0-9_-]+)/bert_model.ckpt", init_checkpoint)
    if m is None:
        return
    model_name = m.group(1)
    if model_name in _LOWER_MODELS and not do_lower_case:
        actual, case_name, opposite = "False", "lowercased", "True"
    elif model_name in _CASED_MODELS and do_lower_case:
        actual, case_name, opposite = "True", "cased", "False"
    else:
        return
    raise ValueError(
        f"You passed in `--do_lower_case={actual}` with `--init_checkpoint={init_checkpoint}`. "
        f"However, `{model_name}` seems to be a {case_name} model, so you should pass in "
        f"`--do_lower_case={opposite}` so that the fine-tuning matches how the model was "
        "pre-trained."
    )


def convert_to_unicode(text):
    """Returns `text` as str, decoding bytes as UTF-8 and dropping invalid bytes."""
    if isinstance(text, str):
        return text
    if isinstance(text, bytes):
        return text.decode("utf-8", "ignore")
    raise ValueError(f"Unsupported string type: {type(text)}")


printable_text = convert_to_unicode


def load_vocab(vocab_file):
    """Loads a vocab file (one token a line, id = line number) into an OrderedDict.

    As in the original, each line is stripped and a repeated token keeps its last id.
    """
    if not os.path.isfile(vocab_file):
        raise FileNotFoundError(f"vocab_file not found: {vocab_file}")
    vocab = collections.OrderedDict()
    with open(vocab_file, "rb") as f:
        for index, line in enumerate(f):
            vocab[convert_to_unicode(line).strip()] = index
    if not vocab:
        raise ValueError(f"vocab_file is empty: {vocab_file}")
    return vocab


def convert_by_vocab(vocab, items):
    """Maps tokens to ids (or ids to tokens); an unknown item raises KeyError."""
    return [vocab[item] for item in items]


def whitespace_tokenize(text):
    """Strips and splits `text` on whitespace (Python's ``str.split`` semantics)."""
    return text.split()


def _is_whitespace(char):
    """Space, tab, newline, carriage return and category Zs count as whitespace."""
    if char in " \t\n\r":
        return True
    return unicodedata.category(char) == "Zs"


def _is_control(char):
    """Categories Cc and Cf, except tab/newline/CR (treated as whitespace)."""
    if char in "\t\n\r":
        return False
    return unicodedata.category(char) in ("Cc", "Cf")


def _is_punctuation(char):
    """All non-alphanumeric printable ASCII plus Unicode category P*."""
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_chinese_char(cp):
    """True for code points in the CJK Unified Ideograph blocks the original lists."""
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


class BasicTokenizer:
    """Punctuation splitting, lower casing, accent stripping (original BasicTokenizer)."""

    def __init__(self, do_lower_case=True):
        self.do_lower_case = do_lower_case

    def tokenize(self, text):
        text = convert_to_unicode(text)
        text = self._clean_text(text)
        text = self._tokenize_chinese_chars(text)
        split_tokens = []
        for token in whitespace_tokenize(text):
            if self.do_lower_case:
                token = self._run_strip_accents(token.lower())
            split_tokens.extend(self._run_split_on_punc(token))
        return whitespace_tokenize(" ".join(split_tokens))

    @staticmethod
    def _run_strip_accents(text):
        text = unicodedata.normalize("NFD", text)
        return "".join(c for c in text if unicodedata.category(c) != "Mn")

    @staticmethod
    def _run_split_on_punc(text):
        output = []
        start_new_word = True
        for char in text:
            if _is_punctuation(char):
                output.append(char)
                start_new_word = True
            else:
                if start_new_word:
                    output.append("")
                start_new_word = False
                output[-1] += char
        return output

    @staticmethod
    def _tokenize_chinese_chars(text):
        return "".join(f" {c} " if _is_chinese_char(ord(c)) else c for c in text)

    @staticmethod
    def _clean_text(text):
        output = []
        for char in text:
            cp = ord(char)
            if cp == 0 or cp == 0xFFFD or _is_control(char):
                continue
            output.append(" " if _is_whitespace(char) else char)
        return "".join(output)


class WordpieceTokenizer:
    """Greedy longest-match-first WordPiece (original WordpieceTokenizer).

    For example ``"unaffable"`` -> ``["un", "##aff", "##able"]``.
    """

    def __init__(self, vocab, unk_token="[UNK]",
                 max_input_chars_per_word=MAX_INPUT_CHARS_PER_WORD):
        self.vocab = vocab
        self.unk_token = unk_token
        self.max_input_chars_per_word = max_input_chars_per_word

    def tokenize_word(self, word):
        """WordPiece pieces of a single whitespace-free word."""
        if len(word) > self.max_input_chars_per_word:
            return [self.unk_token]
        pieces = []
        start = 0
        while start < len(word):
            end = len(word)
            piece = None
            while start < end:
                substr = word[start:end]
                if start > 0:
                    substr = "##" + substr
                if substr in self.vocab:
                    piece = substr
                    break
                end -= 1
            if piece is None:
                return [self.unk_token]
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text):
        output = []
        for word in whitespace_tokenize(convert_to_unicode(text)):
            output.extend(self.tokenize_word(word))
        return output


# In-graph fast path: a line that is empty or holds only printable ASCII, tab,
# newline, carriage return (FastWordpieceTokenizer's own split is the original's there).
_ASCII_LINE = r"[\t\n\r\x20-\x7e]*"
# ASCII characters the original's _clean_text drops (categories Cc other than \t\n\r).
_ASCII_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Once those are gone, BasicTokenizer's words are the alphanumeric runs and each other
# non-space char (all ASCII non-alphanumerics count as punctuation).
_ASCII_WORD_RE = re.compile(r"[0-9A-Za-z]+|[^0-9A-Za-z \t\n\r]")


def ascii_words(text, do_lower_case):
    """``BasicTokenizer(do_lower_case).tokenize(text)`` for an all-ASCII ``str``, by one
    regex; ``None`` when ``text`` holds a non-ASCII character (use BasicTokenizer).

    The one Python fast path (FullTokenizer and the pre-training data's LineTokenizer
    both use it). On ASCII the original reduces to: drop control characters (``Cc``
    except tab, newline, CR), lower-case (ASCII's), split on whitespace, and make every
    non-alphanumeric its own token; there is no CJK, accent or other Unicode category.
    """
    if not text.isascii():
        return None
    if _ASCII_CONTROL_RE.search(text):
        text = _ASCII_CONTROL_RE.sub("", text)
    if do_lower_case:
        text = text.lower()
    return _ASCII_WORD_RE.findall(text)


class FullTokenizer:
    """End-to-end tokenization: BasicTokenizer then WordPiece, plus id conversion.

    With ``cache_size`` > 0 (the default), WordPiece results of that many words are
    memoised and all-ASCII lines are split into words by :func:`ascii_words` (one
    regex; the original's result exactly). Same output, fewer Python loops.
    ``cache_size=0`` gives the plain original algorithm for every line,
    used as the pure-Python reference in benchmarks and tests.
    """

    def __init__(self, vocab_file, do_lower_case=True, cache_size=1 << 16):
        self.vocab = load_vocab(vocab_file)
        self.inv_vocab = {v: k for k, v in self.vocab.items()}
        self.do_lower_case = do_lower_case
        self.basic_tokenizer = BasicTokenizer(do_lower_case=do_lower_case)
        self.wordpiece_tokenizer = WordpieceTokenizer(vocab=self.vocab)
        self._pieces = self.wordpiece_tokenizer.tokenize_word
        self._fast = bool(cache_size)
        if cache_size:
            self._pieces = functools.lru_cache(maxsize=cache_size)(self._pieces)

    def tokenize(self, text):
        words = None
        if self._fast:
            text = convert_to_unicode(text)
            words = ascii_words(text, self.do_lower_case)
        if words is None:
            words = self.basic_tokenizer.tokenize(text)
        split_tokens = []
        for token in words:
            split_tokens.extend(self._pieces(token))
        return split_tokens

    def convert_tokens_to_ids(self, tokens):
        return convert_by_vocab(self.vocab, tokens)

    def convert_ids_to_tokens(self, ids):
        return convert_by_vocab(self.inv_vocab, ids)


# --------------------------------------------------------------------------------------
# In-graph tokenizer (tensorflow-text).


def _ranges(predicate):
    """Sorted [lo, hi] code-point ranges where predicate(chr(cp)) holds."""
    out = []
    for cp in range(sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF:  # surrogates never occur in valid UTF-8
            continue
        if predicate(chr(cp)):
            if out and out[-1][1] == cp - 1:
                out[-1][1] = cp
            else:
                out.append([cp, cp])
    return out


def _re2_class(ranges):
    parts = [f"\\x{{{lo:x}}}" if lo == hi else f"\\x{{{lo:x}}}-\\x{{{hi:x}}}"
             for lo, hi in ranges]
    return "[" + "".join(parts) + "]"


@functools.cache
def _char_classes():
    """RE2 classes for the original's character predicates, built from unicodedata."""
    removed = _ranges(lambda c: c in "\x00\ufffd" or _is_control(c))
    removed_set = {cp for lo, hi in removed for cp in range(lo, hi + 1)}
    # After cleaning, str.split() still splits on any isspace() char that survived.
    space = _ranges(lambda c: (c.isspace() or _is_whitespace(c)) and ord(c) not in removed_set)
    return {
        "removed": _re2_class(removed),
        "space": _re2_class(space),
        "punct": _re2_class(_ranges(_is_punctuation)),
        "mark": _re2_class(_ranges(lambda c: unicodedata.category(c) == "Mn")),
        "cjk": _re2_class([list(r) for r in _CJK_RANGES]),
    }


class InGraphTokenizer:
    """The FullTokenizer's ids computed by TensorFlow ops (tf.data / SavedModel ready).

    General path, mirroring BasicTokenizer: drop invalid UTF-8, drop control
    chars, (lower-case, NFD, drop Mn), space out punctuation and CJK chars, split
    on whitespace, map words over 200 chars to ``[UNK]``, then WordPiece with
    tensorflow-text's FastWordpieceTokenizer (same greedy longest-match-first).
    Lines of printable ASCII, tab, newline and CR (most English text) skip all of
    that: there cleaning and accent stripping change nothing, a char is a byte,
    and FastWordpieceTokenizer's own split on whitespace and punctuation (ASCII
    non-alphanumerics) is BasicTokenizer's; one op (after a bytewise lower-case)
    does it, several times faster.

    It is a ``tf.Module``, so an object holding it can be exported with
    ``tf.saved_model.save``; :meth:`tokenize` and :meth:`bert_pack_inputs` are
    traceable.
    """

    def __new__(cls, *args, **kwargs):
        # Build lazily so that importing this module never imports TensorFlow.
        impl = _in_graph_class()
        return impl(*args, **kwargs)


@functools.cache
def _in_graph_class():
    import tensorflow as tf
    import tensorflow_text as tf_text

    class _InGraphTokenizer(tf.Module):
        __doc__ = InGraphTokenizer.__doc__

        def __init__(self, vocab_file, do_lower_case=True, unk_token="[UNK]",
                     max_input_chars_per_word=MAX_INPUT_CHARS_PER_WORD, name=None):
            super().__init__(name=name)
            vocab = load_vocab(vocab_file)
            for special in (unk_token, "[CLS]", "[SEP]"):
                if special not in vocab:
                    raise ValueError(f"vocab_file {vocab_file} has no {special} token")
            # FastWordpiece takes the vocab as a list whose index is the id.
            size = max(vocab.values()) + 1
            tokens = [f"[unused-slot-{i}]" for i in range(size)]
            for tok, idx in vocab.items():
                tokens[idx] = tok
            self.do_lower_case = bool(do_lower_case)
            self.max_input_chars_per_word = int(max_input_chars_per_word)
            self.unk_token = unk_token
            self.cls_id = vocab["[CLS]"]
            self.sep_id = vocab["[SEP]"]
            self.pad_id = vocab.get("[PAD]", 0)
            self.vocab_size = size
            classes = _char_classes()
            self._removed = classes["removed"]
            self._mark = classes["mark"]
            # One pass: punctuation / CJK -> " c ", whitespace -> "  " (\1 is empty).
            self._isolate = f"({classes['punct']}|{classes['cjk']})|{classes['space']}"
            self._wordpiece = tf_text.FastWordpieceTokenizer(
                vocab=tokens, suffix_indicator="##",
                max_bytes_per_word=4 * self.max_input_chars_per_word + 4,
                token_out_type=tf.int64, unknown_token=unk_token,
                no_pretokenization=True, support_detokenization=False)
            # Fast path, lines of printable ASCII plus \t \n \r only: there the
            # original's cleaning and accent stripping are no-ops, lower-casing is
            # ASCII's, whitespace is [ \t\n\r], punctuation is every other non-
            # alphanumeric char and a character is a byte. FastWordpiece's own
            # end-to-end pre-tokenization (split on whitespace and punctuation)
            # then is exactly BasicTokenizer's, and its byte limit the 200-char one.
            self._ascii_wordpiece = tf_text.FastWordpieceTokenizer(
                vocab=tokens, suffix_indicator="##",
                max_bytes_per_word=self.max_input_chars_per_word,
                token_out_type=tf.int64, unknown_token=unk_token,
                no_pretokenization=False, support_detokenization=False)

        def words(self, text):
            """Basic tokenization: tf.string [B] -> RaggedTensor [B, (words)]."""
            text = tf.convert_to_tensor(text, tf.string)
            text = tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="ignore")
            text = tf.strings.regex_replace(text, self._removed, "")
            if self.do_lower_case:
                text = tf.strings.lower(text, encoding="utf-8")
                text = tf_text.normalize_utf8(text, "NFD")
                text = tf.strings.regex_replace(text, self._mark, "")
            # Space out punctuation / CJK chars, turn whitespace into spaces, then
            # split on " " (faster than a capturing regex_split).
            text = tf.strings.regex_replace(text, self._isolate, r" \1 ")
            words = tf.strings.split(text)
            too_long = tf.strings.length(words.flat_values, unit="UTF8_CHAR") > (
                self.max_input_chars_per_word)
            return words.with_flat_values(
                tf.where(too_long, self.unk_token, words.flat_values))

        def tokenize(self, text):
            """tf.string [B] -> int64 RaggedTensor [B, (wordpiece ids)].

            Lines of printable ASCII (most English text) take a one-op C++ path;
            the others take the general path of :meth:`words`; the results are
            merged back in input order. A batch with no such other line skips
            the split and the merge.
            """
            text = tf.convert_to_tensor(text, tf.string)
            is_ascii = tf.strings.regex_full_match(text, _ASCII_LINE)

            def ascii_only():
                ids = self._tokenize_ascii(text)
                return ids.flat_values, ids.row_splits

            def mixed():
                ascii_rows = tf.where(is_ascii)[:, 0]
                other_rows = tf.where(tf.logical_not(is_ascii))[:, 0]
                ids = tf.concat([
                    self._tokenize_ascii(tf.gather(text, ascii_rows)),
                    self._tokenize_general(tf.gather(text, other_rows)),
                ], axis=0)
                order = tf.math.invert_permutation(tf.concat([ascii_rows, other_rows], 0))
                ids = tf.gather(ids, order)
                return ids.flat_values, ids.row_splits

            values, splits = tf.cond(tf.reduce_all(is_ascii), ascii_only, mixed)
            return tf.RaggedTensor.from_row_splits(values, splits, validate=False)

        def _tokenize_ascii(self, text):
            if self.do_lower_case:
                text = tf.strings.lower(text)  # bytewise: ASCII letters only
            return self._ascii_wordpiece.tokenize(text)

        def _tokenize_general(self, text):
            words = self.words(text)
            pieces = self._wordpiece.tokenize(words.flat_values)
            return words.with_flat_values(pieces).merge_dims(1, 2)

        def bert_pack_inputs(self, segments, seq_length):
            """[CLS] a [SEP] (b [SEP]) packed like the original, padded to seq_length.

            `segments`: list of one or two tf.string [B] tensors. Truncation follows
            the original ``_truncate_seq_pair`` (pop from the longer one). Unlike the
            original, a second segment that tokenizes to nothing still gets its [SEP].
            Returns dict input_ids, input_mask, token_type_ids (int32 [B, seq_length]).
            """
            ids = [self.tokenize(s) for s in segments]
            budget = seq_length - (3 if len(ids) == 2 else 2)
            if len(ids) == 1:
                ids = [ids[0][:, :budget]]
            else:
                la, lb = ids[0].row_lengths(), ids[1].row_lengths()
                # Closed form of popping from the longer one (b on ties) until it fits.
                over = la + lb - budget
                balanced = tf.abs(la - lb) < over
                ka = tf.where(la > lb, budget - lb, la)
                kb = tf.where(la > lb, lb, budget - la)
                ka = tf.where(balanced, tf.cast((budget + 1) // 2, la.dtype), ka)
                kb = tf.where(balanced, tf.cast(budget // 2, lb.dtype), kb)
                ka = tf.where(over > 0, ka, la)
                kb = tf.where(over > 0, kb, lb)
                ids = [_ragged_prefix(ids[0], ka), _ragged_prefix(ids[1], kb)]
            packed, type_ids = tf_text.combine_segments(
                ids, start_of_sequence_id=self.cls_id, end_of_segment_id=self.sep_id)
            input_ids, input_mask = tf_text.pad_model_inputs(
                packed, max_seq_length=seq_length, pad_value=self.pad_id)
            type_ids, _ = tf_text.pad_model_inputs(type_ids, max_seq_length=seq_length)
            return {
                "input_ids": tf.cast(input_ids, tf.int32),
                "input_mask": tf.cast(input_mask, tf.int32),
                "token_type_ids": tf.cast(type_ids, tf.int32),
            }

    def _ragged_prefix(rt, keep):
        mask = tf.ragged.range(rt.row_lengths()) < tf.expand_dims(keep, 1)
        return tf.ragged.boolean_mask(rt, mask)

    return _InGraphTokenizer
