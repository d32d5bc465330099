# Taizhang: `make run` starts the whole system, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
BENCH_INSTALLED := $(VENV)/.bench-installed
JARS := var/kafka/libs/.complete
PYTEST_ARGS ?=
# Test modules run side by side in JOBS worker processes, each with its own broker, servers,
# ports and temporary folders; a module's tests stay in one worker, the slowest modules start
# first. JOBS=1 runs them one after another in one process.
JOBS ?= 2
PARALLEL := $(if $(filter 1,$(JOBS)),,-n $(JOBS) --dist loadfile --no-loadscope-reorder)
# This machine's system is a development one: elsewhere the committed default secrets and
# demo sign-in are refused, and a deployment that names no environment is production.
export TAIZHANG_ENVIRONMENT ?= development

.PHONY: install jars chromium postgres run up cluster down logs test test-sqlite test-postgres unit fuzz lint fmt contracts bench clean

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

jars: $(JARS)

$(JARS): deploy/kafka/pom.xml
	mkdir -p var/kafka/libs
	mvn -q -B -f deploy/kafka/pom.xml package -Dbroker.libs=$(CURDIR)/var/kafka/libs
	touch $@

## run: broker, topics, every service and the demo data, in the foreground; a part that
## exits is restarted, Ctrl-C stops it all
run: install jars
	TAIZHANG_DEMO_SIGN_IN=1 $(BIN)/taizhang up --foreground

## up / down: the same, with the supervisor in the background (down stops it and every part)
up: install jars
	TAIZHANG_DEMO_SIGN_IN=1 $(BIN)/taizhang up

## cluster: the same on three local brokers in one cluster (replication factor 3, min ISR 2),
## in the foreground; Ctrl-C (or make down from another shell) stops it all
cluster: install jars
	TAIZHANG_DEMO_SIGN_IN=1 $(BIN)/taizhang cluster --foreground

down: install
	$(BIN)/taizhang down

logs:
	tail -n 50 -F var/log/*.log

## test: unit, contract and integration tests, the integration tests (against a real broker
## the tests start) once on SQLite and once on PostgreSQL; fails if any run fails or runs no test
test: install jars chromium postgres
	@status=0; \
	$(MAKE) --no-print-directory unit || status=1; \
	$(MAKE) --no-print-directory test-sqlite || status=1; \
	$(MAKE) --no-print-directory test-postgres || status=1; \
	exit $$status

## test-sqlite: the integration tests, every deployment keeping its read models and vault in
## SQLite files
test-sqlite: install jars chromium postgres
	$(BIN)/pytest $(PARALLEL) $(PYTEST_ARGS) tests/integration

## test-postgres: the integration tests again, every deployment keeping its read models and
## vault on the tests' own PostgreSQL server; those marked one_store ran in test-sqlite alone
test-postgres: install jars chromium postgres
	TAIZHANG_TEST_DATABASE=postgresql $(BIN)/pytest $(PARALLEL) $(PYTEST_ARGS) tests/integration

## chromium: Debian's browser (and CJK fonts for readable screenshots) for the portal's end-to-end tests
chromium:
	@if [ ! -x /usr/bin/chromium ] || ! ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1; then \
		export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q chromium fonts-noto-cjk; \
	fi

## postgres: Debian's PostgreSQL server, which the tests start on a free port in a folder of their own
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q postgresql; \
	fi

## unit: unit and contract tests, one after another: some hold pure code to a time, which
## they measure on a machine that runs nothing else of the suite
unit: install
	$(BIN)/pytest tests/unit tests/contract $(PYTEST_ARGS)

## fuzz: every service's API fuzzed on seeded cases, on a broker and services of its own;
## at least REQUESTS (10000) requests a service, fails on any 5xx or error not problem+json
REQUESTS ?= 10000
fuzz: install jars
	$(BIN)/python -m tests.fuzz --requests $(REQUESTS)

lint: $(BENCH_INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy services contracts bench tests

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: broker, services and peers side by side; writes BENCHMARKS.md and bench/results.json
## (about 25 minutes on a 2-core machine, most of it writing the 100,000-case ledger; FULL=1 for the 1M-event history)

$(BENCH_INSTALLED): pyproject.toml $(INSTALLED)
	$(BIN)/pip install -q -e '.[dev,bench]'
	touch $@

bench: $(BENCH_INSTALLED) jars
	$(BIN)/python -m bench.run $(if $(FULL),--full,)

## contracts: JSON Schema per event and the AsyncAPI document
contracts: install
	$(BIN)/taizhang contracts --dest contracts/schemas

clean:
	rm -rf var/data var/run var/log
