//go:build linux && amd64

package litecommit

// A released module carries prebuilt/linux-amd64/liblitecommit.a; a checkout of the
// repository links what `make ffi-lib` builds in target/release.

/*
#cgo CFLAGS: -I${SRCDIR}/prebuilt/linux-amd64 -I${SRCDIR}/../../target/release
#cgo LDFLAGS: -L${SRCDIR}/prebuilt/linux-amd64 -L${SRCDIR}/../../target/release
#if !__has_include("liblitecommit.a")
#error "liblitecommit.a not found for linux/amd64: in a checkout of the repository run `make ffi-lib` (or `go generate` in bindings/go) first"
#endif
*/
import "C"
