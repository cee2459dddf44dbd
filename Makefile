# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
NODE_RP := tests/rp_node

.PHONY: run test bench lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,face]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

$(NODE_RP)/node_modules/.package-lock.json: $(NODE_RP)/package-lock.json
	cd $(NODE_RP) && npm ci --silent --no-audit --no-fund

## run: the gateway on http://127.0.0.1:8000 and the demo e-service on http://127.0.0.1:8001
run: $(STAMP)
	IDGW_DEV=1 $(BIN)/idgw demo

## test: every test (SQLite and a throw-away PostgreSQL, the Node openid-client RP, face_check)
test: $(STAMP) $(NODE_RP)/node_modules/.package-lock.json
	$(BIN)/pytest -q

## bench: benchmarks (not part of `make test`)
bench: $(STAMP)
	$(BIN)/python bench/face_bench.py

lint: $(STAMP)
	$(BIN)/ruff check idgw policies providers face_check tests

clean:
	rm -rf $(VENV) var $(NODE_RP)/node_modules
