package litecommit

// The static library, liblitecommit.a, is found on the -L path that the file for the
// target platform adds (link_linux_amd64.go, link_linux_arm64.go, link_other.go): first the
// prebuilt/<goos>-<goarch> directory of a released module, then the cargo output of a
// checkout of the repository. -Bstatic keeps the linker off target/release/liblitecommit.so.
// The header is include/litecommit.h in a released module, ../../include in a checkout.

/*
#cgo CFLAGS: -I${SRCDIR}/include -I${SRCDIR}/../../include
#cgo LDFLAGS: -Wl,-Bstatic -llitecommit -Wl,-Bdynamic -lpthread -ldl -lm -lrt
*/
import "C"
