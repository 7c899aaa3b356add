# End-to-end tests (tests/, crate litecommit-tests): the differential test (batched equals
# alone), power-loss and I/O-fault simulation through a test VFS, kill -9 of a writing process.
#   make test-e2e   a bounded, seeded slice of each (part of `make test`)
#   make soak       the long runs (LITECOMMIT_SOAK=1); every run prints its seed, and
#                   LITECOMMIT_SEED=<seed> replays one

.PHONY: test-e2e soak

test-e2e:
	$(CARGO) clippy -p litecommit-tests --all-targets -- -D warnings
	$(CARGO) test --release -p litecommit-tests

soak:
	LITECOMMIT_SOAK=1 $(CARGO) test --release -p litecommit-tests -- --nocapture --test-threads=1

TEST_TARGETS += test-e2e
