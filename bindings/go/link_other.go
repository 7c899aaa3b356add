//go:build !(linux && (amd64 || arm64))

package litecommit

// No prebuilt library ships for this platform: build it from a checkout of the repository
// with `make ffi-lib` and point your module at the checkout's bindings/go with a replace
// directive.

/*
#cgo CFLAGS: -I${SRCDIR}/../../target/release
#cgo LDFLAGS: -L${SRCDIR}/../../target/release
#if !__has_include("liblitecommit.a")
#error "no prebuilt liblitecommit.a for this platform: build it from a checkout of the repository with `make ffi-lib` and use the checkout's bindings/go (go mod edit -replace)"
#endif
*/
import "C"
