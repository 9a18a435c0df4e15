# Every target installs what it needs: `make test` works on a fresh clone with Python 3.11+, pip and make.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed

.PHONY: setup test test-slow lint typecheck pytest lab-venvs lab-quick lab-full clean

setup: $(STAMP)

# uv (from PyPI) installs in seconds where pip takes minutes; --compile-bytecode so that imports
# in tests do not pay the no-bytecode penalty (PYTHONDONTWRITEBYTECODE=1 is common).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade uv
	$(UV) pip install --python $(PY) --compile-bytecode --quiet -e '.[dev]'
	touch $@

test: lint typecheck lab-venvs pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check llmcache tests
	$(VENV)/bin/ruff format --check llmcache tests

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(PY) -m pytest

# The ~12 s metadata probes at google-auth's defaults (not part of `make test`).
test-slow: lab-venvs
	$(PY) -m pytest -m slow

# The SDK matrix (uv venvs under .lab/venvs, rebuilt only when their spec changes).
lab-venvs: $(STAMP)
	$(PY) -m llmcache.lab venvs

lab-quick: lab-venvs
	$(PY) -m llmcache.lab run --profile quick --out .lab/results/quick

lab-full: lab-venvs
	$(PY) -m llmcache.lab run --profile full --out .lab/results/full

clean:
	rm -rf $(VENV) .lab .mypy_cache .ruff_cache .pytest_cache
