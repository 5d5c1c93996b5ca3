"""Small fixtures shared by the fine-tuning tests: a tiny vocab and GLUE-format files."""

from __future__ import annotations

import os

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "cat", "dog", "sat", "on",
         "mat", "good", "bad", "movie", "is", "was", "it", "not", "very", ",", ".", "?", "!",
         "who", "what", "where", "when", "john", "mary", "paris", "london", "lives", "in",
         "born", "##s", "##ed", "##ing", "un", "##want", "want", "runn", "1990", "and", "of",
         "to", "city", "capital", "france", "england", "big", "small", "red", "blue", "(", ")",
         "-", "smith", "steve", "'"]


def write_vocab(directory):
    path = os.path.join(str(directory), "vocab.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in VOCAB))
    return path


def write_tsv(directory, name, rows):
    os.makedirs(str(directory), exist_ok=True)
    path = os.path.join(str(directory), name)
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write("\t".join(row) + "\n")
    return path


def load_script(name):
    """Imports scripts/<name>.py as a module (to call its main() in-process)."""
    import importlib.util

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    spec = importlib.util.spec_from_file_location(
        f"_script_{name}", os.path.join(root, "scripts", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def package_file(package, *parts):
    """A file shipped in an installed package, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None:
        import pytest

        pytest.skip(f"package {package} is not installed")
    return os.path.join(spec.submodule_search_locations[0], *parts)


def write_bert_config(directory, vocab_size=None, **overrides):
    """A tiny bert_config.json (hidden 32, 2 layers) for the vocab above."""
    import json

    config = dict(vocab_size=vocab_size or len(VOCAB), hidden_size=32, num_hidden_layers=2,
                  num_attention_heads=4, intermediate_size=37, hidden_act="gelu",
                  hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                  max_position_embeddings=64, type_vocab_size=2, initializer_range=0.02)
    config.update(overrides)
    path = os.path.join(str(directory), "bert_config.json")
    with open(path, "w") as f:
        json.dump(config, f)
    return path


FILLERS = ["the", "a", "cat", "dog", "sat", "on", "mat", "movie", "is", "was", "it", "very",
           "big", "small", "red", "blue", "city", "and", "of", "to"]


def separable_rows(n, seed):
    """SST-2 rows whose label is 1 iff the sentence holds "good" (else it holds "bad")."""
    import random

    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        label = rng.randrange(2)
        words = [rng.choice(FILLERS) for _ in range(rng.randrange(3, 8))]
        words.insert(rng.randrange(len(words) + 1), "good" if label else "bad")
        rows.append([" ".join(words), str(label)])
    return rows


def write_separable_sst2(directory, n_train=256, n_dev=64, n_test=16):
    train = separable_rows(n_train, 1)
    dev = separable_rows(n_dev, 2)
    test = separable_rows(n_test, 3)
    write_tsv(directory, "train.tsv", [["sentence", "label"], *train])
    write_tsv(directory, "dev.tsv", [["sentence", "label"], *dev])
    write_tsv(directory, "test.tsv", [["index", "sentence"],
                                      *[[str(i), r[0]] for i, r in enumerate(test)]])
    return train, dev, test


def run_script(name, *args, timeout=300, env=None):
    """Runs scripts/<name>.py in a fresh process; returns the CompletedProcess."""
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    full_env.update(env or {})
    return subprocess.run([sys.executable, os.path.join(root, "scripts", f"{name}.py"),
                           *args], capture_output=True, text=True, timeout=timeout,
                          env=full_env, cwd=root)


CITIES = ["paris", "london", "france", "england"]


def synthetic_squad(n, seed, version_2=False):
    """SQuAD JSON whose answer is the city in the context ("... in <city> ..."); with
    version_2, every fourth question has no city and is impossible."""
    import random

    rng = random.Random(seed)
    paragraphs = []
    for i in range(n):
        words = [rng.choice(FILLERS) for _ in range(rng.randrange(4, 10))]
        impossible = version_2 and i % 4 == 3
        qa = {"id": f"q{seed}-{i}", "question": "where ?"}
        if impossible:
            context = " ".join(words) + " ."
            qa.update(answers=[], is_impossible=True)
        else:
            city = rng.choice(CITIES)
            at = rng.randrange(len(words) + 1)
            before = " ".join(words[:at] + ["in"])
            context = " ".join(words[:at] + ["in", city] + words[at:]) + " ."
            qa["answers"] = [{"text": city, "answer_start": len(before) + 1}]
            if version_2:
                qa["is_impossible"] = False
        paragraphs.append({"context": context, "qas": [qa]})
    return {"version": "v2.0" if version_2 else "1.1",
            "data": [{"title": "synthetic", "paragraphs": paragraphs}]}
