# Replication with a real Litestream (tests/tests/litestream.rs): 100,000 transactions
# committed with checkpoint=false while `litestream replicate` copies the database to a file
# replica, then `litestream restore` must give back every row. Litestream is built with
# `go install` into target/tools/bin (reused once there); without Go the target says so and
# skips.
#   make test-litestream                      installs Litestream if needed, runs the test
#   LITESTREAM_VERSION=v0.5.17 make ...       another release (the newest v0.5.x served by
#                                             the Go proxy is used when this one is not)

GO ?= go
LITESTREAM_MODULE := github.com/benbjohnson/litestream
LITESTREAM_VERSION ?= v0.5.18
LITESTREAM_GOBIN := $(CURDIR)/target/tools/bin
LITESTREAM_BIN := $(LITESTREAM_GOBIN)/litestream

.PHONY: test-litestream

test-litestream: ## replicate 100,000 commits with Litestream, restore, compare every row
	@if ! command -v $(GO) >/dev/null 2>&1; then \
		echo "test-litestream: skipped: $(GO) is not on PATH (needed to install Litestream $(LITESTREAM_VERSION))"; \
		exit 0; \
	fi; \
	set -e; \
	have=$$("$(LITESTREAM_BIN)" version 2>/dev/null || true); \
	if [ "$$have" = "$(LITESTREAM_VERSION)" ]; then \
		echo "test-litestream: using $(LITESTREAM_BIN) ($$have)"; \
	else \
		mkdir -p "$(LITESTREAM_GOBIN)"; \
		served=" $$(cd "$(LITESTREAM_GOBIN)" && $(GO) list -m -versions $(LITESTREAM_MODULE)) "; \
		version=$(LITESTREAM_VERSION); \
		case "$$served" in \
			*" $$version "*) ;; \
			*) version=$$(tr ' ' '\n' <<<"$$served" | grep -E '^v0\.5\.[0-9]+$$' | sort -V | tail -n 1); \
			   [ -n "$$version" ] || { echo "test-litestream: the Go proxy serves no v0.5.x of $(LITESTREAM_MODULE)"; exit 1; }; \
			   echo "test-litestream: $(LITESTREAM_VERSION) is not served by the Go proxy, using $$version";; \
		esac; \
		echo "test-litestream: installing Litestream $$version into $(LITESTREAM_GOBIN)"; \
		(cd "$(LITESTREAM_GOBIN)" && GOBIN="$(LITESTREAM_GOBIN)" $(GO) install $(LITESTREAM_MODULE)/cmd/litestream@$$version); \
	fi; \
	LITESTREAM="$(LITESTREAM_BIN)" $(CARGO) test --release -p litecommit-tests --test litestream -- --nocapture

TEST_TARGETS += test-litestream
