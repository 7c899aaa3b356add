# Node package (node/: napi-rs crate litecommit-node + npm package litecommit).
#   make test-node    npm ci in node/ (the npm registry: prom-client, typescript, ...),
#                     builds the addon in release (reusing target/), clippy, node --test
#   make bench-node   better-sqlite3 vs litecommit vs the Rust core (node/bench/bench.js);
#                     BENCH_NODE_ARGS passes options (--n, --concurrency, --dir)
# The crate (a cdylib loaded by Node) has no Rust tests of its own: its suite is node/test.

NPM ?= npm
NODE ?= node
BENCH_NODE_ARGS ?=

.PHONY: node-install test-node bench-node

# Dependencies without their install scripts (better-sqlite3 compiles for a minute and is
# only needed by the benchmark), then the addon itself.
node-install:
	cd node && $(NPM) ci --no-audit --no-fund --ignore-scripts
	cd node && $(NPM) run build

test-node: node-install
	$(CARGO) clippy -p litecommit-node --all-targets -- -D warnings
	cd node && $(NODE) --test --test-concurrency=1 --test-timeout=600000 test/*.test.js

bench-node: node-install
	cd node && $(NPM) rebuild better-sqlite3
	cd node && $(NODE) bench/bench.js $(BENCH_NODE_ARGS)

TEST_TARGETS += test-node
BENCH_TARGETS += bench-node
