"""Plain text -> the pre-training input format (one sentence a line, blank line between documents).

Two offline sources of real English text are handled, both read as plain files:

* a "one document per line" corpus such as gensim's ``test_data/lee_background.cor``
  (300 Australian news articles);
* a MediaWiki XML dump (optionally ``.bz2``) such as gensim's
  ``enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2``: article
  text (namespace 0, no redirects) with templates, tables, references, files,
  categories, headings and markup removed.

Sentences are split with a small rule-based splitter (end punctuation followed by
whitespace and an upper-case letter, digit or opening quote, skipping common
abbreviations). The original BERT recipe used spaCy for this; any splitter will do
for the next-sentence task as long as it is deterministic.
"""

from __future__ import annotations

import bz2
import contextlib
import re
import xml.etree.ElementTree as ET

from pipelines.fileio import io

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "inc", "ltd",
    "co", "corp", "gen", "col", "lt", "sgt", "gov", "sen", "rep", "no", "jan", "feb",
    "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "e.g", "i.e",
    "u.s", "u.k", "approx", "fig", "al",
}
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


def split_sentences(text):
    """Splits a paragraph into sentences (deterministic, rule based)."""
    text = " ".join(text.split())
    if not text:
        return []
    sentences, start = [], 0
    for m in _BOUNDARY.finditer(text):
        candidate = text[start : m.start()]
        last_word = candidate.rstrip(".!?\"')]").split(" ")[-1].lower()
        if candidate.endswith(".") and (last_word in _ABBREVIATIONS or len(last_word) == 1):
            continue  # "Mr. Smith", "J. Smith": not a boundary
        sentences.append(text[start : m.start()].strip() + text[m.start() : m.end()].strip())
        start = m.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return [s for s in sentences if s]


def documents_from_lines(path):
    """Yields documents (lists of sentences) from a one-document-per-line file."""
    with io.open_file(path, "rb") as f:
        for raw in f:  # lines as Python's text mode splits them: \n, \r\n or \r
            text = raw.decode("utf-8", errors="replace")
            for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
                sentences = split_sentences(line)
                if sentences:
                    yield sentences


# ----------------------------------------------------------------------------------
# MediaWiki markup.

_COMMENT = re.compile(r"<!--.*?-->", re.S)
_REF = re.compile(r"<ref[^>/]*?/>|<ref[^>]*?>.*?</ref>", re.S | re.I)
_TAG_BLOCK = re.compile(r"<(math|gallery|table|timeline|syntaxhighlight|source|pre|score)"
                        r"\b[^>]*>.*?</\1>", re.S | re.I)
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_FILE_LINK_START = re.compile(r"\[\[(?:File|Image|Category|[a-z]{2,3}(?:-[a-z]+)?):", re.I)
_LINK = re.compile(r"\[\[(?:[^\]|]*\|)?([^\]]*)\]\]")
_EXT_LINK = re.compile(r"\[(?:https?|ftp)://[^\s\]]+\s*([^\]]*)\]")
_URL = re.compile(r"https?://\S+")
_HEADING = re.compile(r"^=+.*?=+\s*$")
_EMPHASIS = re.compile(r"'{2,}")
_ENTITIES = {"&nbsp;": " ", "&ndash;": "-", "&mdash;": "-", "&amp;": "&", "&quot;": '"',
             "&lt;": "<", "&gt;": ">"}


def _remove_nested(text, open_, close):
    """Removes balanced ``open_ ... close`` spans (templates, tables, file links)."""
    out, depth, i, n = [], 0, 0, len(text)
    while i < n:
        if text.startswith(open_, i):
            depth += 1
            i += len(open_)
        elif depth and text.startswith(close, i):
            depth -= 1
            i += len(close)
        else:
            if not depth:
                out.append(text[i])
            i += 1
    return "".join(out)


def _remove_file_links(text):
    out, pos = [], 0
    for m in _FILE_LINK_START.finditer(text):
        if m.start() < pos:
            continue
        out.append(text[pos : m.start()])
        depth, i = 0, m.start()
        while i < len(text):
            if text.startswith("[[", i):
                depth += 1
                i += 2
            elif text.startswith("]]", i):
                depth -= 1
                i += 2
                if depth == 0:
                    break
            else:
                i += 1
        pos = i
    out.append(text[pos:])
    return "".join(out)


def wiki_to_paragraphs(markup):
    """Plain-text paragraphs of a MediaWiki article."""
    text = _COMMENT.sub("", markup)
    text = _REF.sub("", text)
    text = _TAG_BLOCK.sub("", text)
    text = _remove_nested(text, "{{", "}}")
    text = _remove_nested(text, "{|", "|}")
    text = _remove_file_links(text)
    text = _LINK.sub(r"\1", text)
    text = _EXT_LINK.sub(r"\1", text)
    text = _URL.sub("", text)
    text = _TAG.sub("", text)
    text = _EMPHASIS.sub("", text)
    for entity, char in _ENTITIES.items():
        text = text.replace(entity, char)
    paragraphs = []
    for line in text.split("\n"):
        line = line.strip()
        if not line or _HEADING.match(line) or line.startswith(("|", "!", "{", "}", "__")):
            continue
        line = line.lstrip("*#:; ").strip()
        # Keep prose: list items and captions without a verb-like length are noise.
        if len(line.split()) >= 6:
            paragraphs.append(line)
    return paragraphs


def documents_from_wiki_dump(path, min_sentences=2):
    """Yields documents (lists of sentences) of the articles in a MediaWiki XML dump."""
    with io.open_file(path, "rb") as raw, (
            bz2.open(raw) if path.endswith(".bz2") else contextlib.nullcontext(raw)) as f:
        title, ns, redirect = None, None, False
        for _, elem in ET.iterparse(f, events=("end",)):
            tag = elem.tag.rsplit("}", 1)[-1]
            if tag == "title":
                title = elem.text
            elif tag == "ns":
                ns = elem.text
            elif tag == "redirect":
                redirect = True
            elif tag == "text":
                if ns == "0" and not redirect and elem.text and title:
                    sentences = []
                    for paragraph in wiki_to_paragraphs(elem.text):
                        sentences.extend(split_sentences(paragraph))
                    if len(sentences) >= min_sentences:
                        yield sentences
            elif tag == "page":
                title, ns, redirect = None, None, False
                elem.clear()


def write_pretraining_text(documents, output_file, max_documents=None):
    """Writes documents in the pre-training format, atomically (to a temporary name, then
    renamed; any TensorFlow filesystem); returns the count."""
    count = 0
    with io.atomic_write(output_file, "w") as f:
        for doc in documents:
            if max_documents is not None and count >= max_documents:
                break
            if count:
                f.write("\n")
            f.write("\n".join(doc) + "\n")
            count += 1
    return count


def convert(input_file, output_file, max_documents=None):
    """Converts a lee-style ``.cor`` file or a wiki dump (``.xml``/``.bz2``)."""
    if not io.isfile(input_file):
        raise FileNotFoundError(f"input file not found: {input_file}")
    if input_file.endswith((".xml", ".bz2")):
        docs = documents_from_wiki_dump(input_file)
    else:
        docs = documents_from_lines(input_file)
    count = write_pretraining_text(docs, output_file, max_documents)
    if count == 0:
        raise ValueError(f"no documents found in {input_file}")
    return count


if __name__ == "__main__":
    import sys

    if len(sys.argv) not in (3, 4):
        sys.exit("usage: python -m pipelines.pretraining_corpus INPUT OUTPUT [MAX_DOCUMENTS]")
    n = convert(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else None)
    print(f"wrote {n} documents to {sys.argv[2]}")
