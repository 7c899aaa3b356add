# Python package (python/): pyo3 crate + maturin mixed layout, tested with pytest in .venv.

PY_VENV := $(CURDIR)/.venv
PY_STAMP := $(PY_VENV)/.litecommit-python-deps
PY := $(PY_VENV)/bin/python
PY_MYPY_CONFIG := python/pyproject.toml
PY_MATURIN := cd python && VIRTUAL_ENV=$(PY_VENV) PATH="$(PY_VENV)/bin:$$PATH" \
	maturin develop --release

.PHONY: python-develop python-develop-bench test-python bench-python

# The virtual environment and the tools the suite and the benchmark need (reinstalled when
# this file changes, so that a new pin reaches every existing .venv).
$(PY_STAMP): mk/python.mk
	test -x $(PY) || python3 -m venv $(PY_VENV)
	$(PY) -m pip install --quiet "maturin>=1.9.4,<2" "pytest>=8" pytest-asyncio "ruff>=0.17,<0.18" \
		"mypy>=2.3,<3" "prometheus_client>=0.17" aiosqlite
	touch $@

python-develop: $(PY_STAMP) ## build the Python extension (release) and install it into .venv
	$(PY_MATURIN)

# The same with the `bench` feature: the extension then also has `bench_core`.
python-develop-bench: $(PY_STAMP)
	$(PY_MATURIN) --features bench

test-python: python-develop ## clippy, ruff, mypy --strict, stubtest and pytest on python/
	$(CARGO) clippy -p litecommit-python --all-targets -- -D warnings
	$(CARGO) clippy -p litecommit-python --all-targets --features bench -- -D warnings
	$(PY_VENV)/bin/ruff check --no-cache python
	$(PY_VENV)/bin/ruff format --check --no-cache python
	$(PY) -m mypy --config-file $(PY_MYPY_CONFIG) python/litecommit
	$(PY) -m mypy.stubtest --mypy-config-file $(PY_MYPY_CONFIG) \
		--allowlist python/stubtest-allowlist.txt litecommit
	$(PY) -m pytest -q python/tests

bench-python: python-develop-bench ## the Python benchmark: stdlib sqlite3, aiosqlite, the core alone
	$(PY) python/bench/bench.py $(BENCH_NO_FAIL_ARG)

TEST_TARGETS += test-python
BENCH_TARGETS += bench-python
