# The two commands of the README: `make up` runs the server, `make test` runs the tests.
# Each creates the virtualenv on first use, so a fresh machine needs only Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
# The project is installed editable: code changes need no reinstall, only a change to
# pyproject.toml (dependencies, entry points) does. A stamp in the venv records each
# install; `make install` (or `make install-test`) after `rm $(VENV)/.installed*`
# forces one.
INSTALLED := $(VENV)/.installed
INSTALLED_TEST := $(VENV)/.installed-test

.PHONY: up test install install-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The test extras hold the project itself too: both stamps are up to date after it. The
# Python client (clients/python) is a package of its own; its tests run with ours.
$(INSTALLED_TEST): pyproject.toml clients/python/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,semantic]' -e clients/python
	touch $(INSTALLED) $@

install: $(INSTALLED)

# Debian's Chromium for the browser tests: looked for on every run, installed if missing.
install-test: $(INSTALLED_TEST)
	bash .ci/install-chromium

up: install
	$(BIN)/parley up --port $(PORT)

test: install-test
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache
