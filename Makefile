# Two commands set everything up: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test compare test-deploy lint clean build-AuthorizerFunction build-SimpleAuthorizerFunction build-CognitoAuthorizerFunction build-PublicFunction build-PrivateFunction build-AdminFunction build-NotesFunction

run: $(STAMP)
	$(BIN)/python -m webapp.launcher

# The Compare grid from the command line against the APIs `make run` serves; options after
# ARGS, e.g. `make compare ARGS="--format json --user admin"`.
compare: $(STAMP)
	$(BIN)/python -m webapp.compare $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The first install takes a minute or two: in a terminal it says what it is doing (a line per
# step, pip's own lines and progress bars); in CI (CI set) or with no terminal it stays quiet.
INSTALL_QUIET := $(if $(CI),--quiet,$(shell [ -t 2 ] || echo --quiet))

$(STAMP): pyproject.toml
	@echo "Setting up $(VENV) (first run, or pyproject.toml changed): a minute or two."
	@echo "[1/3] Creating the virtual environment"
	$(PYTHON) -m venv $(VENV)
	@echo "[2/3] Upgrading pip"
	$(BIN)/python -m pip install $(INSTALL_QUIET) --upgrade pip
	@echo "[3/3] Installing the lab and its test tools (pyproject.toml)"
	$(BIN)/python -m pip install $(INSTALL_QUIET) --editable ".[test]"
	@echo "Installed."
	touch $@

clean:
	rm -rf $(VENV)

# The deploy checks: `sam validate --lint` and `sam build` on template.yaml, offline, as pytest
# tests marked `slow` (half a minute, plus up to two to install the SAM CLI), so not part of
# `make test`. The SAM CLI pins many packages of its own: it gets its own virtualenv.
SAM_VENV  := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed
SAM_CLI   ?= aws-sam-cli>=1.150,<2

test-deploy: $(STAMP) $(SAM_STAMP)
	SAM_CLI_BIN="$(abspath $(SAM_VENV))/bin/sam" $(BIN)/python -m pytest -m slow

$(SAM_STAMP):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet "$(SAM_CLI)"
	touch $@

# `sam build` (BuildMethod: makefile) calls these with ARTIFACTS_DIR set: each function gets its
# package as a package, so `authorizer.handler.lambda_handler` imports as it does here.
build-AuthorizerFunction build-SimpleAuthorizerFunction build-CognitoAuthorizerFunction:
	mkdir -p "$(ARTIFACTS_DIR)"
	cp -r authorizer "$(ARTIFACTS_DIR)/"
	rm -rf "$(ARTIFACTS_DIR)/authorizer/__pycache__"
	python3 -m pip install --quiet --requirement authorizer/requirements.txt \
		--target "$(ARTIFACTS_DIR)" --platform manylinux2014_aarch64 \
		--implementation cp --python-version 3.12 --only-binary=:all:

build-PublicFunction build-PrivateFunction build-AdminFunction build-NotesFunction:
	mkdir -p "$(ARTIFACTS_DIR)"
	cp -r api "$(ARTIFACTS_DIR)/"
	rm -rf "$(ARTIFACTS_DIR)/api/__pycache__"
