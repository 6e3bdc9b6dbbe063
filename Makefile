# Every day-to-day task has one entry here. VENV may point elsewhere (CI uses its own).
VENV ?= .venv
PY := $(VENV)/bin/python
CONFIG ?= config.example.toml

.PHONY: install demo test lint typecheck check bench clean

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

install: $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'

demo: install
	$(VENV)/bin/newsalert run --once --config $(CONFIG)

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check service tests benchmarks
	$(VENV)/bin/ruff format --check service tests benchmarks

typecheck: install
	$(VENV)/bin/mypy

check: lint typecheck test

bench: install
	$(PY) benchmarks/bench_match.py
	$(PY) benchmarks/bench_poll.py

clean:
	rm -rf $(VENV) newsalert-state .pytest_cache .mypy_cache .ruff_cache
