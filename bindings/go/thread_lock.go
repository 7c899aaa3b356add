//go:build !litecommit_nolockosthread

package litecommit

import "runtime"

// lockThread pins the calling goroutine to its OS thread for one library call, so that a
// failure's details are read from the thread-local last error of the thread that failed.
func lockThread() { runtime.LockOSThread() }

// unlockThread undoes lockThread.
func unlockThread() { runtime.UnlockOSThread() }
