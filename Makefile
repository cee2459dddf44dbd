# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
NODE_RP := tests/rp_node
AXE     := tests/axe
PEER    := bench/peer

.PHONY: run test bench lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,face]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

$(NODE_RP)/node_modules/.package-lock.json: $(NODE_RP)/package-lock.json
	cd $(NODE_RP) && npm ci --silent --no-audit --no-fund

# axe-core, injected into pages by the browser tests' accessibility check (tests/a11y.py)
$(AXE)/node_modules/.package-lock.json: $(AXE)/package-lock.json
	cd $(AXE) && npm ci --silent --no-audit --no-fund

## run: the gateway on http://127.0.0.1:8000 and the demo e-service on http://127.0.0.1:8001
run: $(STAMP)
	IDGW_DEV=1 $(BIN)/idgw demo

## test: every test (SQLite and a throw-away PostgreSQL, the Node openid-client RP, face_check, axe-core
## accessibility checks in Chromium, the bench's peer on PostgreSQL); first the layering contracts of .importlinter (seconds, so a
## broken layer fails before the suite starts); the suite runs in two processes (pytest-xdist) and
## names its 25 slowest tests at the end (CI must stay under 30 minutes: where to look first)
test: $(STAMP) $(NODE_RP)/node_modules/.package-lock.json $(AXE)/node_modules/.package-lock.json \
      $(PEER)/node_modules/.package-lock.json
	$(BIN)/lint-imports --no-cache --no-logo .importlinter
	$(BIN)/pytest -q -n 2 --durations=25

$(PEER)/node_modules/.package-lock.json: $(PEER)/package-lock.json
	cd $(PEER) && npm ci --silent --no-audit --no-fund

## bench: benchmarks (not part of `make test`): face_check, then idgw against panva's oidc-provider
## on 127.0.0.1 (SQLite and a throw-away PostgreSQL); results in bench/results/
bench: $(STAMP) $(PEER)/node_modules/.package-lock.json
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get install -y -qq --no-install-recommends wrk >/dev/null 2>&1 || \
	    { apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk >/dev/null; }; }; } || \
	  echo "wrk is not installed: discovery and JWKS are measured with the Python generator"
	$(BIN)/python bench/face_bench.py
	$(BIN)/python bench/call_bench.py
	$(BIN)/python bench/oidc_bench.py

lint: $(STAMP)
	$(BIN)/ruff check idgw policies providers face_check tests bench
	$(BIN)/lint-imports --no-cache --no-logo .importlinter

clean:
	rm -rf $(VENV) var $(NODE_RP)/node_modules $(AXE)/node_modules $(PEER)/node_modules
