# C distribution: `make install` puts the header, the static and shared libraries and a
# pkg-config file under $(DESTDIR)$(PREFIX), from the release build of `make ffi-lib`.
# `make test-install` proves that a program builds and runs against an installed prefix
# with pkg-config alone, without Rust.

PREFIX ?= /usr/local
DESTDIR ?=
# The workspace version (Cargo.toml's [workspace.package]), without any -pre or +build part
# for the file name: liblitecommit.so.<major>.<minor>.<patch>, SONAME liblitecommit.so.<major>
# (set by ffi/build.rs).
C_VERSION := $(shell sed -n '/^\[workspace\.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)
C_SO_VERSION := $(firstword $(subst -, ,$(subst +, ,$(C_VERSION))))
C_MAJOR := $(firstword $(subst ., ,$(C_SO_VERSION)))
# Strips the debug info that the static library's Rust std objects bring (the release
# profile strips the shared library's).
STRIP ?= strip
C_LIBDIR = $(DESTDIR)$(PREFIX)/lib
C_INCLUDEDIR = $(DESTDIR)$(PREFIX)/include

.PHONY: install uninstall test-install

install: ffi-lib ## install include/, lib/ (.a, .so with SONAME) and lib/pkgconfig/litecommit.pc under $(DESTDIR)$(PREFIX)
	@test -n "$(C_MAJOR)" || { echo "install: no version in Cargo.toml's [workspace.package]"; exit 1; }
	install -d "$(C_INCLUDEDIR)" "$(C_LIBDIR)/pkgconfig"
	install -m 644 include/litecommit.h "$(C_INCLUDEDIR)/litecommit.h"
	install -m 644 target/release/liblitecommit.a "$(C_LIBDIR)/liblitecommit.a"
	$(STRIP) --strip-debug "$(C_LIBDIR)/liblitecommit.a"
	install -m 755 target/release/liblitecommit.so "$(C_LIBDIR)/liblitecommit.so.$(C_SO_VERSION)"
	ln -sfn liblitecommit.so.$(C_SO_VERSION) "$(C_LIBDIR)/liblitecommit.so.$(C_MAJOR)"
	ln -sfn liblitecommit.so.$(C_MAJOR) "$(C_LIBDIR)/liblitecommit.so"
	printf '%s\n' \
		'prefix=$(PREFIX)' \
		'exec_prefix=$${prefix}' \
		'libdir=$${exec_prefix}/lib' \
		'includedir=$${prefix}/include' \
		'' \
		'Name: litecommit' \
		'Description: Group commit for SQLite (C API)' \
		'Version: $(C_VERSION)' \
		'Libs: -L$${libdir} -llitecommit' \
		'Libs.private: -lpthread -ldl -lm' \
		'Cflags: -I$${includedir}' \
		> "$(C_LIBDIR)/pkgconfig/litecommit.pc"
	chmod 644 "$(C_LIBDIR)/pkgconfig/litecommit.pc"

uninstall: ## remove what `make install` installed under $(DESTDIR)$(PREFIX)
	rm -f "$(C_INCLUDEDIR)/litecommit.h" "$(C_LIBDIR)/liblitecommit.a" \
		"$(C_LIBDIR)/liblitecommit.so.$(C_SO_VERSION)" "$(C_LIBDIR)/liblitecommit.so.$(C_MAJOR)" \
		"$(C_LIBDIR)/liblitecommit.so" "$(C_LIBDIR)/pkgconfig/litecommit.pc"

# The check itself (bindings/c/test_install.sh) runs with PATH=/usr/bin:/bin and fails if
# cargo, rustc or rustup is found there.
test-install: ffi-lib ## install into temp prefixes (PREFIX, DESTDIR); build and run the README's C example with pkg-config, shared and static, without Rust
	@command -v pkg-config >/dev/null || apt-get install -y pkg-config \
		|| { apt-get update && apt-get install -y pkg-config; }
	d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT \
		&& $(MAKE) --no-print-directory install DESTDIR="$$d/stage" PREFIX=/opt/litecommit \
		&& $(MAKE) --no-print-directory install PREFIX="$$d/prefix" \
		&& env -i PATH=/usr/bin:/bin HOME="$$d" LANG=C.UTF-8 \
			bash bindings/c/test_install.sh "$$d" "$(C_VERSION)"

TEST_TARGETS += test-install
