//! Benchmark helper, compiled only with the `bench` feature (`make bench-node`): the Rust
//! core alone under the same load as `node/bench/bench.js`, so it can show what the
//! binding costs.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use litecommit::{Committer, Error as CoreError, Transaction};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::options;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS bench (id INTEGER PRIMARY KEY, payload TEXT)";
const INSERT: &str = "INSERT INTO bench (payload) VALUES (?)";

/// What `__benchCore` measured.
#[napi(object)]
pub struct CoreBench {
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub mean_batch_size: f64,
}

/// A thrown error carrying "CODE: message".
fn core_error(e: CoreError) -> napi::Error {
    napi::Error::new(Status::GenericFailure, format!("{}: {e}", e.code_name()))
}

/// Transactions in flight and the latencies of those completed.
#[derive(Default)]
struct Progress {
    in_flight: u32,
    latencies_ms: Vec<f64>,
}

/// [`Progress`] and the condition variable signalled on every completion.
type State = Arc<(Mutex<Progress>, Condvar)>;

/// Waits until `done(progress)` holds.
fn wait_until<'a>(
    state: &'a State,
    done: impl Fn(&Progress) -> bool,
) -> std::sync::MutexGuard<'a, Progress> {
    let (lock, cv) = &**state;
    let mut guard = lock.lock().unwrap_or_else(|p| p.into_inner());
    while !done(&guard) {
        guard = cv.wait(guard).unwrap_or_else(|p| p.into_inner());
    }
    guard
}

/// The `p`-quantile of sorted `values` (0 when empty).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let at = ((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1));
    sorted.get(at).copied().unwrap_or(0.0)
}

/// `n` single-row inserts into `bench(id, payload)` with `in_flight` submitted at once,
/// through the Rust core alone, on this thread.
#[napi(js_name = "__benchCore", catch_unwind)]
pub fn bench_core(
    path: String,
    options: HashMap<String, String>,
    n: u32,
    in_flight: u32,
) -> Result<CoreBench> {
    let core = options::config(options)
        .and_then(|config| Committer::open(&path, config))
        .map_err(core_error)?;
    core.execute(SCHEMA, ()).map_err(core_error)?;
    let state: State = Arc::default();
    let start = Instant::now();
    for i in 0..n {
        wait_until(&state, |p| p.in_flight < in_flight).in_flight += 1;
        let done = Arc::clone(&state);
        let submitted = Instant::now();
        core.submit_with_callback(
            Transaction::single(INSERT, litecommit::params![format!("payload-{i}")]),
            move |_| {
                let (lock, cv) = &*done;
                let mut progress = lock.lock().unwrap_or_else(|p| p.into_inner());
                progress.in_flight -= 1;
                progress
                    .latencies_ms
                    .push(submitted.elapsed().as_secs_f64() * 1000.0);
                cv.notify_one();
            },
        )
        .map_err(core_error)?;
    }
    let mut progress = wait_until(&state, |p| p.in_flight == 0);
    let seconds = start.elapsed().as_secs_f64();
    let latencies = &mut progress.latencies_ms;
    latencies.sort_by(f64::total_cmp);
    let result = CoreBench {
        seconds,
        p50_ms: percentile(latencies, 0.5),
        p99_ms: percentile(latencies, 0.99),
        mean_batch_size: core.stats().mean_batch_size,
    };
    drop(progress);
    core.close().map_err(core_error)?;
    Ok(result)
}
