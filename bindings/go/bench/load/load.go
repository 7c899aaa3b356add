// Package load is the benchmark's load and its figures: g goroutines share n single-row
// insert transactions, each timed from call to return. A contender that runs in another
// process prints its Report as one Line, which the benchmark reads back with ParseLine.
package load

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Table is the table every contender inserts into.
const Table = "CREATE TABLE t (id INTEGER PRIMARY KEY, g INTEGER, payload TEXT)"

// Insert is the statement of every transaction: Insert with (i, Payload).
const Insert = "INSERT INTO t (g, payload) VALUES (?, ?)"

// Payload is the text every row carries.
const Payload = "payload-payload-payload"

// Report is what one contender measured.
type Report struct {
	Name    string        // the contender, as printed
	N       int           // transactions committed
	Elapsed time.Duration // wall time of the whole run
	P50     time.Duration // median latency
	P99     time.Duration // 99th percentile latency
	Max     time.Duration // slowest transaction
	Batches uint64        // commits the transactions shared (0 when not counted)
	CPU     time.Duration // CPU time (user + system) of the contender's process meanwhile
}

// CPUPerTx is the CPU time per transaction, in microseconds.
func (r *Report) CPUPerTx() float64 {
	if r.N == 0 {
		return 0
	}
	return float64(r.CPU.Microseconds()) / float64(r.N)
}

// PerBatch is the mean number of transactions per commit (0 when not counted).
func (r *Report) PerBatch() float64 {
	if r.Batches == 0 {
		return 0
	}
	return float64(r.N) / float64(r.Batches)
}

// Throughput is the transactions per second.
func (r *Report) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.N) / r.Elapsed.Seconds()
}

// Run starts g goroutines that share n calls of insert(i), i in [0, n), and times each
// call. It stops at the first error and returns it.
func Run(name string, n, g int, insert func(i int) error) (*Report, error) {
	latencies := make([]time.Duration, n)
	next := make(chan int, n)
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
		failed   = make(chan struct{})
	)
	start := time.Now()
	for w := 0; w < g; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				select {
				case <-failed:
					return
				default:
				}
				t0 := time.Now()
				if err := insert(i); err != nil {
					errOnce.Do(func() {
						firstErr = fmt.Errorf("%s: insert %d: %w", name, i, err)
						close(failed)
					})
					return
				}
				latencies[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return nil, firstErr
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	pct := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[int(p*float64(len(latencies)-1))]
	}
	return &Report{Name: name, N: n, Elapsed: elapsed, P50: pct(0.5), P99: pct(0.99), Max: pct(1)}, nil
}

// Line is the report as one line of key=value figures, the format ParseLine reads.
func (r *Report) Line() string {
	return fmt.Sprintf("n=%d elapsed_s=%.6f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f batches=%d",
		r.N, r.Elapsed.Seconds(), ms(r.P50), ms(r.P99), ms(r.Max), r.Batches)
}

// ParseLine reads a Line (the last non-empty line of out) as the report of name.
func ParseLine(name, out string) (*Report, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	line := lines[len(lines)-1]
	var n int
	var elapsed, p50, p99, slowest float64
	var batches uint64
	if _, err := fmt.Sscanf(line, "n=%d elapsed_s=%g p50_ms=%g p99_ms=%g max_ms=%g batches=%d",
		&n, &elapsed, &p50, &p99, &slowest, &batches); err != nil {
		return nil, fmt.Errorf("%s: unexpected output %q: %v", name, line, err)
	}
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	msec := func(m float64) time.Duration { return time.Duration(m * float64(time.Millisecond)) }
	return &Report{Name: name, N: n, Elapsed: sec(elapsed), P50: msec(p50), P99: msec(p99), Max: msec(slowest),
		Batches: batches}, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
