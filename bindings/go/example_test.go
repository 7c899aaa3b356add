package litecommit_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	litecommit "github.com/litecommit/litecommit/bindings/go"
)

func Example() {
	dir, err := os.MkdirTemp("", "litecommit-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.db")

	// README:begin
	ctx := context.Background()
	db, err := litecommit.Open(path, litecommit.Options{Durability: litecommit.DurabilityFull})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	if _, err := db.Exec(ctx, "CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)"); err != nil {
		log.Fatal(err)
	}
	// Returns once the row is durable; concurrent callers share one fsync.
	r, err := db.Exec(ctx, "INSERT INTO kv VALUES (?, ?)", "a", 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("rowid", r.LastInsertID)

	// Several statements, atomically; RETURNING rows come back.
	results, err := db.Transaction(ctx, []litecommit.Statement{
		{SQL: "INSERT INTO kv VALUES (?, ?)", Args: []any{"b", 2}},
		{SQL: "UPDATE kv SET v = v + 10 WHERE k = :k RETURNING v", Args: []any{litecommit.Named("k", "a")}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("a is now", results[1].Rows.Values[0][0])

	// A constraint violation rolls back that transaction only.
	_, err = db.Exec(ctx, "INSERT INTO kv VALUES (?, ?)", "a", 3)
	var lcErr *litecommit.Error
	if errors.As(err, &lcErr) {
		fmt.Println(lcErr.Code, "in statement", lcErr.StatementIndex)
	}

	rows, err := db.Query(ctx, "SELECT k, v FROM kv ORDER BY k")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rows.Columns, rows.Values)
	// README:end

	// Output:
	// rowid 1
	// a is now 11
	// SQLITE_CONSTRAINT_PRIMARYKEY in statement 0
	// [k v] [[a 11] [b 2]]
}
