package handbatch

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/litecommit/litecommit/bindings/go/bench/load"
)

// MaxBatch is the most requests the writer commits in one transaction, and the most that
// may wait for it (litecommit's default max_batch_size and queue_capacity).
const MaxBatch = 10000

// Measure opens dsn with driverName (WAL and synchronous=FULL, checked), creates the table
// and runs the load through a Writer on one connection.
func Measure(name, driverName, dsn string, n, g int) (*load.Report, error) {
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := checkPragma(db, "journal_mode", "wal"); err != nil {
		return nil, err
	}
	if err := checkPragma(db, "synchronous", "2"); err != nil { // 2 is FULL
		return nil, err
	}
	if _, err := db.Exec(load.Table); err != nil {
		return nil, err
	}
	ctx := context.Background()
	w, err := New(ctx, db, MaxBatch, MaxBatch)
	if err != nil {
		return nil, err
	}
	report, err := load.Run(name, n, g, func(i int) error {
		_, err := w.Exec(ctx, load.Insert, i, load.Payload)
		return err
	})
	if closeErr := w.Close(); err == nil {
		err = closeErr
	}
	if report != nil {
		report.Batches = w.Batches()
	}
	return report, err
}

func checkPragma(db *sql.DB, pragma, want string) error {
	var got string
	if err := db.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
		return fmt.Errorf("PRAGMA %s: %v", pragma, err)
	}
	if !strings.EqualFold(got, want) {
		return fmt.Errorf("PRAGMA %s is %q, want %q", pragma, got, want)
	}
	return nil
}
