package handbatch

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"
)

func openDB(t *testing.T) *sql.DB {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), "t.db") + "?_pragma=journal_mode(WAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"); err != nil {
		t.Fatal(err)
	}
	return db
}

func values(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query("SELECT v FROM t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// A failing request in a batch is rolled back alone: the others commit, in order.
func TestFailingRequestDoesNotFailItsBatch(t *testing.T) {
	db := openDB(t)
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w := &Writer{conn: conn} // no loop: the batch is formed by hand
	insert := func(v string) request {
		return request{sql: "INSERT INTO t (v) VALUES (?)", args: []any{v}, reply: make(chan reply, 1)}
	}
	batch := []request{insert("a"), insert("b"), insert("a"), insert("c")}
	w.commit(batch, make([]reply, len(batch)))
	for i, r := range batch {
		got := <-r.reply
		if (got.err != nil) != (i == 2) {
			t.Errorf("request %d: error %v", i, got.err)
		}
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	if got := values(t, db); len(got) != 3 || got[0] != "a" || got[1] != "b" || got[2] != "c" {
		t.Fatalf("rows %v, want [a b c]", got)
	}
}

// Requests from many goroutines all commit, and Close returns once they have.
func TestConcurrentRequestsCommit(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	w, err := New(ctx, db, 8, 16)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, err := w.Exec(ctx, "INSERT INTO t (v) VALUES (?)", i)
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(values(t, db)); got != n {
		t.Fatalf("%d rows, want %d", got, n)
	}
	if w.Batches() == 0 || w.Batches() > n {
		t.Fatalf("%d batches for %d requests", w.Batches(), n)
	}
}
