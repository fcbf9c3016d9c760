# Hotline: two commands. `make run` sets up and starts; `make test` sets up and tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The browser client (web/): npm packages exactly as package-lock.json, and its build
# (type check + bundle). Stamps, so neither is redone while its inputs are unchanged.
WEB := web
WEB_DEPS := $(WEB)/node_modules/.installed-stamp
WEB_BUILD := $(WEB)/dist/.built-stamp
WEB_SOURCES := $(shell find $(WEB)/src $(WEB)/test $(WEB)/bench $(WEB)/scripts -type f) $(WEB)/tsconfig.json \
	src/hotline/crypto/wordlist.py src/hotline/signaling/messages.py src/hotline/roles.py scripts/gen_protocol.py

.PHONY: run test setup selfcheck lint typecheck unit web web-test web-hash protocol-check clean soak \
	bench bench-setup bench-sfu bench-crypto bench-call bench-glass bench-browser

# The server with SQLite in ./hotline-data on http://127.0.0.1:8080/ (HOTLINE_HOST,
# HOTLINE_PORT, HOTLINE_DATA change that). Ctrl-C stops it.
run: $(STAMP) $(WEB_BUILD)
	$(BIN)/hotline serve

selfcheck: $(STAMP)
	$(BIN)/hotline selfcheck

test: $(STAMP) $(WEB_BUILD) lint typecheck web-test unit

setup: $(STAMP) $(WEB_DEPS)

web: $(WEB_BUILD)

# The venv is rebuilt whenever the pinned dependencies change.
$(STAMP): pyproject.toml constraints.txt scripts/setup-system.sh
	@bash scripts/setup-system.sh "$(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-c constraints.txt -e '.[dev]'
	@touch $(STAMP)

# npm ci installs exactly package-lock.json (node and npm come from setup-system.sh).
$(WEB_DEPS): $(WEB)/package.json $(WEB)/package-lock.json | $(STAMP)
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	@touch $(WEB_DEPS)

# The word list and what scripts/gen_protocol.py generates from the signaling schema
# (JSON Schema, the page's types and validators, SIGNALING.md's tables) must be what the
# Python sources give; tsc --noEmit (strict) must pass; esbuild bundles
# the test pages (tests/browser/) and the call page web/dist/app/ that `hotline serve` and
# `hotline web` serve: reproducible and sealed (web/scripts/build-app.mjs prints its hash).
$(WEB_BUILD): $(WEB_DEPS) $(WEB_SOURCES)
	$(PYTHON) $(WEB)/scripts/gen_wordlist.py --check
	$(BIN)/python scripts/gen_protocol.py --check
	cd $(WEB) && npm run --silent build
	@touch $(WEB_BUILD)

# The installed page's bundle hash, recomputed from its files (README "Whose code runs in
# the page"): compare it with the hash the page shows and with your own build's.
web-hash: $(WEB_BUILD)
	@cd $(WEB)/dist/app && echo "web/dist/app bundle sha256:$$(sha256sum $$(LC_ALL=C ls | grep -vx manifest.txt) | sha256sum | cut -d' ' -f1)"

lint: $(STAMP) protocol-check
	$(BIN)/ruff check src tests web/scripts bench scripts

# Every run of `make test`, whatever the stamps say: the generated files match the schema.
protocol-check: $(STAMP)
	$(BIN)/python scripts/gen_protocol.py --check

# The TypeScript tests that need no browser (web/test/node/*.test.ts), in Node's test
# runner: web/scripts/node-tests.mjs bundles each with esbuild and runs `node --test`.
web-test: $(WEB_BUILD)
	cd $(WEB) && HOTLINE_ROOT=$(CURDIR) node scripts/node-tests.mjs

typecheck: $(STAMP)
	$(BIN)/mypy

# The suite runs in a network namespace with only loopback: the media tests start
# real ICE/DTLS/SRTP and must never reach another address.
# pytest exits 5 when it collected no test: that means the suite went missing,
# which must fail loudly rather than pass as "nothing failed".
unit: $(STAMP) $(WEB_BUILD)
	@set +e; scripts/in-loopback-netns.sh $(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; \
	exit $$rc

# The long and heavy reliability runs (docs/reliability.md), not part of `make test`: the
# impaired-network sweep, a 30-minute three-party call (HOTLINE_SOAK_SECONDS), 20 kill -9
# rounds, and every fuzz test with ten times the examples. About 45 minutes on 2 cores.
# SOAK_RESULTS collects the figures as JSON lines.
HOTLINE_SOAK_SECONDS ?= 1800
SOAK_RESULTS ?= soak-results.jsonl
soak: $(STAMP)
	HOTLINE_SOAK_SECONDS=$(HOTLINE_SOAK_SECONDS) HOTLINE_KILL9_ROUNDS=20 \
	HOTLINE_HYPOTHESIS_PROFILE=soak HOTLINE_RELIABILITY_RESULTS=$(abspath $(SOAK_RESULTS)) \
	scripts/in-loopback-netns.sh $(BIN)/python -m pytest -m "soak or not soak" -s \
		tests/unit/test_fuzz_untrusted.py tests/integration/test_fuzz_sdp.py \
		tests/integration/test_kill9.py tests/integration/test_impaired_network.py \
		tests/integration/test_long_call.py tests/integration/test_direct_path.py $(PYTEST_ARGS)

# Benchmarks (not tests; docs/benchmarks.md). Root is needed: the SFU benchmark runs in a
# private network namespace and starts Janus from the peer folder (JANUS_PEER) for the
# side-by-side figures. `make bench` runs everything and rewrites bench/results/ and the
# plot; BENCH_ARGS go to the SFU comparison (e.g. BENCH_ARGS="--configs 2x2,5x5 --secs 8").
JANUS_PEER ?= $(abspath ../shared/peers/janus)
BENCH_STAMP := $(VENV)/.bench-stamp
export JANUS_PEER

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-c constraints.txt -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

bench-setup: $(BENCH_STAMP) $(WEB_BUILD)
	$(JANUS_PEER)/setup.sh
	$(JANUS_PEER)/ns.sh start

bench-sfu: bench-setup
	$(BIN)/python -m bench.sfu.compare $(BENCH_ARGS)

bench-crypto: $(BENCH_STAMP)
	$(BIN)/python -m bench.crypto

bench-call: $(BENCH_STAMP) $(WEB_BUILD)
	scripts/in-loopback-netns.sh $(BIN)/python -m bench.call

# Glass-to-glass latency Python -> SFU -> Python (a time code painted into the video).
bench-glass: $(BENCH_STAMP)
	scripts/in-loopback-netns.sh $(BIN)/python -m bench.glass

# The browser client in headless Chromium (docs/benchmarks.md): SFrame per frame, join ->
# first decrypted frame (20 joins each way), glass-to-glass latency through the SFU.
# BROWSER_BENCH_ARGS go to each module, e.g. BROWSER_BENCH_ARGS="--quick".
bench-browser: $(BENCH_STAMP) $(WEB_BUILD)
	scripts/in-loopback-netns.sh $(BIN)/python -m bench.browser $(BROWSER_BENCH_ARGS)

bench: bench-crypto bench-call bench-glass bench-browser bench-sfu
	$(BIN)/python -m bench.report

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis $(WEB)/node_modules $(WEB)/dist
