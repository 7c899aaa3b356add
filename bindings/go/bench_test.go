package litecommit

import (
	"context"
	"path/filepath"
	"testing"
)

// The benchmarks below measure the package's own cost per transaction (go test -run '^$'
// -bench . -cpuprofile cpu.out); bench/ compares it with the Rust core and with other
// ways to write to SQLite from Go.

// BenchmarkExecParallel commits single-row inserts from many goroutines with durability
// off, so that the figure is CPU per transaction (binding and engine) rather than fsync.
func BenchmarkExecParallel(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{Durability: DurabilityOff})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.Exec(ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY, g INTEGER, payload TEXT)"); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if _, err := db.Exec(ctx, "INSERT INTO t (g, payload) VALUES (?, ?)", i, "payload-payload-payload"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkConvert is what Exec does to its arguments before the library call: check and
// convert them, and copy the statement into C memory (then free it).
func BenchmarkConvert(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s := Statement{SQL: "INSERT INTO t (g, payload) VALUES (?, ?)", Args: []any{i, "payload-payload-payload"}}
		in, err := convertStatement(s, 0)
		if err != nil {
			b.Fatal(err)
		}
		_ = mayReturnColumns(s.SQL)
		cs := toC([]stmtIn{in})
		cs.free()
	}
}

// BenchmarkCgoCall is one call into the library that does almost nothing.
func BenchmarkCgoCall(b *testing.B) {
	for i := 0; i < b.N; i++ {
		_ = StatusOK.String()
	}
}
