package litecommit

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// walWriteLockByte is the byte of the -shm file whose write lock is SQLite's WAL write lock
// (the shm lock area starts at byte 120; the write lock is its first byte).
const walWriteLockByte = 120

// A Checkpoint whose ctx is cancelled while the checkpoint runs returns ctx.Err() and a zero
// result at once, and the checkpoint still runs to completion afterwards. Another process
// holds SQLite's WAL write lock meantime, which keeps a FULL checkpoint waiting (in its busy
// handler) for as long as the test wants. Under -race, a result that the finishing call
// hands back to a caller who has already returned shows up as a data race.
func TestCheckpointCancelledWhileRunning(t *testing.T) {
	db, path := open(t, Options{Checkpoint: Bool(false), CheckpointBusyTimeoutMs: 600_000})
	mustExec(t, db, "CREATE TABLE t (x)")
	mustExec(t, db, "INSERT INTO t VALUES (1)")
	release := holdLock(t, path+"-shm", fmt.Sprintf("%s=%d,1", lockRangeEnv, walWriteLockByte))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type reply struct {
		result CheckpointResult
		err    error
	}
	returned := make(chan reply, 1)
	go func() {
		r, err := db.Checkpoint(ctx, CheckpointFull)
		returned <- reply{r, err}
	}()
	waitFor(t, "the checkpoint to start", func() bool {
		s, err := db.Stats()
		return err == nil && s.CheckpointRunning
	})
	cancel()
	var got reply
	select {
	case got = <-returned:
	case <-time.After(patience):
		t.Fatal("Checkpoint did not return when its ctx was cancelled")
	}
	if !errors.Is(got.err, context.Canceled) || got.result != (CheckpointResult{}) {
		t.Fatalf("cancelled Checkpoint returned %+v, %v; want a zero result and context.Canceled",
			got.result, got.err)
	}

	// Until every abandoned call has returned, no call into the library: each one would
	// order this goroutine before the abandoned call's end and hide a race from -race.
	release()
	waitForAbandonedCalls(t, db)
	s, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Checkpoints["full"] != 1 || s.CheckpointsBusy != 0 || s.CheckpointRunning {
		t.Fatalf("the abandoned checkpoint did not complete: %+v", s)
	}
}

// waitForAbandonedCalls waits until the library calls that cancelled callers left running
// have returned (each holds the committer's read lock until it does).
func waitForAbandonedCalls(t *testing.T, db *Committer) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		db.c.mu.Lock()
		db.c.mu.Unlock()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(patience):
		t.Fatal("an abandoned library call never returned")
	}
}
