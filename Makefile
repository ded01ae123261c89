# Two commands do all the set-up on a fresh machine:
#   make demo   create .venv, install the package, run the hybrid-detector demo
#   make test   create .venv, install the package with test/doc extras, run tests and build the docs
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test test-all docs bench fuzz clean venv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m secml_detect.demo

test: $(STAMP)
	$(BIN)/python -m pytest
	$(BIN)/python -m sphinx -E -W --keep-going -q -b html docs docs/_build/html

# Long evaluations on the shared datasets.
test-all: $(STAMP)
	$(BIN)/python -m pytest -m "slow or not slow"

docs: $(STAMP)
	$(BIN)/python -m sphinx -E -W --keep-going -b html docs docs/_build/html

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,peers]'
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) docs/_build docs/generated docs/auto_examples .pytest_cache
