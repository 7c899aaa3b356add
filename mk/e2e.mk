# End-to-end tests (tests/, crate litecommit-tests): the differential test (batched equals
# alone), power-loss and I/O-fault simulation through a test VFS, kill -9 of a writing process.
# The test VFS and the benchmark's counting VFS share tests/vfs-wrap (litecommit-vfs-wrap).
#   make test-e2e   a bounded, seeded slice of each (part of `make test`)
#   make soak       the long runs (LITECOMMIT_SOAK=1): at least a million differential
#                   transactions, 10,000 power cuts, I/O faults, and 50 kills each of a Rust,
#                   a C and a Go writer; every run prints its seed, LITECOMMIT_SEED=<seed>
#                   (LITECOMMIT_KILL_SEED for C and Go) replays one

.PHONY: test-e2e soak

test-e2e: ## differential, power-loss, I/O-fault and kill -9 tests (bounded slice)
	$(CARGO) clippy -p litecommit-tests -p litecommit-vfs-wrap --all-targets -- -D warnings
	$(CARGO) test --release -p litecommit-tests -p litecommit-vfs-wrap

SOAK_KILL_ROUNDS ?= 50

soak: ffi-lib ## the long differential, power-loss, fault and kill runs
	LITECOMMIT_SOAK=1 $(CARGO) test --release -p litecommit-tests -- --nocapture --test-threads=1
	$(MAKE) --no-print-directory $(FFI_OUT)/test_processes
	LITECOMMIT_KILL_ROUNDS=$(SOAK_KILL_ROUNDS) $(FFI_OUT)/test_processes
	cd bindings/go && LITECOMMIT_KILL_ROUNDS=$(SOAK_KILL_ROUNDS) $(GO) test -count=1 -timeout 1800s -run TestKillDuringWrites -v .

TEST_TARGETS += test-e2e
