"""Reference: the original pre-training data algorithm, step by step, on strings.

A plain transcription of the behaviour of google-research/bert
``create_pretraining_data.py`` (string tokens from an uncached FullTokenizer, every
instance held in memory, ids looked up at the end). It is the yardstick for
:mod:`pipelines.pretraining_data`: tests check that both give the same examples, and
the benchmark times both. It is not used to write data.
"""

from __future__ import annotations

import random


def read_documents(input_files, tokenizer):
    """Original reading loop: blank line = new document, empty documents dropped."""
    all_documents = [[]]
    for path in input_files:
        with open(path, encoding="utf-8", newline="\n") as reader:
            for line in reader:
                line = line.strip()
                if not line:
                    all_documents.append([])
                tokens = tokenizer.tokenize(line)
                if tokens:
                    all_documents[-1].append(tokens)
    return [d for d in all_documents if d]


def _truncate(tokens_a, tokens_b, max_num_tokens, rng):
    while len(tokens_a) + len(tokens_b) > max_num_tokens:
        trunc = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        if rng.random() < 0.5:
            del trunc[0]
        else:
            trunc.pop()


def _mask(tokens, masked_lm_prob, max_predictions, vocab_words, rng, whole_word):
    cand = []
    for i, token in enumerate(tokens):
        if token in ("[CLS]", "[SEP]"):
            continue
        if whole_word and cand and token.startswith("##"):
            cand[-1].append(i)
        else:
            cand.append([i])
    rng.shuffle(cand)
    output = list(tokens)
    num_to_predict = min(max_predictions, max(1, int(round(len(tokens) * masked_lm_prob))))
    masked, covered = [], set()
    for index_set in cand:
        if len(masked) >= num_to_predict:
            break
        if len(masked) + len(index_set) > num_to_predict:
            continue
        if any(i in covered for i in index_set):
            continue
        for index in index_set:
            covered.add(index)
            if rng.random() < 0.8:
                replacement = "[MASK]"
            elif rng.random() < 0.5:
                replacement = tokens[index]
            else:
                replacement = vocab_words[rng.randint(0, len(vocab_words) - 1)]
            output[index] = replacement
            masked.append((index, tokens[index]))
    masked.sort(key=lambda x: x[0])
    return output, [i for i, _ in masked], [t for _, t in masked]


def _from_document(docs, doc_index, max_seq_length, short_seq_prob, masked_lm_prob,
                   max_predictions, vocab_words, rng, whole_word):
    document = docs[doc_index]
    max_num_tokens = max_seq_length - 3
    target = max_num_tokens
    if rng.random() < short_seq_prob:
        target = rng.randint(2, max_num_tokens)
    out, chunk, length, i = [], [], 0, 0
    while i < len(document):
        chunk.append(document[i])
        length += len(document[i])
        if i == len(document) - 1 or length >= target:
            if chunk:
                a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
                tokens_a = [t for seg in chunk[:a_end] for t in seg]
                tokens_b = []
                if len(chunk) == 1 or rng.random() < 0.5:
                    is_random_next = True
                    for _ in range(10):
                        r = rng.randint(0, len(docs) - 1)
                        if r != doc_index:
                            break
                    rdoc = docs[r]
                    for j in range(rng.randint(0, len(rdoc) - 1), len(rdoc)):
                        tokens_b.extend(rdoc[j])
                        if len(tokens_b) >= target - len(tokens_a):
                            break
                    i -= len(chunk) - a_end
                else:
                    is_random_next = False
                    tokens_b = [t for seg in chunk[a_end:] for t in seg]
                _truncate(tokens_a, tokens_b, max_num_tokens, rng)
                tokens = ["[CLS]", *tokens_a, "[SEP]", *tokens_b, "[SEP]"]
                segment_ids = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
                tokens, positions, labels = _mask(tokens, masked_lm_prob, max_predictions,
                                                  vocab_words, rng, whole_word)
                out.append(dict(tokens=tokens, segment_ids=segment_ids,
                                masked_lm_positions=positions, masked_lm_labels=labels,
                                is_random_next=is_random_next))
            chunk, length = [], 0
        i += 1
    return out


def create_instances(input_files, tokenizer, max_seq_length=128, dupe_factor=10,
                     short_seq_prob=0.1, masked_lm_prob=0.15, max_predictions_per_seq=20,
                     random_seed=12345, do_whole_word_mask=False):
    """All instances, in the original's final (shuffled) order."""
    rng = random.Random(random_seed)
    docs = read_documents(input_files, tokenizer)
    rng.shuffle(docs)
    vocab_words = list(tokenizer.vocab.keys())
    instances = []
    for _ in range(dupe_factor):
        for k in range(len(docs)):
            instances.extend(_from_document(docs, k, max_seq_length, short_seq_prob,
                                            masked_lm_prob, max_predictions_per_seq,
                                            vocab_words, rng, do_whole_word_mask))
    rng.shuffle(instances)
    return instances


def to_features(instance, tokenizer, max_seq_length, max_predictions_per_seq):
    """The original's padded feature lists of one instance (a dict of lists)."""
    input_ids = tokenizer.convert_tokens_to_ids(instance["tokens"])
    n = len(input_ids)
    pad = max_seq_length - n
    positions = list(instance["masked_lm_positions"])
    ids = tokenizer.convert_tokens_to_ids(instance["masked_lm_labels"])
    mpad = max_predictions_per_seq - len(ids)
    return {
        "input_ids": input_ids + [0] * pad,
        "input_mask": [1] * n + [0] * pad,
        "segment_ids": list(instance["segment_ids"]) + [0] * pad,
        "masked_lm_positions": positions + [0] * mpad,
        "masked_lm_ids": ids + [0] * mpad,
        "masked_lm_weights": [1.0] * len(ids) + [0.0] * mpad,
        "next_sentence_labels": [1 if instance["is_random_next"] else 0],
    }
