"""Masked-LM / next-sentence training instances, on token ids (BERT pre-training data).

Follows google-research/bert ``create_pretraining_data.py``
(``create_instances_from_document``, ``create_masked_lm_predictions``,
``truncate_seq_pair``) decision for decision and random call for random call, so the
same documents and ``random.Random`` state give the same instances. The only change
of representation: tokens are vocabulary ids rather than strings (the original
converts them to ids only when writing), which lets the writer skip the lookups.

``fix_whole_word_mask`` (off by default, so the default matches the original)
corrects a known quirk of the original whole-word masking: the 80% [MASK] / 10% keep /
10% random choice is drawn per WordPiece, so a word can come out half masked. With
the fix one draw decides the whole word (random replacement still draws one random
id per piece).
"""

from __future__ import annotations

import dataclasses
import random


@dataclasses.dataclass(frozen=True)
class InstanceOptions:
    """Knobs of instance creation (same names and defaults as the original flags)."""

    max_seq_length: int = 128
    max_predictions_per_seq: int = 20
    masked_lm_prob: float = 0.15
    short_seq_prob: float = 0.1
    dupe_factor: int = 10
    do_whole_word_mask: bool = False
    fix_whole_word_mask: bool = False

    def validate(self):
        if self.max_seq_length < 5:
            raise ValueError(
                f"max_seq_length={self.max_seq_length} is too small: it must hold "
                "[CLS] A [SEP] B [SEP] (at least 5)."
            )
        if self.max_predictions_per_seq < 1:
            raise ValueError(
                f"max_predictions_per_seq={self.max_predictions_per_seq} must be at least 1.")
        if self.max_predictions_per_seq > self.max_seq_length:
            raise ValueError(
                f"max_predictions_per_seq={self.max_predictions_per_seq} is larger than "
                f"max_seq_length={self.max_seq_length}."
            )
        if not 0.0 <= self.masked_lm_prob <= 1.0:
            raise ValueError(f"masked_lm_prob={self.masked_lm_prob} must be in [0, 1].")
        if not 0.0 <= self.short_seq_prob <= 1.0:
            raise ValueError(f"short_seq_prob={self.short_seq_prob} must be in [0, 1].")
        if self.dupe_factor < 1:
            raise ValueError(f"dupe_factor={self.dupe_factor} must be at least 1.")
        if self.fix_whole_word_mask and not self.do_whole_word_mask:
            raise ValueError("fix_whole_word_mask=True needs do_whole_word_mask=True.")


@dataclasses.dataclass
class Instance:
    """One sentence pair: ``[CLS] A [SEP] B [SEP]`` with masked positions.

    ``input_ids`` already has the masked replacements; ``len_a`` is len(A), so the
    segment ids are 0 for the first ``len_a + 2`` positions and 1 after.
    """

    input_ids: list
    len_a: int
    masked_lm_positions: list
    masked_lm_ids: list
    is_random_next: bool


class VocabInfo:
    """What masking needs to know about the vocabulary, precomputed per id.

    ``random_ids[k]`` is the id of the k-th vocab entry in file order: the original
    draws ``vocab_words[randint(0, len(vocab_words) - 1)]`` and converts it to an id.
    ``continuation[id]`` is True for ``##`` pieces (whole-word masking).
    """

    def __init__(self, vocab):
        self.random_ids = [vocab[w] for w in vocab.keys()]
        size = max(vocab.values()) + 1
        self.continuation = [False] * size
        for word, idx in vocab.items():
            if word.startswith("##"):
                self.continuation[idx] = True
        missing = [t for t in ("[CLS]", "[SEP]", "[MASK]") if t not in vocab]
        if missing:
            raise ValueError(f"vocab_file: lacks the special tokens {missing}.")
        self.cls_id = vocab["[CLS]"]
        self.sep_id = vocab["[SEP]"]
        self.mask_id = vocab["[MASK]"]


def truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng):
    """Drops tokens from the longer list, front or back at random, until they fit."""
    while len(tokens_a) + len(tokens_b) > max_num_tokens:
        trunc = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        if rng.random() < 0.5:
            del trunc[0]
        else:
            trunc.pop()


def shuffle(rng, x):
    """``rng.shuffle(x)`` with the same random calls, inlined for speed.

    CPython's ``Random.shuffle`` swaps ``x[i]`` with ``x[randbelow(i + 1)]`` for i from
    the end, and ``randbelow(n)`` draws ``getrandbits(n.bit_length())`` until below n.
    Other generators (or interpreters with a different ``_randbelow``) use their own
    ``shuffle``.
    """
    if getattr(type(rng), "_randbelow", None) is not random.Random._randbelow_with_getrandbits:
        rng.shuffle(x)
        return
    getrandbits = rng.getrandbits
    for i in range(len(x) - 1, 0, -1):
        n = i + 1
        k = n.bit_length()
        j = getrandbits(k)
        while j >= n:
            j = getrandbits(k)
        x[i], x[j] = x[j], x[i]


def _candidates(tokens, opts, vocab):
    """Candidate positions: every one but [CLS]/[SEP]. Under whole-word masking they
    are index sets, ``##`` pieces joining the previous set."""
    cls_id, sep_id = vocab.cls_id, vocab.sep_id
    if not opts.do_whole_word_mask:
        return [i for i, t in enumerate(tokens) if t != cls_id and t != sep_id]
    cont = vocab.continuation
    cand = []
    for i, t in enumerate(tokens):
        if t == cls_id or t == sep_id:
            continue
        if cand and cont[t]:
            cand[-1].append(i)
        else:
            cand.append([i])
    return cand


def create_masked_lm_predictions(tokens, opts, vocab, rng):
    """Picks and replaces the masked positions of `tokens` (ids, modified in place).

    Returns (positions, label_ids), sorted by position.
    """
    cand = _candidates(tokens, opts, vocab)
    shuffle(rng, cand)
    num_to_predict = min(
        opts.max_predictions_per_seq, max(1, int(round(len(tokens) * opts.masked_lm_prob)))
    )
    random_ids = vocab.random_ids
    last = len(random_ids) - 1
    mask_id = vocab.mask_id
    rand = rng.random
    originals = list(tokens)
    masked = []  # (position, label id)
    if not opts.do_whole_word_mask:
        # Single-piece candidates never overlap and never overflow num_to_predict.
        for index in cand[:num_to_predict]:
            if rand() < 0.8:
                tokens[index] = mask_id
            elif rand() >= 0.5:
                tokens[index] = random_ids[rng.randint(0, last)]
            masked.append((index, originals[index]))
        masked.sort()
        return [p for p, _ in masked], [label for _, label in masked]

    covered = set()
    per_word = opts.fix_whole_word_mask
    for index_set in cand:
        if len(masked) >= num_to_predict:
            break
        if len(masked) + len(index_set) > num_to_predict:
            continue
        if any(i in covered for i in index_set):
            continue
        if per_word:
            # One 80/10/10 draw for the whole word.
            if rand() < 0.8:
                choice = "mask"
            elif rand() < 0.5:
                choice = "keep"
            else:
                choice = "random"
        for index in index_set:
            covered.add(index)
            if not per_word:
                if rand() < 0.8:
                    choice = "mask"
                elif rand() < 0.5:
                    choice = "keep"
                else:
                    choice = "random"
            if choice == "mask":
                tokens[index] = mask_id
            elif choice == "random":
                tokens[index] = random_ids[rng.randint(0, last)]
            masked.append((index, originals[index]))
    masked.sort()
    return [p for p, _ in masked], [label for _, label in masked]


def create_instances_from_document(all_documents, document_index, opts, vocab, rng):
    """Instances of one document (a list of sentences, each a list of ids)."""
    document = all_documents[document_index]
    max_num_tokens = opts.max_seq_length - 3
    target_seq_length = max_num_tokens
    if rng.random() < opts.short_seq_prob:
        target_seq_length = rng.randint(2, max_num_tokens)

    instances = []
    current_chunk = []
    current_length = 0
    i = 0
    while i < len(document):
        segment = document[i]
        current_chunk.append(segment)
        current_length += len(segment)
        if i == len(document) - 1 or current_length >= target_seq_length:
            if current_chunk:
                a_end = 1
                if len(current_chunk) >= 2:
                    a_end = rng.randint(1, len(current_chunk) - 1)
                tokens_a = []
                for j in range(a_end):
                    tokens_a.extend(current_chunk[j])
                tokens_b = []
                if len(current_chunk) == 1 or rng.random() < 0.5:
                    is_random_next = True
                    target_b_length = target_seq_length - len(tokens_a)
                    # Up to ten tries to pick a different document (as the original).
                    for _ in range(10):
                        random_document_index = rng.randint(0, len(all_documents) - 1)
                        if random_document_index != document_index:
                            break
                    random_document = all_documents[random_document_index]
                    random_start = rng.randint(0, len(random_document) - 1)
                    for j in range(random_start, len(random_document)):
                        tokens_b.extend(random_document[j])
                        if len(tokens_b) >= target_b_length:
                            break
                    # The unused sentences go back to the document.
                    i -= len(current_chunk) - a_end
                else:
                    is_random_next = False
                    for j in range(a_end, len(current_chunk)):
                        tokens_b.extend(current_chunk[j])
                truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng)
                if not tokens_a or not tokens_b:
                    raise AssertionError("empty segment after truncation")
                tokens = [vocab.cls_id, *tokens_a, vocab.sep_id, *tokens_b, vocab.sep_id]
                positions, labels = create_masked_lm_predictions(tokens, opts, vocab, rng)
                instances.append(Instance(tokens, len(tokens_a), positions, labels, is_random_next))
            current_chunk = []
            current_length = 0
        i += 1
    return instances
