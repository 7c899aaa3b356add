//! The Rust core under the Go benchmark's load, for `make bench-go` to compare the Go
//! package with: `--threads` threads share `--n` single-row INSERT transactions, each a
//! blocking `Committer::transaction`, on a fresh database at `--db` (table, statement and
//! payload as in bindings/go/bench). Prints one line of `key=value` figures:
//! `n`, `elapsed_s`, `p50_ms`, `p99_ms`, `max_ms` (percentiles by the Go benchmark's rule)
//! and `batches` (the commits the transactions shared).
//!
//! `cargo run --release -p litecommit-ffi --example bench_core -- --db /disk/core.db`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use engine::{Committer, Config, Durability, Params, Transaction, Value};

const CREATE: &str = "CREATE TABLE t (id INTEGER PRIMARY KEY, g INTEGER, payload TEXT)";
const INSERT: &str = "INSERT INTO t (g, payload) VALUES (?, ?)";
const PAYLOAD: &str = "payload-payload-payload";

/// The command line.
struct Args {
    db: String,
    n: usize,
    threads: usize,
    durability: Durability,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        db: String::new(),
        n: 20_000,
        threads: 64,
        durability: Durability::Full,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| {
            v.parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{flag}: expected a positive integer, got {v:?}"))
        };
        match flag.as_str() {
            "--db" => args.db = value,
            "--n" => args.n = number(&value)?,
            "--threads" => args.threads = number(&value)?,
            "--durability" => {
                args.durability = value.parse().map_err(|e| format!("--durability: {e}"))?
            }
            _ => {
                return Err(format!(
                    "unknown flag {flag} (expected --db, --n, --threads, --durability)"
                ))
            }
        }
    }
    if args.db.is_empty() {
        return Err("--db is required".into());
    }
    Ok(args)
}

/// What one run measured.
struct Measured {
    elapsed: Duration,
    latencies: Vec<Duration>,
    batches: u64,
}

/// Runs the load.
fn run(args: &Args) -> Result<Measured, String> {
    let config = Config {
        durability: args.durability,
        ..Config::default()
    };
    let db = Committer::open(&args.db, config).map_err(|e| e.to_string())?;
    db.execute(CREATE, ()).map_err(|e| e.to_string())?;
    let batches_before = db.stats().batches;
    let next = AtomicUsize::new(0);
    let barrier = Barrier::new(args.threads + 1);
    let (elapsed, per_thread) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..args.threads)
            .map(|_| {
                s.spawn(|| -> Result<Vec<Duration>, String> {
                    let mut latencies = Vec::new();
                    barrier.wait();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= args.n {
                            return Ok(latencies);
                        }
                        let tx = Transaction::single(
                            INSERT,
                            Params::Positional(vec![
                                Value::Integer(i as i64),
                                Value::Text(PAYLOAD.to_owned()),
                            ]),
                        );
                        let start = Instant::now();
                        db.transaction(tx).map_err(|e| format!("insert {i}: {e}"))?;
                        latencies.push(start.elapsed());
                    }
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let per_thread: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a thread panicked".into())))
            .collect();
        (start.elapsed(), per_thread)
    });
    let batches = db.stats().batches - batches_before;
    db.close().map_err(|e| e.to_string())?;
    let mut latencies = Vec::with_capacity(args.n);
    for thread in per_thread {
        latencies.extend(thread?);
    }
    latencies.sort();
    Ok(Measured {
        elapsed,
        latencies,
        batches,
    })
}

/// The latency at `p` in [0, 1] of sorted `latencies`, in ms, by the Go benchmark's rule
/// (the sample at index `p * (len - 1)`, rounded down).
fn pct_ms(latencies: &[Duration], p: f64) -> f64 {
    if latencies.is_empty() {
        return 0.0;
    }
    let i = (p * (latencies.len() - 1) as f64) as usize;
    latencies[i].as_secs_f64() * 1000.0
}

fn main() -> std::process::ExitCode {
    match parse_args().and_then(|args| run(&args)) {
        Ok(m) => {
            println!(
                "n={} elapsed_s={:.6} p50_ms={:.3} p99_ms={:.3} max_ms={:.3} batches={}",
                m.latencies.len(),
                m.elapsed.as_secs_f64(),
                pct_ms(&m.latencies, 0.5),
                pct_ms(&m.latencies, 0.99),
                pct_ms(&m.latencies, 1.0),
                m.batches
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench_core: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
