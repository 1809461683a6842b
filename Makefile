# Efficiency Lab — two commands do everything on a fresh Debian/Ubuntu machine:
#   make app    set up, then serve the main job (Voilà dashboard, or JupyterLab until it exists)
#   make test   set up, then run the whole test suite (pytest + notebooks under nbval)
# Both are idempotent: on a set-up machine they start in seconds.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PORT ?= 8866
export LAB_QUICK ?= 1

.PHONY: app test setup data browser postgres lint jupyter clean

setup: $(STAMP) data

# torch first: the CPU-only build where no GPU is present (.ci/install-torch says which and why).
$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -m venv --help >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv python3-pip; }
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	.ci/install-torch $(PY) constraints.txt
	$(PY) -m pip install -q -e '.[dev]' -c constraints.txt
	@touch $(STAMP)

# Fashion-MNIST: LAB_DATA_DIR, else Debian's dataset-fashion-mnist (installed here when apt is
# available), else torchvision's download; `python -m lab data` verifies the files' hashes.
data: $(STAMP)
	@if [ -z "$$LAB_DATA_DIR" ] && [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] \
	   && command -v apt-get >/dev/null; then \
	   echo "installing Debian's dataset-fashion-mnist"; \
	   $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist; fi
	@$(PY) -m lab data

# Debian's PostgreSQL for the multi-worker search test (the test starts a throw-away cluster).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq postgresql; }

# Debian's Chromium for the real-browser test (never a browser download).
browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

# `make app` serves the dashboard, `make app APP=compare` the side-by-side comparison and
# `make app APP=notebooks/my_app.ipynb` your own (docs/publish.md), with Voilà's settings in
# etc/voila/voila.py: idle kernels culled after 20 min, a closed tab's kernel shut down,
# preheated kernels (one per free 4 GiB, at most one per core), a health check at /voila/health (starts no kernel), no asset from another
# host (the lab-offline template: the page works offline).
# VOILA_ARGS adds or overrides options, e.g. VOILA_ARGS="--pool_size=0" (no preheating);
# IP=0.0.0.0 serves beyond this machine (then add VOILA_ARGS="--token=SECRET").
APP ?= dashboard
IP ?= 127.0.0.1
APP_NOTEBOOK_dashboard := notebooks/app.ipynb
APP_NOTEBOOK_compare := notebooks/compare_app.ipynb
VOILA_ARGS ?=
app: setup
	@nb='$(or $(APP_NOTEBOOK_$(APP)),$(filter %.ipynb,$(APP)))'; \
	 if [ -z "$$nb" ] || [ ! -f "$$nb" ]; then \
	   echo "make app: unknown APP='$(APP)'; choose dashboard (the default), compare, or the path of a notebook (.ipynb)" >&2; exit 2; fi; \
	 echo "Efficiency Lab $(APP): http://$(IP):$(PORT)/  (health check: /voila/health)"; \
	 exec $(VENV)/bin/voila "$$nb" --port=$(PORT) --no-browser --Voila.ip=$(IP) \
	   --Voila.config_file_paths=etc/voila --show_tracebacks=False $(VOILA_ARGS)

# JupyterLab refuses to start as root without --allow-root (and root is what apt-get needs)
JUPYTER_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
jupyter: setup
	$(VENV)/bin/jupyter lab notebooks --no-browser --ip=127.0.0.1 $(JUPYTER_ROOT) $(JUPYTER_ARGS)

# Notebooks measure afresh into a throw-away store (never yesterday's cached numbers).
test: setup browser postgres lint
	@mkdir -p .lab-cache && rm -f .lab-cache/test-results.sqlite*
	LAB_STORE=.lab-cache/test-results.sqlite $(VENV)/bin/pytest tests notebooks --nbval-lax \
	  --nbval-sanitize-with notebooks/sanitize.cfg --nbval-current-env -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check lab widgets tests benchmarks
	$(VENV)/bin/ruff format --check lab widgets tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache

# Binder's environment built here the way repo2docker builds it (binder/apt.txt,
# binder/requirements.txt into a fresh cached virtualenv keyed by the hash of binder/ and what
# postBuild installs, then binder/postBuild), and every notebook executed in it (LAB_QUICK=1).
# Prints the install size and the time taken. Rebuild by hand: BINDER_REBUILD=1 make binder-check
.PHONY: binder-check
binder-check:
	PYTHON=$(PYTHON) .ci/binder-check
