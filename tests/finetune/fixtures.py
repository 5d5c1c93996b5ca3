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
