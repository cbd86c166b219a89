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

.PHONY: help install run test lint typecheck template-check unit handlers e2e openapi clean

help:
	@echo "make run    serve the whole API locally on moto (PORT=$(PORT) PROVINCE=$(PROVINCE))"
	@echo "make test   ruff, mypy, template checks and the whole suite"
	@echo "make install | openapi | unit | handlers | e2e | bench | build | rehearse | clean"

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

run: $(STAMP)
	$(PY) -m infra.local --port $(PORT) --province $(PROVINCE)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy shared/healthcode functions

template-check: $(STAMP) $(SAM_STAMP)
	$(VENV)/bin/cfn-lint template.yaml
	$(PY) -m infra.rehearsal.translate --output .aws-sam/translated.json
	# W1020: samtranslator inlines parameter defaults into Fn::Sub; not an error in the source
	$(VENV)/bin/cfn-lint --ignore-checks W1020 -- .aws-sam/translated.json
	SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=cn-north-1 $(SAM_VENV)/bin/sam validate --lint --template template.yaml --region cn-north-1

test: lint typecheck template-check
	$(PY) -m pytest -q -p no:cacheprovider -n 2 --dist loadfile

unit handlers e2e: $(STAMP)
	$(PY) -m pytest -q tests/$@

openapi: $(STAMP)
	$(PY) -m infra.openapi

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis

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

# -- performance: figures for cost, calls, capacity, cold starts, hot partitions ------------------
.PHONY: bench
bench: $(STAMP)
	$(PY) -m infra.bench

# -- fuzzing: schemathesis on the served OpenAPI document and hostile bodies, on a local stack ----
# make test runs them small (15 examples per operation); FUZZ_EXAMPLES=2000 make fuzz for a long run
.PHONY: fuzz
FUZZ_EXAMPLES ?= 500
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -s -p no:cacheprovider tests/security/http/test_fuzz.py tests/security/http/test_hostile_input.py tests/security/http/test_fuzz_findings.py
