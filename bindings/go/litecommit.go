package litecommit

/*
#include <stdlib.h>
#include "litecommit.h"
*/
import "C"

import (
	"context"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Durability says what a commit survives once Exec returns.
type Durability string

// Durability modes.
const (
	// DurabilityFull fsyncs the WAL at every batch commit: survives power loss (default).
	DurabilityFull Durability = "full"
	// DurabilityNormal fsyncs only at checkpoints: survives process crashes; a power loss
	// may roll back the latest batches, never corrupts.
	DurabilityNormal Durability = "normal"
	// DurabilityOff never fsyncs: survives process crashes only.
	DurabilityOff Durability = "off"
)

// FlushPolicy says when the writer commits what is queued.
type FlushPolicy string

// Flush policies.
const (
	// FlushAdaptive commits whatever is queued the moment the writer is free (default).
	FlushAdaptive FlushPolicy = "adaptive"
	// FlushTicker commits when MaxBatchSize transactions are queued or every MaxWaitMs.
	FlushTicker FlushPolicy = "ticker"
)

// CheckpointMode is a WAL checkpoint mode.
type CheckpointMode string

// Checkpoint modes.
const (
	CheckpointPassive  CheckpointMode = "passive"
	CheckpointFull     CheckpointMode = "full"
	CheckpointRestart  CheckpointMode = "restart"
	CheckpointTruncate CheckpointMode = "truncate"
)

// Options configure a Committer. The zero value means every default, as usual in Go:
//   - a zero numeric field keeps its default. BusyTimeoutMs, CheckpointBusyTimeoutMs,
//     CacheSizeKib and StatementCacheCapacity default to non-zero values for which 0 is
//     also meaningful: set them to a negative value (e.g. -1) to ask for 0. Any other
//     negative field is an error;
//   - the flags whose default is on (Checkpoint, DynamicBatchSize, ForeignKeys) are
//     pointers: nil keeps the default, Bool(false) turns them off;
//   - JournalSizeLimit is a pointer because 0 and -1 are both meaningful: nil keeps the
//     default.
type Options struct {
	Durability  Durability  // default "full"
	FlushPolicy FlushPolicy // default "adaptive"
	// MaxBatchSize is the most transactions in one batch (default 10000).
	MaxBatchSize int
	// MaxWaitMs: with the ticker policy, flush at least this often (default 10).
	MaxWaitMs int
	// LingerMs: with the adaptive policy, wait this long for more after the first
	// transaction of a batch (default 0).
	LingerMs int
	// QueueCapacity is how many transactions may be in flight (queued or committing)
	// before further callers wait, cancellable by their ctx (default 10000).
	QueueCapacity int
	// BusyTimeoutMs is how long to wait for locks held by other processes (default 5000;
	// negative for no wait).
	BusyTimeoutMs int
	// ReadConnections serve Query (default 4).
	ReadConnections int
	// Checkpoint runs the background checkpoint scheduler (default on). Turn it off when
	// an external tool (Litestream, a backup job) does the checkpoints.
	Checkpoint *bool
	// PassiveThresholdMb of un-checkpointed WAL triggers a PASSIVE checkpoint (default 4).
	PassiveThresholdMb float64
	// RestartThresholdMb of WAL triggers a RESTART checkpoint (default 16).
	RestartThresholdMb float64
	// CheckpointBusyTimeoutMs bounds how long RESTART/TRUNCATE wait for readers (default
	// 100; negative for no wait).
	CheckpointBusyTimeoutMs int
	// WalHardLimitMb of WAL lets a RESTART pause the writer for up to
	// WalHardLimitPauseMs to wait for readers (default 64).
	WalHardLimitMb float64
	// WalHardLimitPauseMs is the longest writer pause of a RESTART past WalHardLimitMb
	// (default 1000; negative for no wait).
	WalHardLimitPauseMs int
	// DynamicBatchSize doubles MaxBatchSize while a checkpoint runs (default on).
	DynamicBatchSize *bool
	// TruncateWhenIdle runs a TRUNCATE checkpoint once idle for IdleMs (default off).
	TruncateWhenIdle bool
	// IdleMs without commits counts as idle (default 1000).
	IdleMs int
	// CacheSizeKib is PRAGMA cache_size in KiB (default 8192; negative for 0).
	CacheSizeKib int
	// MmapSize is PRAGMA mmap_size in bytes (default 0).
	MmapSize int64
	// JournalSizeLimit is PRAGMA journal_size_limit in bytes (default 64 MiB; -1 keeps
	// the WAL file at its high-water mark).
	JournalSizeLimit *int64
	// ForeignKeys sets PRAGMA foreign_keys on the writer (default on).
	ForeignKeys *bool
	// IdleVacuumPages of incremental vacuum run once idle (default 0).
	IdleVacuumPages int
	// IdleVacuumBudgetMs is the most time one idle incremental vacuum may take (default
	// 50).
	IdleVacuumBudgetMs int
	// StatementCacheCapacity is the prepared statements cached per connection (default
	// 256; negative for none).
	StatementCacheCapacity int
	// MetricsLabel is the value of the constant label db on every metric, so that
	// committers on different databases can share one registry (default: the database
	// file's name).
	MetricsLabel string
	// PollBatch is how many completions the poller takes per cgo call (default 256).
	PollBatch int
}

// defaultPollBatch is Options.PollBatch's default.
const defaultPollBatch = 256

// Bool returns a pointer to b, for the Options fields that default to on.
func Bool(b bool) *bool { return &b }

// Int64 returns a pointer to i, for Options.JournalSizeLimit.
func Int64(i int64) *int64 { return &i }

// toC is the C struct of o. Its string fields are allocated in C (on success only): free
// them with freeOptions.
func (o *Options) toC() (C.litecommit_options, error) {
	var c C.litecommit_options
	C.litecommit_options_default(&c, C.size_t(unsafe.Sizeof(c)))
	switch o.Durability {
	case "", DurabilityFull:
		c.durability = C.LITECOMMIT_DURABILITY_FULL
	case DurabilityNormal:
		c.durability = C.LITECOMMIT_DURABILITY_NORMAL
	case DurabilityOff:
		c.durability = C.LITECOMMIT_DURABILITY_OFF
	default:
		return c, configError("Durability: unknown value %q (expected full, normal or off)", o.Durability)
	}
	switch o.FlushPolicy {
	case "", FlushAdaptive:
		c.flush_policy = C.LITECOMMIT_FLUSH_ADAPTIVE
	case FlushTicker:
		c.flush_policy = C.LITECOMMIT_FLUSH_TICKER
	default:
		return c, configError("FlushPolicy: unknown value %q (expected adaptive or ticker)", o.FlushPolicy)
	}
	ints := []struct {
		name string
		v    int64
		dst  *C.uint64_t
		// negativeIsZero: 0 keeps the non-zero default, so a negative value asks for 0.
		negativeIsZero bool
	}{
		{"MaxBatchSize", int64(o.MaxBatchSize), &c.max_batch_size, false},
		{"MaxWaitMs", int64(o.MaxWaitMs), &c.max_wait_ms, false},
		{"LingerMs", int64(o.LingerMs), &c.linger_ms, false},
		{"QueueCapacity", int64(o.QueueCapacity), &c.queue_capacity, false},
		{"BusyTimeoutMs", int64(o.BusyTimeoutMs), &c.busy_timeout_ms, true},
		{"ReadConnections", int64(o.ReadConnections), &c.read_connections, false},
		{"CheckpointBusyTimeoutMs", int64(o.CheckpointBusyTimeoutMs), &c.checkpoint_busy_timeout_ms, true},
		{"WalHardLimitPauseMs", int64(o.WalHardLimitPauseMs), &c.wal_hard_limit_pause_ms, true},
		{"IdleMs", int64(o.IdleMs), &c.idle_ms, false},
		{"IdleVacuumBudgetMs", int64(o.IdleVacuumBudgetMs), &c.idle_vacuum_budget_ms, false},
		{"CacheSizeKib", int64(o.CacheSizeKib), &c.cache_size_kib, true},
		{"MmapSize", o.MmapSize, &c.mmap_size, false},
		{"StatementCacheCapacity", int64(o.StatementCacheCapacity), &c.statement_cache_capacity, true},
	}
	for _, f := range ints {
		switch {
		case f.v > 0:
			*f.dst = C.uint64_t(f.v)
		case f.v < 0 && f.negativeIsZero:
			*f.dst = 0
		case f.v < 0:
			return c, configError("%s: must not be negative, got %d", f.name, f.v)
		}
	}
	if o.IdleVacuumPages < 0 || int64(o.IdleVacuumPages) > math.MaxUint32 {
		return c, configError("IdleVacuumPages: out of range: %d", o.IdleVacuumPages)
	}
	c.idle_vacuum_pages = C.uint32_t(o.IdleVacuumPages)
	if o.PassiveThresholdMb != 0 {
		c.passive_threshold_mb = C.double(o.PassiveThresholdMb)
	}
	if o.RestartThresholdMb != 0 {
		c.restart_threshold_mb = C.double(o.RestartThresholdMb)
	}
	if o.WalHardLimitMb != 0 {
		c.wal_hard_limit_mb = C.double(o.WalHardLimitMb)
	}
	flag := func(p *bool, dst *C.int32_t) {
		if p != nil {
			*dst = 0
			if *p {
				*dst = 1
			}
		}
	}
	flag(o.Checkpoint, &c.checkpoint)
	flag(o.DynamicBatchSize, &c.dynamic_batch_size)
	flag(o.ForeignKeys, &c.foreign_keys)
	if o.TruncateWhenIdle {
		c.truncate_when_idle = 1
	}
	if o.JournalSizeLimit != nil {
		c.journal_size_limit = C.int64_t(*o.JournalSizeLimit)
	}
	if o.PollBatch < 0 {
		return c, configError("PollBatch: must not be negative, got %d", o.PollBatch)
	}
	if strings.IndexByte(o.MetricsLabel, 0) >= 0 {
		return c, configError("MetricsLabel: contains a NUL byte")
	}
	// Allocated last: no error return follows.
	if o.MetricsLabel != "" {
		c.metrics_label = C.CString(o.MetricsLabel)
	}
	return c, nil
}

// freeOptions frees the strings toC allocated for c.
func freeOptions(c *C.litecommit_options) {
	C.free(unsafe.Pointer(c.metrics_label))
	c.metrics_label = nil
}

// Committer is a group committer on one SQLite database. Its methods are safe for
// concurrent use. Close it when done; a Committer that is garbage-collected unclosed is
// closed then (committing what it had queued).
type Committer struct {
	// c is everything but the handle itself (see committer).
	c *committer
}

// committer is what the poller goroutine references, so that the public handle can be
// collected (and closed by its finalizer) while the poller still runs. Every method of
// Committer keeps the handle alive until it returns (runtime.KeepAlive), so the finalizer
// never closes a committer under a running call.
type committer struct {
	// mu guards db and q: read-locked for every call into the library, write-locked only
	// to free them.
	mu sync.RWMutex
	// db is the library's committer; nil once freed.
	db *C.litecommit_committer
	// q is the completion queue every transaction of this committer reports to.
	q *C.litecommit_completion_queue
	// closed is set when Close starts: new calls fail with ErrClosed at once.
	closed atomic.Bool
	// token numbers the transactions, so that the poller finds each one's waiter.
	token atomic.Uint64
	// slots holds one entry per transaction in flight (submitted, outcome not delivered
	// yet); its capacity is the queue capacity, so the library's queue never makes a
	// submit block inside cgo: a caller waits here, in Go, where ctx can cancel it.
	slots chan struct{}
	// waitMu guards waiters.
	waitMu sync.Mutex
	// waiters maps each token in flight to its caller.
	waiters map[uint64]waiter
	// pollDone is closed when the poller goroutine has returned.
	pollDone chan struct{}
	// batch is how many completions the poller takes per cgo call (Options.PollBatch).
	batch int
	// accepted counts the transactions the library has queued and waitingForSlot the
	// callers waiting for a slot (tests wait on them).
	accepted       atomic.Uint64
	waitingForSlot atomic.Int64

	// closeOnce runs the close sequence once; closeErr is what it returned, for every
	// later Close.
	closeOnce sync.Once
	closeErr  error
}

// waiter is a caller waiting for its transaction's outcome.
type waiter struct {
	// ch receives the outcome (buffered: the poller never blocks on it).
	ch chan outcome
	// columns is true when a statement may return columns (RETURNING, SELECT): the
	// completion's summary then does not say enough, even with zero rows.
	columns bool
}

// outcome is one transaction's result as the poller hands it to its waiter.
type outcome struct {
	// results has one entry per statement when the transaction committed.
	results []Result
	// err is the transaction's error, nil when it committed.
	err error
}

// Open opens (creating if needed) the database at path in WAL mode and starts its writer,
// checkpoint scheduler and completion poller.
func Open(path string, opts Options) (*Committer, error) {
	copts, err := opts.toC()
	if err != nil {
		return nil, err
	}
	defer freeOptions(&copts)
	if strings.IndexByte(path, 0) >= 0 {
		return nil, argError("path contains a NUL byte")
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	c := &committer{
		slots:    make(chan struct{}, int(copts.queue_capacity)),
		waiters:  make(map[uint64]waiter),
		pollDone: make(chan struct{}),
		batch:    opts.PollBatch,
	}
	if c.batch == 0 {
		c.batch = defaultPollBatch
	}
	if err := call(func() C.litecommit_status { return C.litecommit_open(cpath, &copts, &c.db) }); err != nil {
		return nil, err
	}
	if err := call(func() C.litecommit_status { return C.litecommit_completion_queue_new(&c.q) }); err != nil {
		C.litecommit_committer_free(&c.db)
		return nil, err
	}
	go c.poll()
	db := &Committer{c}
	// Close blocks until the queued work is committed: not on the finalizer goroutine.
	runtime.SetFinalizer(db, func(db *Committer) { go db.c.close() })
	return db, nil
}

// Exec runs one statement as a transaction and returns once it is durable.
func (db *Committer) Exec(ctx context.Context, sql string, args ...any) (Result, error) {
	defer runtime.KeepAlive(db)
	results, err := db.c.transaction(ctx, []Statement{{SQL: sql, Args: args}})
	if err != nil {
		return Result{}, err
	}
	return results[0], nil
}

// Transaction runs statements atomically (all or none) and returns once they are
// durable, with one Result per statement. If ctx is done first it returns ctx.Err() at
// once; a transaction that was already queued is not withdrawn and may still commit,
// while one still waiting for room in a full queue is never submitted.
func (db *Committer) Transaction(ctx context.Context, stmts []Statement) ([]Result, error) {
	defer runtime.KeepAlive(db)
	return db.c.transaction(ctx, stmts)
}

// Query runs a read-only statement on the read pool. It sees every transaction that
// returned before it started. If ctx is done first it returns ctx.Err() at once.
func (db *Committer) Query(ctx context.Context, sql string, args ...any) (Rows, error) {
	defer runtime.KeepAlive(db)
	return db.c.query(ctx, sql, args)
}

// Flush is a barrier: it returns once every transaction submitted before it is committed.
func (db *Committer) Flush(ctx context.Context) error {
	defer runtime.KeepAlive(db)
	return db.c.flush(ctx)
}

// Checkpoint runs a WAL checkpoint now, on the scheduler's connection ("" is passive). If
// ctx is done first it returns ctx.Err() at once; the checkpoint still runs to its end.
func (db *Committer) Checkpoint(ctx context.Context, mode CheckpointMode) (CheckpointResult, error) {
	defer runtime.KeepAlive(db)
	return db.c.checkpoint(ctx, mode)
}

// MetricsText returns the metrics in the Prometheus text exposition format.
func (db *Committer) MetricsText() (string, error) {
	defer runtime.KeepAlive(db)
	return db.c.metricsText()
}

// Stats returns the committer's figures.
func (db *Committer) Stats() (Stats, error) {
	defer runtime.KeepAlive(db)
	return db.c.stats()
}

// Close stops accepting work, commits everything already queued, returns every waiting
// call's result, stops the scheduler and closes the database. It is idempotent; every
// later call fails with ErrClosed.
func (db *Committer) Close() error {
	defer runtime.KeepAlive(db)
	return db.c.close()
}

// pollSpins is how many times the poller checks the queue without blocking, yielding to
// other goroutines in between, before it blocks in C until completions come.
const pollSpins = 64

// poll runs on its own goroutine: it takes up to c.batch completions per cgo call and
// hands each to its waiter, until the queue is closed and drained.
func (c *committer) poll() {
	defer close(c.pollDone)
	buf := make([]C.litecommit_completion, c.batch)
	waiters := make([]waiter, c.batch)
	var n C.size_t
	// The queue is freed only after pollDone is closed, so no lock is needed here.
	poll := func(timeoutMs C.int64_t) C.litecommit_status {
		return C.litecommit_completion_queue_poll(c.q, &buf[0], C.size_t(len(buf)), timeoutMs, &n)
	}
	for {
		// Checks without blocking a few times first, letting the other goroutines run in
		// between: a batch that completes meanwhile is taken without parking this thread
		// in C (which gives up its P) and waking it again.
		status := poll(0)
		for i := 0; i < pollSpins && status == C.LITECOMMIT_OK && n == 0; i++ {
			runtime.Gosched()
			status = poll(0)
		}
		if status == C.LITECOMMIT_OK && n == 0 {
			status = poll(-1)
		}
		c.deliver(buf[:int(n)], waiters)
		C.litecommit_completions_free(&buf[0], n)
		if status != C.LITECOMMIT_OK {
			// LITECOMMIT_CLOSED once Close closed the queue and it is drained; any other
			// status would be a bug: fail whoever still waits rather than hang them.
			c.failWaiters(closedError())
			return
		}
	}
}

func completionOutcome(cp *C.litecommit_completion, columns bool) outcome {
	if cp.status != C.LITECOMMIT_OK {
		var info C.litecommit_error_info
		C.litecommit_result_error(cp.result, &info)
		return outcome{err: errorFromInfo(&info)}
	}
	// The common case (one statement that returns no columns) needs no further cgo call.
	// has_rows is 0 for a RETURNING clause that matched no row, whose column names the
	// caller still gets: such statements take the full path.
	if cp.statement_count == 1 && cp.has_rows == 0 && !columns {
		return outcome{results: []Result{{
			Changes:      int64(cp.changes),
			LastInsertID: int64(cp.last_insert_rowid),
		}}}
	}
	return outcome{results: resultsFromC(cp.result)}
}

// deliver hands each completion to its waiter, looking them all up under one lock; ws is
// scratch space of at least len(got) entries.
func (c *committer) deliver(got []C.litecommit_completion, ws []waiter) {
	c.waitMu.Lock()
	for i := range got {
		token := uint64(got[i].token)
		ws[i] = c.waiters[token] // the zero waiter (nil ch) if the caller was forgotten
		delete(c.waiters, token)
	}
	c.waitMu.Unlock()
	for i := range got {
		<-c.slots
		if ws[i].ch != nil {
			ws[i].ch <- completionOutcome(&got[i], ws[i].columns) // buffered: never blocks, even if the waiter gave up
		}
		ws[i] = waiter{}
	}
}

func (c *committer) failWaiters(err error) {
	c.waitMu.Lock()
	waiters := c.waiters
	c.waiters = make(map[uint64]waiter)
	c.waitMu.Unlock()
	for _, w := range waiters {
		w.ch <- outcome{err: err}
	}
}

// pending is the number of transactions whose outcome has not been delivered yet.
func (c *committer) pending() int {
	c.waitMu.Lock()
	defer c.waitMu.Unlock()
	return len(c.waiters)
}

// acquire read-locks the handles for one call; release with c.mu.RUnlock.
func (c *committer) acquire() error {
	c.mu.RLock()
	if c.db == nil || c.closed.Load() {
		c.mu.RUnlock()
		return closedError()
	}
	return nil
}

func (c *committer) transaction(ctx context.Context, stmts []Statement) ([]Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(stmts) == 0 {
		return nil, argError("a transaction needs at least one statement")
	}
	in := make([]stmtIn, len(stmts))
	columns := false
	for i, s := range stmts {
		var err error
		if in[i], err = convertStatement(s, i); err != nil {
			return nil, err
		}
		columns = columns || mayReturnColumns(s.SQL)
	}
	cs := toC(in)
	defer cs.free()

	if c.closed.Load() {
		return nil, closedError()
	}
	select {
	case c.slots <- struct{}{}:
	default:
		c.waitingForSlot.Add(1)
		select {
		case c.slots <- struct{}{}:
			c.waitingForSlot.Add(-1)
		case <-ctx.Done():
			c.waitingForSlot.Add(-1)
			return nil, ctx.Err()
		}
	}
	token := c.token.Add(1)
	ch := replyChannels.Get().(chan outcome)
	c.waitMu.Lock()
	c.waiters[token] = waiter{ch: ch, columns: columns}
	c.waitMu.Unlock()
	err := c.acquire()
	if err == nil {
		// block = 1 never waits for long: the slots keep the library's queue from filling.
		err = call(func() C.litecommit_status {
			return C.litecommit_submit_queue(c.db, cs.stmts, cs.n, c.q, C.uint64_t(token), 1)
		})
		c.mu.RUnlock()
	}
	if err != nil {
		c.forget(token)
		<-c.slots
		return nil, err
	}
	c.accepted.Add(1)
	select {
	case o := <-ch:
		// Its one outcome is received and the poller has forgotten its token: it is empty
		// and nothing else will send on it.
		replyChannels.Put(ch)
		return o.results, o.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// replyChannels recycles the channels on which callers receive their outcome. A channel
// goes back only once its outcome was received; one a caller gave up on (its ctx was done,
// or the submit failed) is left to the garbage collector.
var replyChannels = sync.Pool{New: func() any { return make(chan outcome, 1) }}

func (c *committer) forget(token uint64) {
	c.waitMu.Lock()
	delete(c.waiters, token)
	c.waitMu.Unlock()
}

// async runs a blocking library call on its own goroutine so that the caller can return
// when ctx is done. The call itself runs to completion; its value travels back over a
// channel, so a caller that returned early never shares a variable with it.
func async[T any](
	ctx context.Context, c *committer, f func(db *C.litecommit_committer) (T, error),
) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	if err := c.acquire(); err != nil {
		return zero, err
	}
	type reply struct {
		value T
		err   error
	}
	done := make(chan reply, 1) // buffered: the call never blocks on a caller that left
	go func() {
		defer c.mu.RUnlock()
		v, err := f(c.db)
		done <- reply{v, err}
	}()
	select {
	case r := <-done:
		return r.value, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

func (c *committer) query(ctx context.Context, sql string, args []any) (Rows, error) {
	in, err := convertStatement(Statement{SQL: sql, Args: args}, 0)
	if err != nil {
		return Rows{}, err
	}
	return async(ctx, c, func(db *C.litecommit_committer) (Rows, error) {
		cs := toC([]stmtIn{in})
		defer cs.free()
		var r *C.litecommit_rows
		if err := call(func() C.litecommit_status { return C.litecommit_query(db, cs.stmts, &r) }); err != nil {
			return Rows{}, err
		}
		rows := rowsFromC(r)
		C.litecommit_rows_free(&r)
		return rows, nil
	})
}

func (c *committer) flush(ctx context.Context) error {
	_, err := async(ctx, c, func(db *C.litecommit_committer) (struct{}, error) {
		return struct{}{}, call(func() C.litecommit_status { return C.litecommit_flush(db) })
	})
	return err
}

// CheckpointResult is what a manual checkpoint did.
type CheckpointResult struct {
	// LogFrames is the number of frames in the WAL (-1 if not in WAL mode).
	LogFrames int64
	// CheckpointedFrames is the number of frames copied into the database.
	CheckpointedFrames int64
	// Busy is true if it could not finish (readers or the writer were in the way).
	Busy bool
}

func (c *committer) checkpoint(ctx context.Context, mode CheckpointMode) (CheckpointResult, error) {
	var cmode C.litecommit_checkpoint_mode
	switch mode {
	case CheckpointPassive, "":
		cmode = C.LITECOMMIT_CHECKPOINT_PASSIVE
	case CheckpointFull:
		cmode = C.LITECOMMIT_CHECKPOINT_FULL
	case CheckpointRestart:
		cmode = C.LITECOMMIT_CHECKPOINT_RESTART
	case CheckpointTruncate:
		cmode = C.LITECOMMIT_CHECKPOINT_TRUNCATE
	default:
		return CheckpointResult{}, argError("unknown checkpoint mode %q", mode)
	}
	return async(ctx, c, func(db *C.litecommit_committer) (CheckpointResult, error) {
		var r C.litecommit_checkpoint_result
		if err := call(func() C.litecommit_status { return C.litecommit_checkpoint(db, cmode, &r) }); err != nil {
			return CheckpointResult{}, err
		}
		return CheckpointResult{int64(r.log_frames), int64(r.checkpointed_frames), r.busy != 0}, nil
	})
}

func (c *committer) metricsText() (string, error) {
	if err := c.acquire(); err != nil {
		return "", err
	}
	defer c.mu.RUnlock()
	var text *C.char
	if err := call(func() C.litecommit_status { return C.litecommit_metrics_text(c.db, &text) }); err != nil {
		return "", err
	}
	defer C.litecommit_string_free(&text)
	return C.GoString(text), nil
}

// Stats is a snapshot of a committer's figures (the same as its metrics).
type Stats struct {
	// TransactionsCommitted counts the transactions committed.
	TransactionsCommitted uint64
	// TransactionsFailed counts the transactions rejected by one of their own statements.
	TransactionsFailed uint64
	// TransactionsAborted counts the transactions rejected because their batch's BEGIN or
	// COMMIT failed.
	TransactionsAborted uint64
	// Batches counts the batches committed (or attempted).
	Batches uint64
	// Flushes counts batches by trigger: adaptive, size, timer, flush, close.
	Flushes map[string]uint64
	// MaxBatchSize is the largest batch so far.
	MaxBatchSize uint64
	// MeanBatchSize is the mean number of transactions per batch.
	MeanBatchSize float64
	// MeanFlushMs is the mean time to run and commit a batch, in ms.
	MeanFlushMs float64
	// MeanCommitLatencyMs is the mean time from submit to outcome, in ms.
	MeanCommitLatencyMs float64
	// Checkpoints counts checkpoints by mode: passive, full, restart, truncate.
	Checkpoints map[string]uint64
	// CheckpointsBusy counts the checkpoints for which SQLite reported busy.
	CheckpointsBusy uint64
	// CheckpointRunning is true while a checkpoint runs.
	CheckpointRunning bool
	// WalFrames is the number of frames in the WAL after the latest commit.
	WalFrames uint64
	// WalBacklogFrames is the number of WAL frames not yet checkpointed.
	WalBacklogFrames uint64
	// WalFileBytes is the size of the -wal file at the latest reading.
	WalFileBytes uint64
	// QueueDepth is the number of transactions queued when the latest batch was formed.
	QueueDepth uint64
	// MaxWriterStallMs is the longest time the writer paused for a checkpoint
	// (RESTART/TRUNCATE, or a PASSIVE catch-up), in ms.
	MaxWriterStallMs float64
	// QueueLength is the number of messages (transactions and flush barriers) in the
	// library's queue right now.
	QueueLength uint64
	// Submitting is the number of calls handing work to the library's queue right now:
	// while it is full, the submitters waiting for room.
	Submitting uint64
}

func (c *committer) stats() (Stats, error) {
	if err := c.acquire(); err != nil {
		return Stats{}, err
	}
	defer c.mu.RUnlock()
	var s C.litecommit_stats
	if err := call(func() C.litecommit_status {
		return C.litecommit_get_stats(c.db, &s, C.size_t(unsafe.Sizeof(s)))
	}); err != nil {
		return Stats{}, err
	}
	return statsFromC(&s), nil
}

// statsFromC copies the C struct field by field (schema_test.go checks that none is
// missed): the C struct's flushes_* and checkpoints_* counts become the Flushes and
// Checkpoints maps.
func statsFromC(s *C.litecommit_stats) Stats {
	return Stats{
		TransactionsCommitted: uint64(s.transactions_committed),
		TransactionsFailed:    uint64(s.transactions_failed),
		TransactionsAborted:   uint64(s.transactions_aborted),
		Batches:               uint64(s.batches),
		Flushes: map[string]uint64{
			"adaptive": uint64(s.flushes_adaptive),
			"size":     uint64(s.flushes_size),
			"timer":    uint64(s.flushes_timer),
			"flush":    uint64(s.flushes_flush),
			"close":    uint64(s.flushes_close),
		},
		MaxBatchSize:        uint64(s.max_batch_size),
		MeanBatchSize:       float64(s.mean_batch_size),
		MeanFlushMs:         float64(s.mean_flush_ms),
		MeanCommitLatencyMs: float64(s.mean_commit_latency_ms),
		Checkpoints: map[string]uint64{
			"passive":  uint64(s.checkpoints_passive),
			"full":     uint64(s.checkpoints_full),
			"restart":  uint64(s.checkpoints_restart),
			"truncate": uint64(s.checkpoints_truncate),
		},
		CheckpointsBusy:   uint64(s.checkpoints_busy),
		CheckpointRunning: s.checkpoint_running != 0,
		WalFrames:         uint64(s.wal_frames),
		WalBacklogFrames:  uint64(s.wal_backlog_frames),
		WalFileBytes:      uint64(s.wal_file_bytes),
		QueueDepth:        uint64(s.queue_depth),
		MaxWriterStallMs:  float64(s.max_writer_stall_ms),
		QueueLength:       uint64(s.queue_length),
		Submitting:        uint64(s.submitting),
	}
}

func (c *committer) close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		// Nothing is freed yet, so no lock is needed: the library's close is thread-safe,
		// and calls racing with it get LITECOMMIT_CLOSED.
		c.closeErr = call(func() C.litecommit_status { return C.litecommit_close(c.db) })
		C.litecommit_completion_queue_close(c.q)
		<-c.pollDone
		c.mu.Lock()
		C.litecommit_completion_queue_free(&c.q)
		C.litecommit_committer_free(&c.db)
		c.mu.Unlock()
	})
	return c.closeErr
}
