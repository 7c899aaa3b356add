//go:build linux && arm64

package litecommit

// A released module carries prebuilt/linux-arm64/liblitecommit.a; a checkout of the
// repository links the cargo output for aarch64 (cross-compiled or native).

/*
#cgo CFLAGS: -I${SRCDIR}/prebuilt/linux-arm64 -I${SRCDIR}/../../target/aarch64-unknown-linux-gnu/release -I${SRCDIR}/../../target/release
#cgo LDFLAGS: -L${SRCDIR}/prebuilt/linux-arm64 -L${SRCDIR}/../../target/aarch64-unknown-linux-gnu/release -L${SRCDIR}/../../target/release
#if !__has_include("liblitecommit.a")
#error "liblitecommit.a not found for linux/arm64: in a checkout of the repository run `make ffi-lib` (or `go generate` in bindings/go) first"
#endif
*/
import "C"
