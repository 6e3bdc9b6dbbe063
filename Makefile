# Every day-to-day task has one entry here. VENV may point elsewhere (CI uses its own).
VENV ?= .venv
PY := $(VENV)/bin/python
CONFIG ?= config.example.toml

.PHONY: install demo test lint typecheck check bench clean

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# The matching engine is compiled with mypyc (setup.py) into extension modules next to its sources,
# which Python prefers to the .py files: an edit there reinstalls, so a stale build never shadows it.
ENGINE := $(wildcard service/match/*.py service/match/*.c service/text/*.py service/text/*.c)
STAMP := $(VENV)/.newsalert-installed

$(STAMP): $(PY) pyproject.toml setup.py $(ENGINE)
	$(PY) -m pip install --quiet -e '.[dev]'
	@$(PY) -c "import service.match as m; print('newsalert: matching engine', m.engine_build())"
	@touch $@

install: $(STAMP)

demo: install
	$(VENV)/bin/newsalert run --once --config $(CONFIG)

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check service tests benchmarks setup.py vulture_whitelist.py
	$(VENV)/bin/ruff format --check service tests benchmarks setup.py vulture_whitelist.py
	$(VENV)/bin/vulture  # dead code; paths, threshold and whitelist in pyproject.toml [tool.vulture]

typecheck: install
	$(VENV)/bin/mypy

check: lint typecheck test

bench: install
	$(PY) benchmarks/bench_match.py
	$(PY) benchmarks/bench_poll.py

clean:
	rm -rf $(VENV) newsalert-state .pytest_cache .mypy_cache .ruff_cache build
	rm -f *__mypyc*.so
	find service -name '*.so' -delete
