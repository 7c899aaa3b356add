package litecommit

import (
	"context"
	"runtime"
	"sync"
)

// Snapshot is a read transaction on one connection of the read pool: every query on it
// sees the database as it was when the snapshot began, whatever commits meanwhile. It
// holds that connection, and keeps the WAL from being reset past its snapshot (see the
// checkpoint scheduler), until Close: keep snapshots short. Its methods are safe for
// concurrent use; its queries run one at a time.
type Snapshot struct {
	// db keeps the Committer reachable (its finalizer would close it) while the snapshot is.
	db *Committer
	// mu serialises the library calls on h; Close waits for a running query.
	mu sync.Mutex
	// h is the library's snapshot; closed is set once it is freed.
	h      snapshotHandle
	closed bool
}

// Snapshot begins a read snapshot, waiting while every read connection is busy. If ctx
// is done first it returns ctx.Err() (a snapshot begun meanwhile is ended at once).
func (db *Committer) Snapshot(ctx context.Context) (*Snapshot, error) {
	defer runtime.KeepAlive(db)
	c := db.c
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := c.acquire(); err != nil {
		return nil, err
	}
	type reply struct {
		h   snapshotHandle
		err error
	}
	var (
		mu   sync.Mutex // guards left and the hand-over on done
		left bool       // the caller returned without the snapshot
	)
	done := make(chan reply, 1)
	go func() {
		h, err := snapshotBegin(c.db)
		c.mu.RUnlock()
		mu.Lock()
		defer mu.Unlock()
		if left {
			if err == nil {
				snapshotFree(&h)
			}
			return
		}
		done <- reply{h, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, r.err
		}
		s := &Snapshot{db: db, h: r.h}
		runtime.SetFinalizer(s, func(s *Snapshot) { s.Close() })
		return s, nil
	case <-ctx.Done():
		mu.Lock()
		left = true
		select {
		case r := <-done:
			if r.err == nil {
				snapshotFree(&r.h)
			}
		default:
		}
		mu.Unlock()
		return nil, ctx.Err()
	}
}

// Query runs a read-only statement in the snapshot. If ctx is done first it returns
// ctx.Err() at once (the statement runs to its end; Close waits for it).
func (s *Snapshot) Query(ctx context.Context, sql string, args ...any) (Rows, error) {
	in, err := convertStatement(Statement{SQL: sql, Args: args}, 0)
	if err != nil {
		return Rows{}, err
	}
	if err := ctx.Err(); err != nil {
		return Rows{}, err
	}
	type reply struct {
		rows Rows
		err  error
	}
	done := make(chan reply, 1) // buffered: the query never blocks on a caller that left
	go func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			done <- reply{err: snapshotClosedError()}
			return
		}
		cs := toC([]stmtIn{in})
		defer cs.free()
		rows, err := snapshotQuery(s.h, cs.stmts)
		done <- reply{rows, err}
	}()
	select {
	case r := <-done:
		return r.rows, r.err
	case <-ctx.Done():
		return Rows{}, ctx.Err()
	}
}

// Close ends the snapshot and gives its connection back to the read pool. Idempotent;
// queries after it fail with ErrClosed.
func (s *Snapshot) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		snapshotFree(&s.h)
		runtime.SetFinalizer(s, nil)
	}
	return nil
}

func snapshotClosedError() error {
	return &Error{Status: StatusClosed, Code: "LITECOMMIT_CLOSED", StatementIndex: -1,
		Message: "snapshot is closed"}
}
