//! Benchmark helper, built only with the `bench` feature: the Rust core alone at a given
//! concurrency, so that `python/bench/bench.py` can show what the binding costs.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Instant;

use litecommit::{BatchSink, Committer, Config, Error, Outcome, Params, Transaction, Value, Wait};
use pyo3::exceptions::PyValueError;
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
    /// The committer's mean batch size over the run.
    mean_batch: f64,
}

/// How the load is offered to the core.
#[derive(Clone, Copy)]
enum Shape {
    /// One thread keeps `in_flight` transactions queued, each completion going to a batch
    /// sink (what `AsyncCommitter` and `submit_many` do).
    Pipelined,
    /// `in_flight` threads, each running transactions one after the other with the
    /// blocking `execute` (what `Committer.execute` from that many threads does).
    Threads,
}

impl Shape {
    fn parse(name: &str) -> PyResult<Shape> {
        match name {
            "pipelined" => Ok(Shape::Pipelined),
            "threads" => Ok(Shape::Threads),
            _ => Err(PyValueError::new_err(format!(
                "shape must be 'pipelined' or 'threads', not {name:?}"
            ))),
        }
    }
}

/// Runs `n` single-row inserts of `(i, payload)` into `table` through the core with at most
/// `in_flight` outstanding, offered as `shape` says: `"pipelined"` (one submitting thread,
/// completions to a batch sink) or `"threads"` (`in_flight` threads of blocking `execute`).
#[pyfunction]
#[pyo3(signature = (path, n, in_flight, table="bench", payload="x", durability="full", shape="pipelined"))]
#[allow(clippy::too_many_arguments)]
pub fn bench_core(
    py: Python<'_>,
    path: PathBuf,
    n: usize,
    in_flight: usize,
    table: &str,
    payload: &str,
    durability: &str,
    shape: &str,
) -> PyResult<Measured> {
    let shape = Shape::parse(shape)?;
    let run = || -> Result<Measured, Error> {
        let mut config = Config::default();
        config.set("durability", durability)?;
        let db = Committer::open(&path, config)?;
        db.execute(
            &format!("CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY, payload TEXT)"),
            (),
        )?;
        let load = Load {
            db: &db,
            sql: format!("INSERT INTO {table} (id, payload) VALUES (?, ?)"),
            payload,
            n,
            in_flight: in_flight.max(1),
        };
        let measured = match shape {
            Shape::Pipelined => load.pipelined(),
            Shape::Threads => load.threads(),
        };
        let mean_batch = db.stats().mean_batch_size;
        db.close()?;
        let (seconds, latencies_ms) = measured?;
        Ok(Measured {
            seconds,
            latencies_ms,
            mean_batch,
        })
    };
    py.detach(run).map_err(raise(py))
}

/// One run's committer and what it inserts.
struct Load<'a> {
    db: &'a Committer,
    sql: String,
    payload: &'a str,
    n: usize,
    in_flight: usize,
}

impl Load<'_> {
    /// The parameters of row `i`.
    fn params(&self, i: usize) -> Params {
        Params::Positional(vec![
            Value::Integer(i64::try_from(i).unwrap_or(i64::MAX)),
            Value::Text(self.payload.to_owned()),
        ])
    }

    /// One thread keeps `in_flight` queued; returns the seconds and the latencies.
    fn pipelined(&self) -> Result<(f64, Vec<f64>), Error> {
        let (permits, wait) = sync_channel(self.in_flight);
        for _ in 0..self.in_flight {
            permits.try_send(()).ok();
        }
        let sink = Arc::new(BenchSink {
            started: Mutex::new(vec![None; self.n]),
            latencies_ms: Mutex::new(Vec::with_capacity(self.n)),
            failures: Mutex::new(Vec::new()),
            permits,
        });
        let closed = || Error::Internal("bench: permits channel closed".into());
        let begin = Instant::now();
        for i in 0..self.n {
            wait.recv().map_err(|_| closed())?;
            if let Some(slot) = sink
                .started
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_mut(i)
            {
                *slot = Some(Instant::now());
            }
            self.db.submit_to_sink(
                Transaction::single(self.sql.clone(), self.params(i)),
                sink.clone(),
                i as u64,
                Wait::Block,
            )?;
        }
        for _ in 0..self.in_flight {
            wait.recv().map_err(|_| closed())?;
        }
        let seconds = begin.elapsed().as_secs_f64();
        if let Some(e) = sink
            .failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .first()
        {
            return Err(e.clone());
        }
        let latencies =
            std::mem::take(&mut *sink.latencies_ms.lock().unwrap_or_else(|p| p.into_inner()));
        Ok((seconds, latencies))
    }

    /// `in_flight` threads of blocking `execute`, `n` in all, started together, each row
    /// id taken in turn from one counter; returns the seconds and the latencies.
    fn threads(&self) -> Result<(f64, Vec<f64>), Error> {
        let threads = self.in_flight;
        let start = Barrier::new(threads + 1);
        let next = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    let (start, next) = (&start, &next);
                    scope.spawn(move || -> Result<Vec<f64>, Error> {
                        let mut latencies = Vec::with_capacity(self.n / threads + 1);
                        start.wait();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= self.n {
                                return Ok(latencies);
                            }
                            let began = Instant::now();
                            self.db.execute(&self.sql, self.params(i))?;
                            latencies.push(began.elapsed().as_secs_f64() * 1000.0);
                        }
                    })
                })
                .collect();
            start.wait();
            let begin = Instant::now();
            let mut latencies = Vec::with_capacity(self.n);
            for worker in workers {
                let done = worker
                    .join()
                    .map_err(|_| Error::Internal("bench: a thread panicked".into()))?;
                latencies.extend(done?);
            }
            Ok((begin.elapsed().as_secs_f64(), latencies))
        })
    }
}
