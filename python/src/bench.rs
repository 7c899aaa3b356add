//! Benchmark helper, built only with the `bench` feature: the Rust core alone at a given
//! concurrency, so that `python/bench/bench.py` can show what the binding costs.

use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use litecommit::{BatchSink, Committer, Config, Error, Outcome, Params, Transaction, Value, Wait};
use pyo3::prelude::*;

use crate::errors::raise;

struct BenchSink {
    started: Mutex<Vec<Option<Instant>>>,
    latencies_ms: Mutex<Vec<f64>>,
    failures: Mutex<Vec<Error>>,
    permits: SyncSender<()>,
}

impl BatchSink for BenchSink {
    fn complete(&self, completions: Vec<(u64, Outcome)>) {
        let now = Instant::now();
        let started = self.started.lock().unwrap_or_else(|p| p.into_inner());
        let mut latencies = self.latencies_ms.lock().unwrap_or_else(|p| p.into_inner());
        for (token, outcome) in completions {
            if let Some(Some(t)) = usize::try_from(token).ok().and_then(|i| started.get(i)) {
                latencies.push(now.duration_since(*t).as_secs_f64() * 1000.0);
            }
            if let Err(e) = outcome {
                self.failures
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(e);
            }
            self.permits.try_send(()).ok();
        }
    }
}

/// What one run measured; Python receives it as a dict of these fields.
#[derive(IntoPyObject)]
pub struct Measured {
    /// Wall-clock time from the first submission to the last completion.
    seconds: f64,
    /// Submit-to-completion time of each transaction.
    latencies_ms: Vec<f64>,
}

/// Runs `n` single-row inserts of `(i, payload)` into `table` through the core with at most
/// `in_flight` outstanding.
#[pyfunction]
#[pyo3(signature = (path, n, in_flight, table="bench", payload="x", durability="full"))]
pub fn bench_core(
    py: Python<'_>,
    path: PathBuf,
    n: usize,
    in_flight: usize,
    table: &str,
    payload: &str,
    durability: &str,
) -> PyResult<Measured> {
    py.detach(|| run(path, n, in_flight.max(1), table, payload, durability))
        .map_err(raise(py))
}

fn run(
    path: PathBuf,
    n: usize,
    in_flight: usize,
    table: &str,
    payload: &str,
    durability: &str,
) -> Result<Measured, Error> {
    let mut config = Config::default();
    config.set("durability", durability)?;
    let db = Committer::open(&path, config)?;
    db.execute(
        &format!("CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY, payload TEXT)"),
        (),
    )?;
    let (permits, wait) = sync_channel(in_flight);
    for _ in 0..in_flight {
        permits.try_send(()).ok();
    }
    let sink = Arc::new(BenchSink {
        started: Mutex::new(vec![None; n]),
        latencies_ms: Mutex::new(Vec::with_capacity(n)),
        failures: Mutex::new(Vec::new()),
        permits,
    });
    let sql = format!("INSERT INTO {table} (id, payload) VALUES (?, ?)");
    let begin = Instant::now();
    for i in 0..n {
        wait.recv()
            .map_err(|_| Error::Internal("bench: permits channel closed".into()))?;
        let params = Params::Positional(vec![
            Value::Integer(i64::try_from(i).unwrap_or(i64::MAX)),
            Value::Text(payload.to_owned()),
        ]);
        if let Some(slot) = sink
            .started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(i)
        {
            *slot = Some(Instant::now());
        }
        db.submit_to_sink(
            Transaction::single(sql.clone(), params),
            sink.clone(),
            i as u64,
            Wait::Block,
        )?;
    }
    for _ in 0..in_flight {
        wait.recv()
            .map_err(|_| Error::Internal("bench: permits channel closed".into()))?;
    }
    let seconds = begin.elapsed().as_secs_f64();
    db.close()?;
    if let Some(e) = sink
        .failures
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .first()
    {
        return Err(e.clone());
    }
    let latencies_ms =
        std::mem::take(&mut *sink.latencies_ms.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(Measured {
        seconds,
        latencies_ms,
    })
}
