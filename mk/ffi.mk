# C ABI (ffi/), its header (include/litecommit.h), the C tests and the Go package.

FFI_LIB := target/release/liblitecommit.a
FFI_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -g -O1 -Iinclude
FFI_LDLIBS := $(FFI_LIB) -lpthread -ldl -lm -lrt
FFI_OUT := target/c
# Every leak kind is an error; the one suppression is a Rust std allocation (see the file).
VALGRIND := valgrind --quiet --error-exitcode=1 --leak-check=full \
	--show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
	--suppressions=bindings/c/valgrind.supp
GO ?= go

.PHONY: ffi-lib header test-ffi test-go bench-go

ffi-lib: ## build the C library (target/release/liblitecommit.a and .so)
	$(CARGO) build -p litecommit-ffi --release

# Rewrites the checked-in header from ffi/src (ffi/tests/header.rs fails when it is stale).
header: ## regenerate include/litecommit.h from ffi/src
	$(CARGO) run -q -p litecommit-ffi --example generate_header

$(FFI_OUT)/%: bindings/c/%.c bindings/c/check.h include/litecommit.h $(FFI_LIB) | $(FFI_OUT)
	$(CC) $(FFI_CFLAGS) -o $@ $< $(FFI_LDLIBS)

$(FFI_OUT):
	mkdir -p $@

$(FFI_LIB): ffi-lib

# test_processes (fork, another process's lock, kill -9) runs natively: under valgrind the
# forked and killed children would be valgrind's processes, not the library's.
test-ffi: ffi-lib ## the C ABI: clippy, Rust tests, C tests under valgrind, fork and kill -9
	@command -v valgrind >/dev/null || { echo "test-ffi needs valgrind (apt-get install valgrind)"; exit 1; }
	$(CARGO) clippy -p litecommit-ffi --all-targets -- -D warnings
	$(CARGO) test -p litecommit-ffi
	$(MAKE) --no-print-directory $(FFI_OUT)/test_litecommit $(FFI_OUT)/test_processes $(FFI_OUT)/example
	$(VALGRIND) $(FFI_OUT)/test_litecommit
	d=$$(mktemp -d) && $(VALGRIND) $(FFI_OUT)/example $$d/example.db && rm -rf $$d
	$(FFI_OUT)/test_processes

# The Go package links $(FFI_LIB) through cgo (see bindings/go/link.go).
test-go: ffi-lib ## the Go package: gofmt, go vet, go test -race
	@command -v $(GO) >/dev/null || { echo "test-go needs the go toolchain"; exit 1; }
	cd bindings/go && test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	cd bindings/go && $(GO) vet ./...
	cd bindings/go && $(GO) test -race -count=1 -timeout 600s ./...

# Go, 64 goroutines of single-row insert transactions (WAL, durability full), in one run:
# litecommit's Go package; the Rust core at the same load (ffi/examples/bench_core, run as
# a child process); the batching writer Go services write themselves (one goroutine owns one
# connection and commits what is queued in one transaction, a SAVEPOINT per request) on
# modernc.org/sqlite and on mattn/go-sqlite3 (a child process: it links its own SQLite);
# and database/sql + modernc.org/sqlite with one transaction per insert. All but the last
# run 9 interleaved rounds, each reported by its median. Ends with verdicts (litecommit Go
# >= 0.8x the Rust core, >= 1x each hand-batched writer); a MISSED one fails the run
# unless BENCH_NO_FAIL=1. Databases go to $(BENCH_DIR) if set (a real disk, not tmpfs).
# BENCH_GO_ARGS adds flags of bindings/go/bench (-rounds 15, -only core,go, -cpuprofile F).
# BENCH_GO_TAGS=litecommit_nolockosthread measures the package without pinning each
# library call to its OS thread (bindings/go/thread_nolock.go: for measuring only).
BENCH_GO_N ?= 20000
BENCH_GO_TAGS ?=
BENCH_GO_ARGS ?=
BENCH_GO_OUT := target/bench-go
BENCH_GO_DB = $(or $(BENCH_DIR),$(CURDIR)/$(BENCH_GO_OUT))/bench-go-db
BENCH_GO_CORE = $(or $(CARGO_TARGET_DIR),target)/release/examples/bench_core
bench-go: ffi-lib ## Go: litecommit vs the Rust core, hand-batched writers and database/sql
	rm -rf $(BENCH_GO_OUT) $(BENCH_GO_DB) && mkdir -p $(BENCH_GO_OUT) $(BENCH_GO_DB)
	$(CARGO) build --release -p litecommit-ffi --example bench_core
	cd bindings/go/bench && $(GO) vet ./... && $(GO) test ./... \
		&& $(GO) build -o $(CURDIR)/$(BENCH_GO_OUT)/mattn-peer ./mattn \
		&& $(GO) build -tags '$(BENCH_GO_TAGS)' -o $(CURDIR)/$(BENCH_GO_OUT)/bench .
	status=0; $(BENCH_GO_OUT)/bench -n $(BENCH_GO_N) -goroutines 64 -dir $(BENCH_GO_DB) \
		-core-bin $(BENCH_GO_CORE) -mattn-bin $(BENCH_GO_OUT)/mattn-peer \
		$(BENCH_NO_FAIL_ARG) $(BENCH_GO_ARGS) || status=$$?; \
		rm -rf $(BENCH_GO_OUT) $(BENCH_GO_DB); exit $$status

TEST_TARGETS += test-ffi test-go
BENCH_TARGETS += bench-go
