package litecommit

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
)

// A read-only transaction sees one snapshot: a write that commits meanwhile is not seen
// by it, and is seen outside it.
func TestReadOnlyTxSnapshot(t *testing.T) {
	db, _, _ := openDB(t, "")
	ctx := context.Background()
	sqlExec(t, db, "CREATE TABLE t (v INTEGER)")
	sqlExec(t, db, "INSERT INTO t VALUES (1)")

	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	count := func(q interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}) int64 {
		t.Helper()
		var n int64
		if err := q.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(tx); n != 1 {
		t.Fatalf("in the transaction: %d rows, want 1", n)
	}
	// Another connection commits a row while the transaction is open.
	sqlExec(t, db, "INSERT INTO t VALUES (2)")
	if n := count(db); n != 2 {
		t.Fatalf("outside the transaction: %d rows, want 2", n)
	}
	if n := count(tx); n != 1 {
		t.Fatalf("the transaction saw a commit made after it began: %d rows", n)
	}
	// A prepared statement used in the transaction runs in its snapshot.
	stmt, err := db.PrepareContext(ctx, "SELECT sum(v) FROM t")
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	var sum int64
	if err := tx.StmtContext(ctx, stmt).QueryRowContext(ctx).Scan(&sum); err != nil || sum != 1 {
		t.Fatalf("prepared statement in the transaction: %d, %v", sum, err)
	}
	// A write in a read-only transaction fails, and changes nothing.
	if _, err := tx.ExecContext(ctx, "INSERT INTO t VALUES (3)"); err == nil || asError(t, err).SQLiteCode != sqliteReadOnly {
		t.Fatalf("write in a read-only transaction: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.QueryContext(ctx, "SELECT 1"); !errors.Is(err, sql.ErrTxDone) {
		t.Fatalf("query after Commit: %v", err)
	}
	if n := count(db); n != 2 {
		t.Fatalf("after the transaction: %d rows, want 2", n)
	}

	// Rollback ends it too, and the snapshot's connection goes back to the pool: with one
	// read connection, a query after it runs.
	one, _, _ := openDB(t, "readConnections=1")
	for i := 0; i < 3; i++ {
		tx, err := one.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelSnapshot})
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if err := one.QueryRowContext(ctx, "SELECT 1").Scan(new(int)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelLinearizable}); err == nil ||
		!strings.Contains(err.Error(), "Linearizable") {
		t.Fatalf("linearizable: %v", err)
	}
}

func TestSnapshotNativeAPI(t *testing.T) {
	lc, _ := open(t, Options{ReadConnections: 1})
	ctx := context.Background()
	mustExec(t, lc, "CREATE TABLE t (v)")
	mustExec(t, lc, "INSERT INTO t VALUES ('before')")
	s, err := lc.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, lc, "UPDATE t SET v = 'after'")
	rows, err := s.Query(ctx, "SELECT v FROM t WHERE v = ?", "before")
	if err != nil || len(rows.Values) != 1 || rows.Columns[0] != "v" {
		t.Fatalf("snapshot: %+v, %v", rows, err)
	}
	// The only read connection is the snapshot's: a second snapshot waits, and gives up
	// when its context is done; the one it may have begun meanwhile is ended.
	cctx, cancel := context.WithCancel(ctx)
	waiting := make(chan error, 1)
	go func() {
		_, err := lc.Snapshot(cctx)
		waiting <- err
	}()
	cancel()
	if err := <-waiting; !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting snapshot: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Query(ctx, "SELECT 1"); !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "snapshot is closed") {
		t.Fatalf("query after Close: %v", err)
	}
	// The connection is back (the abandoned snapshot, if it began, was ended too).
	rows, err = lc.Query(ctx, "SELECT v FROM t")
	if err != nil || rows.Values[0][0] != "after" {
		t.Fatalf("query after the snapshots: %+v, %v", rows, err)
	}

	// A snapshot left open when the Committer closes fails with ErrClosed, and Close does
	// not wait for it.
	s, err = lc.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := lc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Query(ctx, "SELECT 1"); !errors.Is(err, ErrClosed) {
		t.Fatalf("query after the Committer closed: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.Snapshot(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Snapshot after Close: %v", err)
	}
}
