# The two commands of the README, `make run` and `make test`, each from a fresh clone; `make check` is the
# inner loop (lint, import contracts, the fast tests in parallel: 107 CPU seconds, 3.8 min wall on the shared 2-core
# machine at load 10-12; the aim is under 2 minutes on a quiet one).
VENV    := .venv
PY      := $(VENV)/bin/python
BIN     := $(VENV)/bin
PORT    ?= 8501
# pytest-xdist processes, one per core (2 on the machine the suite was timed on); WORKERS=0 runs serially.
# --dist loadfile keeps a file on one worker: its module fixtures (a Ray session, a served UI) start once;
# --no-loadscope-reorder hands the files out in the order tests/conftest.py gives them, the longest first
# (xdist's own order, most tests first, left the 2-minute writes benchmark to start last and run alone).
WORKERS ?= auto
DIST    := --dist loadfile --no-loadscope-reorder
SOURCES := simsearch ui tests benchmarks docs_hooks
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export NO_MKDOCS_2_WARNING := 1

.PHONY: install browser demo run test check lint format-check typecheck contracts docs screenshot clean

# torch==2.13.0 first: it is the CPU wheel on this machine kind, and installing it before the
# project keeps pip from resolving a bare `torch` to the multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[all,dev,docs]'
	touch $@

install: $(VENV)/.installed

demo: install
	@test -e indexes/demo/manifest.json || $(BIN)/simsearch build demo --input simsearch/data/demo.csv --backend onnx

run: demo
	$(BIN)/simsearch ui --port $(PORT)

# The browser test drives Debian's chromium; install it where apt-get can (root), else that test skips.
browser:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium for the browser test"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
			|| echo "warning: could not install chromium; tests/test_browser.py will be skipped"; \
	fi

# What a reviewer checks, in CI's order (.ci/run): lint, format, types, layers, docs, then every test.
test: install browser lint format-check typecheck contracts docs
	$(PY) -m pytest -q -n $(WORKERS) $(DIST) --durations=20

check: install lint contracts
	$(PY) -m pytest -q -n $(WORKERS) $(DIST) -m "not slow" --durations=10

lint: install
	$(BIN)/ruff check $(SOURCES)

# The tree is formatted by the lead at each merge; this keeps it that way.
format-check: install
	$(BIN)/ruff format --check $(SOURCES)

typecheck: install
	$(BIN)/mypy

contracts: install
	$(BIN)/lint-imports --no-cache

docs: install
	$(BIN)/mkdocs build --strict --quiet

# A fresh docs/images/ui-search.png from the running UI (needs chromium: `make browser`).
screenshot: install browser
	$(PY) -m docs_hooks.screenshot

clean:
	rm -rf $(VENV) build site *.egg-info .pytest_cache .import_linter_cache .mypy_cache
