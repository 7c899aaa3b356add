package litecommit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"
)

// generous bound for waits on observable events (never a timing assertion).
const patience = 60 * time.Second

func open(t *testing.T, opts Options) (*Committer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	db, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func mustExec(t *testing.T, db *Committer, sql string, args ...any) Result {
	t.Helper()
	r, err := db.Exec(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("Exec(%q): %v", sql, err)
	}
	return r
}

func count(t *testing.T, db *Committer, table string) int64 {
	t.Helper()
	rows, err := db.Query(context.Background(), "SELECT count(*) FROM "+table)
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	return rows.Values[0][0].(int64)
}

// waitFor polls an observable condition every millisecond until it holds or patience runs out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// execHeld runs sql on a committer whose ticker holds transactions (holdOptions): it
// waits until the transaction is queued, flushes, and checks that it committed.
func execHeld(t *testing.T, db *Committer, sql string, args ...any) {
	t.Helper()
	before := db.c.accepted.Load()
	done := make(chan error, 1)
	go func() { _, err := db.Exec(context.Background(), sql, args...); done <- err }()
	waitFor(t, "the transaction to be queued", func() bool { return db.c.accepted.Load() > before })
	if err := db.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Exec(%q): %v", sql, err)
	}
}

func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want *litecommit.Error, got %T: %v", err, err)
	}
	return e
}

func TestValuesRoundTrip(t *testing.T) {
	db, _ := open(t, Options{})
	mustExec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, i, r, s, b, n)")
	blob := []byte{0, 1, 2, 255}
	r := mustExec(t, db, "INSERT INTO t (i, r, s, b, n) VALUES (?, ?, ?, ?, ?) RETURNING id, i, r, s, b, n",
		int64(math.MinInt64), 2.5, "héllo\x00world", blob, nil)
	if r.Changes != 1 || r.LastInsertID != 1 {
		t.Fatalf("result %+v", r)
	}
	want := []any{int64(1), int64(math.MinInt64), 2.5, "héllo\x00world", blob, nil}
	if got := r.Rows.Values[0]; !equalRow(got, want) {
		t.Fatalf("RETURNING %#v, want %#v", got, want)
	}
	if strings.Join(r.Rows.Columns, ",") != "id,i,r,s,b,n" {
		t.Fatalf("columns %v", r.Rows.Columns)
	}

	// Every Go integer kind, bool, float32.
	args := []any{int8(-8), int16(-16), int32(-32), uint(7), uint8(8), uint16(16), uint32(32),
		uint64(math.MaxInt64), true, false, float32(0.5), 42}
	for _, a := range args {
		mustExec(t, db, "INSERT INTO t (i) VALUES (?)", a)
	}
	rows, err := db.Query(context.Background(), "SELECT i FROM t WHERE id > 1 ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	wantI := []any{int64(-8), int64(-16), int64(-32), int64(7), int64(8), int64(16), int64(32),
		int64(math.MaxInt64), int64(1), int64(0), 0.5, int64(42)}
	if len(rows.Values) != len(wantI) {
		t.Fatalf("%d rows, want %d", len(rows.Values), len(wantI))
	}
	for i, row := range rows.Values {
		if row[0] != wantI[i] {
			t.Errorf("row %d: %#v, want %#v", i, row[0], wantI[i])
		}
	}

	// Named parameters: sql.Named and Named, with or without prefix.
	mustExec(t, db, "INSERT INTO t (i, s) VALUES (:i, :s)", sql.Named("i", 100), Named(":s", "named"))
	rows, err = db.Query(context.Background(), "SELECT s FROM t WHERE i = $i", Named("i", 100))
	if err != nil || len(rows.Values) != 1 || rows.Values[0][0] != "named" {
		t.Fatalf("named query: %v %v", rows, err)
	}
}

func equalRow(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		ab, aIsBytes := a[i].([]byte)
		bb, bIsBytes := b[i].([]byte)
		if aIsBytes || bIsBytes {
			if string(ab) != string(bb) || aIsBytes != bIsBytes {
				return false
			}
			continue
		}
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestArgumentErrors(t *testing.T) {
	db, _ := open(t, Options{})
	mustExec(t, db, "CREATE TABLE t (x)")
	ctx := context.Background()
	cases := []struct {
		name string
		args []any
		want string
	}{
		{"unsupported", []any{struct{}{}}, "argument 1: unsupported type struct {}"},
		{"overflow", []any{uint64(math.MaxUint64)}, "overflows int64"},
		{"mixed", []any{1, Named("x", 2)}, "mixes named and positional"},
		{"empty name", []any{Named("", 2)}, "empty parameter name"},
	}
	for _, c := range cases {
		_, err := db.Exec(ctx, "INSERT INTO t VALUES (?)", c.args...)
		e := asError(t, err)
		if e.Status != StatusInvalidArgument || !strings.Contains(e.Message, c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
		if !errors.Is(err, ErrInvalidArg) {
			t.Errorf("%s: errors.Is(ErrInvalidArg) is false", c.name)
		}
	}
	if _, err := db.Transaction(ctx, nil); !errors.Is(err, ErrInvalidArg) {
		t.Errorf("empty transaction: %v", err)
	}
	// Invalid UTF-8 in SQL and text is refused by the library.
	if _, err := db.Exec(ctx, "INSERT INTO t VALUES (?)", "\xff"); asError(t, err).Status != StatusInvalidArgument {
		t.Errorf("invalid UTF-8 text: %v", err)
	}
	if _, err := db.Exec(ctx, "SELECT '\xff'"); asError(t, err).Status != StatusInvalidArgument {
		t.Errorf("invalid UTF-8 SQL: %v", err)
	}
	if _, err := db.Query(ctx, "SELECT ?", struct{}{}); !errors.Is(err, ErrInvalidArg) {
		t.Errorf("query with a bad argument: %v", err)
	}
	// A NUL would cut the SQL or a name short in C: refused, never truncated.
	if _, err := db.Exec(ctx, "INSERT INTO t VALUES (1)\x00; DELETE FROM t"); !errors.Is(err, ErrInvalidArg) {
		t.Errorf("SQL with a NUL: %v", err)
	}
	if _, err := db.Exec(ctx, "INSERT INTO t VALUES (:x)", Named("x\x00y", 1)); !errors.Is(err, ErrInvalidArg) {
		t.Errorf("name with a NUL: %v", err)
	}
	if n := count(t, db, "t"); n != 0 {
		t.Fatalf("%d rows written by failed calls", n)
	}
}

func TestTransactionErrors(t *testing.T) {
	db, _ := open(t, Options{})
	ctx := context.Background()
	mustExec(t, db, "CREATE TABLE u (id INTEGER PRIMARY KEY, k TEXT UNIQUE)")
	mustExec(t, db, "INSERT INTO u (k) VALUES ('a')")

	_, err := db.Transaction(ctx, []Statement{
		{SQL: "INSERT INTO u (k) VALUES (?)", Args: []any{"b"}},
		{SQL: "INSERT INTO u (k) VALUES (?)", Args: []any{"a"}},
	})
	e := asError(t, err)
	if e.Status != StatusSQLiteError || e.Code != "SQLITE_CONSTRAINT_UNIQUE" || e.SQLiteCode != 19 ||
		e.ExtendedCode != 2067 || e.StatementIndex != 1 || !e.IsConstraint() {
		t.Fatalf("constraint error: %+v", e)
	}
	if n := count(t, db, "u"); n != 1 {
		t.Fatalf("the failed transaction left %d rows", n)
	}

	_, err = db.Exec(ctx, "BEGIN")
	if e := asError(t, err); e.Status != StatusRefused || e.StatementIndex != 0 {
		t.Errorf("BEGIN: %+v", e)
	}
	_, err = db.Exec(ctx, "INSERT INTO u (k) VALUES (?)")
	if e := asError(t, err); e.Status != StatusParameter {
		t.Errorf("missing parameter: %+v", e)
	}
	_, err = db.Exec(ctx, "INSERT INTO nowhere VALUES (1)")
	if e := asError(t, err); e.Status != StatusSQLiteError || e.Code != "SQLITE_ERROR" {
		t.Errorf("no such table: %+v", e)
	}
	if _, err = db.Query(ctx, "SELECT * FROM nowhere"); asError(t, err).Status != StatusSQLiteError {
		t.Errorf("query error: %v", err)
	}
	if _, err = db.Checkpoint(ctx, "sideways"); !errors.Is(err, ErrInvalidArg) {
		t.Errorf("bad checkpoint mode: %v", err)
	}
}

func TestConcurrentGoroutines(t *testing.T) {
	db, _ := open(t, Options{})
	mustExec(t, db, "CREATE TABLE c (id INTEGER PRIMARY KEY, g INTEGER)")
	// Row 1 exists, so the transactions that insert it again fail.
	mustExec(t, db, "INSERT INTO c (id, g) VALUES (1, -1)")
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	ids := make(chan int64, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var err error
			var r Result
			if i%10 == 0 {
				// Every tenth one fails on its own; its batch commits.
				_, err = db.Transaction(context.Background(), []Statement{
					{SQL: "INSERT INTO c (g) VALUES (?)", Args: []any{i}},
					{SQL: "INSERT INTO c (id) VALUES (1)"},
				})
				if err == nil || !asError(t, err).IsConstraint() {
					errs <- err
				}
				return
			}
			r, err = db.Exec(context.Background(), "INSERT INTO c (g) VALUES (?) RETURNING id", i)
			if err != nil {
				errs <- err
				return
			}
			ids <- r.LastInsertID
		}(i)
	}
	wg.Wait()
	close(errs)
	close(ids)
	for err := range errs {
		t.Errorf("unexpected: %v", err)
	}
	seen := map[int64]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("rowid %d returned twice", id)
		}
		seen[id] = true
	}
	if len(seen) != n-n/10 {
		t.Fatalf("%d successful inserts, want %d", len(seen), n-n/10)
	}
	if got := count(t, db, "c WHERE g >= 0"); got != int64(n-n/10) {
		t.Fatalf("%d rows, want %d", got, n-n/10)
	}
	st, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.TransactionsFailed != n/10 || st.Batches == 0 || st.Batches > st.TransactionsCommitted+st.TransactionsFailed {
		t.Fatalf("stats %+v", st)
	}
	if db.c.pending() != 0 {
		t.Fatalf("%d waiters left", db.c.pending())
	}
}

// A long ticker interval keeps transactions queued until Flush, so the test can observe
// waiting goroutines without timing assumptions.
var holdOptions = Options{FlushPolicy: FlushTicker, MaxWaitMs: 10 * 60 * 1000, MaxBatchSize: 1_000_000}

func TestWaitersDoNotHoldThreads(t *testing.T) {
	db, _ := open(t, holdOptions)
	ctx := context.Background()
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	mustCreate := func() {
		done := make(chan error, 1)
		go func() { _, err := db.Exec(ctx, "CREATE TABLE w (x)"); done <- err }()
		waitFor(t, "the CREATE to be queued", func() bool { return db.c.accepted.Load() == 1 })
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	mustCreate()

	threads := pprof.Lookup("threadcreate")
	before := threads.Count()
	const n = 3000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if _, err := db.Exec(ctx, "INSERT INTO w VALUES (?)", i); err != nil {
				errs <- err
			}
		}(i)
	}
	waitFor(t, "all inserts to be queued", func() bool { return db.c.accepted.Load() == n+1 })
	if created := threads.Count() - before; created > 100 {
		t.Errorf("%d OS threads created for %d waiting goroutines", created, n)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := count(t, db, "w"); got != n {
		t.Fatalf("%d rows, want %d", got, n)
	}
}

func TestContextCancellation(t *testing.T) {
	db, _ := open(t, holdOptions)
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { _, err := db.Exec(ctx, "CREATE TABLE k (x)"); done <- err }()
	waitFor(t, "queued", func() bool { return db.c.accepted.Load() == 1 })
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Already cancelled: nothing is submitted.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := db.Exec(cancelled, "INSERT INTO k VALUES (0)"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before: %v", err)
	}
	for _, f := range []func() error{
		func() error { _, err := db.Query(cancelled, "SELECT 1"); return err },
		func() error { return db.Flush(cancelled) },
		func() error { _, err := db.Checkpoint(cancelled, CheckpointPassive); return err },
	} {
		if err := f(); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled call: %v", err)
		}
	}

	// Cancelled while queued: the call returns at once; the transaction still commits.
	waiting, cancel := context.WithCancel(ctx)
	go func() { _, err := db.Exec(waiting, "INSERT INTO k VALUES (1)"); done <- err }()
	waitFor(t, "queued", func() bool { return db.c.accepted.Load() == 2 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled while waiting: %v", err)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, "k"); n != 1 {
		t.Fatalf("%d rows: the cancelled transaction should have committed", n)
	}
	waitFor(t, "the waiter to be dropped", func() bool { return db.c.pending() == 0 })
}

func TestCloseAndErrors(t *testing.T) {
	// The ticker's long interval keeps transactions queued until Close; the queue has room
	// for `queued` of them, so the other `waiting` callers wait for a slot. Close commits
	// the queued ones and turns the waiting ones away with ErrClosed.
	const queued, waiting = 40, 25
	opts := holdOptions
	opts.QueueCapacity = queued
	db, path := open(t, opts)
	ctx := context.Background()
	execHeld(t, db, "CREATE TABLE z (x)")

	results := make(chan error, queued+waiting)
	for i := 0; i < queued+waiting; i++ {
		go func(i int) {
			_, err := db.Exec(ctx, "INSERT INTO z VALUES (?)", i)
			results <- err
		}(i)
	}
	waitFor(t, "the queue to fill and the other callers to wait for room", func() bool {
		return db.c.accepted.Load() == 1+queued && db.c.waitingForSlot.Load() == waiting
	})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	committed, closed := 0, 0
	for i := 0; i < queued+waiting; i++ {
		select {
		case err := <-results:
			switch {
			case err == nil:
				committed++
			case errors.Is(err, ErrClosed):
				closed++
			default:
				t.Errorf("insert: %v", err)
			}
		case <-time.After(patience):
			t.Fatalf("%d callers still wait after Close", queued+waiting-i)
		}
	}
	if committed != queued || closed != waiting {
		t.Fatalf("%d committed and %d closed, want %d and %d", committed, closed, queued, waiting)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	calls := map[string]func() error{
		"Exec":        func() error { _, err := db.Exec(ctx, "INSERT INTO z VALUES (1)"); return err },
		"Transaction": func() error { _, err := db.Transaction(ctx, []Statement{{SQL: "SELECT 1"}}); return err },
		"Query":       func() error { _, err := db.Query(ctx, "SELECT 1"); return err },
		"Flush":       func() error { return db.Flush(ctx) },
		"Checkpoint":  func() error { _, err := db.Checkpoint(ctx, CheckpointFull); return err },
		"MetricsText": func() error { _, err := db.MetricsText(); return err },
		"Stats":       func() error { _, err := db.Stats(); return err },
	}
	for name, f := range calls {
		if err := f(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v", name, err)
		}
	}

	// Everything that returned success is in the database.
	db2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if got := count(t, db2, "z"); got != queued {
		t.Fatalf("%d rows, %d calls succeeded", got, queued)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.db")
	cases := []struct {
		opts Options
		want string
	}{
		{Options{MaxBatchSize: -1}, "MaxBatchSize"},
		{Options{Durability: "sometimes"}, "Durability"},
		{Options{FlushPolicy: "never"}, "FlushPolicy"},
		{Options{PassiveThresholdMb: 8, RestartThresholdMb: 2}, "restart_threshold_mb"},
		{Options{ReadConnections: -3}, "ReadConnections"},
		{Options{MetricsLabel: "a\x00b"}, "MetricsLabel"},
	}
	for _, c := range cases {
		_, err := Open(path, c.opts)
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want an invalid config error naming %s", c.opts, err, c.want)
		}
	}
	if _, err := Open(path+"\x00.other", Options{}); !errors.Is(err, ErrInvalidArg) {
		t.Errorf("path with a NUL: %v", err)
	}
	_, err := Open(filepath.Join(dir, "missing", "dir", "x.db"), Options{})
	if e := asError(t, err); e.Status != StatusSQLiteError || e.SQLiteCode != 14 || e.Code != "SQLITE_CANTOPEN" {
		t.Errorf("open in a missing directory: want SQLITE_CANTOPEN, got %+v", e)
	}
	if _, err := os.Stat(path); err == nil {
		t.Errorf("an invalid configuration created the database")
	}
}

func TestFlushCheckpointMetricsStats(t *testing.T) {
	db, _ := open(t, Options{Checkpoint: Bool(false), JournalSizeLimit: Int64(-1), MetricsLabel: "orders"})
	ctx := context.Background()
	mustExec(t, db, "CREATE TABLE m (x)")
	for i := 0; i < 10; i++ {
		mustExec(t, db, "INSERT INTO m VALUES (?)", i)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := db.Checkpoint(ctx, CheckpointTruncate)
	if err != nil || r.Busy {
		t.Fatalf("checkpoint: %+v %v", r, err)
	}
	text, err := db.MetricsText()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		`litecommit_flushes_total{db="orders",trigger="size"} 0`,
		`litecommit_batch_size_count{db="orders"} `,
		`litecommit_checkpoints_total{db="orders",mode="truncate"} 1`,
		`litecommit_checkpoints_total{db="orders",mode="restart"} 0`,
		`litecommit_commit_latency_seconds_count{db="orders"} 11`,
		`litecommit_transactions_total{db="orders",outcome="committed"} 11`,
	} {
		if !strings.Contains(text, "\n"+line) {
			t.Errorf("metrics lack %s in:\n%s", line, text)
		}
	}
	st, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.TransactionsCommitted != 11 || st.Checkpoints["truncate"] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReadmeShowsTheExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"example_test.go", "example_sql_test.go"} {
		example, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		src := string(example)
		begin := strings.Index(src, "// README:begin\n")
		end := strings.Index(src, "\t// README:end")
		if begin < 0 || end < begin {
			t.Fatalf("README markers missing in %s", file)
		}
		var body strings.Builder
		for _, line := range strings.SplitAfter(src[begin+len("// README:begin\n"):end], "\n") {
			body.WriteString(strings.TrimPrefix(line, "\t"))
		}
		if !strings.Contains(string(readme), body.String()) {
			t.Fatalf("README.md's Go section must contain the example of %s verbatim:\n%s", file, body.String())
		}
	}
}

// A caller waiting for room in a full queue waits in Go: cancelling its context returns at
// once, and its transaction is never submitted.
func TestCancelWhileQueueFull(t *testing.T) {
	opts := holdOptions
	opts.QueueCapacity = 1
	db, _ := open(t, opts)
	ctx := context.Background()
	first := make(chan error, 1)
	go func() { _, err := db.Exec(ctx, "CREATE TABLE f (x)"); first <- err }()
	waitFor(t, "the CREATE to be queued", func() bool { return db.c.accepted.Load() == 1 })

	waiting, cancel := context.WithCancel(ctx)
	second := make(chan error, 1)
	go func() { _, err := db.Exec(waiting, "INSERT INTO f VALUES (1)"); second <- err }()
	waitFor(t, "the INSERT to wait for room", func() bool { return db.c.waitingForSlot.Load() == 1 })
	cancel()
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled while the queue was full: %v", err)
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	// The slot is free again, and the cancelled INSERT never reached the database.
	go func() { _, err := db.Exec(ctx, "INSERT INTO f VALUES (2)"); first <- err }()
	waitFor(t, "the second INSERT to be queued", func() bool { return db.c.accepted.Load() == 2 })
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, "f WHERE x = 1"); n != 0 {
		t.Fatalf("the cancelled INSERT committed")
	}
	if n := count(t, db, "f"); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}

// A Committer dropped without Close is closed by its finalizer: queued work commits, the
// poller stops.
func TestFinalizerClosesAndCommits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gc.db")
	inner := func() *committer {
		db, err := Open(path, holdOptions)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { _, err := db.Exec(ctx, "CREATE TABLE g (x)"); done <- err }()
		waitFor(t, "queued", func() bool { return db.c.accepted.Load() == 1 })
		// Return without waiting: the CREATE stays queued (ticker policy, long interval).
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Exec: %v", err)
		}
		return db.c
	}()
	closed := func() bool {
		select {
		case <-inner.pollDone:
			return true
		default:
			runtime.GC()
			return false
		}
	}
	waitFor(t, "the finalizer to close the committer", closed)
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n := count(t, db, "g"); n != 0 {
		t.Fatalf("count %d", n)
	}
}

func TestOptionsZeroAndExplicit(t *testing.T) {
	c, err := (&Options{}).toC()
	if err != nil {
		t.Fatal(err)
	}
	if c.busy_timeout_ms != 5000 || c.checkpoint != 1 || c.max_batch_size != 10000 || c.journal_size_limit != 64<<20 {
		t.Fatalf("zero Options are not the defaults: %+v", c)
	}
	c, err = (&Options{BusyTimeoutMs: -1, CheckpointBusyTimeoutMs: -1, CacheSizeKib: -1,
		StatementCacheCapacity: -1, Checkpoint: Bool(false), ForeignKeys: Bool(false),
		DynamicBatchSize: Bool(false), JournalSizeLimit: Int64(0), MaxBatchSize: 7}).toC()
	if err != nil {
		t.Fatal(err)
	}
	if c.busy_timeout_ms != 0 || c.checkpoint_busy_timeout_ms != 0 || c.cache_size_kib != 0 ||
		c.statement_cache_capacity != 0 || c.checkpoint != 0 || c.foreign_keys != 0 ||
		c.dynamic_batch_size != 0 || c.journal_size_limit != 0 || c.max_batch_size != 7 {
		t.Fatalf("explicit Options not applied: %+v", c)
	}
	db, _ := open(t, Options{BusyTimeoutMs: -1, StatementCacheCapacity: -1})
	mustExec(t, db, "CREATE TABLE o (x)")
	if n := count(t, db, "o"); n != 0 {
		t.Fatalf("count %d", n)
	}
}

// Transactions of one goroutine commit in the order it submitted them, with many
// goroutines writing at once.
func TestOrderPerGoroutine(t *testing.T) {
	db, _ := open(t, Options{})
	ctx := context.Background()
	mustExec(t, db, "CREATE TABLE o (id INTEGER PRIMARY KEY, g INTEGER, seq INTEGER)")
	const goroutines, perGoroutine = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			last := int64(0)
			for seq := 0; seq < perGoroutine; seq++ {
				r, err := db.Exec(ctx, "INSERT INTO o (g, seq) VALUES (?, ?)", g, seq)
				if err != nil {
					errs <- err
					return
				}
				// Rowids grow with commit order.
				if r.LastInsertID <= last {
					errs <- fmt.Errorf("goroutine %d: rowid %d after %d", g, r.LastInsertID, last)
					return
				}
				last = r.LastInsertID
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	rows, err := db.Query(ctx, "SELECT g, seq FROM o ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows.Values) != goroutines*perGoroutine {
		t.Fatalf("%d rows, want %d", len(rows.Values), goroutines*perGoroutine)
	}
	next := make([]int64, goroutines)
	for i, row := range rows.Values {
		g, seq := row[0].(int64), row[1].(int64)
		if seq != next[g] {
			t.Fatalf("row %d: goroutine %d's transaction %d committed where %d was due", i, g, seq, next[g])
		}
		next[g]++
	}
}

// At most QueueCapacity transactions are in flight; further callers wait (in Go) until
// commits free room, then succeed.
func TestBackpressure(t *testing.T) {
	const capacity, extra = 4, 10
	opts := holdOptions
	opts.QueueCapacity = capacity
	db, _ := open(t, opts)
	ctx := context.Background()
	execHeld(t, db, "CREATE TABLE bp (x)")
	base := db.c.accepted.Load()

	results := make(chan error, capacity+extra)
	for i := 0; i < capacity+extra; i++ {
		go func(i int) {
			_, err := db.Exec(ctx, "INSERT INTO bp VALUES (?)", i)
			results <- err
		}(i)
	}
	// Each Flush commits what is queued; the room it frees lets the next callers in, and
	// never more than the capacity.
	for admitted := uint64(capacity); ; admitted = min(admitted+capacity, capacity+extra) {
		waiting := int64(capacity + extra - admitted)
		waitFor(t, fmt.Sprintf("%d queued and %d waiting for room", admitted, waiting), func() bool {
			return db.c.accepted.Load()-base == admitted && db.c.waitingForSlot.Load() == waiting
		})
		if n := db.c.pending(); n > capacity {
			t.Fatalf("%d transactions in flight, capacity %d", n, capacity)
		}
		if err := db.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if waiting == 0 {
			break
		}
	}
	for i := 0; i < capacity+extra; i++ {
		select {
		case err := <-results:
			if err != nil {
				t.Errorf("insert: %v", err)
			}
		case <-time.After(patience):
			t.Fatalf("%d callers never returned", capacity+extra-i)
		}
	}
	if n := count(t, db, "bp"); n != capacity+extra {
		t.Fatalf("%d rows, want %d", n, capacity+extra)
	}
}

// Every status of the C library has its Go constant and name; ErrForked and ErrSQLite
// match by status.
func TestStatusMapping(t *testing.T) {
	names := map[Status]string{
		StatusOK:              "LITECOMMIT_OK",
		StatusSQLiteError:     "LITECOMMIT_SQLITE_ERROR",
		StatusRefused:         "LITECOMMIT_REFUSED",
		StatusParameter:       "LITECOMMIT_PARAMETER",
		StatusInvalidConfig:   "LITECOMMIT_INVALID_CONFIG",
		StatusClosed:          "LITECOMMIT_CLOSED",
		StatusQueueFull:       "LITECOMMIT_QUEUE_FULL",
		StatusTimeout:         "LITECOMMIT_TIMEOUT",
		StatusOpenError:       "LITECOMMIT_OPEN",
		StatusInvalidArgument: "LITECOMMIT_INVALID_ARGUMENT",
		StatusInternal:        "LITECOMMIT_INTERNAL",
		StatusForked:          "LITECOMMIT_FORKED",
	}
	for s, name := range names {
		if s.String() != name {
			t.Errorf("status %d is %s in C, %s in Go", int32(s), s.String(), name)
		}
	}
	if s := Status(len(names)); s.String() != "LITECOMMIT_UNKNOWN_STATUS" {
		t.Errorf("the C library knows status %d (%s) that Go does not", int32(s), s)
	}
	forked := &Error{Status: StatusForked, Code: "LITECOMMIT_FORKED", StatementIndex: -1,
		Message: "the committer was opened by process 1; it cannot be used in a forked child process"}
	if !errors.Is(forked, ErrForked) || errors.Is(forked, ErrClosed) || errors.Is(forked, ErrSQLite) {
		t.Errorf("errors.Is does not single out ErrForked")
	}
}

// A file that is not a database fails Open with SQLite's own code, SQLITE_NOTADB (26).
func TestOpenNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "random-bytes.db")
	junk := make([]byte, 8192)
	rand.New(rand.NewSource(1)).Read(junk)
	if err := os.WriteFile(path, junk, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, Options{})
	if err == nil {
		db.Close()
		t.Fatal("Open accepted a file of random bytes")
	}
	e := asError(t, err)
	if e.Status != StatusSQLiteError || e.SQLiteCode != 26 || e.ExtendedCode != 26 ||
		e.Code != "SQLITE_NOTADB" || e.StatementIndex != -1 || !errors.Is(err, ErrSQLite) {
		t.Fatalf("want SQLITE_NOTADB, got %+v", e)
	}
	if !strings.Contains(e.Message, "random-bytes.db") {
		t.Errorf("the message does not name the file: %q", e.Message)
	}
}
