# The two commands of the README: `make demo` and `make test`. Everything else is a helper.
VENV := .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= demo

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	touch $@

## Build the demo session and run the whole automix on it; results land next to it in $(DEMO_DIR)/.
demo: setup
	$(PY) -m reaper_automix demo --out $(DEMO_DIR)
	$(PY) -m reaper_automix balance $(DEMO_DIR)/demo.RPP --recursive -o $(DEMO_DIR)/demo-balanced.RPP
	@echo "Open $(DEMO_DIR)/demo.RPP and $(DEMO_DIR)/demo-balanced.RPP in REAPER to compare."

## The whole test suite (what CI runs).
test: setup
	$(PY) -m pytest -n 2 -q

bench: setup
	$(PY) benchmarks/bench_balance.py
	$(PY) benchmarks/bench_iem.py

clean:
	rm -rf $(VENV) .cache $(DEMO_DIR) .pytest_cache
