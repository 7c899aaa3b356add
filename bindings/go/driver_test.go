package litecommit

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// openDB opens a *sql.DB on a fresh database with the given DSN options ("" for none) and
// returns it with its Committer.
func openDB(t *testing.T, options string) (*sql.DB, *Committer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "driver.db")
	dsn := path
	if options != "" {
		dsn += "?" + options
	}
	db, err := sql.Open(DriverName, dsn)
	if err != nil {
		t.Fatalf("sql.Open(%q): %v", dsn, err)
	}
	t.Cleanup(func() { db.Close() })
	return db, committerOf(t, db), path
}

// committerOf reaches the Committer behind a *sql.DB the documented way: sql.Conn.Raw.
func committerOf(t *testing.T, db *sql.DB) *Committer {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatalf("db.Conn: %v", err)
	}
	defer conn.Close()
	var c *Committer
	if err := conn.Raw(func(dc any) error {
		c = dc.(*Conn).Committer()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

func sqlExec(t *testing.T, db *sql.DB, query string, args ...any) sql.Result {
	t.Helper()
	r, err := db.ExecContext(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("ExecContext(%q): %v", query, err)
	}
	return r
}

func sqlCount(t *testing.T, db *sql.DB, table string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRowContext(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count(%s): %v", table, err)
	}
	return n
}

func TestDriverExecIsOneTransactionAndQuerySeesIt(t *testing.T) {
	db, lc, _ := openDB(t, "durability=normal")
	ctx := context.Background()
	sqlExec(t, db, "CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)")
	before, err := lc.Stats()
	if err != nil {
		t.Fatal(err)
	}
	r := sqlExec(t, db, "INSERT INTO kv VALUES (?, ?)", "a", 1)
	if id, err := r.LastInsertId(); err != nil || id != 1 {
		t.Fatalf("LastInsertId %d, %v", id, err)
	}
	if n, err := r.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("RowsAffected %d, %v", n, err)
	}
	after, err := lc.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if after.TransactionsCommitted != before.TransactionsCommitted+1 {
		t.Fatalf("ExecContext committed %d transactions, want 1",
			after.TransactionsCommitted-before.TransactionsCommitted)
	}
	// The committed row is visible to a query on the read pool, through any connection.
	var v int64
	if err := db.QueryRowContext(ctx, "SELECT v FROM kv WHERE k = ?", "a").Scan(&v); err != nil || v != 1 {
		t.Fatalf("QueryRow: %d, %v", v, err)
	}
	// A query is not a transaction: the committer's count does not move.
	again, err := lc.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if again.TransactionsCommitted != after.TransactionsCommitted {
		t.Fatalf("a query went through the writer: %+v", again)
	}
	// A failing statement is SQLite's error, unchanged.
	_, err = db.ExecContext(ctx, "INSERT INTO kv VALUES (?, ?)", "a", 2)
	if e := asError(t, err); e.Code != "SQLITE_CONSTRAINT_PRIMARYKEY" {
		t.Fatalf("duplicate key: %v", err)
	}
}

func TestDriverConnectionsShareOneCommitter(t *testing.T) {
	db, lc, _ := openDB(t, "")
	ctx := context.Background()
	// Three connections open at once: database/sql opened three driver.Conns.
	var conns []*sql.Conn
	for i := 0; i < 3; i++ {
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
	}
	if got := db.Stats().OpenConnections; got != 3 {
		t.Fatalf("database/sql holds %d connections, want 3", got)
	}
	seen := map[*Conn]bool{}
	for _, conn := range conns {
		if err := conn.Raw(func(dc any) error {
			c := dc.(*Conn)
			seen[c] = true
			if c.Committer() != lc {
				t.Errorf("connection %p submits to another Committer", c)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, "PRAGMA user_version = 7"); err != nil {
			t.Fatal(err)
		}
		conn.Close()
	}
	if len(seen) != 3 {
		t.Fatalf("%d distinct driver connections, want 3", len(seen))
	}
	st, err := lc.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.TransactionsCommitted != 3 {
		t.Fatalf("the shared committer committed %d transactions, want 3", st.TransactionsCommitted)
	}
}

func TestDriverConcurrentExecSharesBatches(t *testing.T) {
	// The ticker policy with a far-away timer and no dynamic sizing flushes exactly when
	// batchSize transactions are queued: batches of batchSize, whatever the scheduling.
	const batchSize, batches = 32, 4
	path := filepath.Join(t.TempDir(), "concurrent.db")
	setup, err := sql.Open(DriverName, path)
	if err != nil {
		t.Fatal(err)
	}
	sqlExec(t, setup, "CREATE TABLE c (id INTEGER PRIMARY KEY, g INTEGER)")
	if err := setup.Close(); err != nil {
		t.Fatal(err)
	}
	dsn := fmt.Sprintf("%s?flushPolicy=ticker&max_wait_ms=600000&maxBatchSize=%d&dynamicBatchSize=false", path, batchSize)
	db, err := sql.Open(DriverName, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lc := committerOf(t, db)

	const n = batchSize * batches
	// A batch that never fills would hold its callers forever: they give up after patience.
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, err := db.ExecContext(ctx, "INSERT INTO c (g) VALUES (?)", i)
			if err == nil {
				if changed, _ := r.RowsAffected(); changed != 1 {
					err = fmt.Errorf("goroutine %d: %d rows changed", i, changed)
				}
			}
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := sqlCount(t, db, "c"); got != n {
		t.Fatalf("%d rows, want %d", got, n)
	}
	st, err := lc.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.TransactionsCommitted != n || st.MaxBatchSize != batchSize || st.Flushes["size"] != batches {
		t.Fatalf("want %d transactions in %d batches of %d: %+v", n, batches, batchSize, st)
	}
	// A batch of batchSize needs batchSize callers waiting at once, each on its own
	// connection: database/sql opened that many and closed all but its idle ones.
	if pool := db.Stats(); pool.OpenConnections+int(pool.MaxIdleClosed) < batchSize {
		t.Fatalf("the goroutines did not use %d connections: %+v", batchSize, pool)
	}
}

func TestDriverReadWriteTxRefused(t *testing.T) {
	db, _, _ := openDB(t, "")
	ctx := context.Background()
	for name, begin := range map[string]func() (*sql.Tx, error){
		"Begin":   db.Begin,
		"BeginTx": func() (*sql.Tx, error) { return db.BeginTx(ctx, nil) },
		"BeginTx(ReadOnly: false)": func() (*sql.Tx, error) {
			return db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
		},
	} {
		tx, err := begin()
		if err == nil {
			tx.Rollback()
			t.Fatalf("%s: a read-write transaction began", name)
		}
		if !errors.Is(err, ErrReadWriteTx) {
			t.Fatalf("%s: %v, want ErrReadWriteTx", name, err)
		}
		for _, want := range []string{"read-write transactions are not supported", "Committer.Transaction", "ReadOnly: true"} {
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("%s: %q does not say %q", name, err, want)
			}
		}
	}
}

// Every argument type goes in through database/sql and comes back through Scan.
func TestDriverArgumentsRoundTrip(t *testing.T) {
	db, _, _ := openDB(t, "")
	ctx := context.Background()
	sqlExec(t, db, "CREATE TABLE a (id INTEGER PRIMARY KEY, v)")
	type userID int64
	type label string
	type raw []byte
	s, i64 := "pointed", int64(-5)
	var nilString *string
	var nilValuer *sql.NullInt64
	at := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("", 2*3600))
	cases := []struct {
		name string
		in   any
		want any // what the column holds, as a query returns it
	}{
		{"nil", nil, nil},
		{"int", int(-1), int64(-1)},
		{"int8", int8(math.MinInt8), int64(math.MinInt8)},
		{"int16", int16(math.MaxInt16), int64(math.MaxInt16)},
		{"int32", int32(math.MinInt32), int64(math.MinInt32)},
		{"int64", int64(math.MaxInt64), int64(math.MaxInt64)},
		{"uint", uint(7), int64(7)},
		{"uint8", uint8(255), int64(255)},
		{"uint16", uint16(65535), int64(65535)},
		{"uint32", uint32(math.MaxUint32), int64(math.MaxUint32)},
		{"uint64", uint64(math.MaxInt64), int64(math.MaxInt64)},
		{"float32", float32(0.5), 0.5},
		{"float64", -2.25, -2.25},
		{"true", true, int64(1)},
		{"false", false, int64(0)},
		{"string", "héllo", "héllo"},
		{"empty string", "", ""},
		{"bytes", []byte{0, 1, 255}, []byte{0, 1, 255}},
		{"empty bytes", []byte{}, []byte{}},
		{"nil bytes", []byte(nil), nil},
		{"time", at, "2024-05-06 07:08:09.123456789+02:00"},
		{"time UTC whole second", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), "2024-01-02 03:04:05+00:00"},
		{"NullString", sql.NullString{String: "x", Valid: true}, "x"},
		{"NullString invalid", sql.NullString{}, nil},
		{"NullInt64", sql.NullInt64{Int64: 9, Valid: true}, int64(9)},
		{"NullFloat64", sql.NullFloat64{Float64: 1.5, Valid: true}, 1.5},
		{"NullBool", sql.NullBool{Bool: true, Valid: true}, int64(1)},
		{"NullTime", sql.NullTime{Time: at, Valid: true}, "2024-05-06 07:08:09.123456789+02:00"},
		{"Null[int32]", sql.Null[int32]{V: 3, Valid: true}, int64(3)},
		{"pointer", &s, "pointed"},
		{"pointer to pointer", func() any { p := &i64; return &p }(), int64(-5)},
		{"nil pointer", nilString, nil},
		{"nil pointer to Valuer", nilValuer, nil},
		{"named int", userID(42), int64(42)},
		{"named string", label("l"), "l"},
		{"named bytes", raw("r"), []byte("r")},
		{"Valuer", celsius(21.5), "21.5C"},
	}
	for _, c := range cases {
		var id int64
		if err := db.QueryRowContext(ctx, "INSERT INTO a (v) VALUES (?) RETURNING id", c.in).Scan(&id); err != nil {
			t.Fatalf("%s: insert: %v", c.name, err)
		}
		var got any
		if err := db.QueryRowContext(ctx, "SELECT v FROM a WHERE id = ?", id).Scan(&got); err != nil {
			t.Fatalf("%s: select: %v", c.name, err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: stored %#v, want %#v", c.name, got, c.want)
		}
	}

	// Scanning into the usual Go types.
	var (
		gotI   int64
		gotF   float64
		gotS   string
		gotB   []byte
		gotOK  bool
		gotNS  sql.NullString
		gotNI  sql.NullInt64
		gotPtr *string
	)
	row := db.QueryRowContext(ctx, "SELECT 7, 2.5, 'text', x'00ff', 1, NULL, 8, NULL")
	if err := row.Scan(&gotI, &gotF, &gotS, &gotB, &gotOK, &gotNS, &gotNI, &gotPtr); err != nil {
		t.Fatal(err)
	}
	if gotI != 7 || gotF != 2.5 || gotS != "text" || !reflect.DeepEqual(gotB, []byte{0, 255}) || !gotOK ||
		gotNS.Valid || !gotNI.Valid || gotNI.Int64 != 8 || gotPtr != nil {
		t.Fatalf("scanned %v %v %q %v %v %+v %+v %v", gotI, gotF, gotS, gotB, gotOK, gotNS, gotNI, gotPtr)
	}

	// Named parameters: sql.Named binds :name, @name and $name.
	var sum int64
	if err := db.QueryRowContext(ctx, "SELECT :a + @b + $c", sql.Named("a", 1), sql.Named("b", 2), sql.Named("c", 3)).
		Scan(&sum); err != nil || sum != 6 {
		t.Fatalf("named: %d, %v", sum, err)
	}
	if _, err := db.ExecContext(ctx, "UPDATE a SET v = :v WHERE id = :id", sql.Named("id", 1), sql.Named("v", "n")); err != nil {
		t.Fatal(err)
	}

	// Refused arguments name the argument; nothing is written.
	rowsBefore := sqlCount(t, db, "a")
	for _, c := range []struct {
		arg  any
		want string
	}{
		{uint64(math.MaxUint64), "argument $1: 18446744073709551615 overflows int64"},
		{struct{}{}, "argument $1: unsupported type struct {}"},
		{[]int{1}, "argument $1: unsupported type []int"},
		{failingValuer{}, "argument $1: litecommit.failingValuer.Value: no value"},
	} {
		_, err := db.ExecContext(ctx, "INSERT INTO a (v) VALUES (?)", c.arg)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrInvalidArg) {
			t.Errorf("%T: %v, want %q", c.arg, err, c.want)
		}
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO a (v) VALUES (?)", sql.Named("v", 1), 2); err == nil ||
		!strings.Contains(err.Error(), "mixes named and positional") {
		t.Errorf("mixed arguments: %v", err)
	}
	if got := sqlCount(t, db, "a"); got != rowsBefore {
		t.Fatalf("refused arguments wrote %d rows", got-rowsBefore)
	}
}

// celsius is a driver.Valuer of the caller's own.
type celsius float64

func (c celsius) Value() (driver.Value, error) { return fmt.Sprintf("%gC", float64(c)), nil }

// failingValuer's Value fails.
type failingValuer struct{}

func (failingValuer) Value() (driver.Value, error) { return nil, errors.New("no value") }

// The native API converts arguments with the same code as the driver.
func TestNativeAPIAcceptsValuersAndTimes(t *testing.T) {
	db, _ := open(t, Options{})
	ctx := context.Background()
	mustExec(t, db, "CREATE TABLE n (a, b, c, d, e)")
	at := time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)
	n := 5
	mustExec(t, db, "INSERT INTO n VALUES (?, ?, ?, ?, ?)", at, sql.NullString{}, celsius(3), &n,
		sql.NullInt64{Int64: 1, Valid: true})
	rows, err := db.Query(ctx, "SELECT a, b, c, d, e FROM n")
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"2001-02-03 04:05:06.000000007+00:00", nil, "3C", int64(5), int64(1)}
	if !reflect.DeepEqual(rows.Values[0], want) {
		t.Fatalf("stored %#v, want %#v", rows.Values[0], want)
	}
	if _, err := db.Exec(ctx, "SELECT ?", failingValuer{}); !errors.Is(err, ErrInvalidArg) ||
		!strings.Contains(err.Error(), "statement 0, argument 1: litecommit.failingValuer.Value: no value") {
		t.Fatalf("failing Valuer: %v", err)
	}
}

// RETURNING that matches no row still reports its columns, in the driver and the native
// API, and so does a query with no rows.
func TestReturningZeroRowsHasColumns(t *testing.T) {
	db, lc, _ := openDB(t, "")
	ctx := context.Background()
	sqlExec(t, db, "CREATE TABLE r (id INTEGER PRIMARY KEY, v TEXT)")
	for _, c := range []struct {
		q    string
		cols []string
	}{
		{"UPDATE r SET v = 'x' WHERE id = -1 RETURNING id, v", []string{"id", "v"}},
		{"DELETE FROM r WHERE id = -1 RETURNING v AS value, id", []string{"value", "id"}},
		{"INSERT INTO r (id, v) SELECT 1, 'x' WHERE 0 RETURNING *", []string{"id", "v"}},
		{"SELECT id, v FROM r WHERE id = -1", []string{"id", "v"}},
		{"WITH w AS (SELECT 1 AS one) SELECT one FROM w WHERE one = 2", []string{"one"}},
	} {
		q := c.q
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		if rows.Next() {
			t.Fatalf("%s: a row came back", q)
		}
		rows.Close()
		if !reflect.DeepEqual(cols, c.cols) {
			t.Fatalf("%s: columns %v, want %v", q, cols, c.cols)
		}
	}

	// The native API: one statement, and one of several.
	r, err := lc.Exec(ctx, "UPDATE r SET v = 'y' WHERE id = -1 RETURNING id, v")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Rows.Columns, []string{"id", "v"}) || len(r.Rows.Values) != 0 {
		t.Fatalf("native RETURNING with no row: %+v", r.Rows)
	}
	results, err := lc.Transaction(ctx, []Statement{
		{SQL: "INSERT INTO r (v) VALUES ('a')"},
		{SQL: "DELETE FROM r WHERE id = -1 RETURNING id"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(results[0].Rows.Columns) != 0 || !reflect.DeepEqual(results[1].Rows.Columns, []string{"id"}) {
		t.Fatalf("transaction results %+v", results)
	}
	// A write without RETURNING has no columns.
	r, err = lc.Exec(ctx, "INSERT INTO r (v) VALUES ('b')")
	if err != nil || len(r.Rows.Columns) != 0 || r.LastInsertID != 2 {
		t.Fatalf("plain insert: %+v, %v", r, err)
	}

	// INSERT ... RETURNING through QueryRowContext commits and returns the row.
	var id int64
	var v string
	if err := db.QueryRowContext(ctx, "INSERT INTO r (v) VALUES (?) RETURNING id, v", "c").Scan(&id, &v); err != nil ||
		id != 3 || v != "c" {
		t.Fatalf("INSERT RETURNING: %d %q %v", id, v, err)
	}
	// A write the first keyword does not reveal still reaches the writer.
	if err := db.QueryRowContext(ctx, "WITH x AS (SELECT 'd' AS v) INSERT INTO r (v) SELECT v FROM x RETURNING id").
		Scan(&id); err != nil || id != 4 {
		t.Fatalf("WITH ... INSERT RETURNING: %d %v", id, err)
	}
	if got := sqlCount(t, db, "r"); got != 4 {
		t.Fatalf("%d rows, want 4", got)
	}
}

func TestDriverPreparedStatements(t *testing.T) {
	db, _, _ := openDB(t, "")
	ctx := context.Background()
	sqlExec(t, db, "CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT)")
	ins, err := db.PrepareContext(ctx, "INSERT INTO p (name) VALUES (?)")
	if err != nil {
		t.Fatal(err)
	}
	defer ins.Close()
	for _, name := range []string{"a", "b", "c"} {
		if _, err := ins.ExecContext(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	sel, err := db.PrepareContext(ctx, "SELECT name FROM p WHERE id >= :from ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer sel.Close()
	for from, want := range map[int][]string{1: {"a", "b", "c"}, 3: {"c"}, 4: nil} {
		rows, err := sel.QueryContext(ctx, sql.Named("from", from))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			got = append(got, s)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("from %d: %v, want %v", from, got, want)
		}
	}
	// An error in the SQL is reported when the statement runs.
	bad, err := db.PrepareContext(ctx, "INSERT INTO missing VALUES (?)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.ExecContext(ctx, 1); err == nil || !strings.Contains(err.Error(), "no such table") {
		t.Fatalf("bad statement: %v", err)
	}
	bad.Close()
}

func TestDriverContextCancellation(t *testing.T) {
	// The ticker's timer never fires during the test: a transaction waits for Flush.
	db, lc, _ := openDB(t, "flushPolicy=ticker&maxWaitMs=600000&maxBatchSize=1000000")
	create := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(context.Background(), "CREATE TABLE x (v)")
		create <- err
	}()
	waitFor(t, "CREATE TABLE to be queued", func() bool { return lc.c.accepted.Load() == 1 })
	if err := lc.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-create; err != nil {
		t.Fatal(err)
	}

	// Done before the call: nothing is submitted.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := db.ExecContext(ctx, "INSERT INTO x VALUES (1)"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before: %v", err)
	}
	// Done while queued: the call returns, the transaction stays queued and commits.
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(ctx, "INSERT INTO x VALUES (2)")
		done <- err
	}()
	waitFor(t, "the insert to be queued", func() bool { return lc.c.accepted.Load() == 2 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled while queued: %v", err)
	}
	if err := lc.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var n, v int64
	if err := db.QueryRowContext(context.Background(), "SELECT count(*), sum(v) FROM x").Scan(&n, &v); err != nil ||
		n != 1 || v != 2 {
		t.Fatalf("after the cancelled insert: %d rows, sum %d, %v", n, v, err)
	}
}

func TestDriverUseAfterClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "closed.db")
	db, err := sql.Open(DriverName, path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sqlExec(t, db, "CREATE TABLE t (v)")
	sqlExec(t, db, "INSERT INTO t VALUES (1)")
	lc := committerOf(t, db)
	stmt, err := db.PrepareContext(ctx, "INSERT INTO t VALUES (?)")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// DB.Close closed the Committer (Connector.Close).
	if _, err := lc.Exec(ctx, "INSERT INTO t VALUES (2)"); !errors.Is(err, ErrClosed) {
		t.Fatalf("the Committer is still open after DB.Close: %v", err)
	}
	for name, call := range map[string]func() error{
		"ExecContext": func() error { _, err := db.ExecContext(ctx, "INSERT INTO t VALUES (3)"); return err },
		"QueryContext": func() error {
			rows, err := db.QueryContext(ctx, "SELECT v FROM t")
			if err == nil {
				rows.Close()
			}
			return err
		},
		"prepared Exec": func() error { _, err := stmt.ExecContext(ctx, 4); return err },
		"PingContext":   func() error { return db.PingContext(ctx) },
		"Conn":          func() error { _, err := db.Conn(ctx); return err },
	} {
		if err := call(); err == nil || !strings.Contains(err.Error(), "database is closed") {
			t.Errorf("%s after Close: %v", name, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// What committed before Close is in the file.
	again, err := sql.Open(DriverName, path)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if got := sqlCount(t, again, "t"); got != 1 {
		t.Fatalf("%d rows after reopening, want 1", got)
	}
}

// A Committer closed directly (not through DB.Close) fails every later call with
// ErrClosed, and database/sql drops its connections.
func TestDriverCommitterClosedUnderneath(t *testing.T) {
	db, lc, _ := openDB(t, "")
	ctx := context.Background()
	sqlExec(t, db, "CREATE TABLE t (v)")
	if err := lc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO t VALUES (1)"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Exec: %v", err)
	}
	if err := db.PingContext(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ping: %v", err)
	}
}

// Driver.Open (used when a program calls the driver directly) gives a connection with a
// Committer of its own, closed with the connection.
func TestDriverOpenOwnsItsCommitter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "own.db")
	dc, err := (&Driver{}).Open(path + "?durability=off")
	if err != nil {
		t.Fatal(err)
	}
	c := dc.(*Conn)
	ctx := context.Background()
	if _, err := c.ExecContext(ctx, "CREATE TABLE t (v)", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Committer().Exec(ctx, "INSERT INTO t VALUES (1)"); !errors.Is(err, ErrClosed) {
		t.Fatalf("the connection's Committer is still open: %v", err)
	}
	if _, err := (&Driver{}).Open(path + "?nope=1"); err == nil || !strings.Contains(err.Error(), `unknown option "nope"`) {
		t.Fatalf("bad DSN: %v", err)
	}
}

func TestDriverOpenErrors(t *testing.T) {
	// An invalid DSN fails sql.Open itself.
	for dsn, want := range map[string]string{
		"x.db?maxBatchSize=ten":                     `option maxBatchSize="ten": expected an integer`,
		"x.db?durability=fast":                      `Durability: unknown value "fast"`,
		"x.db?checkpointt=false":                    `unknown option "checkpointt"`,
		"x.db?checkpoint=maybe":                     `option checkpoint="maybe": expected a boolean`,
		"x.db?maxBatchSize=-1":                      "MaxBatchSize: must not be negative",
		"x.db?readConnections=1&read_connections=2": `options "readConnections" and "read_connections" are the same option`,
		"?durability=full":                          "the database path is empty",
	} {
		db, err := sql.Open(DriverName, dsn)
		if err == nil {
			db.Close()
			t.Errorf("%s: sql.Open succeeded", dsn)
			continue
		}
		if !strings.Contains(err.Error(), want) || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v, want %q", dsn, err, want)
		}
	}
	// A database that cannot be opened fails at first use, and again at the next.
	missing := filepath.Join(t.TempDir(), "no", "such", "dir", "x.db")
	db, err := sql.Open(DriverName, missing)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := 0; i < 2; i++ {
		if err := db.PingContext(context.Background()); err == nil {
			t.Fatalf("Ping %d of a database in a missing directory succeeded", i)
		}
	}
	// An option the library rejects at open (restart below passive) fails at first use.
	db2, err := sql.Open(DriverName, filepath.Join(t.TempDir(), "y.db")+"?passiveThresholdMb=8&restartThresholdMb=2")
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if err := db2.PingContext(context.Background()); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("restart below passive: %v", err)
	}
}

// A Connector made from Options works with sql.OpenDB.
func TestNewConnector(t *testing.T) {
	path := filepath.Join(t.TempDir(), "connector.db")
	connector, err := NewConnector(path, Options{Durability: DurabilityNormal, ReadConnections: 2})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	sqlExec(t, db, "CREATE TABLE t (v)")
	lc, err := connector.Committer()
	if err != nil {
		t.Fatal(err)
	}
	if committerOf(t, db) != lc {
		t.Fatal("the connector's Committer is not the connections'")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := connector.Committer(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Committer after DB.Close: %v", err)
	}
	if _, err := NewConnector(path, Options{Durability: "sometimes"}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("invalid options: %v", err)
	}
}
