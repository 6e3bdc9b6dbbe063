# Every day-to-day task has one entry here. VENV may point elsewhere (CI uses its own).
VENV ?= .venv
PY := $(VENV)/bin/python
CONFIG ?= config.example.toml

.PHONY: install demo test test-pure test-builds lint typecheck check bench clean

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

# The suite against the build installed in $(VENV). EXPECT_BUILD=compiled|python makes the run fail
# at once when the engine imported is another build (a failed compile falls back to Python).
EXPECT_BUILD ?=
test: install
	NEWSALERT_EXPECT_BUILD=$(EXPECT_BUILD) $(PY) -m pytest

# The same suite under the plain-Python build (NEWSALERT_PURE_PYTHON=1 pip install .). It runs in a
# copy of the tree as git sees it (tracked and new files, nothing ignored), because Python would
# prefer the compiled modules that `make install` leaves next to the sources here.
PURE_VENV ?= $(VENV)-pure
PURE_PY := $(PURE_VENV)/bin/python
PURE_TREE ?= build/pure

$(PURE_PY):
	python3 -m venv $(PURE_VENV)
	$(PURE_PY) -m pip install --quiet --upgrade pip

test-pure: $(PURE_PY)
	rm -rf $(PURE_TREE) && mkdir -p $(PURE_TREE)
	git ls-files -z --cached --others --exclude-standard \
	  | tar -c --null --ignore-failed-read -T - -f - | tar -x -C $(PURE_TREE)
	NEWSALERT_PURE_PYTHON=1 $(PURE_PY) -m pip install --quiet '$(PURE_TREE)[test]'
	cd $(PURE_TREE) && NEWSALERT_EXPECT_BUILD=python $(abspath $(PURE_PY)) -m pytest

# What CI runs: the suite under every build `pip install .` can produce.
test-builds:
	$(MAKE) test EXPECT_BUILD=compiled
	$(MAKE) test-pure

lint: install
	$(VENV)/bin/ruff check service tests benchmarks scripts setup.py vulture_whitelist.py
	$(VENV)/bin/ruff format --check service tests benchmarks scripts setup.py vulture_whitelist.py
	$(VENV)/bin/vulture  # dead code; paths, threshold and whitelist in pyproject.toml [tool.vulture]

typecheck: install
	$(VENV)/bin/mypy

check: lint typecheck test

bench: install
	$(PY) benchmarks/bench_match.py
	$(PY) benchmarks/bench_poll.py

clean:
	rm -rf $(VENV) $(PURE_VENV) newsalert-state .pytest_cache .mypy_cache .ruff_cache build
	rm -f *__mypyc*.so
	find service -name '*.so' -delete
