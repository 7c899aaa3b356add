# Benchmarks (bench/, crate litecommit-bench).
#   make demo         checkpoint strategies: 200,000 transactions per configuration, inline
#                     autocheckpoint vs a stat trigger (PASSIVE when the -wal file exceeds
#                     4 MB, RESTART at 16 MB) vs litecommit, on this machine's disk and on
#                     a model of a network-attached cloud SSD (DEMO_ARGS='--disk hdd' picks
#                     another: bench/src/disk.rs), plus the checkpoint-starvation scenario;
#                     writes an HTML report with the plots (its path is the last line;
#                     DEMO_ARGS=--short for a quick run)
#   make bench-core   group commit vs a connection per thread vs one big transaction
#   make bench-scaling  1 to 4,096 concurrent submitters (threads, then async tasks), a
#                     10-million-row table against an empty one, memory per in-flight
#                     transaction
#   make test-bench   lint + a smoke run of each, so the binary cannot rot (its targets are
#                     printed as "smoke: not judged": a smoke run is too small to judge)
# Each run ends with verdicts on its targets: met, MISSED, or not reached (the run never
# produced the situation a target is about). A MISSED target fails `make bench-core` and
# `make bench-scaling` unless BENCH_NO_FAIL=1 (or --no-fail in BENCH_CORE_ARGS or
# BENCH_SCALING_ARGS). `make demo` shows the product: it prints its verdicts and succeeds
# once it has run; DEMO_STRICT=1 makes a MISSED target fail it too.
# Databases go to $(BENCH_DIR) (default: the system temp dir); it must be on a real disk
# (not tmpfs) so that fsync costs what it costs.

BENCH_DIR ?=
DEMO_ARGS ?=
BENCH_CORE_ARGS ?=
BENCH_SCALING_ARGS ?=
BENCH_NO_FAIL ?=
DEMO_STRICT ?=
BENCH_DIR_ARG = $(if $(BENCH_DIR),--dir $(BENCH_DIR))
BENCH_NO_FAIL_ARG = $(if $(filter-out 0,$(BENCH_NO_FAIL)),--no-fail)

.PHONY: demo bench-core bench-scaling test-bench

demo: ## checkpoint strategies under 200,000 transactions each, on two disks, with a report
	$(CARGO) run --release -p litecommit-bench -- demo $(BENCH_DIR_ARG) \
		$(if $(filter-out 0,$(DEMO_STRICT)),$(BENCH_NO_FAIL_ARG),--no-fail) $(DEMO_ARGS)

bench-core: ## group commit vs a connection per thread vs one big transaction
	$(CARGO) run --release -p litecommit-bench -- core $(BENCH_DIR_ARG) $(BENCH_NO_FAIL_ARG) $(BENCH_CORE_ARGS)

bench-scaling: ## 1 to 4,096 submitters, a 10-million-row table, memory per transaction
	$(CARGO) run --release -p litecommit-bench -- scaling $(BENCH_DIR_ARG) $(BENCH_NO_FAIL_ARG) $(BENCH_SCALING_ARGS)

test-bench: ## clippy, tests and a smoke run of each benchmark
	$(CARGO) clippy -p litecommit-bench --all-targets -- -D warnings
	$(CARGO) test -p litecommit-bench
	$(CARGO) run -p litecommit-bench -- core --smoke $(BENCH_DIR_ARG)
	$(CARGO) run -p litecommit-bench -- demo --smoke --transactions 2000 --threads 4 --durability full $(BENCH_DIR_ARG)
	$(CARGO) run -p litecommit-bench -- scaling --smoke $(BENCH_DIR_ARG)

BENCH_TARGETS += $(filter-out $(BENCH_TARGETS),bench-core bench-scaling)
TEST_TARGETS += test-bench
