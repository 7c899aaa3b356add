package litecommit

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

// A column declared DATE, DATETIME or TIMESTAMP scans into time.Time.
func TestTimeColumnsScanIntoTime(t *testing.T) {
	db, _, _ := openDB(t, "")
	ctx := context.Background()
	sqlExec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, d DATE, dt DATETIME, ts timestamp, txt TEXT)")
	at := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("", 2*3600))
	sqlExec(t, db, "INSERT INTO t (d, dt, ts, txt) VALUES (?, ?, ?, ?)", at, at, at.UTC(), at)
	var d, dt, ts time.Time
	var txt string
	if err := db.QueryRowContext(ctx, "SELECT d, dt, ts, txt FROM t").Scan(&d, &dt, &ts, &txt); err != nil {
		t.Fatal(err)
	}
	for _, got := range []time.Time{d, dt, ts} {
		if !got.Equal(at) {
			t.Fatalf("scanned %v, want %v", got, at)
		}
	}
	if _, off := dt.Zone(); off != 2*3600 || ts.Location() != time.UTC {
		t.Fatalf("zones: %v, %v", dt, ts)
	}
	if txt != "2024-05-06 07:08:09.123456789+02:00" {
		t.Fatalf("TEXT column: %q", txt)
	}
	// SQLite's own formats parse as UTC.
	sqlExec(t, db, "INSERT INTO t (id, dt, d) VALUES (2, '2024-01-02 03:04:05', '2024-01-02')")
	if err := db.QueryRowContext(ctx, "SELECT d, dt FROM t WHERE id = 2").Scan(&d, &dt); err != nil {
		t.Fatal(err)
	}
	if !dt.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) || !d.Equal(time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("SQLite formats: %v %v", d, dt)
	}
	// Text that is no time stays text: scanning it into a string works, into a time fails.
	sqlExec(t, db, "INSERT INTO t (id, dt) VALUES (3, 'soon')")
	var s string
	if err := db.QueryRowContext(ctx, "SELECT dt FROM t WHERE id = 3").Scan(&s); err != nil || s != "soon" {
		t.Fatalf("unparsable time column: %q, %v", s, err)
	}
	if err := db.QueryRowContext(ctx, "SELECT dt FROM t WHERE id = 3").Scan(&dt); err == nil {
		t.Fatal("'soon' scanned into a time.Time")
	}
	rows, err := db.QueryContext(ctx, "SELECT d, dt, ts, txt, id, 1 + 1 FROM t LIMIT 1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ct := range types {
		names = append(names, ct.DatabaseTypeName())
	}
	if want := []string{"DATE", "DATETIME", "TIMESTAMP", "TEXT", "INTEGER", ""}; !reflect.DeepEqual(names, want) {
		t.Fatalf("DatabaseTypeName: %q, want %q", names, want)
	}

	// sqlx scans time columns into time.Time fields.
	x, err := sqlx.Open(DriverName, filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	x.MustExecContext(ctx, "CREATE TABLE e (id INTEGER PRIMARY KEY, at DATETIME NOT NULL)")
	type event struct {
		ID int64     `db:"id"`
		At time.Time `db:"at"`
	}
	if _, err := x.NamedExecContext(ctx, "INSERT INTO e (at) VALUES (:at)", event{At: at}); err != nil {
		t.Fatal(err)
	}
	var e event
	if err := x.GetContext(ctx, &e, "SELECT * FROM e"); err != nil || !e.At.Equal(at) {
		t.Fatalf("sqlx: %+v, %v", e, err)
	}
}
