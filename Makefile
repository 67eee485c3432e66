# Two commands on a fresh machine with only Python: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test unit lint token bench profile clean install

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*; touch $(STAMP)

# Node tools for the checks (Spectral lints the OpenAPI documents); npm is on the image.
SPECTRAL := tools/node_modules/.bin/spectral
$(SPECTRAL): tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund --loglevel=error
	touch $(SPECTRAL)

install: $(STAMP) $(SPECTRAL)

## make run: embedded PostgreSQL + Kafka-protocol broker, then every service (Ctrl-C stops all)
run: $(STAMP)
	$(PY) -m deploy.stack

## make test: the whole suite on the real infrastructure
test: $(STAMP) $(SPECTRAL)
	$(PY) -m pytest -p no:cacheprovider

unit: $(STAMP)
	$(PY) -m pytest -p no:cacheprovider tests/unit

## make lint: ruff and mypy, as configured in pyproject.toml
lint: $(STAMP)
	$(VENV)/bin/ruff check shared services tests deploy
	$(VENV)/bin/mypy

## make token ORG=acme ROLES=agent,manager : a development bearer token
ORG ?= acme
ROLES ?= agent,manager
token: $(STAMP)
	@$(PY) -m shared.auth --org $(ORG) --roles $(ROLES)

## make bench: the issue-13 scenarios with wrk, beside a bare endpoint (BENCH_QUICK=1: seconds each)
bench: $(STAMP)
	$(PY) -m tests.bench.run

## make profile: py-spy on booking's workers under wrk load, the command path alone
profile: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) -m tests.bench.profile

clean:
	rm -rf .data
