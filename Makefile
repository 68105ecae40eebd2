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
	$(PY) -m reaper_automix demo --out $(DEMO_DIR) --force
	$(PY) -m reaper_automix balance $(DEMO_DIR)/automix-demo.RPP --recursive \
		-o $(DEMO_DIR)/automix-demo-balanced.RPP \
		--report $(DEMO_DIR)/automix-demo-balance.html --preview $(DEMO_DIR)/preview
	$(PY) -m reaper_automix render $(DEMO_DIR)/automix-demo.RPP -o $(DEMO_DIR)/mix-before.wav
	$(PY) -m reaper_automix render $(DEMO_DIR)/automix-demo-balanced.RPP -o $(DEMO_DIR)/mix-balanced.wav
	$(PY) -m reaper_automix mix $(DEMO_DIR)/automix-demo.RPP --reference $(DEMO_DIR)/reference.wav \
		-o $(DEMO_DIR)/automix-demo-mixed.RPP \
		--report $(DEMO_DIR)/automix-demo-mix.html --preview $(DEMO_DIR)/preview-mix
	$(PY) -m reaper_automix render $(DEMO_DIR)/automix-demo-mixed.RPP -o $(DEMO_DIR)/mix-after.wav
	$(PY) -m reaper_automix vocal $(DEMO_DIR)/automix-demo-mixed.RPP -o $(DEMO_DIR)/automix-demo-vocal.RPP \
		--report $(DEMO_DIR)/automix-demo-vocal.html --preview $(DEMO_DIR)/preview-vocal
	@echo "Open $(DEMO_DIR)/automix-demo.RPP, -balanced.RPP and -mixed.RPP in REAPER, or listen to"
	@echo "$(DEMO_DIR)/mix-before.wav, mix-balanced.wav, mix-after.wav and reference.wav;"
	@echo "open $(DEMO_DIR)/automix-demo-balance.html, automix-demo-mix.html and automix-demo-vocal.html for what changed and why"
	@echo "(A/B at equal loudness)."

## The whole test suite (what CI runs).
test: setup
	$(PY) -m pytest -n 2 -q

## Speed and memory figures (docs/performance.md); the first run synthesises 6 GB under .cache/bench/.
bench: setup
	$(PY) benchmarks/bench_balance.py
	$(PY) benchmarks/bench_analysis.py
	$(PY) benchmarks/bench_iem.py
	$(PY) benchmarks/bench_match.py

clean:
	rm -rf $(VENV) .cache $(DEMO_DIR) .pytest_cache
