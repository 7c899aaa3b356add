//! `litecommit-bench core`: single-row insert transactions through litecommit against
//! (a) the naive pattern: each thread its own rusqlite connection (WAL, the same
//!     `synchronous`, 5 s busy timeout), one transaction per insert, and
//! (b) the upper bound: the same rows in one big transaction,
//! plus a pipelined load (many transactions in flight) and a lone transaction at idle.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::time::{Duration, Instant};

use litecommit::{Committer, Config, Durability, Params, Transaction, Value};
use rusqlite::ErrorCode;

use crate::baseline;
use crate::cpu_hop;
use crate::stats::{fmt_ratio, ms, ratio, Summary};
use crate::table::Table;
use crate::verdict::{Judge, Verdict};

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Seconds each threaded configuration runs per round.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Rounds per comparison: litecommit and its baseline take turns this many times, and
    /// each side's figures add up over its rounds, so a machine that slows down for a
    /// while slows both sides.
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Submitting thread counts, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    pub threads: Vec<usize>,
    /// Durability modes, comma-separated (full, normal).
    #[arg(long, value_delimiter = ',', default_value = "full,normal")]
    pub durability: Vec<String>,
    /// Rounds of the pipelined load against one big transaction. A round takes about a
    /// second, and one round's ratio moves by several points from one to the next, so they
    /// run more rounds than the threaded configurations.
    #[arg(long, default_value_t = 9)]
    pub pipelined_rounds: usize,
    /// Transactions of the pipelined load.
    #[arg(long, default_value_t = 200_000)]
    pub pipelined: usize,
    /// Transactions in flight in the pipelined load.
    #[arg(long, default_value_t = 10_000)]
    pub in_flight: usize,
    /// Submitting threads of the pipelined load.
    #[arg(long, default_value_t = 4)]
    pub submitters: usize,
    /// Sequential transactions timed for the lone-transaction-at-idle comparison.
    #[arg(long, default_value_t = 200)]
    pub lone: usize,
    /// Payload bytes per row.
    #[arg(long, default_value_t = 100)]
    pub payload: usize,
    /// Directory for the temporary databases (must be on a real disk so fsync is real).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// A tiny configuration that finishes in a few seconds (used by `make test-bench`);
    /// its targets are not judged.
    #[arg(long)]
    pub smoke: bool,
    /// Report a MISSED target without failing the run (it may be given more than once).
    #[arg(long, overrides_with = "no_fail")]
    pub no_fail: bool,
}

pub(crate) const CREATE: &str =
    "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, thread INTEGER, payload BLOB)";
const INSERT: &str = "INSERT INTO t (thread, payload) VALUES (?1, ?2)";

/// What one configuration measured.
#[derive(Default)]
struct Measured {
    rows: u64,
    busy: u64,
    other_failures: u64,
    seconds: f64,
    latency: Summary,
}

impl Measured {
    /// Adds another round of the same configuration.
    fn add(&mut self, round: Measured) {
        self.rows += round.rows;
        self.busy += round.busy;
        self.other_failures += round.other_failures;
        self.seconds += round.seconds;
        self.latency = Summary::merged(std::mem::take(&mut self.latency), round.latency);
    }

    fn rows_per_sec(&self) -> f64 {
        if self.seconds > 0.0 {
            self.rows as f64 / self.seconds
        } else {
            0.0
        }
    }
}

pub(crate) fn tx(thread: usize, payload: &[u8]) -> Transaction {
    Transaction::single(
        INSERT,
        Params::Positional(vec![
            Value::Integer(thread as i64),
            Value::Blob(payload.to_vec()),
        ]),
    )
}

pub(crate) fn fresh_db(base: &Path, name: &str) -> Result<(tempfile::TempDir, PathBuf), String> {
    let dir = tempfile::Builder::new()
        .prefix("litecommit-bench-")
        .tempdir_in(base)
        .map_err(|e| {
            format!(
                "cannot create a temporary directory in {}: {e}",
                base.display()
            )
        })?;
    let path = dir.path().join(name);
    Ok((dir, path))
}

pub(crate) fn open_committer(path: &Path, durability: Durability) -> Result<Committer, String> {
    let config = Config {
        durability,
        ..Config::default()
    };
    let db = Committer::open(path, config).map_err(|e| e.to_string())?;
    db.execute(CREATE, ()).map_err(|e| e.to_string())?;
    Ok(db)
}

enum Outcome {
    Ok,
    Busy,
    Failed,
}

/// Runs `body(thread)` on `threads` threads, each returning its latencies and outcomes.
fn timed_threads<F>(threads: usize, body: F) -> Measured
where
    F: Fn(usize, &Barrier) -> Vec<(f64, Outcome)> + Sync,
{
    let barrier = Barrier::new(threads + 1);
    let (per_thread, seconds) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let body = &body;
                let barrier = &barrier;
                s.spawn(move || body(t, barrier))
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let per_thread: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect();
        (per_thread, start.elapsed().as_secs_f64())
    });
    let mut m = Measured {
        seconds,
        ..Measured::default()
    };
    let mut latencies = Vec::new();
    for (latency, outcome) in per_thread.into_iter().flatten() {
        latencies.push(latency);
        match outcome {
            Outcome::Ok => m.rows += 1,
            Outcome::Busy => m.busy += 1,
            Outcome::Failed => m.other_failures += 1,
        }
    }
    m.latency = Summary::of(latencies);
    m
}

fn litecommit_threads(
    path: &Path,
    durability: Durability,
    threads: usize,
    secs: f64,
    payload: &[u8],
) -> Result<Measured, String> {
    let db = open_committer(path, durability)?;
    let m = timed_threads(threads, |t, barrier| {
        let mut out = Vec::new();
        barrier.wait();
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        while Instant::now() < deadline {
            let start = Instant::now();
            let outcome = match db.transaction(tx(t, payload)) {
                Ok(_) => Outcome::Ok,
                Err(e) if e.code_name().contains("BUSY") => Outcome::Busy,
                Err(_) => Outcome::Failed,
            };
            out.push((start.elapsed().as_secs_f64() * 1000.0, outcome));
        }
        out
    });
    db.close().map_err(|e| e.to_string())?;
    Ok(m)
}

fn naive_threads(
    path: &Path,
    durability: Durability,
    threads: usize,
    secs: f64,
    payload: &[u8],
) -> Result<Measured, String> {
    let sync = crate::synchronous(durability);
    let setup = baseline::open(path, sync).map_err(|e| e.to_string())?;
    setup.execute_batch(CREATE).map_err(|e| e.to_string())?;
    let m = timed_threads(threads, |t, barrier| {
        let mut out = Vec::new();
        let conn = baseline::open(path, sync);
        barrier.wait();
        let Ok(conn) = conn else {
            out.push((0.0, Outcome::Failed));
            return out;
        };
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        while Instant::now() < deadline {
            let start = Instant::now();
            // Autocommit: one implicit transaction per insert, as most applications write.
            let result = conn
                .prepare_cached(INSERT)
                .and_then(|mut s| s.execute(rusqlite::params![t as i64, payload]));
            let outcome = match result {
                Ok(_) => Outcome::Ok,
                Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => Outcome::Busy,
                Err(_) => Outcome::Failed,
            };
            out.push((start.elapsed().as_secs_f64() * 1000.0, outcome));
        }
        out
    });
    Ok(m)
}

/// The same rows in one transaction; each row's latency runs from its insert to COMMIT.
fn one_big_transaction(
    path: &Path,
    durability: Durability,
    rows: usize,
    payload: &[u8],
) -> Result<Measured, String> {
    let conn = baseline::open(path, crate::synchronous(durability)).map_err(|e| e.to_string())?;
    let err = |e: rusqlite::Error| e.to_string();
    // No inline checkpoint inside the COMMIT: this is the bound on writing the rows.
    conn.execute_batch("PRAGMA wal_autocheckpoint=0;")
        .map_err(err)?;
    conn.execute_batch(CREATE).map_err(err)?;
    let mut inserted_at = Vec::with_capacity(rows);
    let start = Instant::now();
    conn.execute_batch("BEGIN IMMEDIATE").map_err(err)?;
    {
        let mut insert = conn.prepare_cached(INSERT).map_err(err)?;
        for i in 0..rows {
            inserted_at.push(Instant::now());
            insert
                .execute(rusqlite::params![(i % 64) as i64, payload])
                .map_err(err)?;
        }
    }
    conn.execute_batch("COMMIT").map_err(err)?;
    let end = Instant::now();
    Ok(Measured {
        rows: rows as u64,
        seconds: (end - start).as_secs_f64(),
        latency: Summary::of(
            inserted_at
                .iter()
                .map(|t| (end - *t).as_secs_f64() * 1000.0)
                .collect(),
        ),
        ..Measured::default()
    })
}

/// Where the pipelined load's outcomes go: one call per batch (the path the bindings use),
/// which records latencies and frees the batch's places in the window.
struct Window {
    /// When each transaction (by token) was submitted, in nanoseconds since `start`.
    submitted_ns: Vec<AtomicU64>,
    /// The run's start.
    start: Instant,
    /// Transactions in flight.
    in_flight: AtomicUsize,
    /// Transactions that failed.
    failures: AtomicU64,
    /// Commit latencies in milliseconds.
    latencies: Mutex<Vec<f64>>,
    /// Wakes submitters waiting for room in the window.
    room: (Mutex<()>, Condvar),
}

impl litecommit::BatchSink for Window {
    fn complete(&self, completions: Vec<(u64, litecommit::Outcome)>) {
        let now = self.start.elapsed().as_nanos() as u64;
        let mut failed = 0;
        let batch: Vec<f64> = completions
            .iter()
            .map(|(token, outcome)| {
                failed += u64::from(outcome.is_err());
                let at = self.submitted_ns[*token as usize].load(Ordering::Relaxed);
                now.saturating_sub(at) as f64 / 1e6
            })
            .collect();
        self.failures.fetch_add(failed, Ordering::Relaxed);
        lock(&self.latencies).extend(batch);
        self.in_flight
            .fetch_sub(completions.len(), Ordering::SeqCst);
        let _room = lock(&self.room.0);
        self.room.1.notify_all();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `total` transactions from `submitters` threads keeping `in_flight` in flight overall,
/// their outcomes delivered to a batch sink.
fn pipelined(
    path: &Path,
    durability: Durability,
    total: usize,
    in_flight: usize,
    submitters: usize,
    payload: &[u8],
) -> Result<Measured, String> {
    let db = open_committer(path, durability)?;
    let window = Arc::new(Window {
        submitted_ns: (0..total).map(|_| AtomicU64::new(0)).collect(),
        start: Instant::now(),
        in_flight: AtomicUsize::new(0),
        failures: AtomicU64::new(0),
        latencies: Mutex::new(Vec::with_capacity(total)),
        room: (Mutex::new(()), Condvar::new()),
    });
    let sink: Arc<dyn litecommit::BatchSink> = window.clone();
    // Each submitter's tokens in one run, so that the submission times it writes share no
    // cache line with another's.
    let per = total.div_ceil(submitters);
    let start = Instant::now();
    std::thread::scope(|s| {
        (0..submitters).try_for_each(|t| {
            let (db, window, sink) = (&db, &window, &sink);
            let submitter = std::thread::Builder::new().name(format!("pipelined-{t}"));
            let spawned = submitter.spawn_scoped(s, move || {
                for token in t * per..((t + 1) * per).min(total) {
                    if window.in_flight.fetch_add(1, Ordering::SeqCst) >= in_flight {
                        let (m, cv) = &window.room;
                        drop(cv.wait_while(lock(m), |_| {
                            window.in_flight.load(Ordering::SeqCst) > in_flight
                        }));
                    }
                    window.submitted_ns[token]
                        .store(window.start.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    let tx = tx(t, payload);
                    if db
                        .submit_to_sink(tx, Arc::clone(sink), token as u64, litecommit::Wait::Block)
                        .is_err()
                    {
                        window.failures.fetch_add(1, Ordering::Relaxed);
                        window.in_flight.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            });
            spawned.map(drop).map_err(|e| e.to_string())
        })
    })?;
    db.flush().map_err(|e| e.to_string())?;
    let seconds = start.elapsed().as_secs_f64();
    db.close().map_err(|e| e.to_string())?;
    let failed = window.failures.load(Ordering::Relaxed);
    let latencies = std::mem::take(&mut *lock(&window.latencies));
    Ok(Measured {
        rows: total as u64 - failed,
        other_failures: failed,
        seconds,
        latency: Summary::of(latencies),
        ..Measured::default()
    })
}

/// Sequential transactions with the writer idle in between: litecommit vs one connection.
fn lone(
    base: &Path,
    durability: Durability,
    n: usize,
    payload: &[u8],
) -> Result<(Summary, Summary), String> {
    let pause = Duration::from_millis(2);
    let (_d1, p1) = fresh_db(base, "lone-litecommit.db")?;
    let db = open_committer(&p1, durability)?;
    let mut lite = Vec::new();
    for i in 0..n + 10 {
        std::thread::sleep(pause);
        let start = Instant::now();
        db.transaction(tx(0, payload)).map_err(|e| e.to_string())?;
        if i >= 10 {
            lite.push(start.elapsed().as_secs_f64() * 1000.0);
        }
    }
    db.close().map_err(|e| e.to_string())?;
    let (_d2, p2) = fresh_db(base, "lone-naive.db")?;
    let conn = baseline::open(&p2, crate::synchronous(durability)).map_err(|e| e.to_string())?;
    conn.execute_batch(CREATE).map_err(|e| e.to_string())?;
    let mut naive = Vec::new();
    for i in 0..n + 10 {
        std::thread::sleep(pause);
        let start = Instant::now();
        conn.prepare_cached(INSERT)
            .and_then(|mut s| s.execute(rusqlite::params![0i64, payload]))
            .map_err(|e| e.to_string())?;
        if i >= 10 {
            naive.push(start.elapsed().as_secs_f64() * 1000.0);
        }
    }
    Ok((Summary::of(lite), Summary::of(naive)))
}

/// One round of a comparison: `lite` and `baseline` each measured once, `lite` first in even
/// rounds and second in odd ones (whichever runs first also runs right after the previous
/// round's files were deleted). Their databases are deleted when the returned directories
/// drop, after both ran.
fn take_turns<L, B>(
    round: usize,
    mut lite: L,
    mut baseline: B,
) -> Result<(Measured, Measured, [tempfile::TempDir; 2]), String>
where
    L: FnMut() -> Result<(Measured, tempfile::TempDir), String>,
    B: FnMut() -> Result<(Measured, tempfile::TempDir), String>,
{
    let ((l, dl), (b, db)) = if round % 2 == 0 {
        let l = lite()?;
        (l, baseline()?)
    } else {
        let b = baseline()?;
        (lite()?, b)
    };
    Ok((l, b, [dl, db]))
}

fn row(t: &mut Table, label: &str, m: &Measured) {
    t.row(
        label,
        vec![
            format!("{:.0}", m.rows_per_sec()),
            ms(m.latency.p50()),
            ms(m.latency.p99()),
            ms(m.latency.p999()),
            ms(m.latency.max()),
            m.busy.to_string(),
            m.other_failures.to_string(),
        ],
    );
}

/// A target of this benchmark: a figure of one run and the bound it must meet.
struct Target {
    /// What it says, as printed.
    name: String,
    /// The figure, if the run produced it, formatted for printing.
    figure: Option<(f64, String)>,
    /// Whether the figure meets the target.
    met: fn(f64) -> bool,
    /// Why there is no figure.
    unreached: &'static str,
}

/// The throughput ratio of `threads` threads, as a target `name`.
fn thread_target(
    name: String,
    ratios: &[(usize, Option<f64>)],
    threads: usize,
    met: fn(f64) -> bool,
) -> Target {
    let run = ratios.iter().find(|(n, _)| *n == threads);
    Target {
        name,
        figure: run.and_then(|(_, r)| *r).map(|r| (r, fmt_ratio(Some(r)))),
        met,
        unreached: if run.is_some() {
            "the naive pattern committed nothing"
        } else {
            "not run: add it to --threads"
        },
    }
}

pub fn run(mut args: Args) -> Result<(), String> {
    if args.smoke {
        args.seconds = args.seconds.min(0.3);
        args.rounds = args.rounds.min(2);
        args.pipelined_rounds = args.pipelined_rounds.min(2);
        args.threads = vec![1, 8];
        args.durability = vec!["full".into()];
        args.pipelined = args.pipelined.min(2_000);
        args.in_flight = args.in_flight.min(500);
        args.lone = args.lone.min(20);
    }
    if args.threads.contains(&0)
        || args.submitters == 0
        || args.in_flight == 0
        || args.rounds == 0
        || args.pipelined_rounds == 0
    {
        return Err(
            "--threads, --submitters, --in-flight, --rounds and --pipelined-rounds must be at \
             least 1"
                .into(),
        );
    }
    if !(args.seconds.is_finite() && args.seconds > 0.0) {
        return Err("--seconds must be a positive number".into());
    }
    let durabilities = args
        .durability
        .iter()
        .map(|d| d.parse::<Durability>().map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    crate::warn_if_memory_backed(&base);
    let payload = vec![0xA5u8; args.payload];
    let load_at_start = crate::stats::load_average();
    println!(
        "litecommit core benchmark: single-row INSERT transactions ({}-byte payload), {} rounds per comparison taking turns with the baseline ({} for the pipelined load), {} s per threaded round, databases in {}, SQLite {}",
        args.payload,
        args.rounds,
        args.pipelined_rounds,
        args.seconds,
        base.display(),
        litecommit::sqlite_version()
    );
    println!("naive = each thread its own rusqlite connection (WAL, same synchronous, 5 s busy timeout), one autocommit INSERT per transaction");
    println!("upper bound = the same rows in one big transaction on one connection; latency = row insert to COMMIT\n");
    let mut targets = Vec::new();
    for durability in durabilities {
        let name = crate::synchronous(durability).to_ascii_lowercase();
        println!("== durability {name} ==");
        let mut t = Table::new(&[
            "configuration",
            "rows/s",
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms",
            "BUSY",
            "other failed",
        ]);
        let mut ratios = Vec::new();
        let mut most_rows = 0;
        let mut round_ratios = Vec::new();
        for &threads in &args.threads {
            let (mut lite, mut naive) = (Measured::default(), Measured::default());
            let mut each = Vec::new();
            for round in 0..args.rounds {
                let hop = cpu_hop::one_way_ns();
                let (l, n, _dirs) = take_turns(
                    round,
                    || {
                        let (dir, path) = fresh_db(&base, "litecommit.db")?;
                        let m =
                            litecommit_threads(&path, durability, threads, args.seconds, &payload)?;
                        Ok((m, dir))
                    },
                    || {
                        let (dir, path) = fresh_db(&base, "naive.db")?;
                        Ok((
                            naive_threads(&path, durability, threads, args.seconds, &payload)?,
                            dir,
                        ))
                    },
                )?;
                each.push(cpu_hop::beside(
                    &fmt_ratio(ratio(l.rows_per_sec(), n.rows_per_sec())),
                    hop,
                ));
                most_rows = most_rows.max(l.rows as usize);
                lite.add(l);
                naive.add(n);
            }
            row(&mut t, &format!("{threads} threads: litecommit"), &lite);
            row(&mut t, &format!("{threads} threads: naive"), &naive);
            round_ratios.push((format!("{threads} threads"), each));
            ratios.push((threads, ratio(lite.rows_per_sec(), naive.rows_per_sec())));
        }
        // At least as many rows as any litecommit round wrote, so that its table is as big.
        let rows = most_rows.max(args.pipelined);
        let (mut pipe, mut upper) = (Measured::default(), Measured::default());
        let mut each = Vec::new();
        for round in 0..args.pipelined_rounds {
            let hop = cpu_hop::one_way_ns();
            let (p, u, _dirs) = take_turns(
                round,
                || {
                    let (dir, path) = fresh_db(&base, "pipelined.db")?;
                    let m = pipelined(
                        &path,
                        durability,
                        args.pipelined,
                        args.in_flight,
                        args.submitters,
                        &payload,
                    )?;
                    Ok((m, dir))
                },
                || {
                    let (dir, path) = fresh_db(&base, "upper.db")?;
                    Ok((one_big_transaction(&path, durability, rows, &payload)?, dir))
                },
            )?;
            let pct = ratio(p.rows_per_sec(), u.rows_per_sec()).unwrap_or(0.0) * 100.0;
            each.push(cpu_hop::beside(&format!("{pct:.1}%"), hop));
            pipe.add(p);
            upper.add(u);
        }
        round_ratios.push(("pipelined".into(), each));
        row(
            &mut t,
            &format!(
                "pipelined: {} in flight, {} submitters",
                args.in_flight, args.submitters
            ),
            &pipe,
        );
        row(
            &mut t,
            &format!("one big transaction ({rows} rows)"),
            &upper,
        );
        let (lone_lite, lone_naive) = lone(&base, durability, args.lone, &payload)?;
        for (who, lone) in [("litecommit", &lone_lite), ("naive", &lone_naive)] {
            t.row(
                &format!("lone tx at idle: {who}"),
                vec![
                    String::new(),
                    ms(lone.p50()),
                    ms(lone.p99()),
                    ms(lone.p999()),
                    ms(lone.max()),
                ],
            );
        }
        print!("{}", t.render());
        println!("ratios ({name}):");
        for (threads, r) in &ratios {
            println!(
                "  {threads} threads: litecommit / naive throughput {}",
                fmt_ratio(*r)
            );
        }
        let pct = ratio(pipe.rows_per_sec(), upper.rows_per_sec()).map(|r| r * 100.0);
        println!(
            "  pipelined: {:.1}% of the one-big-transaction rows/s",
            pct.unwrap_or(0.0)
        );
        let lone_ratio = ratio(lone_lite.p50(), lone_naive.p50());
        println!(
            "  lone transaction at idle: litecommit p50 / naive p50 = {}",
            fmt_ratio(lone_ratio)
        );
        println!("each round ({name}), with the one-way latency between CPUs 0 and 1 just before it (on a virtual machine it moves as the host places the virtual CPUs; the loads that hand work across CPUs slow down when it is high):");
        for (what, each) in &round_ratios {
            println!("  {what}: {}", each.join(", "));
        }
        println!();
        if durability == Durability::Full {
            targets.push(thread_target(
                format!("{name}: 64 threads >= 20x the naive pattern"),
                &ratios,
                64,
                |r| r >= 20.0,
            ));
            targets.push(thread_target(
                format!("{name}: 1 thread >= 1x the naive pattern"),
                &ratios,
                1,
                |r| r >= 1.0,
            ));
            targets.push(Target {
                name: format!("{name}: pipelined >= 50% of one big transaction"),
                figure: pct.map(|p| (p, format!("{p:.1}%"))),
                met: |p| p >= 50.0,
                unreached: "the one big transaction committed nothing",
            });
            targets.push(Target {
                name: format!("{name}: lone transaction p50 within 1.2x of a naive commit"),
                figure: lone_ratio.map(|r| (r, fmt_ratio(Some(r)))),
                met: |r| r <= 1.2,
                unreached: "no lone transaction timed",
            });
        } else if durability == Durability::Normal {
            targets.push(thread_target(
                format!("{name}: 64 threads >= 5x the naive pattern"),
                &ratios,
                64,
                |r| r >= 5.0,
            ));
        }
    }
    crate::stats::print_load_average(&load_at_start);
    let mut judge = Judge::new(args.smoke);
    println!("targets:");
    for t in targets {
        let (verdict, shown) = match t.figure {
            Some((value, shown)) => (Verdict::of(true, (t.met)(value), ""), shown),
            None => (Verdict::NotReached(t.unreached.into()), "-".into()),
        };
        let verdict = judge.judge(&t.name, verdict);
        println!("  {}: {shown} -> {verdict}", t.name);
    }
    judge.finish(args.no_fail)?;
    Ok(())
}
