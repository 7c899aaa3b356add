//! `litecommit-bench scaling`: how litecommit behaves as the load grows, durability full,
//! single-row insert transactions (the `core` benchmark's table and insert):
//! - 1 to 4,096 concurrent submitters committing transactions in a loop, each a thread
//!   blocking in `transaction`, then each a task awaiting `submit_async` on a tokio runtime
//!   with a worker per CPU: throughput, latency, the process's resident memory before and at
//!   its peak, where the writer's time went, and the CPU time and context switches per
//!   transaction;
//! - a table already holding 10 million rows against an empty one, at 64 submitters;
//! - the memory one in-flight transaction costs, counted exactly by the bench binary's
//!   global allocator while transactions wait behind a writer held in an event listener.

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use litecommit::{
    Committer, Config, Durability, Event, Params, Pending, PendingFuture, Transaction, Value,
};

use crate::core_bench::{fresh_db, open_committer, tx, CREATE};
use crate::cpu_hop;
use crate::stats::{fmt_ratio, mb, ms, ratio, Summary};
use crate::table::Table;
use crate::verdict::{Judge, Verdict};

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Seconds each load runs.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Concurrent submitter counts, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64,512,4096")]
    pub submitters: Vec<usize>,
    /// Rows already in the table of the big-table comparison (0 skips it).
    #[arg(long, default_value_t = 10_000_000)]
    pub rows: u64,
    /// Payload bytes of the rows that fill the big table.
    #[arg(long, default_value_t = 100)]
    pub fill_payload: usize,
    /// Transactions held in flight to count the memory of one.
    #[arg(long, default_value_t = 10_000)]
    pub in_flight: usize,
    /// Payload bytes per inserted row.
    #[arg(long, default_value_t = 100)]
    pub payload: usize,
    /// Rounds of the comparison behind the scaling target (64 submitters of each kind
    /// against the most): the two loads take turns this many times, the table's being the
    /// first, and the target is judged on each side's transactions and seconds added up
    /// over its rounds, so that a stretch when the machine slows down slows both.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Directory for the temporary databases (must be on a real disk so fsync is real).
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
    /// A tiny configuration that finishes in a few seconds (used by `make test-bench`);
    /// its targets are not judged.
    #[arg(long)]
    pub smoke: bool,
    /// Report a MISSED target without failing the run (it may be given more than once).
    #[arg(long, overrides_with = "no_fail")]
    pub no_fail: bool,
}

/// Stack of each submitting thread: thousands of them must fit.
const SUBMITTER_STACK: usize = 256 * 1024;
/// Submitters of the big-table comparison.
const BIG_TABLE_SUBMITTERS: usize = 64;
/// Target: memory per in-flight transaction, excluding its SQL and parameters.
const TARGET_BYTES_PER_TX: f64 = 1024.0;
/// Target: throughput at the most submitters against 64, at least this fraction.
const TARGET_SCALING: f64 = 0.8;

/// The bench binary's global allocator: the system allocator, which also counts live bytes
/// and allocations while [`Counting`] is on. Off, it costs one relaxed load per call.
pub struct CountingAlloc;

/// Whether [`CountingAlloc`] counts.
static COUNTING: AtomicBool = AtomicBool::new(false);
/// Bytes allocated minus bytes freed while counting.
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
/// The most `LIVE_BYTES` has been.
static PEAK_BYTES: AtomicIsize = AtomicIsize::new(0);
/// Allocations made minus allocations freed while counting.
static LIVE_ALLOCATIONS: AtomicIsize = AtomicIsize::new(0);

/// Adds to the live counters and raises the peak.
fn count(bytes: isize, allocations: isize) {
    let live = LIVE_BYTES.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK_BYTES.fetch_max(live, Ordering::Relaxed);
    LIVE_ALLOCATIONS.fetch_add(allocations, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`; the counters only observe.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            count(layout.size() as isize, 1);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            count(layout.size() as isize, 1);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        if COUNTING.load(Ordering::Relaxed) {
            count(-(layout.size() as isize), -1);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            count(new_size as isize - layout.size() as isize, 0);
        }
        p
    }
}

/// Counts the allocations of every thread from its start (at zero) until it is dropped.
/// Memory allocated before and freed during the window counts negative.
struct Counting;

impl Counting {
    /// Zeroes the counters and starts counting.
    fn start() -> Counting {
        LIVE_BYTES.store(0, Ordering::Relaxed);
        PEAK_BYTES.store(0, Ordering::Relaxed);
        LIVE_ALLOCATIONS.store(0, Ordering::Relaxed);
        COUNTING.store(true, Ordering::SeqCst);
        Counting
    }

    /// Bytes allocated and not freed since the start.
    fn live_bytes(&self) -> isize {
        LIVE_BYTES.load(Ordering::SeqCst)
    }

    /// The most `live_bytes` has been.
    fn peak_bytes(&self) -> isize {
        PEAK_BYTES.load(Ordering::SeqCst)
    }

    /// Allocations made and not freed since the start.
    fn live_allocations(&self) -> isize {
        LIVE_ALLOCATIONS.load(Ordering::SeqCst)
    }

    /// Runs `f` uncounted (what it allocates it must free).
    fn paused<T>(&self, f: impl FnOnce() -> T) -> T {
        COUNTING.store(false, Ordering::SeqCst);
        let out = f();
        COUNTING.store(true, Ordering::SeqCst);
        out
    }
}

impl Drop for Counting {
    fn drop(&mut self) {
        COUNTING.store(false, Ordering::SeqCst);
    }
}

/// A `/proc/self/status` field in bytes (`VmRSS`, `VmHWM`); 0 where unavailable.
fn proc_status_bytes(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

/// Resets the peak resident size (`VmHWM`) to the current one; false where the kernel
/// does not allow it (the peak then counts from the process's start).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Bytes available to this user on the filesystem holding `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: `path` is a valid C string and `stat` a writable statvfs for the call.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    // The field types differ between platforms.
    #[allow(clippy::unnecessary_cast)]
    let free = stat.f_bavail as u64 * stat.f_frsize as u64;
    Some(free)
}

/// Nanoseconds a thread of this process spent on a CPU and waiting for one (runnable), from
/// its `/proc/self/task/*/schedstat`; `comm` is its name as the kernel keeps it (15 bytes).
fn thread_schedstat(comm: &str) -> Option<(u64, u64)> {
    std::fs::read_dir("/proc/self/task").ok()?.find_map(|task| {
        let dir = task.ok()?.path();
        let name = std::fs::read_to_string(dir.join("comm")).ok()?;
        if name.trim_end() != comm {
            return None;
        }
        let stat = std::fs::read_to_string(dir.join("schedstat")).ok()?;
        let mut fields = stat.split_whitespace().map(|f| f.parse::<u64>().ok());
        Some((fields.next()??, fields.next()??))
    })
}

/// The writer thread's name as the kernel keeps it.
const WRITER_COMM: &str = "litecommit-writ";

/// The committer's counters that tell where the writer's time went.
#[derive(Clone, Copy, Default)]
struct WriterTime {
    /// Batches committed.
    batches: u64,
    /// Milliseconds spent running and committing batches.
    batch_ms: f64,
    /// Nanoseconds the writer thread was on a CPU.
    on_cpu_ns: u64,
    /// Nanoseconds the writer thread was runnable but waiting for a CPU.
    runnable_ns: u64,
}

impl WriterTime {
    fn now(db: &Committer) -> WriterTime {
        let stats = db.stats();
        let (on_cpu_ns, runnable_ns) = thread_schedstat(WRITER_COMM).unwrap_or_default();
        WriterTime {
            batches: stats.batches,
            batch_ms: stats.mean_flush_ms * stats.batches as f64,
            on_cpu_ns,
            runnable_ns,
        }
    }

    fn since(self, before: WriterTime) -> WriterTime {
        WriterTime {
            batches: self.batches - before.batches,
            batch_ms: self.batch_ms - before.batch_ms,
            on_cpu_ns: self.on_cpu_ns.saturating_sub(before.on_cpu_ns),
            runnable_ns: self.runnable_ns.saturating_sub(before.runnable_ns),
        }
    }
}

/// The whole process's CPU time and context switches, from `getrusage`.
#[derive(Clone, Copy, Default)]
struct ProcessTime {
    /// Seconds on a CPU, user and system.
    cpu_s: f64,
    /// Context switches, voluntary and involuntary.
    switches: i64,
}

impl ProcessTime {
    fn now() -> ProcessTime {
        // SAFETY: getrusage fills the zeroed struct it is given.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
            return ProcessTime::default();
        }
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        ProcessTime {
            cpu_s: secs(usage.ru_utime) + secs(usage.ru_stime),
            switches: usage.ru_nvcsw + usage.ru_nivcsw,
        }
    }

    fn since(self, before: ProcessTime) -> ProcessTime {
        ProcessTime {
            cpu_s: self.cpu_s - before.cpu_s,
            switches: self.switches - before.switches,
        }
    }
}

/// What one load measured.
struct Load {
    /// Who submitted: threads or tasks.
    kind: Kind,
    /// Concurrent submitters.
    submitters: usize,
    /// Transactions committed.
    committed: u64,
    /// Transactions that failed.
    failed: u64,
    /// Wall time from the start signal until every submitter returned.
    seconds: f64,
    /// Each committed transaction's latency, in ms.
    latency: Summary,
    /// Resident size before the submitters started.
    rss_before: u64,
    /// `None` where the kernel does not let the peak be reset.
    rss_peak: Option<u64>,
    writer: WriterTime,
    /// What the whole process spent from the start signal until every submitter returned.
    process: ProcessTime,
    /// The one-way latency between CPUs 0 and 1 in ns, measured just before and just after.
    cpu_hop_ns: [Option<f64>; 2],
}

impl Load {
    /// Committed transactions per second.
    fn tx_per_sec(&self) -> f64 {
        ratio(self.committed as f64, self.seconds).unwrap_or(0.0)
    }

    /// Percent of the load's wall time.
    fn pct_of_time(&self, ms: f64) -> String {
        format!("{:.0}%", 100.0 * ms / (1000.0 * self.seconds))
    }
}

/// Lets the submitters go together once every one of them is ready, or sends them home.
#[derive(Default)]
struct StartGate {
    /// Submitters ready, and the deadline once they may go (`Err` if they must not).
    state: Mutex<(usize, Option<Result<Instant, ()>>)>,
    /// Signalled to the starting thread when a submitter is ready.
    ready: Condvar,
    /// Signalled to the submitters when they may go.
    go: Condvar,
}

impl StartGate {
    /// A submitter's side: the deadline to run until, or `None` to stop at once.
    fn ready(&self) -> Option<Instant> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.0 += 1;
        self.ready.notify_one();
        loop {
            if let Some(go) = state.1 {
                return go.ok();
            }
            state = self.go.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Waits for `n` submitters to be ready, then lets them run for `secs`; returns when.
    fn go(&self, n: usize, secs: f64) -> Instant {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while state.0 < n {
            state = self.ready.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        let start = Instant::now();
        state.1 = Some(Ok(start + Duration::from_secs_f64(secs)));
        self.go.notify_all();
        start
    }

    /// Sends every submitter home without running.
    fn abort(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1 = Some(Err(()));
        self.go.notify_all();
    }
}

/// Who submits the transactions of a load.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// Threads (small stacks), each blocking in `transaction` until its commit.
    Threads,
    /// Tasks on a tokio runtime with a worker thread per CPU, each awaiting `submit_async`
    /// and then its outcome.
    Tasks,
}

impl Kind {
    /// "`n` threads" or "`n` tasks" (singular for one).
    fn label(self, n: usize) -> String {
        let noun = match self {
            Kind::Threads => "thread",
            Kind::Tasks => "task",
        };
        format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
    }
}

/// What one submitter's transactions gave.
#[derive(Default)]
struct Tally {
    /// Latencies of the committed ones, in ms.
    latencies_ms: Vec<f64>,
    /// How many failed.
    failed: u64,
}

impl Tally {
    /// Counts the outcome of a transaction submitted at `start`.
    fn record<T, E>(&mut self, start: Instant, outcome: Result<T, E>) {
        match outcome {
            Ok(_) => self
                .latencies_ms
                .push(start.elapsed().as_secs_f64() * 1000.0),
            Err(_) => self.failed += 1,
        }
    }
}

/// `submitters` of `kind` each committing transactions on `db` in a loop for `secs`;
/// resident memory is read before they start and at its peak.
fn load(
    db: &Arc<Committer>,
    kind: Kind,
    submitters: usize,
    secs: f64,
    payload: &[u8],
) -> Result<Load, String> {
    let hop_before = cpu_hop::one_way_ns();
    let peak_resets = reset_peak_rss();
    let rss_before = proc_status_bytes("VmRSS");
    let writer_before = WriterTime::now(db);
    let (per_submitter, seconds, process) = match kind {
        Kind::Threads => threads(db, submitters, secs, payload)?,
        Kind::Tasks => tasks(db, submitters, secs, payload)?,
    };
    let hop_after = cpu_hop::one_way_ns();
    let writer = WriterTime::now(db).since(writer_before);
    let rss_peak = peak_resets.then(|| proc_status_bytes("VmHWM"));
    let mut latencies = Vec::new();
    let mut failed = 0;
    for tally in per_submitter {
        latencies.extend(tally.latencies_ms);
        failed += tally.failed;
    }
    Ok(Load {
        kind,
        submitters,
        committed: latencies.len() as u64,
        failed,
        seconds,
        latency: Summary::of(latencies),
        rss_before,
        rss_peak,
        writer,
        process,
        cpu_hop_ns: [hop_before, hop_after],
    })
}

/// Runs the threads of a load: what each measured, the load's seconds and what the
/// process spent meanwhile.
fn threads(
    db: &Committer,
    submitters: usize,
    secs: f64,
    payload: &[u8],
) -> Result<(Vec<Tally>, f64, ProcessTime), String> {
    let gate = StartGate::default();
    std::thread::scope(|s| {
        let mut handles = Vec::with_capacity(submitters);
        for t in 0..submitters {
            let gate = &gate;
            let spawned = std::thread::Builder::new()
                .name(format!("submitter-{t}"))
                .stack_size(SUBMITTER_STACK)
                .spawn_scoped(s, move || {
                    let mut tally = Tally::default();
                    let Some(deadline) = gate.ready() else {
                        return tally;
                    };
                    while Instant::now() < deadline {
                        let start = Instant::now();
                        tally.record(start, db.transaction(tx(t, payload)));
                    }
                    tally
                });
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    gate.abort();
                    return Err(format!(
                        "cannot start submitter {} of {submitters}: {e}",
                        t + 1
                    ));
                }
            }
        }
        let start = gate.go(submitters, secs);
        let process_before = ProcessTime::now();
        let per_thread: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect();
        let process = ProcessTime::now().since(process_before);
        Ok((per_thread, start.elapsed().as_secs_f64(), process))
    })
}

/// Runs the tasks of a load on a runtime of its own, as [`threads`] runs threads.
fn tasks(
    db: &Arc<Committer>,
    submitters: usize,
    secs: f64,
    payload: &[u8],
) -> Result<(Vec<Tally>, f64, ProcessTime), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(crate::stats::cpus())
        .build()
        .map_err(|e| format!("cannot start a tokio runtime: {e}"))?;
    let payload: Arc<[u8]> = payload.into();
    let process_before = ProcessTime::now();
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let per_task = runtime.block_on(async {
        let handles: Vec<_> = (0..submitters)
            .map(|t| {
                let db = Arc::clone(db);
                let payload = Arc::clone(&payload);
                tokio::spawn(async move {
                    let mut tally = Tally::default();
                    while Instant::now() < deadline {
                        let start = Instant::now();
                        let outcome = match db.submit_async(tx(t, &payload)).await {
                            Ok(pending) => pending.await,
                            Err(e) => Err(e),
                        };
                        tally.record(start, outcome);
                    }
                    tally
                })
            })
            .collect();
        let mut per_task = Vec::with_capacity(submitters);
        for h in handles {
            per_task.push(h.await.unwrap_or_default());
        }
        per_task
    });
    let process = ProcessTime::now().since(process_before);
    Ok((per_task, start.elapsed().as_secs_f64(), process))
}

/// What one side of the scaling target's comparison measured in one round.
struct Side {
    /// Transactions committed.
    committed: u64,
    /// The load's wall time.
    seconds: f64,
    /// The one-way latency between CPUs 0 and 1 in ns, just before the load.
    cpu_hop_ns: Option<f64>,
}

impl Side {
    fn of(load: &Load) -> Side {
        Side {
            committed: load.committed,
            seconds: load.seconds,
            cpu_hop_ns: load.cpu_hop_ns[0],
        }
    }

    fn tx_per_sec(&self) -> f64 {
        ratio(self.committed as f64, self.seconds).unwrap_or(0.0)
    }
}

/// The first side's throughput over the second's, each side's transactions and seconds
/// added up over the rounds.
fn summed_ratio(rounds: &[(Side, Side)]) -> Option<f64> {
    let sum = |pick: fn(&(Side, Side)) -> &Side| {
        let (tx, secs) = rounds.iter().map(pick).fold((0u64, 0.0), |(tx, secs), s| {
            (tx + s.committed, secs + s.seconds)
        });
        ratio(tx as f64, secs)
    };
    ratio(sum(|r| &r.0)?, sum(|r| &r.1)?)
}

/// The rounds after the first of the scaling target's comparison: `most` submitters of
/// `kind` against 64, each on a fresh database, the one that ran second in the table's
/// round going first in the next, and so on in turn.
fn more_rounds(
    args: &Args,
    base: &Path,
    kind: Kind,
    most: usize,
    payload: &[u8],
) -> Result<Vec<(Side, Side)>, String> {
    let position = |n| args.submitters.iter().position(|&s| s == n);
    let most_ran_first = position(most) < position(64);
    let run = |n| fresh_load(base, kind, n, args.seconds, payload).map(|l| Side::of(&l));
    (1..args.rounds)
        .map(|round| {
            if (round % 2 == 1) != most_ran_first {
                let m = run(most)?;
                Ok((m, run(64)?))
            } else {
                let r = run(64)?;
                Ok((run(most)?, r))
            }
        })
        .collect()
}

/// One load on a fresh database.
fn fresh_load(
    base: &Path,
    kind: Kind,
    submitters: usize,
    secs: f64,
    payload: &[u8],
) -> Result<Load, String> {
    let (_dir, path) = fresh_db(base, "scaling.db")?;
    let db = Arc::new(open_committer(&path, Durability::Full)?);
    let m = load(&db, kind, submitters, secs, payload)?;
    db.close().map_err(|e| e.to_string())?;
    Ok(m)
}

/// Bytes of a transaction's SQL text and parameters on the heap.
fn sql_and_params_bytes(tx: &Transaction) -> usize {
    let value = |v: &Value| match v {
        Value::Text(s) => s.capacity(),
        Value::Blob(b) => b.capacity(),
        _ => 0,
    };
    tx.statements()
        .iter()
        .map(|st| {
            let sql = match &st.sql {
                std::borrow::Cow::Owned(s) => s.capacity(),
                std::borrow::Cow::Borrowed(_) => 0,
            };
            let params = match &st.params {
                Params::None => 0,
                Params::Positional(vs) => {
                    vs.capacity() * size_of::<Value>() + vs.iter().map(value).sum::<usize>()
                }
                Params::Named(vs) => {
                    vs.capacity() * size_of::<(String, Value)>()
                        + vs.iter()
                            .map(|(n, v)| n.capacity() + value(v))
                            .sum::<usize>()
                }
                Params::Invalid(s) => s.capacity(),
            };
            sql + params
        })
        .sum()
}

/// Holds the writer inside an event listener after the batch it is armed for, until
/// released: what is submitted meanwhile stays queued.
#[derive(Default)]
struct Hold {
    /// Where the hold stands.
    state: Mutex<HoldState>,
    /// Signalled at every change of `state`.
    changed: Condvar,
}

/// Where a [`Hold`] stands.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
enum HoldState {
    /// Batches pass.
    #[default]
    Off,
    /// The next batch holds the writer.
    Armed,
    /// The writer is held.
    Holding,
}

impl Hold {
    /// Moves to `state` and tells the waiters.
    fn set(&self, state: HoldState) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = state;
        self.changed.notify_all();
    }

    /// The listener's side: after a batch while armed, holds until released.
    fn on_event(&self, event: &Event) {
        if !matches!(
            event,
            Event::BatchCommitted { .. } | Event::BatchFailed { .. }
        ) {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if *state == HoldState::Armed {
            *state = HoldState::Holding;
            self.changed.notify_all();
            while *state == HoldState::Holding {
                state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
            }
        }
    }

    /// Waits until the listener holds the writer.
    fn wait_holding(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while *state != HoldState::Holding {
            state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Releases the writer when dropped, so that an early return cannot leave it held.
struct Release<'a>(&'a Hold);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.set(HoldState::Off);
    }
}

/// Counts completions down to zero.
struct Countdown {
    /// Completions still to come.
    left: Mutex<usize>,
    /// Signalled when `left` reaches zero.
    zero: Condvar,
}

impl Countdown {
    /// One completion.
    fn done(&self) {
        let mut left = self.left.lock().unwrap_or_else(|p| p.into_inner());
        *left = left.saturating_sub(1);
        if *left == 0 {
            self.zero.notify_all();
        }
    }

    /// Waits until every completion came.
    fn wait(&self) {
        let mut left = self.left.lock().unwrap_or_else(|p| p.into_inner());
        while *left > 0 {
            left = self.zero.wait(left).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// How the measured transactions are submitted.
#[derive(Clone, Copy, PartialEq)]
enum Via {
    /// `submit`, a handle to wait on: what a blocking `transaction` call does.
    Handle,
    /// `submit_with_callback`.
    Callback,
    /// `submit_async`, polled once, and the future it resolves to.
    Future,
}

/// A waker that does nothing, for a future polled only once.
struct NoWake;

impl Wake for NoWake {
    fn wake(self: Arc<Self>) {}
}

/// What holding `n` transactions in flight cost.
struct InFlight {
    /// Transactions held in flight.
    n: usize,
    /// Live bytes allocated by building and submitting them, while queued.
    queued_bytes: isize,
    /// Live allocations while queued.
    queued_allocations: isize,
    /// Bytes of their SQL and parameters.
    sql_and_params: usize,
    /// The most live bytes from building them until every one was answered.
    peak_bytes: isize,
}

impl InFlight {
    /// Bytes per queued transaction, excluding its SQL and parameters.
    fn per_tx(&self) -> f64 {
        (self.queued_bytes as f64 - self.sql_and_params as f64) / self.n as f64
    }
}

/// Builds and submits `n` transactions while the writer is held (so they all stay queued),
/// counting every allocation until they are all answered.
fn in_flight(base: &Path, n: usize, payload: &[u8], via: Via) -> Result<InFlight, String> {
    let (_dir, path) = fresh_db(base, "in-flight.db")?;
    let hold = Arc::new(Hold::default());
    let listener = Arc::clone(&hold);
    let config = Config {
        durability: Durability::Full,
        queue_capacity: n,
        max_batch_size: n,
        event_listener: Some(Arc::new(move |e: &Event| listener.on_event(e))),
        ..Config::default()
    };
    let db = Committer::open(&path, config).map_err(|e| e.to_string())?;
    db.execute(CREATE, ()).map_err(|e| e.to_string())?;
    let mut handles: Vec<Pending> = Vec::with_capacity(if via == Via::Handle { n } else { 0 });
    let mut futures: Vec<PendingFuture> =
        Vec::with_capacity(if via == Via::Future { n } else { 0 });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| format!("cannot start a tokio runtime: {e}"))?;
    let no_wake = Waker::from(Arc::new(NoWake));
    let answered = Arc::new(Countdown {
        left: Mutex::new(n),
        zero: Condvar::new(),
    });
    let measured = {
        let release = Release(&hold);
        hold.set(HoldState::Armed);
        let first = db.submit(tx(0, payload)).map_err(|e| e.to_string())?;
        hold.wait_holding();
        let counting = Counting::start();
        let mut sql_and_params = 0;
        for i in 0..n {
            let t = tx(i, payload);
            sql_and_params += sql_and_params_bytes(&t);
            let submitted = match via {
                Via::Handle => db.try_submit(t).map(|p| handles.push(p)),
                // The queue has room, so the first poll queues the transaction.
                Via::Future => match std::pin::pin!(db.submit_async(t))
                    .poll(&mut Context::from_waker(&no_wake))
                {
                    Poll::Ready(queued) => queued.map(|f| futures.push(f)),
                    Poll::Pending => return Err(format!("transaction {i} of {n} waits for room")),
                },
                Via::Callback => {
                    let answered = Arc::clone(&answered);
                    db.submit_with_callback(t, move |outcome| {
                        drop(outcome);
                        answered.done();
                    })
                }
            };
            submitted.map_err(|e| format!("submitting transaction {i} of {n}: {e}"))?;
        }
        let queued_bytes = counting.live_bytes();
        let queued_allocations = counting.live_allocations();
        let queued = counting.paused(|| db.stats().queue_length);
        if queued != n as u64 {
            return Err(format!(
                "{queued} transactions queued behind the held writer, expected {n}"
            ));
        }
        drop(release);
        first.wait().map_err(|e| e.to_string())?;
        for h in handles.drain(..) {
            h.wait().map_err(|e| e.to_string())?;
        }
        for f in futures.drain(..) {
            runtime.block_on(f).map_err(|e| e.to_string())?;
        }
        if via == Via::Callback {
            answered.wait();
        }
        InFlight {
            n,
            queued_bytes,
            queued_allocations,
            sql_and_params,
            peak_bytes: counting.peak_bytes(),
        }
    };
    db.close().map_err(|e| e.to_string())?;
    Ok(measured)
}

/// Bytes the queue reserves per unit of `queue_capacity` (every slot is allocated at open):
/// the difference between opening with two capacities.
fn queue_slot_bytes(base: &Path) -> Result<f64, String> {
    let (small, large) = (1_000, 101_000);
    let mut opened = Vec::new();
    for capacity in [small, large] {
        let (_dir, path) = fresh_db(base, "queue.db")?;
        let config = Config {
            queue_capacity: capacity,
            ..Config::default()
        };
        let counting = Counting::start();
        let db = Committer::open(&path, config).map_err(|e| e.to_string())?;
        let bytes = counting.live_bytes();
        drop(counting);
        db.close().map_err(|e| e.to_string())?;
        opened.push(bytes);
    }
    Ok((opened[1] - opened[0]) as f64 / (large - small) as f64)
}

/// The big-table comparison: 64 submitters on an empty table, then on one holding `rows`.
fn big_table(
    base: &Path,
    args: &Args,
    payload: &[u8],
) -> Result<Option<(Load, Load, Fill)>, String> {
    let estimate = args.rows * (args.fill_payload as u64 + 16);
    let needed = 2 * estimate + 512 * 1024 * 1024;
    match free_bytes(base) {
        Some(free) if free < needed => {
            println!(
                "big table: skipped, {} MB free in {} and {} MB needed for {} rows\n",
                mb(free as f64),
                base.display(),
                mb(needed as f64),
                args.rows
            );
            return Ok(None);
        }
        _ => {}
    }
    let empty = fresh_load(
        base,
        Kind::Threads,
        BIG_TABLE_SUBMITTERS,
        args.seconds,
        payload,
    )?;
    let (_dir, path) = fresh_db(base, "big.db")?;
    let fill = fill(&path, args.rows, args.fill_payload)?;
    let db = Arc::new(open_committer(&path, Durability::Full)?);
    let big = load(
        &db,
        Kind::Threads,
        BIG_TABLE_SUBMITTERS,
        args.seconds,
        payload,
    )?;
    db.close().map_err(|e| e.to_string())?;
    Ok(Some((empty, big, fill)))
}

/// How the big table was filled.
struct Fill {
    /// How long it took, the sync included.
    seconds: f64,
    /// The database file's size.
    bytes: u64,
}

/// Creates the table at `path` holding `rows` rows of `payload` bytes, in one transaction
/// without a journal, then syncs the file so that its writeback is not measured later.
fn fill(path: &Path, rows: u64, payload: usize) -> Result<Fill, String> {
    let start = Instant::now();
    let err = |e: rusqlite::Error| format!("filling {}: {e}", path.display());
    let conn = rusqlite::Connection::open(path).map_err(err)?;
    conn.execute_batch(
        "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-65536;",
    )
    .map_err(err)?;
    conn.execute_batch(CREATE).map_err(err)?;
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         INSERT INTO t (thread, payload) SELECT i % 64, zeroblob(?2) FROM n",
        rusqlite::params![rows as i64, payload as i64],
    )
    .map_err(err)?;
    drop(conn);
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("syncing {}: {e}", path.display()))?;
    Ok(Fill {
        seconds: start.elapsed().as_secs_f64(),
        bytes: crate::file_len(path),
    })
}

/// Runs the benchmark, prints its tables and verdicts; `Err` on a MISSED target unless
/// `--no-fail`.
pub fn run(mut args: Args) -> Result<(), String> {
    if args.smoke {
        args.seconds = args.seconds.min(0.3);
        args.rows = args.rows.min(100_000);
        args.in_flight = args.in_flight.min(1_000);
        args.rounds = 1;
    }
    if args.submitters.is_empty()
        || args.submitters.contains(&0)
        || args.in_flight == 0
        || args.rounds == 0
    {
        return Err("--submitters, --in-flight and --rounds must be at least 1".into());
    }
    if !(args.seconds.is_finite() && args.seconds > 0.0) {
        return Err("--seconds must be a positive number".into());
    }
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    crate::warn_if_memory_backed(&base);
    let payload = vec![0xA5u8; args.payload];
    let load_at_start = crate::stats::load_average();
    println!(
        "litecommit scaling benchmark: single-row INSERT transactions ({}-byte payload), durability full, {} s per load, databases in {}, SQLite {}",
        args.payload,
        args.seconds,
        base.display(),
        litecommit::sqlite_version()
    );
    println!("submitters: threads each committing blocking transactions in a loop ({} KiB stacks), then tasks each awaiting submit_async and its outcome in a loop, on a tokio runtime with {} worker threads; RSS from /proc/self/status, peak = VmHWM during the load\n", SUBMITTER_STACK / 1024, crate::stats::cpus());

    let mut loads = Vec::new();
    for kind in [Kind::Threads, Kind::Tasks] {
        for &n in &args.submitters {
            loads.push(fresh_load(&base, kind, n, args.seconds, &payload)?);
        }
    }
    let at = |kind: Kind, n: usize| loads.iter().find(|l| l.kind == kind && l.submitters == n);
    // Each load against 64 submitters of its kind (or the first count run).
    let base_count = if args.submitters.contains(&64) {
        64
    } else {
        args.submitters.first().copied().unwrap_or(64)
    };
    let reference = |l: &Load| at(l.kind, base_count);
    let versus = format!("vs {base_count}");
    let label = |l: &Load| l.kind.label(l.submitters);
    let mut t = Table::new(&[
        "submitters",
        "tx/s",
        &versus,
        "p50 ms",
        "p99 ms",
        "RSS before MB",
        "RSS peak MB",
        "peak - before MB",
        "failed",
    ]);
    for l in &loads {
        t.row(
            &label(l),
            vec![
                format!("{:.0}", l.tx_per_sec()),
                fmt_ratio(reference(l).and_then(|r| ratio(l.tx_per_sec(), r.tx_per_sec()))),
                ms(l.latency.p50()),
                ms(l.latency.p99()),
                mb(l.rss_before as f64),
                l.rss_peak.map_or("n/a".into(), |p| mb(p as f64)),
                l.rss_peak
                    .map_or("n/a".into(), |p| mb(p.saturating_sub(l.rss_before) as f64)),
                l.failed.to_string(),
            ],
        );
    }
    println!("== concurrent submitters ==");
    print!("{}", t.render());
    let mut t = Table::new(&[
        "submitters",
        "batches/s",
        "tx/batch",
        "in batches",
        "writer on a CPU",
        "writer waiting for a CPU",
    ]);
    for l in &loads {
        let w = &l.writer;
        t.row(
            &label(l),
            vec![
                format!("{:.0}", w.batches as f64 / l.seconds),
                format!("{:.1}", l.committed as f64 / w.batches.max(1) as f64),
                l.pct_of_time(w.batch_ms),
                l.pct_of_time(w.on_cpu_ns as f64 / 1e6),
                l.pct_of_time(w.runnable_ns as f64 / 1e6),
            ],
        );
    }
    println!("where the writer's time went, in percent of the load's wall time (batches committed inline on a submitter's thread count as batches, not as writer time; a writer that yields counts as waiting for a CPU):");
    print!("{}", t.render());
    let mut t = Table::new(&[
        "submitters",
        "CPUs busy",
        "CPU µs/tx",
        "context switches/tx",
        "CPU 0-1 ns before, after",
    ]);
    for l in &loads {
        let p = &l.process;
        let per_tx = |v: f64| v / l.committed.max(1) as f64;
        t.row(
            &label(l),
            vec![
                format!("{:.2}", p.cpu_s / l.seconds),
                format!("{:.1}", per_tx(p.cpu_s * 1e6)),
                format!("{:.2}", per_tx(p.switches as f64)),
                format!(
                    "{}, {}",
                    cpu_hop::show(l.cpu_hop_ns[0]),
                    cpu_hop::show(l.cpu_hop_ns[1])
                ),
            ],
        );
    }
    println!("what a transaction cost the whole process (getrusage: every thread's user and system time, voluntary and involuntary context switches), {} CPUs; CPU 0-1 ns = one-way latency of a write between CPUs 0 and 1 just before and after the load (on a virtual machine it moves as the host places the virtual CPUs, and every wake-up across CPUs costs more when it is high):", crate::stats::cpus());
    print!("{}", t.render());
    println!();

    let most = args.submitters.iter().copied().max().unwrap_or(0);
    let mut scaling = Vec::new();
    for kind in [Kind::Threads, Kind::Tasks] {
        let first = at(kind, most).zip(at(kind, 64)).filter(|_| most > 64);
        let Some((first_most, first_64)) = first else {
            scaling.push((kind, None));
            continue;
        };
        let mut rounds = vec![(Side::of(first_most), Side::of(first_64))];
        rounds.extend(more_rounds(&args, &base, kind, most, &payload)?);
        println!(
            "{} against 64, each round, with the one-way latency between CPUs 0 and 1 before the load of {most}: {}",
            kind.label(most),
            rounds
                .iter()
                .map(|(m, r)| cpu_hop::beside(
                    &fmt_ratio(ratio(m.tx_per_sec(), r.tx_per_sec())),
                    m.cpu_hop_ns
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
        scaling.push((kind, summed_ratio(&rounds)));
    }
    println!();

    let big = if args.rows > 0 {
        big_table(&base, &args, &payload)?
    } else {
        None
    };
    if let Some((empty, big, fill)) = &big {
        println!(
            "== a table of {} rows against an empty one, {BIG_TABLE_SUBMITTERS} submitters ==",
            args.rows
        );
        println!(
            "filled in {:.1} s ({:.0} rows/s, {}-byte payload, one transaction without a journal, synced): {} MB",
            fill.seconds,
            args.rows as f64 / fill.seconds,
            args.fill_payload,
            mb(fill.bytes as f64)
        );
        let mut t = Table::new(&[
            "table",
            "tx/s",
            "vs empty",
            "p50 ms",
            "p99 ms",
            "p99 vs empty",
        ]);
        for (label, l) in [("empty", empty), (&format!("{} rows", args.rows)[..], big)] {
            t.row(
                label,
                vec![
                    format!("{:.0}", l.tx_per_sec()),
                    fmt_ratio(ratio(l.tx_per_sec(), empty.tx_per_sec())),
                    ms(l.latency.p50()),
                    ms(l.latency.p99()),
                    fmt_ratio(ratio(l.latency.p99(), empty.latency.p99())),
                ],
            );
        }
        print!("{}", t.render());
        println!();
    }

    let slot = queue_slot_bytes(&base)?;
    let handle = in_flight(&base, args.in_flight, &payload, Via::Handle)?;
    let callback = in_flight(&base, args.in_flight, &payload, Via::Callback)?;
    let future = in_flight(&base, args.in_flight, &payload, Via::Future)?;
    println!(
        "== memory per in-flight transaction: {} queued behind a writer held in an event listener, every allocation counted ==",
        args.in_flight
    );
    let mut t = Table::new(&[
        "submitted with",
        "allocated B/tx",
        "SQL+params B/tx",
        "queue slot B",
        "per tx B",
        "allocations/tx",
        "peak until answered B/tx",
    ]);
    for (label, m) in [
        ("submit (a handle; blocking transaction())", &handle),
        ("submit_with_callback", &callback),
        ("submit_async (polled once; its future)", &future),
    ] {
        let n = m.n as f64;
        t.row(
            label,
            vec![
                format!("{:.0}", m.queued_bytes as f64 / n),
                format!("{:.0}", m.sql_and_params as f64 / n),
                format!("{slot:.0}"),
                format!("{:.0}", m.per_tx() + slot),
                format!("{:.1}", m.queued_allocations as f64 / n),
                format!("{:.0}", m.peak_bytes as f64 / n),
            ],
        );
    }
    print!("{}", t.render());
    println!("per tx = allocated - SQL+params + the queue slot it occupies (allocated at open, measured as the difference between two queue capacities); peak until answered = every live allocation, SQL, parameters and results included; bytes as requested from the allocator, before its own rounding");
    println!(
        "size_of: Transaction {}, Statement {}, Params {}, Value {}, Pending {}, Outcome {}",
        size_of::<Transaction>(),
        size_of::<litecommit::Statement>(),
        size_of::<Params>(),
        size_of::<Value>(),
        size_of::<Pending>(),
        size_of::<litecommit::Outcome>()
    );
    println!();
    crate::stats::print_load_average(&load_at_start);

    let mut judge = Judge::new(args.smoke);
    println!("targets (durability full):");
    for (kind, scaling) in scaling {
        let name = format!("{} within 20% of 64", kind.label(most));
        let v = judge.judge(
            &name,
            match scaling {
                Some(r) => Verdict::of(true, r >= TARGET_SCALING, ""),
                None => Verdict::NotReached("not run: --submitters needs 64 and more".into()),
            },
        );
        println!(
            "  throughput at {name} ({} round{}): {} -> {v}",
            args.rounds,
            if args.rounds == 1 { "" } else { "s" },
            fmt_ratio(scaling)
        );
    }
    let per_tx = handle.per_tx() + slot;
    let v = judge.judge(
        "memory per in-flight transaction <= 1 KiB",
        Verdict::of(true, per_tx <= TARGET_BYTES_PER_TX, ""),
    );
    println!("  memory per in-flight transaction <= 1 KiB (excluding SQL and parameters): {per_tx:.0} B -> {v}");
    judge.finish(args.no_fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_and_tasks_commit_every_transaction_they_count() {
        for kind in [Kind::Threads, Kind::Tasks] {
            let (_dir, path) = fresh_db(&std::env::temp_dir(), "load.db").unwrap();
            let db = Arc::new(open_committer(&path, Durability::Full).unwrap());
            let l = load(&db, kind, 3, 0.5, &[1, 2, 3]).unwrap();
            let rows = db.query("SELECT count(*) FROM t", ()).unwrap().rows;
            assert_eq!(
                rows,
                vec![vec![Value::Integer(l.committed as i64)]],
                "{kind:?}"
            );
            assert!(l.committed > 0, "{kind:?}: nothing committed");
            assert_eq!(l.failed, 0, "{kind:?}");
        }
    }

    #[test]
    fn sql_and_params_count_the_heap_behind_a_transaction() {
        let t = tx(3, &[0; 100]);
        assert_eq!(sql_and_params_bytes(&t), 2 * size_of::<Value>() + 100);
        let owned = Transaction::single("SELECT ?1".to_string(), vec![Value::Text("abc".into())]);
        assert_eq!(
            sql_and_params_bytes(&owned),
            "SELECT ?1".len() + size_of::<Value>() + 3
        );
    }

    #[test]
    fn process_time_counts_cpu_spent_and_context_switches() {
        let before = ProcessTime::now();
        // Spins until 20 ms of CPU show, however busy the machine is; a broken count never does.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut x = 0u64;
        while ProcessTime::now().since(before).cpu_s < 0.02 && Instant::now() < deadline {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        // Waiting for a thread to finish is a voluntary context switch.
        std::thread::spawn(|| std::thread::park_timeout(Duration::from_millis(1)))
            .join()
            .unwrap();
        let spent = ProcessTime::now().since(before);
        assert!(spent.cpu_s >= 0.02, "{} s on a CPU", spent.cpu_s);
        assert!(spent.switches >= 1, "{} context switches", spent.switches);
    }

    #[test]
    fn the_allocator_counts_what_is_live_while_counting() {
        // Other tests allocate at the same time: only the change across one allocation,
        // far larger than theirs, is checked.
        const BLOCK: isize = 64 << 20;
        let counting = Counting::start();
        let before = counting.live_bytes();
        let block = vec![0u8; BLOCK as usize];
        let with_block = counting.live_bytes();
        drop(block);
        let after = counting.live_bytes();
        drop(counting);
        let near = |bytes: isize| (bytes - BLOCK).abs() < BLOCK / 16;
        assert!(near(with_block - before), "{before} -> {with_block}");
        assert!(near(with_block - after), "{with_block} -> {after}");
    }

    /// Rounds add up as transactions over seconds, not as a mean of their ratios: a short
    /// round weighs less.
    #[test]
    fn the_scaling_ratio_adds_up_each_side_over_its_rounds() {
        let side = |committed, seconds| Side {
            committed,
            seconds,
            cpu_hop_ns: None,
        };
        let rounds = [
            (side(300, 1.0), side(100, 1.0)),
            (side(100, 3.0), side(300, 1.0)),
        ];
        // (400 / 4 s) against (400 / 2 s); the mean of the rounds' ratios would be 1.56.
        assert_eq!(summed_ratio(&rounds), Some(0.5));
        assert_eq!(summed_ratio(&[(side(10, 1.0), side(0, 1.0))]), None);
    }

    #[test]
    fn the_start_gate_lets_every_submitter_go_or_sends_them_home() {
        for go in [true, false] {
            let gate = StartGate::default();
            let started = std::thread::scope(|s| {
                let handles: Vec<_> = (0..3).map(|_| s.spawn(|| gate.ready())).collect();
                if go {
                    gate.go(3, 1.0);
                } else {
                    gate.abort();
                }
                handles
                    .into_iter()
                    .filter_map(|h| h.join().ok().flatten())
                    .count()
            });
            assert_eq!(started, if go { 3 } else { 0 });
        }
    }

    #[test]
    fn proc_status_reports_a_resident_size() {
        assert!(proc_status_bytes("VmRSS") > 0);
        assert_eq!(proc_status_bytes("NoSuchField"), 0);
    }
}
