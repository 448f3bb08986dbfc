# The two commands of the README: `make run` and `make test`, each from a fresh clone.
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
PORT   ?= 8501
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install browser demo run test lint bench clean

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

test: install browser
	$(PY) -m pytest -q

lint: install
	$(BIN)/ruff check simsearch ui tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
