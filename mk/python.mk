# Python package (python/): pyo3 crate + maturin mixed layout, tested with pytest in .venv.

PY_VENV := $(CURDIR)/.venv
PY_STAMP := $(PY_VENV)/.litecommit-python-deps
PY := $(PY_VENV)/bin/python

.PHONY: python-develop test-python bench-python

# The virtual environment and the tools the suite and the benchmark need.
$(PY_STAMP):
	test -x $(PY) || python3 -m venv $(PY_VENV)
	$(PY) -m pip install --quiet "maturin>=1.9.4,<2" "pytest>=8" pytest-asyncio "ruff>=0.17,<0.18" \
		"prometheus_client>=0.17" aiosqlite
	touch $@

# Builds the extension (release, in the shared target/) and installs the package editable.
python-develop: $(PY_STAMP)
	cd python && VIRTUAL_ENV=$(PY_VENV) PATH="$(PY_VENV)/bin:$$PATH" maturin develop --release --quiet

test-python: python-develop
	$(CARGO) clippy -p litecommit-python -- -D warnings
	$(PY_VENV)/bin/ruff check --no-cache python
	$(PY) -m pytest -q python/tests

bench-python: python-develop
	$(PY) python/bench/bench.py

TEST_TARGETS += test-python
BENCH_TARGETS += bench-python
