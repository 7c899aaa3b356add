// Command bench compares litecommit with the standard database/sql pattern
// (modernc.org/sqlite, one connection, one transaction per insert) in the same run:
// G goroutines each commit single-row insert transactions, both with WAL and
// synchronous=FULL (an fsync per commit, or per batch for litecommit).
//
// Run with `make bench-go` (or `go run . -n 20000 -goroutines 64` in this directory after
// building the static library).
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	litecommit "github.com/litecommit/litecommit/bindings/go"
	_ "modernc.org/sqlite"
)

// report is what one contender measured.
type report struct {
	name       string          // the contender, as printed
	n          int             // transactions committed
	elapsed    time.Duration   // wall time of the whole run
	latencies  []time.Duration // one per transaction; finish sorts them
	throughput float64         // transactions per second, set by finish
}

// synchronousFull is `PRAGMA synchronous`'s value for FULL.
const synchronousFull = 2

func (r *report) finish() {
	sort.Slice(r.latencies, func(i, j int) bool { return r.latencies[i] < r.latencies[j] })
	r.throughput = float64(r.n) / r.elapsed.Seconds()
}

func (r *report) pct(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[int(p*float64(len(r.latencies)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// run starts g goroutines that share n inserts and times each one.
func run(name string, n, g int, insert func(i int) error) *report {
	r := &report{name: name, n: n, latencies: make([]time.Duration, n)}
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	start := time.Now()
	for w := 0; w < g; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t0 := time.Now()
				if err := insert(i); err != nil {
					log.Fatalf("%s: insert %d: %v", name, i, err)
				}
				r.latencies[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	r.finish()
	return r
}

func benchLitecommit(dir string, n, g int) *report {
	db, err := litecommit.Open(filepath.Join(dir, "litecommit.db"),
		litecommit.Options{Durability: litecommit.DurabilityFull})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.Exec(ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY, g INTEGER, payload TEXT)"); err != nil {
		log.Fatal(err)
	}
	return run("litecommit", n, g, func(i int) error {
		_, err := db.Exec(ctx, "INSERT INTO t (g, payload) VALUES (?, ?)", i, "payload-payload-payload")
		return err
	})
}

func benchDatabaseSQL(dir string, n, g int) *report {
	dsn := "file:" + filepath.Join(dir, "database_sql.db") +
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(5000)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	// The usual advice for SQLite writers: one connection, so writers queue in the pool
	// instead of spinning on SQLITE_BUSY.
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, g INTEGER, payload TEXT)"); err != nil {
		log.Fatal(err)
	}
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		log.Fatalf("journal_mode %q: %v", mode, err)
	}
	var sync int
	if err := db.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil || sync != synchronousFull {
		log.Fatalf("synchronous %d: %v", sync, err)
	}
	ctx := context.Background()
	return run("database/sql+modernc", n, g, func(i int) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.Exec("INSERT INTO t (g, payload) VALUES (?, ?)", i, "payload-payload-payload"); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	})
}

func main() {
	n := flag.Int("n", 20000, "transactions per contender")
	g := flag.Int("goroutines", 64, "concurrent goroutines")
	dirFlag := flag.String("dir", "", "directory for the databases (default: a temporary one on disk)")
	flag.Parse()
	dir := *dirFlag
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "litecommit-bench-"); err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
	}
	fmt.Printf("Go: %d goroutines, %d single-row insert transactions each side, WAL, synchronous=FULL, dir %s\n",
		*g, *n, dir)
	base := benchDatabaseSQL(dir, *n, *g)
	lc := benchLitecommit(dir, *n, *g)
	fmt.Printf("%-22s %12s %10s %10s %10s\n", "", "tx/s", "p50 ms", "p99 ms", "max ms")
	for _, r := range []*report{base, lc} {
		fmt.Printf("%-22s %12.0f %10.2f %10.2f %10.2f\n", r.name, r.throughput, ms(r.pct(0.5)),
			ms(r.pct(0.99)), ms(r.pct(1)))
	}
	fmt.Printf("ratio litecommit / database/sql: throughput x%.1f, p99 latency x%.2f\n",
		lc.throughput/base.throughput, float64(lc.pct(0.99))/float64(base.pct(0.99)))
}
