// Command mattn runs the hand-batched writer (package handbatch) on mattn/go-sqlite3 under
// the benchmark's load and prints its report as one line (load.Report.Line). It is a
// program of its own because mattn/go-sqlite3 links its own copy of SQLite's C code,
// whose symbols would collide with the copy inside liblitecommit.a in one binary.
//
// The benchmark (the parent directory) builds and runs it: `go build -o mattn-peer ./mattn`.
package main

import (
	"flag"
	"fmt"
	"log"
	"path/filepath"

	"github.com/litecommit/litecommit/bindings/go/bench/handbatch"
	_ "github.com/mattn/go-sqlite3"
)

func main() {
	n := flag.Int("n", 20000, "transactions")
	g := flag.Int("goroutines", 64, "concurrent goroutines")
	dir := flag.String("dir", "", "directory for the database (required)")
	flag.Parse()
	if *dir == "" {
		log.Fatal("-dir is required")
	}
	dsn := "file:" + filepath.Join(*dir, "handbatch_mattn.db") +
		"?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=5000&_txlock=immediate"
	report, err := handbatch.Measure("hand-batched mattn", "sqlite3", dsn, *n, *g)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(report.Line())
}
