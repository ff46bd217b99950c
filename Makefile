# rnnx: `make demo` runs the main job, `make test` runs the tests.
# Both create .venv and install rnnx into it on first use (needs python3 >= 3.10 and npm).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.rnnx-installed

.PHONY: demo test experiment install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/rnnx demo

experiment: $(STAMP)
	$(VENV)/bin/rnnx experiment

test: $(STAMP)
	$(PY) -m pytest -q --durations=15

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
