"""The assertions of the original google-research/bert ``tokenization_test.py``, ported."""

from __future__ import annotations

from pipelines import tokenization

VOCAB_TOKENS = ["[UNK]", "[CLS]", "[SEP]", "want", "##want", "##ed", "wa", "un", "runn",
                "##ing", ","]


def test_full_tokenizer(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_bytes("".join(x + "\n" for x in VOCAB_TOKENS).encode("utf-8"))
    tokenizer = tokenization.FullTokenizer(str(path))
    tokens = tokenizer.tokenize("UNwant\u00E9d,running")
    assert tokens == ["un", "##want", "##ed", ",", "runn", "##ing"]
    assert tokenizer.convert_tokens_to_ids(tokens) == [7, 4, 5, 10, 8, 9]


def test_chinese():
    tokenizer = tokenization.BasicTokenizer()
    assert tokenizer.tokenize("ah\u535A\u63A8zz") == ["ah", "\u535A", "\u63A8", "zz"]


def test_basic_tokenizer_lower():
    tokenizer = tokenization.BasicTokenizer(do_lower_case=True)
    assert tokenizer.tokenize(" \tHeLLo!how  \n Are yoU?  ") == [
        "hello", "!", "how", "are", "you", "?"]
    assert tokenizer.tokenize("H\u00E9llo") == ["hello"]


def test_basic_tokenizer_no_lower():
    tokenizer = tokenization.BasicTokenizer(do_lower_case=False)
    assert tokenizer.tokenize(" \tHeLLo!how  \n Are yoU?  ") == [
        "HeLLo", "!", "how", "Are", "yoU", "?"]


def test_wordpiece_tokenizer():
    vocab = {token: i for i, token in enumerate(VOCAB_TOKENS[:-1])}
    tokenizer = tokenization.WordpieceTokenizer(vocab=vocab)
    assert tokenizer.tokenize("") == []
    assert tokenizer.tokenize("unwanted running") == ["un", "##want", "##ed", "runn", "##ing"]
    assert tokenizer.tokenize("unwantedX running") == ["[UNK]", "runn", "##ing"]


def test_convert_tokens_to_ids():
    vocab = {token: i for i, token in enumerate(VOCAB_TOKENS[:-1])}
    assert tokenization.convert_tokens_to_ids(
        vocab, ["un", "##want", "##ed", "runn", "##ing"]) == [7, 4, 5, 8, 9]
    inv_vocab = {i: token for token, i in vocab.items()}
    assert tokenization.convert_ids_to_tokens(inv_vocab, [7, 4, 5, 8, 9]) == [
        "un", "##want", "##ed", "runn", "##ing"]


def test_is_whitespace():
    for c in (" ", "\t", "\r", "\n", "\u00A0"):
        assert tokenization._is_whitespace(c)
    assert not tokenization._is_whitespace("A")
    assert not tokenization._is_whitespace("-")


def test_is_control():
    assert tokenization._is_control("\u0005")
    for c in ("A", " ", "\t", "\r", "\U0001F4A9"):
        assert not tokenization._is_control(c)


def test_is_punctuation():
    for c in ("-", "$", "`", "."):
        assert tokenization._is_punctuation(c)
    assert not tokenization._is_punctuation("A")
    assert not tokenization._is_punctuation(" ")
