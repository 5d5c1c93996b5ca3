"""Instance creation on a worked example: every random draw scripted, outputs by hand.

The scripted generator returns the values listed in each test and logs every call,
so the expected instances (and the order of the random calls) follow from reading
the original algorithm (google-research/bert create_pretraining_data.py), not from
running our code.
"""

import collections

import pytest

from pipelines.pretraining_instances import (
    InstanceOptions,
    VocabInfo,
    create_instances_from_document,
    create_masked_lm_predictions,
    truncate_seq_pair,
)

WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", ".",
         "a", "dog", "ran", "##s"]
VOCAB = collections.OrderedDict((w, i) for i, w in enumerate(WORDS))
V = VOCAB


def ids(text):
    return [V[w] for w in text.split()]


class ScriptedRandom:
    """random()/randint() return scripted values; shuffle() reverses; calls are logged."""

    def __init__(self, randoms=(), randints=()):
        self.randoms = list(randoms)
        self.randints = list(randints)
        self.log = []

    def random(self):
        value = self.randoms.pop(0)
        self.log.append(("random", value))
        return value

    def randint(self, a, b):
        value = self.randints.pop(0)
        assert a <= value <= b, (a, b, value)
        self.log.append(("randint", a, b, value))
        return value

    def shuffle(self, x):
        self.log.append(("shuffle", len(x)))
        x.reverse()

    def exhausted(self):
        return not self.randoms and not self.randints


DOC_A = [ids("the cat sat ."), ids("on the mat .")]
DOC_B = [ids("a dog ran ."), ids("the dog ##s ran .")]


def test_actual_next_sentence_with_mask_and_keep():
    opts = InstanceOptions(max_seq_length=16, masked_lm_prob=0.2, short_seq_prob=0.1)
    rng = ScriptedRandom(randoms=[0.9, 0.7, 0.1, 0.85, 0.3], randints=[1])
    (inst,) = create_instances_from_document([DOC_A, DOC_B], 0, opts, VocabInfo(VOCAB), rng)
    # 0.9 >= short_seq_prob: target 13. Both sentences (8 tokens) form the chunk at the
    # last sentence; a_end = randint(1, 1); 0.7 >= 0.5: actual next. 11 tokens ->
    # round(2.2) = 2 predictions. Candidates 1-4, 6-9 reversed: 9 then 8.
    # Position 9 ('.'): 0.1 < 0.8 -> [MASK]. Position 8 ('mat'): 0.85, then 0.3 < 0.5 -> kept.
    assert inst.input_ids == ids("[CLS] the cat sat . [SEP] on the mat [MASK] [SEP]")
    assert inst.len_a == 4
    assert inst.masked_lm_positions == [8, 9]
    assert inst.masked_lm_ids == ids("mat .")
    assert inst.is_random_next is False
    assert rng.log == [("random", 0.9), ("randint", 1, 1, 1), ("random", 0.7),
                       ("shuffle", 8), ("random", 0.1), ("random", 0.85), ("random", 0.3)]
    assert rng.exhausted()


def test_short_target_random_next_retry_and_random_word():
    opts = InstanceOptions(max_seq_length=16, masked_lm_prob=0.2, short_seq_prob=0.1)
    rng = ScriptedRandom(
        randoms=[0.05, 0.9, 0.6, 0.2, 0.5, 0.3],
        randints=[3, 1, 0, 1, 6, 0, 0])
    insts = create_instances_from_document([DOC_A, DOC_B], 1, opts, VocabInfo(VOCAB), rng)
    # 0.05 < 0.1: target = randint(2, 13) = 3. Sentence 1 (4 tokens) >= 3: a chunk of
    # one sentence -> random next with no coin flip. Random document: randint(0, 1) = 1
    # is this document, retry: 0. Start randint(0, 1) = 1 -> "on the mat ." (target_b
    # = 3 - 4 < 0, so one sentence). Nothing put back. 11 tokens -> 2 predictions:
    # position 9: 0.9, 0.6 -> random word randint(0, 14) = 6 ('cat'); position 8: 0.2 ->
    # [MASK].
    first = insts[0]
    assert first.input_ids == ids("[CLS] a dog ran . [SEP] on the [MASK] cat [SEP]")
    assert first.masked_lm_positions == [8, 9]
    assert first.masked_lm_ids == ids("mat .")
    assert first.is_random_next is True
    # Sentence 2 ("the dog ##s ran .", 5 tokens): random next again, document
    # randint(0, 1) = 0 on the first try, start 0 -> "the cat sat ."; 12 tokens ->
    # round(2.4) = 2 predictions; candidates 1-5, 7-10 reversed: position 10 ('.')
    # then 9 ('sat'): 0.5 < 0.8 and 0.3 < 0.8 -> both [MASK].
    assert len(insts) == 2
    second = insts[1]
    assert second.input_ids == ids("[CLS] the dog ##s ran . [SEP] the cat [MASK] [MASK] [SEP]")
    assert second.len_a == 5
    assert second.masked_lm_positions == [9, 10]
    assert second.masked_lm_ids == ids("sat .")
    assert second.is_random_next is True
    assert rng.log == [("random", 0.05), ("randint", 2, 13, 3), ("randint", 0, 1, 1),
                       ("randint", 0, 1, 0), ("randint", 0, 1, 1), ("shuffle", 8),
                       ("random", 0.9), ("random", 0.6), ("randint", 0, 14, 6),
                       ("random", 0.2), ("randint", 0, 1, 0), ("randint", 0, 1, 0),
                       ("shuffle", 9), ("random", 0.5), ("random", 0.3)]
    assert rng.exhausted()


def test_truncate_seq_pair_worked_example():
    a, b = [1, 2, 3, 4, 5, 6], [7, 8]
    rng = ScriptedRandom(randoms=[0.3, 0.7, 0.1])
    truncate_seq_pair(a, b, 5, rng)
    # 8 > 5: trim A (longer) from the front (0.3), 7 > 5: from the back (0.7),
    # 6 > 5: front (0.1).
    assert a == [3, 4, 5] and b == [7, 8]
    assert rng.exhausted()


@pytest.mark.parametrize("fix", [False, True])
def test_whole_word_masking_draws(fix):
    opts = InstanceOptions(max_seq_length=16, masked_lm_prob=0.3, do_whole_word_mask=True,
                           fix_whole_word_mask=fix)
    tokens = ids("[CLS] the dog ##s ran [SEP] a cat [SEP]")
    # Candidates: [1] [2,3] [4] [6] [7]; reversed: [7] [6] [4] [2,3] [1].
    # num_to_predict = round(9 * 0.3) = 3. [7] and [6] masked (0.1, 0.1); [4] would make
    # 3 -> taken with 0.1; stop at 3.
    rng = ScriptedRandom(randoms=[0.1, 0.1, 0.1])
    positions, labels = create_masked_lm_predictions(list(tokens), opts, VocabInfo(VOCAB), rng)
    assert positions == [4, 6, 7]
    # Now a case where the two-piece word is chosen first: only [2,3] fits with 2 slots.
    opts2 = InstanceOptions(max_seq_length=16, masked_lm_prob=0.2, do_whole_word_mask=True,
                            fix_whole_word_mask=fix)
    tokens = ids("[CLS] a cat [SEP] the dog ##s [SEP]")
    # Candidates [1] [2] [4] [5,6]; reversed: [5,6] first. num_to_predict = round(1.6) = 2.
    if fix:
        # One draw for the word: 0.9 then 0.7 -> random replacement, one id per piece.
        rng = ScriptedRandom(randoms=[0.9, 0.7], randints=[6, 7])
    else:
        # Per piece: piece 5: 0.1 -> [MASK]; piece 6: 0.9, 0.2 -> kept.
        rng = ScriptedRandom(randoms=[0.1, 0.9, 0.2])
    out = list(tokens)
    positions, labels = create_masked_lm_predictions(out, opts2, VocabInfo(VOCAB), rng)
    assert positions == [5, 6]
    assert labels == ids("dog ##s")
    if fix:
        assert out[5:7] == ids("cat sat")
    else:
        assert out[5:7] == ids("[MASK] ##s")
    assert rng.exhausted()


def test_options_validation():
    with pytest.raises(ValueError, match="max_predictions_per_seq"):
        InstanceOptions(max_seq_length=8, max_predictions_per_seq=9).validate()
    with pytest.raises(ValueError, match="max_seq_length"):
        InstanceOptions(max_seq_length=4, max_predictions_per_seq=2).validate()
    with pytest.raises(ValueError, match="dupe_factor"):
        InstanceOptions(dupe_factor=0).validate()
