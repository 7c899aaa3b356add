# Node distributables (napi-rs's layout: node/npm/dist.js packs them).
#   make dist-node       builds the addon for each of NODE_PLATFORMS with cargo-zigbuild
#                        (zig as C compiler and linker, against glibc 2.17 like napi-rs's
#                        builds, so the addons load on any glibc >= 2.17) and packs into
#                        dist/node/: litecommit-<version>.tgz (JS, types, README, LICENSE;
#                        the platform packages as exact-version optional dependencies) and
#                        litecommit-<platform>-<version>.tgz per platform (its .node only);
#                        prints sizes, `file` and the newest glibc symbol of each addon
#   make test-dist-node  packs the x86_64 packages from the release addon `make test-node`
#                        builds (cargo only checks it is up to date) and installs them in a
#                        fresh project on a PATH without cargo/rustc (node/npm/test-dist.sh)

NODE_PLATFORMS := linux-x64-gnu linux-arm64-gnu
NODE_DIST := dist/node
# zig (PyPI `ziglang`, in a venv) and cargo-zigbuild (crates.io), installed under target/.
NODE_TOOLS := target/dist-node-tools
NODE_ZIG_PATH := $(CURDIR)/$(NODE_TOOLS)/bin:$(CURDIR)/$(NODE_TOOLS)/venv/bin:$(PATH)
NODE_GLIBC := 2.17
comma := ,
empty :=
space := $(empty) $(empty)
NODE_PLATFORM_LIST := $(subst $(space),$(comma),$(NODE_PLATFORMS))

.PHONY: dist-node test-dist-node node-dist-tools

node-dist-tools:
	rustup target add x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu
	[ -x $(NODE_TOOLS)/venv/bin/python-zig ] || { python3 -m venv $(NODE_TOOLS)/venv && \
		$(NODE_TOOLS)/venv/bin/pip install -q ziglang==0.17.1; }
	[ -x $(NODE_TOOLS)/bin/cargo-zigbuild ] || \
		$(CARGO) install --locked cargo-zigbuild@0.24.1 --root $(NODE_TOOLS)

dist-node: node-dist-tools ## npm tarballs: litecommit + one prebuilt-addon package per platform
	env PATH=$(NODE_ZIG_PATH) $(CARGO) zigbuild -p litecommit-node --lib --release \
		--target x86_64-unknown-linux-gnu.$(NODE_GLIBC) --target aarch64-unknown-linux-gnu.$(NODE_GLIBC)
	rm -rf $(NODE_DIST)
	node node/npm/dist.js --out $(NODE_DIST) --platforms $(NODE_PLATFORM_LIST) \
		--addon linux-x64-gnu=target/x86_64-unknown-linux-gnu/release/liblitecommit_node.so \
		--addon linux-arm64-gnu=target/aarch64-unknown-linux-gnu/release/liblitecommit_node.so
	rm -rf $(NODE_DIST)/stage
	@for p in $(NODE_PLATFORMS); do \
		tar xzOf $(NODE_DIST)/litecommit-$$p-*.tgz package/litecommit.$$p.node >$(NODE_DIST)/.addon; \
		printf '%-32s %9d bytes  %s, needs %s\n' "litecommit.$$p.node" "$$(stat -c %s $(NODE_DIST)/.addon)" \
			"$$(file -b $(NODE_DIST)/.addon | sed 's/, BuildID[^,]*//')" \
			"$$(objdump -T $(NODE_DIST)/.addon | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"; \
		if readelf -S -W $(NODE_DIST)/.addon | grep -q '\.debug_'; then \
			echo "dist-node: litecommit.$$p.node carries debug info" >&2; exit 1; fi; \
		done; rm -f $(NODE_DIST)/.addon
	@for t in $(NODE_DIST)/*.tgz; do printf '%-48s %9d bytes\n' "$$t" "$$(stat -c %s $$t)"; done

test-dist-node: ## install the packed npm packages with no Rust on the PATH: README examples, tsc
	$(CARGO) build -p litecommit-node --lib --release
	rm -rf $(NODE_DIST)-test
	node node/npm/dist.js --out $(NODE_DIST)-test --platforms $(NODE_PLATFORM_LIST) \
		--addon linux-x64-gnu=target/release/liblitecommit_node.so
	node/npm/test-dist.sh $(NODE_DIST)-test linux-x64-gnu
	rm -rf $(NODE_DIST)-test

TEST_TARGETS += test-dist-node
