# precml -- one-command entry points. GNU make >= 4, bash.
#
#   make lab       JupyterLab on the notebook index (installs .venv first, once)
#   make gallery   serve every dashboard in precml_widgets/apps/ on http://127.0.0.1:5006/
#   make test      the whole test suite (and Debian chromium, never upgrading what is installed)
#   make test-teaching  every notebook with its untouched defaults: <= 5 min, <= 2 GB PSS each
#   make validate  toy ensembles and published-table reproductions (marker `validation`)
#   make docs      Sphinx site into docs/_build/html (warnings are errors)
#   make bench     run benchmarks/bench_*.py; JSON results land in benchmarks/results/
#   make lint      ruff check + ruff format --check + lint-imports (the layer contracts)
#   make sync-notebooks       pair each notebook with its py:percent twin (jupytext --sync)
#   make normalise-notebooks  store the notebooks in canonical form (no Lab metadata noise)
#   make clean     remove build outputs and caches (keeps .venv; `make distclean` removes it)
#
# One environment for every target: .venv with .[all,test,docs] at the exact pins of
# ci/constraints.txt, installed by the first target that needs it and redone only when
# pyproject.toml or the constraints change (stamp file .venv/.stamp-all,test,docs), so
# `make lab` after `make test` (or any other order) starts at once.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules

PYTHON      ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
CONSTRAINTS := ci/constraints.txt
# `make lab LAB_ARGS="--no-browser --ip 0.0.0.0"`
LAB_ARGS    ?=
NOTEBOOK    ?= notebooks/00_index.ipynb
# `make test PYTEST_ARGS="-m 'not slow' -x"`
PYTEST_ARGS ?=
# `make gallery ADDRESS=0.0.0.0 PORT=5007 ORIGINS="myhost:5007"`: ORIGINS are the host names
# browsers may use (the Host and Origin headers); requests naming any other host get 403.
ADDRESS     ?= 127.0.0.1
PORT        ?= 5006
ORIGINS     ?= localhost:$(PORT) 127.0.0.1:$(PORT)
GALLERY_ARGS ?=
APPS         = $(sort $(wildcard precml_widgets/apps/[!_]*.py))
BENCH_RESULTS := benchmarks/results

.PHONY: help lab gallery test test-teaching validate docs bench lint clean distclean chromium \
        sync-notebooks normalise-notebooks

help:
	@sed -n '3,12s/^# \{0,1\}//p' $(firstword $(MAKEFILE_LIST))

# --- environment ------------------------------------------------------------------------------

$(PY):
	$(PYTHON) -m venv $(VENV)

# The one environment: every target below depends on $(ENV), never on a smaller set of extras
# (two stamps for two sets made `make lab` after `make test` run pip again).
EXTRAS := all,test,docs
ENV    := $(VENV)/.stamp-$(EXTRAS)

$(ENV): pyproject.toml $(CONSTRAINTS) | $(PY)
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e ".[$(EXTRAS)]"
	@touch $@

# --- targets ----------------------------------------------------------------------------------

# The server's root is the repository (not notebooks/), so the file browser, terminals and
# panel-preview/render/precml_widgets/apps/<app>.py all see the whole project.
# ci/jupyter_server_config.py makes every save write the canonical form (no kernel or UI
# metadata), and jupytext (pyproject.toml [tool.jupytext]) saves each notebook's .py twin.
lab: $(ENV)
	@root_flag=""; \
	if [ "$$(id -u)" = 0 ]; then root_flag="--allow-root"; fi; \
	exec $(VENV)/bin/jupyter lab $(NOTEBOOK) --config="$(CURDIR)/ci/jupyter_server_config.py" \
	  --ServerApp.root_dir="$(CURDIR)" $$root_flag $(LAB_ARGS)

gallery: $(ENV)
	@if [ -z "$(strip $(APPS))" ]; then \
	  echo "make gallery: no dashboards found (precml_widgets/apps/[!_]*.py)" >&2; exit 1; \
	fi
	exec $(PY) -m precml_widgets.serving $(APPS) --address $(ADDRESS) --port $(PORT) \
	  $(foreach o,$(ORIGINS),--allow-websocket-origin $(o)) $(GALLERY_ARGS)

test: $(ENV) chromium
	$(PY) -m pytest $(PYTEST_ARGS)

# Binder's budget for the teaching defaults: wall time and peak PSS (kernel + Dask workers +
# g++) per notebook, table printed and written to $(BENCH_RESULTS)/notebooks_teaching.json.
test-teaching: $(ENV)
	@mkdir -p $(BENCH_RESULTS)
	PRECML_TEACHING_REPORT=$(BENCH_RESULTS)/notebooks_teaching.json \
	  $(PY) -m pytest -m teaching tests/test_notebooks.py $(PYTEST_ARGS)

# What is too slow for CI: large toy ensembles, published-table reproductions.
validate: $(ENV)
	$(PY) -m pytest -m validation $(PYTEST_ARGS)

# Debian's chromium for the browser tests (Playwright drives /usr/bin/chromium; we never run
# `playwright install`). .ci/install-chromium simulates the install first and refuses when it
# would upgrade or remove an installed package; it never runs `apt-get upgrade`. Without
# chromium the browser tests skip locally and fail in CI (CI=true).
chromium:
	@bash .ci/install-chromium

docs: $(ENV)
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

bench: $(ENV)
	@mkdir -p $(BENCH_RESULTS); \
	shopt -s nullglob; benches=(benchmarks/bench_*.py); \
	if [ $${#benches[@]} -eq 0 ]; then echo "make bench: no benchmarks/bench_*.py found" >&2; exit 1; fi; \
	failed=(); \
	for b in "$${benches[@]}"; do \
	  echo "== $$b"; \
	  $(PY) "$$b" || failed+=("$$b"); \
	done; \
	echo "results in $(BENCH_RESULTS)/"; \
	if [ $${#failed[@]} -gt 0 ]; then echo "make bench: FAILED: $${failed[*]}" >&2; exit 1; fi

lint: $(ENV)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

# Notebooks as reviewable text: notebooks/NAME.py (jupytext py:percent) next to each
# notebooks/NAME.ipynb; whichever of the two was edited last wins. Then the canonical form.
# tests/test_notebook_files.py fails while a pair is out of sync or a notebook not canonical.
sync-notebooks: $(ENV)
	$(VENV)/bin/jupytext --sync notebooks/*.ipynb
	$(PY) ci/normalise_notebooks.py notebooks/*.ipynb

normalise-notebooks: $(ENV)
	$(PY) ci/normalise_notebooks.py notebooks/*.ipynb

clean:
	rm -rf docs/_build docs/notebooks docs/api/generated build dist .pytest_cache .ruff_cache
	rm -rf *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
