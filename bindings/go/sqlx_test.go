package litecommit

import (
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/jmoiron/sqlx"
)

// user is scanned by sqlx through its db tags.
type user struct {
	ID    int64          `db:"id"`
	Name  string         `db:"name"`
	Email sql.NullString `db:"email"`
	Admin bool           `db:"admin"`
	Score float64        `db:"score"`
	Photo []byte         `db:"photo"`
}

// sqlx, a third-party client written for database/sql drivers, works unchanged.
func TestSqlx(t *testing.T) {
	db, err := sqlx.Open(DriverName, filepath.Join(t.TempDir(), "sqlx.db")+"?durability=normal")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	db.MustExecContext(ctx, `CREATE TABLE users (
		id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, email TEXT, admin BOOLEAN NOT NULL DEFAULT 0,
		score REAL NOT NULL DEFAULT 0, photo BLOB)`)

	// NamedExec with a struct, a map, and a slice of structs (one multi-row INSERT).
	ada := user{Name: "ada", Email: sql.NullString{String: "ada@example.com", Valid: true}, Admin: true, Score: 9.5,
		Photo: []byte{1, 2, 3}}
	r, err := db.NamedExecContext(ctx,
		"INSERT INTO users (name, email, admin, score, photo) VALUES (:name, :email, :admin, :score, :photo)", ada)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := r.LastInsertId(); id != 1 {
		t.Fatalf("LastInsertId %d", id)
	}
	if _, err := db.NamedExecContext(ctx, "INSERT INTO users (name, score) VALUES (:name, :score)",
		map[string]any{"name": "bob", "score": 3}); err != nil {
		t.Fatal(err)
	}
	r, err = db.NamedExecContext(ctx, "INSERT INTO users (name, admin) VALUES (:name, :admin)",
		[]user{{Name: "cy"}, {Name: "di", Admin: true}})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := r.RowsAffected(); n != 2 {
		t.Fatalf("bulk NamedExec changed %d rows", n)
	}

	// Get: one struct, and one scalar.
	var got user
	if err := db.GetContext(ctx, &got, "SELECT * FROM users WHERE name = ?", "ada"); err != nil {
		t.Fatal(err)
	}
	ada.ID = 1
	if !reflect.DeepEqual(got, ada) {
		t.Fatalf("Get: %+v, want %+v", got, ada)
	}
	var admins int
	if err := db.GetContext(ctx, &admins, "SELECT count(*) FROM users WHERE admin"); err != nil || admins != 2 {
		t.Fatalf("Get count: %d, %v", admins, err)
	}
	// A write with RETURNING, read with Get, commits.
	var id int64
	if err := db.GetContext(ctx, &id, "INSERT INTO users (name) VALUES (?) RETURNING id", "eve"); err != nil || id != 5 {
		t.Fatalf("Get INSERT RETURNING: %d, %v", id, err)
	}

	// Select into a slice of structs and of scalars.
	var users []user
	if err := db.SelectContext(ctx, &users, "SELECT * FROM users WHERE id > ? ORDER BY id", 1); err != nil {
		t.Fatal(err)
	}
	want := []user{{ID: 2, Name: "bob", Score: 3}, {ID: 3, Name: "cy"}, {ID: 4, Name: "di", Admin: true}, {ID: 5, Name: "eve"}}
	if !reflect.DeepEqual(users, want) {
		t.Fatalf("Select: %+v, want %+v", users, want)
	}
	var names []string
	if err := db.SelectContext(ctx, &names, "SELECT name FROM users ORDER BY name DESC LIMIT 2"); err != nil ||
		!reflect.DeepEqual(names, []string{"eve", "di"}) {
		t.Fatalf("Select names: %v, %v", names, err)
	}

	// Named queries and struct scanning row by row.
	rows, err := db.NamedQueryContext(ctx, "SELECT id, name FROM users WHERE score >= :min ORDER BY id", map[string]any{"min": 3})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for rows.Next() {
		var u user
		if err := rows.StructScan(&u); err != nil {
			t.Fatal(err)
		}
		seen = append(seen, u.Name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if !reflect.DeepEqual(seen, []string{"ada", "bob"}) {
		t.Fatalf("NamedQuery: %v", seen)
	}

	// A constraint violation comes back as the driver's error.
	if _, err := db.NamedExecContext(ctx, "INSERT INTO users (name) VALUES (:name)", user{Name: "ada"}); err == nil ||
		!asError(t, err).IsConstraint() {
		t.Fatalf("duplicate name: %v", err)
	}
}
