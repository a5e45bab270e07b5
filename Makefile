# The two quick-start commands: `make serve` and `make test` (the main suite on an
# editable install, then the built wheel's smoke suite in a fresh venv). Each installs what it
# needs into .venv first (and, for the browser, Redis store and metrics tests, Debian's
# chromium, redis-server and prometheus when run as root).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: serve test wheel-smoke browser redis prometheus lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

serve: $(VENV)/.installed
	$(BIN)/paysandbox serve

browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "no /usr/bin/chromium: install it (apt-get install chromium) to run the browser tests"; \
	  fi; \
	fi

redis:
	@if ! command -v redis-server >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's redis-server (with redis-cli) for the Redis store and Redis Cluster tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	  else \
	    echo "no redis-server: install it (apt-get install redis-server) to run the Redis store tests"; \
	  fi; \
	fi

prometheus:
	@if ! command -v prometheus >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's prometheus for the metrics test"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; \
	  else \
	    echo "no prometheus: install it (apt-get install prometheus) to run the metrics test"; \
	  fi; \
	fi

test: $(VENV)/.installed-test browser redis prometheus
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(BIN)/python tests/wheel/run.py $(PYTEST_ARGS)

# The built wheel in a fresh venv outside the checkout (part of `make test`).
wheel-smoke: $(VENV)/.installed-test
	$(BIN)/python tests/wheel/run.py $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/ruff check paysandbox tests plugins
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(VENV)/.installed-test
	$(BIN)/pip install --quiet -e ".[bench]"
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq wrk >/dev/null; } || { echo "install wrk (apt-get install wrk)"; exit 1; }
	$(BIN)/python tests/bench/loadbench.py
	$(BIN)/python -m pytest tests/bench -p no:cacheprovider --benchmark-only

clean:
	rm -rf $(VENV) build *.egg-info
