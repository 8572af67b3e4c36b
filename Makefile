# osc-player: `make demo` runs the player on its demo content, `make test` runs the tests.
# Both install what they need on a fresh Debian 12 machine (system packages via apt-get as root or sudo).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: demo test lint system-runtime system-test venv venv-test hub dev-tools bench clean

demo: system-runtime venv
	VENV=$(VENV) ./scripts/demo.sh

TOOLS_VENV ?= $(CURDIR)/.tools-venv

test: system-test venv-test hub dev-tools
	$(VENV)/bin/ruff check player tests bench scripts
	$(VENV)/bin/mypy
	QT_QPA_PLATFORM=offscreen OSC_TOOLS_VENV=$(TOOLS_VENV) $(VENV)/bin/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check player tests bench scripts
	$(VENV)/bin/mypy

system-runtime:
	./scripts/setup-system.sh runtime

system-test:
	./scripts/setup-system.sh test

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

# the tests also show real web pages: the optional extra 'web' (Qt WebEngine, PySide6-Addons, ~170 MB) is
# installed for them; `make demo` does without it
venv-test: $(VENV)/.installed-test

$(VENV)/.installed-test: $(VENV)/.installed
	$(VENV)/bin/pip install -q -e '.[test,web]'
	touch $@

hub:
	./tests/hub/setup.sh

# shellcheck, systemd-analyze, debootstrap, and ansible-core/ansible-lint in a venv of their own
dev-tools:
	./provisioning/dev-tools.sh $(TOOLS_VENV)

bench: venv
	$(PY) bench/startup.py

clean:
	rm -rf $(VENV) $(TOOLS_VENV) out .pytest_cache tests/hub/node_modules
