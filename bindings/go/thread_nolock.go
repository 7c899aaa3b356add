//go:build litecommit_nolockosthread

package litecommit

// Built only with `-tags litecommit_nolockosthread`, to measure what pinning each library
// call to its OS thread costs (bench/: `make bench-go BENCH_GO_TAGS=litecommit_nolockosthread`).
// Without the pin, a failure's details may be read on another OS thread and describe
// another call: never build a program with this tag.

// lockThread does nothing in this build.
func lockThread() {}

// unlockThread does nothing in this build.
func unlockThread() {}
