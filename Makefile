# Two entry points for people: `make demo` and `make test`. Everything else is
# what they need. Each installs its own dependencies on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test lint tools bench screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[demo]'
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[demo,dev]'
	touch $@

## Run the exporter against the embedded fake AWS: http://localhost:9725/
demo: $(VENV)/.demo-installed
	$(BIN)/aws-reservation-exporter --demo

## System tools the end-to-end tests need (promtool, Prometheus, Alertmanager, tsc).
tools:
	./.ci/install-tools.sh

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## The whole test suite: lint, unit, integration, end-to-end, chart and rule tests.
test: $(VENV)/.dev-installed tools lint
	$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

bench: $(VENV)/.dev-installed
	$(BIN)/python -m bench.refresh
	$(BIN)/python -m bench.scrape
	$(BIN)/python -m bench.load
	$(BIN)/python -m bench.coverage
	$(BIN)/python -m bench.slowclients
	$(BIN)/python -m bench.landing
	$(BIN)/python -m bench.costexplorer

## The README's screenshots of the landing page (docs/img/), from the demo data.
screenshots: $(VENV)/.demo-installed tools
	$(BIN)/python docs/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info
