# Node package (node/: napi-rs crate litecommit-node + npm package litecommit).
#   make test-node    npm ci in node/ (the npm registry: prom-client, typescript, eslint, ...),
#                     eslint, clippy (with and without the benchmark feature), builds the
#                     addon users get in release (reusing target/), node --test
#   make bench-node   better-sqlite3 vs litecommit vs the Rust core (node/bench/bench.js);
#                     builds the addon with the cargo feature `bench` (the hidden
#                     __benchCore export); BENCH_NODE_ARGS passes options (--n, --concurrency,
#                     --chunk, --rounds, --runs, --dir)
# The crate (a cdylib loaded by Node) has no Rust tests of its own: its suite is node/test.

NPM ?= npm
NODE ?= node
BENCH_NODE_ARGS ?=

.PHONY: node-deps test-node bench-node

# Dependencies without their install scripts: better-sqlite3 compiles for a minute and is
# only needed by the benchmark, and the addon itself is built by each target below.
node-deps:
	cd node && $(NPM) ci --no-audit --no-fund --ignore-scripts

test-node: node-deps ## the Node package: eslint, clippy, the addon's test suite and types
	cd node && $(NPM) run lint
	$(CARGO) clippy -p litecommit-node --all-targets -- -D warnings
	$(CARGO) clippy -p litecommit-node --all-targets --features bench -- -D warnings
	cd node && $(NPM) run build
	cd node && $(NODE) --test --test-concurrency=1 --test-timeout=600000 test/*.test.js

bench-node: node-deps ## Node: better-sqlite3 vs litecommit vs the Rust core alone
	cd node && $(NPM) run build:bench
	cd node && $(NPM) rebuild better-sqlite3
	cd node && $(NODE) bench/bench.js $(BENCH_NODE_ARGS)

TEST_TARGETS += test-node
BENCH_TARGETS += bench-node
