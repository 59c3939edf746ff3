# Kabinet — `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROTOS := $(shell find proto -name '*.proto' 2>/dev/null)
CHROMIUM := /usr/bin/chromium

.DEFAULT_GOAL := help
.PHONY: help install run test lint typecheck unit integration proto bench mail clean chromium

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install Kabinet with its locked dependencies

run: install ## Start PostgreSQL, NATS, the SMTP sink, every service and the gateway
	$(BIN)/python -m kabinet.devstack run

test: install lint chromium ## Run the linters, then the whole test suite (real servers and a browser included)
	$(BIN)/python -m pytest -n 2 --dist loadgroup

chromium: ## Install Debian's Chromium for the browser tests when it is missing (root or sudo)
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; \
	  elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
	  else echo "Chromium is missing; install it as root: apt-get install -y chromium" >&2; exit 1; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

lint: install ## ruff and mypy
	$(BIN)/ruff check libs services tests bench
	$(BIN)/ruff format --check libs services tests bench
	$(BIN)/mypy

unit: install ## Unit tests only
	$(BIN)/python -m pytest tests/unit

integration: install ## Integration and end-to-end tests only
	$(BIN)/python -m pytest -n 2 --dist loadgroup tests/integration tests/e2e

proto: install ## Regenerate the Python contracts in libs/kabinet from proto/
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m kabinet.protogen

bench: install ## Benchmarks on the embedded servers; prints tables
	$(BIN)/python -m bench

mail: install ## Print the latest messages the local SMTP sink received
	$(BIN)/python -m kabinet.devstack mail

clean: ## Remove .venv (keeps the data in .kabinet/)
	rm -rf $(VENV)
