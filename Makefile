# Each target sets up what it needs in .venv, so a fresh clone runs either one directly.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: test install

test: install
	$(BIN)/python -m pytest

install: $(VENV)/.created
	$(BIN)/python -m pip install --quiet --no-build-isolation --editable '.[test]'

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel 'Cython>=3' 'numpy>=1.25'
	touch $@
