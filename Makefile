# litecommit: `make demo` runs the checkpoint benchmark, `make test` runs every suite,
# `make help` lists every target. Each component adds its own targets in mk/<component>.mk
# and appends its test target to TEST_TARGETS (and its benchmark to BENCH_TARGETS).
# A target documents itself with a `## ` comment on its rule line.

SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

TEST_TARGETS := test-core
BENCH_TARGETS := bench-core

.PHONY: all help test demo bench lint test-core bench-core dist
all: test

include $(sort $(wildcard mk/*.mk))

help: ## list the targets and what they do
	@grep -hE '^[a-zA-Z0-9_.-]+:.*## ' $(MAKEFILE_LIST) \
		| sed -E 's/^([^:]+):.*## (.*)$$/  \1\t\2/' | expand -t 20

test: lint $(TEST_TARGETS) ## every test suite of every language (installs what it needs)

lint: ## rustfmt and clippy on the core crate
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy -p litecommit --all-targets -- -D warnings

test-core: ## the core crate's tests
	$(CARGO) test -p litecommit

bench: $(BENCH_TARGETS) ## every benchmark, each beside its baseline

dist: dist-python dist-node dist-go ## every distributable into dist/ (wheels, npm tarballs, Go module, C prefix), with sizes
	$(MAKE) --no-print-directory install PREFIX=$(CURDIR)/dist/c
	@echo "dist/:"
	@find dist -type f \( -name '*.whl' -o -name '*.tar.gz' -o -name '*.tgz' -o -name '*.a' \
		-o -name '*.so*' -o -name '*.node' -o -name '*.pc' \) -printf '%s\t%p\n' | sort -k2 \
		| awk -F'\t' '{ printf "  %9.2f MB  %s\n", $$1 / 1048576, $$2 }'
