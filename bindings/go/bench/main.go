// Command bench measures litecommit's Go package against, in the same run and at the same
// load (G goroutines each committing single-row insert transactions, WAL, durability full:
// an fsync per commit, or per batch where transactions share one):
//
//   - the Rust core: ffi/examples/bench_core, run as a child process (-core-bin). A program
//     of its own keeps the shipped library and include/litecommit.h as they are (no
//     benchmark-only symbol to hide from the header, no second build of liblitecommit.a),
//     and measures the engine's own blocking API with 64 OS threads, as a Rust program
//     would use it;
//   - the hand-batched writer Go services write themselves (package handbatch): one
//     goroutine owns one connection and commits what is queued in one transaction, a
//     SAVEPOINT per request; on modernc.org/sqlite, and on mattn/go-sqlite3 in a child
//     process of its own (-mattn-bin; see mattn/main.go);
//   - the standard database/sql pattern: modernc.org/sqlite, one connection, one
//     transaction per insert.
//
// The fast contenders run -rounds times, interleaved, each on a fresh database; each is
// reported by its round of median throughput. database/sql, far slower, runs once with
// -n-database-sql transactions. The run ends with verdicts on the targets
// (met, MISSED, or not reached when a contender was not run); a MISSED target makes it exit
// with status 1 unless -no-fail is given.
//
// Run with `make bench-go`, which builds the static library, the core's example and the
// mattn program first.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	litecommit "github.com/litecommit/litecommit/bindings/go"
	"github.com/litecommit/litecommit/bindings/go/bench/handbatch"
	"github.com/litecommit/litecommit/bindings/go/bench/load"
	_ "modernc.org/sqlite"
)

// Contender names, as printed.
const (
	nameCore        = "Rust core"
	nameGo          = "litecommit Go"
	nameHandModernc = "hand-batched modernc"
	nameHandMattn   = "hand-batched mattn"
	nameDatabaseSQL = "database/sql+modernc"
)

// contenderFlags maps the names -only takes to the contenders.
var contenderFlags = map[string]string{
	"core":         nameCore,
	"go":           nameGo,
	"modernc":      nameHandModernc,
	"mattn":        nameHandMattn,
	"database-sql": nameDatabaseSQL,
}

// config is the command line.
type config struct {
	n, g, rounds int
	// nBaseline is database/sql's transaction count (it is far slower)
	nBaseline int
	dir       string
	coreBin   string
	mattnBin  string
	noFail    bool
	// only lists the contenders to run (all when empty)
	only map[string]bool
	// cpuProfile is where to write a CPU profile of the whole run ("" for none)
	cpuProfile string
}

// contender measures one contender on a fresh database in dir (round r).
type contender struct {
	name    string
	measure func(dir string, r int) (*load.Report, error)
	// inProcess: it runs in this process, whose CPU time measures it (a child process
	// reports its own)
	inProcess bool
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// run measures c once (round r) and fills in its CPU time.
func (c contender) run(dir string, r int) (*load.Report, error) {
	before := cpuTime()
	report, err := c.measure(dir, r)
	if err == nil && c.inProcess {
		report.CPU = cpuTime() - before
	}
	return report, err
}

func benchLitecommit(cfg config) func(string, int) (*load.Report, error) {
	return func(dir string, r int) (*load.Report, error) {
		db, err := litecommit.Open(filepath.Join(dir, fmt.Sprintf("litecommit-%d.db", r)),
			litecommit.Options{Durability: litecommit.DurabilityFull})
		if err != nil {
			return nil, err
		}
		ctx := context.Background()
		if _, err := db.Exec(ctx, load.Table); err != nil {
			db.Close()
			return nil, err
		}
		before, err := db.Stats()
		if err != nil {
			db.Close()
			return nil, err
		}
		report, err := load.Run(nameGo, cfg.n, cfg.g, func(i int) error {
			_, err := db.Exec(ctx, load.Insert, i, load.Payload)
			return err
		})
		if err == nil {
			var after litecommit.Stats
			after, err = db.Stats()
			report.Batches = after.Batches - before.Batches
		}
		if closeErr := db.Close(); err == nil {
			err = closeErr
		}
		return report, err
	}
}

func moderncDSN(path string) string {
	return "file:" + path +
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(5000)&_txlock=immediate"
}

func benchHandModernc(cfg config) func(string, int) (*load.Report, error) {
	return func(dir string, r int) (*load.Report, error) {
		dsn := moderncDSN(filepath.Join(dir, fmt.Sprintf("handbatch-modernc-%d.db", r)))
		return handbatch.Measure(nameHandModernc, "sqlite", dsn, cfg.n, cfg.g)
	}
}

// child runs a contender's program and reads the report it prints (load.Report.Line).
func child(name string, args ...string) (*load.Report, error) {
	var out bytes.Buffer
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %s: %v", name, strings.Join(args, " "), err)
	}
	report, err := load.ParseLine(name, out.String())
	if err == nil {
		report.Name = name
		report.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	return report, err
}

func benchCore(cfg config) func(string, int) (*load.Report, error) {
	return func(dir string, r int) (*load.Report, error) {
		return child(nameCore, cfg.coreBin, "--db", filepath.Join(dir, fmt.Sprintf("core-%d.db", r)),
			"--n", strconv.Itoa(cfg.n), "--threads", strconv.Itoa(cfg.g), "--durability", "full")
	}
}

func benchHandMattn(cfg config) func(string, int) (*load.Report, error) {
	return func(dir string, r int) (*load.Report, error) {
		sub := filepath.Join(dir, fmt.Sprintf("mattn-%d", r))
		if err := os.Mkdir(sub, 0o755); err != nil {
			return nil, err
		}
		return child(nameHandMattn, cfg.mattnBin, "-dir", sub,
			"-n", strconv.Itoa(cfg.n), "-goroutines", strconv.Itoa(cfg.g))
	}
}

func benchDatabaseSQL(cfg config) func(string, int) (*load.Report, error) {
	return func(dir string, r int) (*load.Report, error) {
		db, err := sql.Open("sqlite", moderncDSN(filepath.Join(dir, fmt.Sprintf("database_sql-%d.db", r))))
		if err != nil {
			return nil, err
		}
		defer db.Close()
		// The usual advice for SQLite writers: one connection, so writers queue in the pool
		// instead of spinning on SQLITE_BUSY.
		db.SetMaxOpenConns(1)
		if _, err := db.Exec(load.Table); err != nil {
			return nil, err
		}
		ctx := context.Background()
		report, err := load.Run(nameDatabaseSQL, cfg.nBaseline, cfg.g, func(i int) error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(load.Insert, i, load.Payload); err != nil {
				tx.Rollback()
				return err
			}
			return tx.Commit()
		})
		if report != nil {
			report.Batches = uint64(report.N) // a commit per transaction
		}
		return report, err
	}
}

// throughputRatio is litecommit Go's throughput over another contender's: the median of
// the rounds' ratios when both ran every round (each pair ran back to back, under much the
// same load from the rest of the machine), else the ratio of their medians. each lists the
// rounds' ratios ("" when there is one).
func throughputRatio(goRuns, otherRuns []*load.Report) (ratio float64, each string) {
	if len(goRuns) != len(otherRuns) || len(goRuns) == 1 {
		return median(goRuns).Throughput() / median(otherRuns).Throughput(), ""
	}
	var rs []float64
	var text []string
	for i := range goRuns {
		r := goRuns[i].Throughput() / otherRuns[i].Throughput()
		rs = append(rs, r)
		text = append(text, fmt.Sprintf("%.2f", r))
	}
	sort.Float64s(rs)
	return rs[len(rs)/2], "(rounds: " + strings.Join(text, " ") + ")"
}

// median is the report of median throughput.
func median(reports []*load.Report) *load.Report {
	sorted := append([]*load.Report(nil), reports...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Throughput() < sorted[j].Throughput() })
	return sorted[len(sorted)/2]
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func ms(d interface{ Microseconds() int64 }) float64 { return float64(d.Microseconds()) / 1000 }

func main() {
	var cfg config
	flag.IntVar(&cfg.n, "n", 20000, "transactions per contender and round")
	flag.IntVar(&cfg.nBaseline, "n-database-sql", 5000, "transactions of database/sql, one round (far slower)")
	flag.IntVar(&cfg.g, "goroutines", 64, "concurrent goroutines (threads for the Rust core)")
	flag.IntVar(&cfg.rounds, "rounds", 9, "rounds of the fast contenders (all but database/sql)")
	flag.StringVar(&cfg.dir, "dir", "", "directory for the databases (default: a temporary one on disk)")
	flag.StringVar(&cfg.coreBin, "core-bin", "", "the Rust core's benchmark program (ffi/examples/bench_core)")
	flag.StringVar(&cfg.mattnBin, "mattn-bin", "", "the mattn/go-sqlite3 hand-batched program (go build ./mattn)")
	flag.BoolVar(&cfg.noFail, "no-fail", false, "report a MISSED target without failing the run")
	only := flag.String("only", "", "comma-separated contenders to run: core, go, modernc, mattn, database-sql (default: all)")
	flag.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile (pprof) of the run to this file")
	flag.Parse()
	if cfg.n <= 0 || cfg.nBaseline <= 0 || cfg.g <= 0 || cfg.rounds <= 0 {
		log.Fatal("-n, -n-database-sql, -goroutines and -rounds must be positive")
	}
	if *only != "" {
		cfg.only = map[string]bool{}
		for _, name := range strings.Split(*only, ",") {
			if _, ok := contenderFlags[name]; !ok {
				log.Fatalf("-only: unknown contender %q", name)
			}
			cfg.only[contenderFlags[name]] = true
		}
	}
	os.Exit(run(cfg))
}

// run runs the benchmark and returns the exit status.
func run(cfg config) int {
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	if cfg.dir == "" {
		dir, err := os.MkdirTemp("", "litecommit-bench-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
		cfg.dir = dir
	}
	loadAtStart := loadAverage()
	fmt.Printf("Go: %d goroutines, single-row insert transactions, WAL, durability full (synchronous=FULL), "+
		"dir %s\n%d transactions per contender and round, %d rounds (each contender reported by its round "+
		"of median throughput); database/sql: %d transactions, one round\n",
		cfg.g, cfg.dir, cfg.n, cfg.rounds, cfg.nBaseline)

	contenders := []contender{
		{name: nameCore, measure: benchCore(cfg)},
		{name: nameGo, measure: benchLitecommit(cfg), inProcess: true},
		{name: nameHandModernc, measure: benchHandModernc(cfg), inProcess: true},
		{name: nameHandMattn, measure: benchHandMattn(cfg)},
		{name: nameDatabaseSQL, measure: benchDatabaseSQL(cfg), inProcess: true},
	}
	skipped := map[string]string{}
	for _, c := range contenders {
		switch {
		case cfg.only != nil && !cfg.only[c.name]:
			skipped[c.name] = "not run: not in -only"
		case c.name == nameCore && cfg.coreBin == "":
			skipped[c.name] = "not run: pass -core-bin"
		case c.name == nameHandMattn && cfg.mattnBin == "":
			skipped[c.name] = "not run: pass -mattn-bin"
		}
	}
	// database/sql, far slower, runs in the last round only.
	runs := map[string][]*load.Report{}
	for r := 0; r < cfg.rounds; r++ {
		for _, c := range contenders {
			if skipped[c.name] != "" || (c.name == nameDatabaseSQL && r != cfg.rounds-1) {
				continue
			}
			report, err := c.run(cfg.dir, r)
			if err != nil {
				log.Fatal(err)
			}
			runs[c.name] = append(runs[c.name], report)
		}
	}
	reports := map[string]*load.Report{}
	for name, rs := range runs {
		reports[name] = median(rs)
	}

	fmt.Printf("%-22s %9s %8s %8s %8s %9s %9s   %s\n", "", "tx/s", "p50 ms", "p99 ms", "max ms", "tx/commit",
		"CPU us/tx", "tx/s of each round")
	for _, c := range contenders {
		r := reports[c.name]
		if r == nil {
			fmt.Printf("%-22s %s\n", c.name, skipped[c.name])
			continue
		}
		var each []string
		for _, x := range runs[c.name] {
			each = append(each, fmt.Sprintf("%.0f", x.Throughput()))
		}
		fmt.Printf("%-22s %9.0f %8.2f %8.2f %8.2f %9.1f %9.1f   %s\n", c.name, r.Throughput(), ms(r.P50),
			ms(r.P99), ms(r.Max), r.PerBatch(), r.CPUPerTx(), strings.Join(each, " "))
	}
	fmt.Println("(CPU us/tx: CPU time of the contender's process per transaction, writer and fsync wait " +
		"included; the least sensitive to other work on the machine)")
	lc := reports[nameGo]
	ratios := map[string]float64{}
	if lc != nil {
		fmt.Println("ratios, litecommit Go / each (throughput: the median of the rounds' ratios, each round's " +
			"contenders running back to back):")
		for _, c := range contenders {
			if reports[c.name] == nil || c.name == nameGo {
				continue
			}
			ratio, each := throughputRatio(runs[nameGo], runs[c.name])
			ratios[c.name] = ratio
			other := reports[c.name]
			fmt.Printf("  %-22s throughput x%.2f %s, p99 latency x%.2f, CPU per tx x%.2f\n", c.name, ratio, each,
				float64(lc.P99)/float64(other.P99), lc.CPUPerTx()/other.CPUPerTx())
		}
	}
	fmt.Printf("load average %s at the start, %s now (2 cores: other work on the machine makes every figure noisier)\n",
		loadAtStart, loadAverage())

	judge := newJudge()
	fmt.Println("targets (durability full, throughput):")
	for _, t := range []struct {
		target string
		other  string
		min    float64
	}{
		{"litecommit Go >= 0.8x the Rust core", nameCore, 0.8},
		{"litecommit Go >= 1x hand-batched modernc", nameHandModernc, 1},
		{"litecommit Go >= 1x hand-batched mattn", nameHandMattn, 1},
	} {
		ratio, ran := ratios[t.other]
		why := skipped[t.other]
		if lc == nil {
			why = skipped[nameGo]
		}
		v := judge.judge(t.target, verdictOf(ran, ratio >= t.min, why))
		fmt.Printf("  %s: x%.2f -> %s\n", t.target, ratio, v)
	}
	if err := judge.finish(cfg.noFail); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
}
