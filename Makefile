# litecommit: `make demo` runs the seed's benchmark, `make test` runs every suite.
# Each component adds its own targets in mk/<component>.mk and appends its test target to
# TEST_TARGETS (and its benchmark to BENCH_TARGETS) once its suite is in place.

SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

TEST_TARGETS := test-core
BENCH_TARGETS := bench-core

.PHONY: all test demo bench lint test-core bench-core
all: test

include $(sort $(wildcard mk/*.mk))

test: lint $(TEST_TARGETS)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy -p litecommit --all-targets -- -D warnings

test-core:
	$(CARGO) test -p litecommit

bench: $(BENCH_TARGETS)
