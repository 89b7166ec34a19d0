# Two commands: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
TESTENV := $(VENV)/.installed-test

.PHONY: demo test lint unit bench registry clean

# The runtime alone for `make demo` (under a minute on a fresh machine); the test extras on top
# for `make test`, with the `cluster` extra (Dask) whose tests run real clusters on loopback.
# The project's own bytecode is compiled at install: `pip install -e` does not, and a process
# started under PYTHONDONTWRITEBYTECODE would compile every module again (0.12 s CPU each).
$(RUNTIME): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m compileall -q handshakes scanner >/dev/null
	touch $(RUNTIME)

$(TESTENV): $(RUNTIME)
	$(BIN)/python -m pip install --quiet -e '.[test,cluster]'
	touch $(TESTENV)

demo: $(RUNTIME)
	$(BIN)/tlscompat demo

lint: $(TESTENV)
	$(BIN)/ruff check handshakes scanner tests tools bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

unit: $(TESTENV)
	$(BIN)/pytest -q

test: lint unit

# Minutes, not seconds: the fleet benchmark starts a farm of 200 endpoints (nginx when
# installed, else openssl s_server processes); versus_nmap.py times nmap's ssl-enum-ciphers
# against tlscompat on an nginx farm and prints the ratios (it apt-get installs nmap and
# nginx-light when missing, as root). Figures are in docs/performance.md.
# compileall first: an editable install compiles nothing, and under PYTHONDONTWRITEBYTECODE
# every process would compile the project's ~180 modules again (0.12 s CPU per start).
bench: $(RUNTIME)
	$(BIN)/python -m compileall -q handshakes scanner >/dev/null
	$(BIN)/python bench/codec.py
	$(BIN)/python bench/scan.py
	$(BIN)/python bench/fleet.py
	$(BIN)/python bench/versus_nmap.py
	$(BIN)/python bench/capture.py
	$(BIN)/python bench/fleet_rtt.py --rtt 50ms --loss 0.5%

registry: $(RUNTIME)
	$(BIN)/python tools/gen_registry.py

clean:
	rm -rf $(VENV) build *.egg-info
