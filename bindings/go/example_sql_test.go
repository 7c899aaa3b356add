package litecommit_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	litecommit "github.com/litecommit/litecommit/bindings/go"
)

// The database/sql driver: sql.Open("litecommit", path?options).
func Example_databaseSQL() {
	dir, err := os.MkdirTemp("", "litecommit-sql-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.db")

	// README:begin
	ctx := context.Background()
	db, err := sql.Open("litecommit", path+"?durability=full&maxBatchSize=1000")
	if err != nil {
		log.Fatal(err) // an unknown option or a bad value
	}
	defer db.Close() // closes the one Committer all connections share

	// Each ExecContext is one transaction; concurrent ones share a batch and its fsync.
	if _, err := db.ExecContext(ctx, "CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT, at DATETIME)"); err != nil {
		log.Fatal(err)
	}
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC) // stored as "2024-05-06 07:08:09+00:00"
	res, err := db.ExecContext(ctx, "INSERT INTO events (kind, at) VALUES (?, ?)", "signup", at)
	if err != nil {
		log.Fatal(err)
	}
	id, _ := res.LastInsertId()
	fmt.Println("signup", id)

	// INSERT ... RETURNING through QueryRowContext (what sqlc generates) commits too.
	err = db.QueryRowContext(ctx, "INSERT INTO events (kind, at) VALUES (:kind, :at) RETURNING id",
		sql.Named("kind", "login"), sql.Named("at", at)).Scan(&id)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("login", id)

	// Queries run on the read pool and see every write that returned before them.
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM events WHERE at = ?", at).Scan(&n); err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "events")

	// Several statements atomically: the Committer's Transaction, reached through Conn.Raw.
	// (BeginTx is for read-only transactions; a read-write one fails with ErrReadWriteTx.)
	conn, err := db.Conn(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(c any) error {
		_, err := c.(*litecommit.Conn).Committer().Transaction(ctx, []litecommit.Statement{
			{SQL: "UPDATE events SET kind = 'first login' WHERE id = ?", Args: []any{id}},
			{SQL: "DELETE FROM events WHERE kind = ?", Args: []any{"signup"}},
		})
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	_, err = db.BeginTx(ctx, nil)
	fmt.Println(errors.Is(err, litecommit.ErrReadWriteTx))
	// README:end

	// Output:
	// signup 1
	// login 2
	// 2 events
	// true
}
