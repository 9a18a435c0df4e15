# Every target installs what it needs: `make test` works on a fresh clone with Python 3.11+, pip and make.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed

.PHONY: setup test docs package test-matrix test-slow canary notebooks report report-pages lab browser-test lint typecheck pytest pytest-a pytest-b lab-venvs lab-quick lab-full clean

setup: $(STAMP)

# uv (from PyPI) installs in seconds where pip takes minutes; --compile-bytecode so that imports
# in tests do not pay the no-bytecode penalty (PYTHONDONTWRITEBYTECODE=1 is common).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade uv
	$(UV) pip install --python $(PY) --compile-bytecode --quiet -e '.[dev]'
	$(UV) pip uninstall --python $(PY) --quiet llmcache  # its editable install under the old name, in a venv made before
	touch $@

# Lint, types and the SDK venvs do not depend on each other: they run side by side. The tests and
# the notebooks' timed measurements then run alone.
test:
	$(MAKE) --no-print-directory -j3 --output-sync=target lint typecheck docs package lab-venvs
	$(MAKE) --no-print-directory pytest
	$(MAKE) --no-print-directory notebooks

# The core suite (no lab, no SDKs) on CPython 3.12 and 3.13 (pyenv), free-threaded 3.13t with the
# GIL off (built from Debian's source by scripts/build-python.sh, about 4 min), 3.14 and 3.15
# (Debian sid's packages in a sid root by scripts/sid-root.sh, about 1 min); both once per
# machine, cached outside the clone: scripts/test-matrix.sh. LLMCACHE_MATRIX picks others.
test-matrix: $(STAMP)
	UV=$(UV) bash scripts/test-matrix.sh

# actionlint with the venv's shellcheck (for `run:` scripts), so results match on every machine.
lint: $(STAMP)
	$(VENV)/bin/ruff check llmcache tests examples
	$(VENV)/bin/ruff format --check llmcache tests examples
	$(VENV)/bin/actionlint -shellcheck=$(VENV)/bin/shellcheck -pyflakes= .github/workflows/ci.yml \
	  .github/workflows/release.yml .github/workflows/canary.yml
	$(VENV)/bin/shellcheck scripts/*.sh .ci/run

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# The docs site (docs/*.md, mkdocs-material) into .lab/site: --strict fails on a broken link or
# anchor. docs/figures links to reports/figures (the findings page's plots).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict  # not --quiet: it hides the warnings --strict counts

# The sdist and wheel a release publishes (.github/workflows/release.yml builds them the same
# way), built offline from the dev extra's hatchling, then checked as PyPI reads them.
package: $(STAMP)
	rm -rf .lab/dist
	$(UV) build --python $(PY) --no-build-isolation --offline --quiet --out-dir .lab/dist .
	$(VENV)/bin/twine check --strict .lab/dist/*

# The suite in two halves of about equal time, side by side: most of it is child processes (SDK
# probes, fakes) and waits, so two cores run both at once. Each half is a plain pytest run.
PYTEST_A := $(wildcard tests/test_lab_*.py) tests/test_close.py tests/test_providers_every_loop.py
PYTEST_B := $(filter-out $(PYTEST_A),$(wildcard tests/test_*.py))
pytest: $(STAMP)
	$(MAKE) --no-print-directory -j2 --output-sync=target pytest-a pytest-b
pytest-a: $(STAMP)
	$(PY) -m pytest -p no:cacheprovider $(PYTEST_A)
pytest-b: $(STAMP)
	$(PY) -m pytest -p no:cacheprovider $(PYTEST_B)

# Every notebook executed by nbval on live measurements of the quick profile (old live results
# removed), where a reader's Run All shows the committed report. They are made first, in one lab
# run for all three notebooks, so that the measurements that mostly wait overlap across
# experiments; the notebooks find them in .lab/results/live-*.
NB_PROFILE ?= quick
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg --timeout=1500
MEASURE := from llmcache.lab import experiments as e, notebook as n; \
  n.results(list(e.EXPERIMENTS), profile="$(NB_PROFILE)")
notebooks: $(STAMP) lab-venvs
	rm -rf .lab/results/live-* .lab/results/view-*
	$(PY) -c '$(MEASURE)'
	LLMCACHE_PROFILE=$(NB_PROFILE) $(PY) -m pytest $(NBVAL) notebooks/

# The canary (not part of `make test` or .ci/run: PyPI's newest releases change any day): a
# fresh venv under .lab/canary with llmcache, its test tools (stable releases), then the newest
# release of every covered integration and SDK, pre-releases included (openrouter without
# pyproject's cap); the provider tests against the loopback fakes. Prints what it installed.
CANARY := .lab/canary
CANARY_PACKAGES := langchain-core langchain-google-genai google-genai aiohttp langchain-openai \
  openai httpx langchain-anthropic anthropic langchain-deepseek langchain-xai langchain-together \
  langchain-groq groq langchain-fireworks fireworks-ai langchain-mistralai langchain-ollama \
  ollama langchain-openrouter openrouter langchain-perplexity perplexityai langchain-cohere cohere \
  langchain-nvidia-ai-endpoints langchain-baseten langchain-meta
# google_vertexai in a venv of its own (its google-cloud-aiplatform needs google-genai<3).
CANARY_VERTEX := langchain-core langchain-google-vertexai google-cloud-aiplatform grpcio google-auth
CANARY_TESTS := tests/test_providers_every_loop.py tests/test_init_chat_model.py \
  tests/test_providers_and_warm.py tests/test_close.py tests/test_dropped_models_closed.py
canary: $(STAMP)
	rm -rf $(CANARY) $(CANARY)-vertex
	$(UV) venv --quiet --python $(PY) $(CANARY)
	$(UV) pip install --python $(CANARY)/bin/python --quiet --compile-bytecode -e . \
	  'pytest>=8' 'pytest-asyncio>=1.0' 'pytest-timeout>=2.3'
	$(UV) pip install --python $(CANARY)/bin/python --quiet --compile-bytecode --prerelease allow \
	  $(foreach p,$(CANARY_PACKAGES),--upgrade-package $(p)) $(CANARY_PACKAGES)
	$(CANARY)/bin/python -c 'import importlib.metadata as m, sys; \
	  [print(f"{p:24} {m.version(p)}") for p in sys.argv[1:]]' $(CANARY_PACKAGES) | tee $(CANARY)/versions.txt
	$(CANARY)/bin/python -m pytest -p no:cacheprovider $(CANARY_TESTS)
	$(UV) venv --quiet --python $(PY) $(CANARY)-vertex
	$(UV) pip install --python $(CANARY)-vertex/bin/python --quiet --compile-bytecode --prerelease allow \
	  $(foreach p,$(CANARY_VERTEX),--upgrade-package $(p)) $(CANARY_VERTEX)
	$(CANARY)-vertex/bin/python -c 'import importlib.metadata as m, sys; \
	  [print(f"{p:24} {m.version(p)}") for p in sys.argv[1:]]' $(CANARY_VERTEX) | tee -a $(CANARY)/versions.txt
	LLMCACHE_VERTEX_PYTHON=$(CANARY)-vertex/bin/python $(CANARY)/bin/python -m pytest -p no:cacheprovider \
	  tests/test_vertexai_every_loop.py

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

# The shared report: a lab run, the notebooks executed on it, HTML without code (offline: no CDN
# script; titled by the notebook's first heading: llmcache/lab/html.py), figures, and
# (full profile only) the findings page docs/findings.md. PROFILE=full (the committed reports/) or
# PROFILE=quick: every page and figure in a few minutes, in .lab/report-quick, labelled quick.
PROFILE ?= full
ifeq ($(PROFILE),full)
REPORT ?= reports
else
REPORT ?= .lab/report-$(PROFILE)
endif
# ONLY="soak hit_cost" re-measures those experiments alone and keeps the others' data (each
# JSON names the machine and time it was measured); the notebooks and pages are all redone.
report: lab-venvs
	@echo "make report: profile $(PROFILE) -> $(REPORT)$(if $(ONLY), (re-measuring $(ONLY)))"
	rm -rf $(REPORT)/data.new
	$(PY) -m llmcache.lab run --profile $(PROFILE) --out $(REPORT)/data.new $(if $(ONLY),--only $(ONLY))
	$(if $(ONLY),mkdir -p $(REPORT)/data && cp $(REPORT)/data.new/*.json $(REPORT)/data/ && rm -rf $(REPORT)/data.new,rm -rf $(REPORT)/data && mv $(REPORT)/data.new $(REPORT)/data)
	$(MAKE) --no-print-directory report-pages

# The notebooks, pages, figures and findings page redone from the data in $(REPORT)/data, with no
# measurement (after a change to a notebook, a table or a plot).
report-pages: $(STAMP)
	rm -rf $(REPORT)/figures $(REPORT)/*.html
	for nb in notebooks/0*.ipynb; do \
	  echo "make report: executing $$nb ($(PROFILE))"; \
	  if [ "$(PROFILE)" = full ]; then out=$$nb; opts=--inplace; \
	  else out=$(REPORT)/executed/$$(basename $$nb); opts="--output-dir $(REPORT)/executed"; fi; \
	  LLMCACHE_RESULTS=$(CURDIR)/$(REPORT)/data LLMCACHE_FIGURES=$(CURDIR)/$(REPORT)/figures LLMCACHE_PROFILE=$(PROFILE) \
	  $(VENV)/bin/jupyter nbconvert --to notebook --execute $$opts --ExecutePreprocessor.timeout=1800 --ExecutePreprocessor.record_timing=False $$nb || exit 1; \
	  $(PY) -m llmcache.lab.html --output-dir $(REPORT) $$out || exit 1; \
	done
	$(PY) -m llmcache.lab.report $(REPORT) $(if $(filter full,$(PROFILE)),--readme docs/findings.md --figures figures --answer README.md)

# JupyterLab on 127.0.0.1, no browser; prints the URL with its token. The repo's Jupyter config
# (jupyter_config/) turns the news feed off: no prompt, no request outside loopback.
# LAB_ARGS adds options, e.g. LAB_ARGS=--port=8899.
lab: $(STAMP) lab-venvs
	JUPYTER_CONFIG_DIR=$(CURDIR)/jupyter_config $(VENV)/bin/jupyter lab --no-browser \
	  --ip=127.0.0.1 --notebook-dir=notebooks $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) $(LAB_ARGS)

# The notebooks as a reader runs them (not part of `make test`: its own budget):
# JupyterLab (the repo's jupyter_config/) on a free loopback port, on a copy of notebooks/ in
# .lab/browser/notebooks, driven by Debian's Chromium through Playwright (no browser download;
# apt-get installs chromium when it is missing and we are root). Each notebook: Run All from the
# Run menu, then no error output, every figure rendered, the committed text outputs reproduced;
# screenshots in .lab/browser/ (llmcache/lab/browser.py). Chromium and the kernels reach
# loopback only.
CHROMIUM ?= /usr/bin/chromium
browser-test: $(STAMP) lab-venvs
	test -x $(CHROMIUM) || [ "$$(id -u)" != 0 ] || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@test -x $(CHROMIUM) || { echo "make browser-test: no $(CHROMIUM) (apt-get install chromium, as root)"; exit 1; }
	$(PY) -m llmcache.lab.browser --chromium $(CHROMIUM) --out .lab/browser

clean:
	rm -rf $(VENV) .lab .mypy_cache .ruff_cache .pytest_cache
