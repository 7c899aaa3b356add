# The Go module as users `go get` it: dist/go/litecommit holds the package's Go sources
# (module github.com/litecommit/litecommit/bindings/go), include/litecommit.h and
# prebuilt/<goos>-<goarch>/liblitecommit.a, debug info stripped, for linux/amd64 and
# linux/arm64. bindings/go/link_linux_*.go find the archive there (see bindings/go/link.go).

DIST_GO := dist/go/litecommit
GO_ARM64_TARGET := aarch64-unknown-linux-gnu
GO_ARM64_LIB := target/$(GO_ARM64_TARGET)/release/liblitecommit.a
APT_GET := apt-get -o DPkg::Lock::Timeout=600

.PHONY: dist-go dist-go-tree dist-go-amd64 dist-go-arm64 test-dist-go

dist-go: dist-go-amd64 dist-go-arm64 ## the Go module with prebuilt libraries (dist/go/litecommit)
	@echo "dist-go: module $$(sed -n 's/^module //p' $(DIST_GO)/go.mod) in $(DIST_GO)"
	@du -sh $(DIST_GO)

# Sources without the tests (they read the repository's README and run its tools); the
# module's go.mod is tidied offline, which drops the test-only requirements.
dist-go-tree:
	@command -v $(GO) >/dev/null || { echo "dist-go needs the go toolchain"; exit 1; }
	mkdir -p $(DIST_GO)/include
	find $(DIST_GO) -maxdepth 1 -type f -delete
	cp bindings/go/go.mod bindings/go/go.sum $(DIST_GO)/
	find bindings/go -maxdepth 1 -name '*.go' ! -name '*_test.go' -exec cp {} $(DIST_GO)/ \;
	cp include/litecommit.h $(DIST_GO)/include/
	for p in linux-amd64 linux-arm64; do mkdir -p $(DIST_GO)/prebuilt/$$p; \
		printf '// Package %s holds the prebuilt liblitecommit.a for %s.\npackage %s\n' \
			"$${p/-/}" "$${p/-//}" "$${p/-/}" > $(DIST_GO)/prebuilt/$$p/lib.go; done
	printf '// Package include holds litecommit.h, the C header the package includes.\npackage include\n' \
		> $(DIST_GO)/include/include.go
	mod=$$(sed -n 's/^module //p' bindings/go/go.mod); \
	printf '%s\n' '//go:build litecommit_vendor' '' 'package litecommit' '' \
		'// Importing the directories of the header and the prebuilt archives under a tag no' \
		'// build sets makes `go mod vendor` copy them into a vendor tree.' 'import (' \
		"	_ \"$$mod/include\"" "	_ \"$$mod/prebuilt/linux-amd64\"" "	_ \"$$mod/prebuilt/linux-arm64\"" \
		')' > $(DIST_GO)/vendor.go
	cd $(DIST_GO) && test -z "$$(gofmt -l .)"
	cd $(DIST_GO) && GOFLAGS=-mod=mod GOPROXY=off $(GO) mod tidy && { test -s go.sum || rm go.sum; }

# $(1): goos-goarch directory, $(2): source archive, $(3): strip command.
define dist_go_lib
	mkdir -p $(DIST_GO)/prebuilt/$(1)
	rm -f $(DIST_GO)/prebuilt/$(1)/liblitecommit.a
	cp $(2) $(DIST_GO)/prebuilt/$(1)/liblitecommit.a
	$(3) --strip-debug $(DIST_GO)/prebuilt/$(1)/liblitecommit.a
	@echo "dist-go: $(1): $(2) $$(du -h $(2) | cut -f1) -> $(DIST_GO)/prebuilt/$(1)/liblitecommit.a $$(du -h $(DIST_GO)/prebuilt/$(1)/liblitecommit.a | cut -f1)"
endef

# $(1): GOARCH, $(2): C compiler, $(3): what `file` says of the binary. Links a program
# that uses the package against the dist module (it cannot run here when cross-compiled).
define dist_go_link_check
	set -euo pipefail; d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; \
	mod=$$(sed -n 's/^module //p' $(DIST_GO)/go.mod); \
	printf 'module example.com/linkcheck\n\ngo 1.22\n\nrequire %s v0.1.0\n\nreplace %s => %s\n' \
		"$$mod" "$$mod" "$(CURDIR)/$(DIST_GO)" > "$$d/go.mod"; \
	printf 'package main\n\nimport litecommit "%s"\n\nfunc main() { println(litecommit.ErrClosed.Error()) }\n' \
		"$$mod" > "$$d/main.go"; \
	cd "$$d" && GOFLAGS=-mod=mod GOPROXY=off CGO_ENABLED=1 GOOS=linux GOARCH=$(1) CC=$(2) \
		$(GO) build -o linkcheck . && file linkcheck | grep -q '$(3)' \
		&& echo "dist-go: linux/$(1) program links against $(DIST_GO)"
endef

dist-go-amd64: ffi-lib dist-go-tree
	$(call dist_go_lib,linux-amd64,$(FFI_LIB),strip)

# The bundled SQLite is C: cc-rs and the cdylib link use Debian's aarch64 cross gcc.
dist-go-arm64: dist-go-tree
	@command -v aarch64-linux-gnu-gcc >/dev/null || $(APT_GET) install -y gcc-aarch64-linux-gnu
	rustup target add $(GO_ARM64_TARGET)
	CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
	AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar \
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
		$(CARGO) build -p litecommit-ffi --release --target $(GO_ARM64_TARGET)
	$(call dist_go_lib,linux-arm64,$(GO_ARM64_LIB),aarch64-linux-gnu-strip)
	@readelf -h $(DIST_GO)/prebuilt/linux-arm64/liblitecommit.a | grep -m1 'Machine:.*AArch64' \
		|| { echo "dist-go: prebuilt/linux-arm64 is not AArch64"; exit 1; }
	$(call dist_go_link_check,arm64,aarch64-linux-gnu-gcc,ARM aarch64)

# A user without Rust: a fresh module requires the dist module (through a replace: the
# registry path cannot be served here) and builds and runs the README's Go example with
# cargo, rustc and rustup absent from PATH. The archive in dist is a copy, and the dist
# module sits where no target/ directory is reachable from it.
TEST_DIST_GO_PATH = $(dir $(shell command -v $(GO) 2>/dev/null)):/usr/bin:/bin
test-dist-go: dist-go-amd64 ## Go: a module without Rust builds and runs the README example against dist-go
	@test -f $(DIST_GO)/prebuilt/linux-amd64/liblitecommit.a && test ! -L $(DIST_GO)/prebuilt/linux-amd64/liblitecommit.a
	@test ! -e $(DIST_GO)/../../target || { echo "test-dist-go: $(DIST_GO)/../../target must not exist"; exit 1; }
	set -euo pipefail; d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; \
	mod=$$(sed -n 's/^module //p' $(DIST_GO)/go.mod); \
	mkdir -p "$$d/app"; \
	printf 'module example.com/app\n\ngo 1.22\n\nrequire %s v0.1.0\n\nreplace %s => %s\n' \
		"$$mod" "$$mod" "$(CURDIR)/$(DIST_GO)" > "$$d/app/go.mod"; \
	{ printf 'package main\n\nimport (\n\t"context"\n\t"errors"\n\t"fmt"\n\t"log"\n\t"os"\n\t"path/filepath"\n\n\tlitecommit "%s"\n)\n\nfunc main() {\n\tpath := filepath.Join(os.Args[1], "example.db")\n' "$$mod"; \
	  awk '/^## Go$$/{g=1} g&&/^```go$$/{c=1;next} c&&/^```$$/{exit} c{print ($$0 == "" ? "" : "\t" $$0)}' README.md; \
	  printf '}\n'; } > "$$d/app/main.go"; \
	cd "$$d/app" && env PATH="$(TEST_DIST_GO_PATH)" GOFLAGS=-mod=mod GOPROXY=off bash -c '\
		set -euo pipefail; \
		if command -v cargo || command -v rustc || command -v rustup; then echo "test-dist-go: Rust is on PATH"; exit 1; fi; \
		go build -o app . ; \
		if ldd ./app | grep -i litecommit; then echo "test-dist-go: app links liblitecommit dynamically"; exit 1; fi; \
		mkdir db db2; ./app db | tee out.txt; \
		grep -qx "rowid 1" out.txt && grep -qx "a is now 11" out.txt \
			|| { echo "test-dist-go: unexpected output"; exit 1; }; \
		go mod vendor; \
		test -f vendor/$$0/include/litecommit.h; \
		test -f vendor/$$0/prebuilt/linux-amd64/liblitecommit.a; \
		go build -mod=vendor -o app-vendored .; \
		./app-vendored db2 > out2.txt; \
		grep -qx "a is now 11" out2.txt; \
		echo "test-dist-go: a vendored build works too"' "$$mod"
	@echo "test-dist-go: ok (README example built from $(DIST_GO) without cargo/rustc)"

TEST_TARGETS += test-dist-go
