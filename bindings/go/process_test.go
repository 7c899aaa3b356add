package litecommit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The test binary re-executes itself as a helper process when one of these is set.
const (
	// writerEnv: write to the database at this path until killed, printing "acked <id>"
	// after each commit.
	writerEnv = "LITECOMMIT_TEST_WRITER_DB"
	// writerRoundEnv: the round number, which makes the writer's ids unique.
	writerRoundEnv = "LITECOMMIT_TEST_WRITER_ROUND"
	// lockHolderEnv: hold SQLite's exclusive lock on this file until stdin closes.
	lockHolderEnv = "LITECOMMIT_TEST_LOCK_HOLDER"
	// lockRangeEnv: "start,len" of the bytes the lock holder write-locks instead of SQLite's
	// exclusive lock range.
	lockRangeEnv = "LITECOMMIT_TEST_LOCK_RANGE"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(writerEnv); path != "" {
		os.Exit(writerProcess(path, os.Getenv(writerRoundEnv)))
	}
	if path := os.Getenv(lockHolderEnv); path != "" {
		os.Exit(lockHolderProcess(path, os.Getenv(lockRangeEnv)))
	}
	os.Exit(m.Run())
}

// writerProcess commits transactions of two rows (tables a and b, the same id) from 8
// goroutines with durability full, and prints each id once its transaction returned.
func writerProcess(path, roundText string) int {
	round, err := strconv.ParseInt(roundText, 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "writer: bad round:", err)
		return 2
	}
	db, err := Open(path, Options{Durability: DurabilityFull})
	if err != nil {
		fmt.Fprintln(os.Stderr, "writer: open:", err)
		return 2
	}
	var out sync.Mutex
	var wg sync.WaitGroup
	for g := int64(0); g < 8; g++ {
		wg.Add(1)
		go func(g int64) {
			defer wg.Done()
			for id := round*1_000_000_000 + g*10_000_000; ; id++ {
				_, err := db.Transaction(context.Background(), []Statement{
					{SQL: "INSERT INTO a (id) VALUES (?)", Args: []any{id}},
					{SQL: "INSERT INTO b (id, pad) VALUES (?, randomblob(300))", Args: []any{id}},
				})
				if err != nil {
					fmt.Fprintln(os.Stderr, "writer:", err)
					os.Exit(3)
				}
				// One write per line: a pipe never interleaves writes this small.
				out.Lock()
				_, err = fmt.Fprintf(os.Stdout, "acked %d\n", id)
				out.Unlock()
				if err != nil {
					os.Exit(4)
				}
			}
		}(g)
	}
	wg.Wait()
	return 5
}

// SQLite's lock bytes start at 2^30 (PENDING_BYTE); a write lock over them and the shared
// range after them is what an exclusive (writing) SQLite connection holds.
const sqliteLockStart, sqliteLockLen = 1 << 30, 512

// lockHolderProcess write-locks byteRange ("start,len"; SQLite's exclusive lock range when
// empty) of the file at path, prints "locked", and holds the lock until stdin closes.
func lockHolderProcess(path, byteRange string) int {
	lock := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: sqliteLockStart, Len: sqliteLockLen}
	if byteRange != "" {
		if _, err := fmt.Sscanf(byteRange, "%d,%d", &lock.Start, &lock.Len); err != nil {
			fmt.Fprintln(os.Stderr, "lock holder: bad range:", err)
			return 2
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lock holder:", err)
		return 2
	}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lock); err != nil {
		fmt.Fprintln(os.Stderr, "lock holder:", err)
		return 2
	}
	fmt.Println("locked")
	io.Copy(io.Discard, os.Stdin) // until the parent closes stdin
	return 0
}

// helper starts this test binary as a helper process with env set.
func helper(t *testing.T, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	return cmd
}

// holdLock starts a lock holder process on path (with extra env, e.g. lockRangeEnv) and
// returns once it holds its lock; release makes it let go and waits for it to exit.
func holdLock(t *testing.T, path string, env ...string) (release func()) {
	t.Helper()
	cmd := helper(t, append([]string{lockHolderEnv + "=" + path}, env...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	released := false
	t.Cleanup(func() {
		if !released {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("the lock holder said %q (%v)", line, err)
	}
	return func() {
		t.Helper()
		released = true
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("lock holder: %v", err)
		}
	}
}

// A database locked by another process fails Open with SQLite's code, SQLITE_BUSY (5).
func TestOpenLockedDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locked.db")
	release := holdLock(t, path)

	_, err := Open(path, Options{BusyTimeoutMs: 100})
	e := asError(t, err)
	if e.Status != StatusSQLiteError || e.SQLiteCode != 5 || !strings.HasPrefix(e.Code, "SQLITE_BUSY") ||
		!errors.Is(err, ErrSQLite) {
		t.Fatalf("want SQLITE_BUSY, got %+v", e)
	}

	// Once the other process lets go, the same Open succeeds.
	release()
	db, err := Open(path, Options{BusyTimeoutMs: 100})
	if err != nil {
		t.Fatalf("Open after the lock was released: %v", err)
	}
	db.Close()
}

// A process writing from many goroutines is killed with SIGKILL at random moments; after
// each kill every transaction it acknowledged is in the database, whole, and the database
// passes integrity_check. LITECOMMIT_KILL_ROUNDS (default 10) and LITECOMMIT_KILL_SEED
// replay or extend it.
func TestKillDuringWrites(t *testing.T) {
	rounds := 10
	if v := os.Getenv("LITECOMMIT_KILL_ROUNDS"); v != "" {
		var err error
		if rounds, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	seed := time.Now().UnixNano()
	if v := os.Getenv("LITECOMMIT_KILL_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewSource(seed))
	t.Logf("LITECOMMIT_KILL_SEED=%d, %d rounds", seed, rounds)

	path := filepath.Join(t.TempDir(), "killed.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "CREATE TABLE a (id INTEGER PRIMARY KEY)")
	mustExec(t, db, "CREATE TABLE b (id INTEGER PRIMARY KEY, pad BLOB)")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	checked := 0
	for round := 1; round <= rounds; round++ {
		// A random number of acknowledgements: a random point in the stream of commits.
		want := 1 + rng.Intn(1500)
		acked := killWriter(t, path, round, want)
		checked += len(acked)

		db, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		rows, err := db.Query(context.Background(), "SELECT a.id FROM a JOIN b USING (id)")
		if err != nil {
			t.Fatal(err)
		}
		present := make(map[int64]bool, len(rows.Values))
		for _, row := range rows.Values {
			present[row[0].(int64)] = true
		}
		missing := 0
		for _, id := range acked {
			if !present[id] {
				missing++
			}
		}
		if missing > 0 {
			t.Errorf("round %d: %d of %d acknowledged transactions lost", round, missing, len(acked))
		}
		// Nothing half-applied: every row of a has its row in b and the other way round.
		if n := count(t, db, "a"); n != int64(len(present)) {
			t.Errorf("round %d: %d rows in a, %d in both tables", round, n, len(present))
		}
		if n := count(t, db, "b"); n != int64(len(present)) {
			t.Errorf("round %d: %d rows in b, %d in both tables", round, n, len(present))
		}
		check, err := db.Query(context.Background(), "PRAGMA integrity_check")
		if err != nil || len(check.Values) != 1 || check.Values[0][0] != "ok" {
			t.Errorf("round %d: integrity_check %v %v", round, check.Values, err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("kill -9: %d rounds, %d acknowledged transactions checked", rounds, checked)
}

// killWriter runs a writer process, kills it with SIGKILL once it acknowledged `want`
// transactions, and returns every id it acknowledged before it died.
func killWriter(t *testing.T, path string, round, want int) []int64 {
	t.Helper()
	cmd := helper(t, writerEnv+"="+path, writerRoundEnv+"="+strconv.Itoa(round))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A writer that stops making progress is stuck: kill it and fail below.
	var stuck atomic.Bool
	watchdog := time.AfterFunc(patience, func() {
		stuck.Store(true)
		cmd.Process.Kill()
	})
	var acked []int64
	killed := false
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		watchdog.Reset(patience)
		text, ok := strings.CutPrefix(lines.Text(), "acked ")
		if !ok {
			continue
		}
		id, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			t.Fatalf("writer printed %q", lines.Text())
		}
		acked = append(acked, id)
		if !killed && len(acked) >= want {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	watchdog.Stop()
	if stuck.Load() {
		t.Fatalf("round %d: the writer made no progress for %v", round, patience)
	}
	var exit *exec.ExitError
	if !killed || !errors.As(err, &exit) {
		t.Fatalf("round %d: the writer ended before it was killed (%d acks): %v", round, len(acked), err)
	}
	if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("round %d: the writer ended with %v, not SIGKILL", round, err)
	}
	return acked
}
