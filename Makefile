# Hotline: two commands. `make run` sets up and starts; `make test` sets up and tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test setup selfcheck lint typecheck unit clean

# The server with SQLite in ./hotline-data on http://127.0.0.1:8080/ (HOTLINE_HOST,
# HOTLINE_PORT, HOTLINE_DATA change that). Ctrl-C stops it.
run: $(STAMP)
	$(BIN)/hotline serve

selfcheck: $(STAMP)
	$(BIN)/hotline selfcheck

test: $(STAMP) lint typecheck unit

setup: $(STAMP)

# The venv is rebuilt whenever the pinned dependencies change.
$(STAMP): pyproject.toml constraints.txt scripts/setup-system.sh
	@bash scripts/setup-system.sh "$(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-c constraints.txt -e '.[dev]'
	@touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests

typecheck: $(STAMP)
	$(BIN)/mypy

# The suite runs in a network namespace with only loopback: the media tests start
# real ICE/DTLS/SRTP and must never reach another address.
# pytest exits 5 when it collected no test: that means the suite went missing,
# which must fail loudly rather than pass as "nothing failed".
unit: $(STAMP)
	@set +e; scripts/in-loopback-netns.sh $(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; \
	exit $$rc

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
