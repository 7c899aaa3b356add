#!/usr/bin/env bash
# What `make test-install` (mk/dist-c.mk) checks once it has installed the C library twice
# under DIR: with DESTDIR=DIR/stage PREFIX=/opt/litecommit, and with PREFIX=DIR/prefix.
# A C user without Rust builds the README's C example (bindings/c/example.c, which
# ffi/tests/readme.rs keeps identical to the README) with pkg-config against DIR/prefix, as
# a program using the shared library and as a static program, and runs both.
#
# Usage: test_install.sh DIR VERSION (run with a PATH holding no Rust toolchain)
set -euo pipefail

dir=$1
version=$2
prefix=$dir/prefix
so_version=${version%%[-+]*}
major=${so_version%%.*}
here=$(cd "$(dirname "$0")" && pwd)

fail() {
    echo "test-install: $*" >&2
    exit 1
}

for tool in cargo rustc rustup; do
    if command -v "$tool" >/dev/null; then fail "$tool is on PATH ($PATH): the check must run without Rust"; fi
done

# DESTDIR: the files land under DESTDIR, and the pkg-config file names the final PREFIX.
stage=$dir/stage/opt/litecommit
for f in include/litecommit.h lib/liblitecommit.a "lib/liblitecommit.so.$so_version" \
    "lib/liblitecommit.so.$major" lib/liblitecommit.so lib/pkgconfig/litecommit.pc; do
    [ -e "$stage/$f" ] || fail "DESTDIR install: $stage/$f is missing"
done
grep -qx 'prefix=/opt/litecommit' "$stage/lib/pkgconfig/litecommit.pc" \
    || fail "DESTDIR install: litecommit.pc does not say prefix=/opt/litecommit"

# The installed files, the SONAME and the symlinks.
lib=$prefix/lib
[ "$(readlink "$lib/liblitecommit.so")" = "liblitecommit.so.$major" ] \
    || fail "liblitecommit.so does not point to liblitecommit.so.$major"
[ "$(readlink "$lib/liblitecommit.so.$major")" = "liblitecommit.so.$so_version" ] \
    || fail "liblitecommit.so.$major does not point to liblitecommit.so.$so_version"
[ -f "$lib/liblitecommit.so.$so_version" ] && [ ! -L "$lib/liblitecommit.so.$so_version" ] \
    || fail "liblitecommit.so.$so_version is not a file"
readelf -d "$lib/liblitecommit.so.$so_version" | grep -F "(SONAME)" \
    | grep -qF "[liblitecommit.so.$major]" \
    || fail "the SONAME of liblitecommit.so.$so_version is not liblitecommit.so.$major"
for f in "liblitecommit.so.$so_version" liblitecommit.a; do
    if readelf -S "$lib/$f" | grep -qF .debug_; then fail "$f carries debug info"; fi
done

export PKG_CONFIG_PATH=$lib/pkgconfig
[ "$(pkg-config --modversion litecommit)" = "$version" ] \
    || fail "pkg-config --modversion litecommit is not $version"
echo "pkg-config --cflags --libs litecommit: $(pkg-config --cflags --libs litecommit)"
echo "pkg-config --static --libs litecommit: $(pkg-config --static --libs litecommit)"

out=$dir/out
mkdir -p "$out"
cflags=(-std=c11 -Wall -Wextra -Werror -O1)

# The header's version macros against the installed library's litecommit_version().
cat >"$out/version.c" <<'EOF'
#include <stdio.h>
#include <string.h>

#include <litecommit.h>

int main(void) {
    printf("header %s, library %s\n", LITECOMMIT_VERSION, litecommit_version());
    return strcmp(LITECOMMIT_VERSION, litecommit_version()) == 0 ? 0 : 1;
}
EOF

# Shared: linked against liblitecommit.so.<major>, found in the prefix at run time.
# shellcheck disable=SC2046 # pkg-config's output is a list of words
cc "${cflags[@]}" -o "$out/example-shared" "$here/example.c" $(pkg-config --cflags --libs litecommit)
# shellcheck disable=SC2046
cc "${cflags[@]}" -o "$out/version-shared" "$out/version.c" $(pkg-config --cflags --libs litecommit)
readelf -d "$out/example-shared" | grep -F "(NEEDED)" | grep -qF "[liblitecommit.so.$major]" \
    || fail "example-shared does not need liblitecommit.so.$major"
resolved=$(LD_LIBRARY_PATH=$lib ldd "$out/example-shared" | awk '$1 == "liblitecommit.so.'"$major"'" { print $3 }')
[ "$resolved" = "$lib/liblitecommit.so.$major" ] \
    || fail "ldd resolves liblitecommit.so.$major to '$resolved', not $lib/liblitecommit.so.$major"
echo "ldd: liblitecommit.so.$major => $resolved"
LD_LIBRARY_PATH=$lib "$out/version-shared"
LD_LIBRARY_PATH=$lib "$out/example-shared" "$out/shared.db" | tee "$out/shared.txt"
grep -qx 'n = 2' "$out/shared.txt" || fail "example-shared did not print 'n = 2'"

# Static: `pkg-config --static` and -static, so liblitecommit.a is linked in; the program
# needs no shared library at all. (glibc warns that getaddrinfo and dlopen, referenced by
# Rust's std and SQLite, would need its shared libraries at run time: neither is called.)
link_static() { # SOURCE OUTPUT
    # shellcheck disable=SC2046 # pkg-config's output is a list of words
    cc "${cflags[@]}" -static -o "$2" "$1" $(pkg-config --static --cflags --libs litecommit) \
        2>"$2.link.txt" || { cat "$2.link.txt" >&2; fail "linking $2 failed"; }
}
link_static "$here/example.c" "$out/example-static"
link_static "$out/version.c" "$out/version-static"
if readelf -d "$out/example-static" | grep -qF "(NEEDED)"; then
    fail "example-static needs shared libraries: $(readelf -d "$out/example-static" | grep -F "(NEEDED)")"
fi
"$out/version-static"
"$out/example-static" "$out/static.db" | tee "$out/static.txt"
grep -qx 'n = 2' "$out/static.txt" || fail "example-static did not print 'n = 2'"

echo "test-install: the installed prefix builds and runs the README's C example, shared and static"
