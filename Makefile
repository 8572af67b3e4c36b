# osc-player: `make demo` runs the player on its demo content, `make test` runs the tests.
# Both install what they need on a fresh Debian 12 machine (system packages via apt-get as root or sudo).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: demo test lint system-runtime system-test venv hub bench clean

demo: system-runtime venv
	VENV=$(VENV) ./scripts/demo.sh

test: system-test venv hub
	$(VENV)/bin/ruff check player tests bench scripts
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check player tests bench scripts

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

hub:
	./tests/hub/setup.sh

bench: venv
	$(PY) bench/startup.py

clean:
	rm -rf $(VENV) out .pytest_cache tests/hub/node_modules
