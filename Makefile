# Boxoffice: serverless seat reservation. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The dev venv uses Python 3.13 (the Lambda runtime) where the machine has it, else python3.
BASE_PYTHON ?= $(shell for p in $$(pyenv root 2>/dev/null)/versions/3.13*/bin/python3.13 python3.13 python3; do \
	"$$p" -c 'import sys' >/dev/null 2>&1 && { command -v "$$p"; break; }; done)
# aws-sam-cli pins its own boto3 and pydantic, so it lives in a tools venv of its own.
SAM_PYTHON ?= $(shell command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .tools/sam
SAM := $(SAM_VENV)/bin/sam
# checkov pins its own boto3 and pydantic too: a third venv.
CHECKOV_VENV := .tools/checkov
# `sam build` for python3.13 looks for python3.13 on PATH.
SAM_PATH := $(dir $(BASE_PYTHON)):$(PATH)
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help venv lint unit test sam-check dev demo openapi bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(VENV)/.stamp: requirements-dev.txt layers/common/requirements.txt pyproject.toml
	@test -x $(PY) || { echo "First run: creating the dev venv in $(VENV) with $(BASE_PYTHON) and installing" \
	  "the layer's and the dev tools' packages (about 200; measured 40 s from a nearby package index," \
	  "a few minutes over a slow network). Later runs skip this."; $(BASE_PYTHON) -m venv $(VENV); }
	@start=$$(date +%s); $(PY) -m pip install -q -r requirements-dev.txt -e . \
	  && echo "Dev venv ready in $$(( $$(date +%s) - start )) s."
	@touch $@

venv: $(VENV)/.stamp ## Create the dev venv (done by every target that needs it)

$(SAM_VENV)/.stamp: requirements-sam.txt
	@test -x $(SAM_VENV)/bin/python || $(SAM_PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q -r requirements-sam.txt
	@touch $@

$(CHECKOV_VENV)/.stamp: requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(SAM_PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q -r requirements-checkov.txt
	@touch $@

lint: $(VENV)/.stamp ## ruff (lint and format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy layers/common/boxoffice functions local tests bench

# The browser tests drive Debian's Chromium (Playwright cannot download browsers here).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@echo "Installing Debian's chromium for the browser tests"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

# The template tests transform template.yaml with the tools venv's samtranslator.
# pytest-xdist: a worker per core (PYTEST_WORKERS=0 for one process), each test file on one
# worker, so that a file's module-scoped stack starts once.
PYTEST_WORKERS ?= auto
unit: $(VENV)/.stamp $(SAM_VENV)/.stamp $(CHROMIUM) ## Run pytest only (PYTEST_ARGS to pass options)
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# checkov: every check passes or is skipped in template.yaml with its reason (offline).
sam-check: $(SAM_VENV)/.stamp $(VENV)/.stamp $(CHECKOV_VENV)/.stamp ## sam validate (+ --lint), cfn-lint, checkov and sam build
	$(SAM) validate --region $(AWS_DEFAULT_REGION)
	$(SAM) validate --lint --region $(AWS_DEFAULT_REGION)
	$(SAM_VENV)/bin/cfn-lint template.yaml
	$(CHECKOV_VENV)/bin/checkov -f template.yaml --framework cloudformation --quiet --compact --skip-download
	PATH="$(SAM_PATH)" $(SAM) build --parallel --cached

test: lint unit sam-check ## Everything CI runs: lint, types, tests and the SAM checks

dev: $(VENV)/.stamp ## Run the system locally (API on http://127.0.0.1:3000)
	$(PY) -m local

demo: $(VENV)/.stamp ## Walk the quick start against a running `make dev` (API=... to point elsewhere)
	$(PY) -m local.demo --api $(or $(API),http://127.0.0.1:3000)

openapi: $(VENV)/.stamp ## Regenerate web/openapi.json from the functions' resolvers
	$(PY) -m local.openapi

bench: $(VENV)/.stamp ## Run the benchmarks and print their figures
	$(PY) -m bench

clean: ## Remove venvs, build output and the local data folder
	rm -rf $(VENV) .tools .aws-sam .local
