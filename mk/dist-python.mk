# Python distributables (python/): abi3 wheels for manylinux2014 (glibc 2.17) on x86_64 and
# aarch64, cross-linked with zig through maturin, plus the sdist, all in dist/python/.
# `test-dist-python` installs the x86_64 wheel into a fresh venv with no Rust on PATH and runs
# the README examples against it.

DIST_PY_DIR := $(CURDIR)/dist/python
DIST_PY_WORK := $(CURDIR)/target/dist-python
DIST_PY_TOOLS := $(DIST_PY_WORK)/tools
DIST_PY_TOOLS_STAMP := $(DIST_PY_TOOLS)/.litecommit-dist-tools
DIST_PY_TEST_WHEELS := $(DIST_PY_WORK)/wheels
DIST_PY_TEST_VENV := $(DIST_PY_WORK)/venv
# Largest wheel accepted (3 MiB).
DIST_PY_MAX_WHEEL := 3145728
DIST_PY_MATURIN := cd python && env -u VIRTUAL_ENV PATH="$(DIST_PY_TOOLS)/bin:$$PATH" maturin
DIST_PY_WHEEL := $(DIST_PY_MATURIN) build --release --strip --zig --compatibility manylinux2014
# A PATH with no Rust toolchain in it: the venv, then the system directories.
DIST_PY_NO_RUST := env -u CARGO_HOME -u RUSTUP_HOME -u VIRTUAL_ENV \
	PATH="$(DIST_PY_TEST_VENV)/bin:/usr/local/bin:/usr/bin:/bin"

.PHONY: dist-python test-dist-python

# maturin, zig (PyPI `ziglang`, the C compiler and linker for both targets) and auditwheel
# (with pyelftools' readelf.py), in their own venv so that .venv stays as the suites pin it.
$(DIST_PY_TOOLS_STAMP): mk/dist-python.mk
	test -x $(DIST_PY_TOOLS)/bin/python || python3 -m venv $(DIST_PY_TOOLS)
	$(DIST_PY_TOOLS)/bin/python -m pip install --quiet "maturin>=1.9.4,<2" \
		"ziglang>=0.13,<0.14" "auditwheel>=6,<7"
	touch $@

# Prints `<bytes> <name>` for each artifact and fails when a wheel is larger than the limit.
define DIST_PY_SIZES
@cd $(1) && for f in $(2); do \
	size=$$(stat -c %s "$$f"); \
	awk -v s="$$size" -v f="$$f" 'BEGIN { printf "  %9d bytes %6.2f MiB  %s\n", s, s / 1048576, f }'; \
	case "$$f" in *.whl) test "$$size" -le $(DIST_PY_MAX_WHEEL) \
		|| { echo "$$f is larger than $(DIST_PY_MAX_WHEEL) bytes" >&2; exit 1; };; esac; \
done
endef

dist-python: $(DIST_PY_TOOLS_STAMP) ## Python abi3 wheels (manylinux2014 x86_64, aarch64) and sdist into dist/python
	rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
		|| rustup target add aarch64-unknown-linux-gnu
	mkdir -p $(DIST_PY_DIR)
	rm -f $(DIST_PY_DIR)/litecommit-*
	$(DIST_PY_WHEEL) --target x86_64-unknown-linux-gnu --out $(DIST_PY_DIR)
	$(DIST_PY_WHEEL) --target aarch64-unknown-linux-gnu --out $(DIST_PY_DIR)
	$(DIST_PY_MATURIN) sdist --out $(DIST_PY_DIR)
	@echo "x86_64 wheel, as auditwheel sees it:"
	$(DIST_PY_TOOLS)/bin/auditwheel show $(DIST_PY_DIR)/litecommit-*_x86_64.whl \
		| tee $(DIST_PY_WORK)/auditwheel.txt
	tr -s ' \n' '  ' < $(DIST_PY_WORK)/auditwheel.txt \
		| grep -q 'consistent with the following platform tag: "manylinux_2_17_x86_64"'
	@echo "aarch64 wheel, its WHEEL tags and the machine of its extension:"
	unzip -l $(DIST_PY_DIR)/litecommit-*_aarch64.whl
	unzip -p $(DIST_PY_DIR)/litecommit-*_aarch64.whl 'litecommit-*.dist-info/WHEEL' \
		| tee $(DIST_PY_WORK)/WHEEL.aarch64
	grep -qx 'Tag: cp310-abi3-manylinux_2_17_aarch64' $(DIST_PY_WORK)/WHEEL.aarch64
	rm -rf $(DIST_PY_WORK)/aarch64-so && unzip -q -d $(DIST_PY_WORK)/aarch64-so \
		$(DIST_PY_DIR)/litecommit-*_aarch64.whl 'litecommit/_litecommit.abi3.so'
	! command -v file >/dev/null || file $(DIST_PY_WORK)/aarch64-so/litecommit/_litecommit.abi3.so
	$(DIST_PY_TOOLS)/bin/readelf.py -h $(DIST_PY_WORK)/aarch64-so/litecommit/_litecommit.abi3.so \
		| tee $(DIST_PY_WORK)/readelf.aarch64
	grep -Eq 'Machine: +AArch64' $(DIST_PY_WORK)/readelf.aarch64
	@echo "dist/python:"
	$(call DIST_PY_SIZES,$(DIST_PY_DIR),litecommit-*)

# Runs each ```python block of the Markdown file given as argv[1] in a fresh directory.
define DIST_PY_RUN_EXAMPLES
import re, subprocess, sys, tempfile
from pathlib import Path
blocks = re.findall(r"```python\n(.*?)```", Path(sys.argv[1]).read_text(), re.S)
assert blocks, f"{sys.argv[1]} has no python example"
for code in blocks:
    with tempfile.TemporaryDirectory() as cwd:
        subprocess.run([sys.executable, "-c", code], cwd=cwd, check=True, timeout=120)
print(f"{sys.argv[1]}: {len(blocks)} example(s) ran")
endef
export DIST_PY_RUN_EXAMPLES

# The wheel a user without Rust installs: built once (cargo reuses target/ between runs), then
# installed into a new venv whose PATH has no cargo, rustc nor rustup.
test-dist-python: $(DIST_PY_TOOLS_STAMP) ## install the x86_64 wheel where Rust is absent; run the README examples
	rm -f $(DIST_PY_TEST_WHEELS)/litecommit-*.whl
	$(DIST_PY_WHEEL) --target x86_64-unknown-linux-gnu --out $(DIST_PY_TEST_WHEELS)
	$(call DIST_PY_SIZES,$(DIST_PY_TEST_WHEELS),litecommit-*.whl)
	rm -rf $(DIST_PY_TEST_VENV)
	python3 -m venv $(DIST_PY_TEST_VENV)
	$(DIST_PY_NO_RUST) sh -c '! command -v cargo && ! command -v rustc && ! command -v rustup' \
		|| { echo "cargo, rustc or rustup is on the no-Rust PATH" >&2; exit 1; }
	wheel=$$(echo $(DIST_PY_TEST_WHEELS)/litecommit-*.whl) && $(DIST_PY_NO_RUST) \
		python -m pip install --quiet "$$wheel[prometheus]" "pytest>=8" pytest-asyncio
	cd $(DIST_PY_WORK) && $(DIST_PY_NO_RUST) python -c 'import litecommit, sys; \
		assert litecommit.__file__.startswith(sys.prefix), litecommit.__file__; \
		print("litecommit imported from", litecommit.__file__)'
	$(DIST_PY_NO_RUST) python -c "$$DIST_PY_RUN_EXAMPLES" python/README.md
	$(DIST_PY_NO_RUST) python -m pytest -q -p no:cacheprovider \
		python/tests/test_readme.py python/tests/test_package.py

TEST_TARGETS += test-dist-python
