//! Native part of the `litecommit` Python package: converts values, maps completions and
//! errors. The engine (batching, flushing, checkpoints) is all in the `litecommit` crate.

use std::path::PathBuf;
use std::sync::Arc;

use litecommit::{BatchSink, CheckpointMode, Committer, Config, Error, Transaction};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList};

mod bench;
mod convert;
mod errors;
mod sink;

use convert::PyStatementResult;
use errors::raise;
use sink::{Entry, PySink, Waiter};

/// One open committer. The pure-Python `Committer` and `AsyncCommitter` wrap it.
#[pyclass(module = "litecommit._litecommit", frozen)]
struct NativeCommitter {
    inner: Committer,
    sink: Arc<PySink>,
    sink_dyn: Arc<dyn BatchSink>,
}

impl NativeCommitter {
    fn check_open(&self, py: Python<'_>) -> PyResult<()> {
        if self.inner.is_closed() {
            return Err(errors::to_py(py, &Error::Closed));
        }
        Ok(())
    }

    fn run<'py>(
        &self,
        py: Python<'py>,
        tx: Transaction,
        many: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = &self.inner;
        let result = py.detach(|| inner.transaction(tx)).map_err(raise(py))?;
        sink::results_to_py(py, result, many)
    }

    fn enqueue(
        &self,
        py: Python<'_>,
        tx: Transaction,
        many: bool,
        event_loop: Option<Py<PyAny>>,
        future: Py<PyAny>,
        block: bool,
    ) -> PyResult<()> {
        let waiter = match event_loop {
            Some(event_loop) => Waiter::Loop { event_loop, future },
            None => Waiter::Thread(future),
        };
        let token = self.sink.register(Entry { waiter, many });
        let (inner, sink) = (&self.inner, &self.sink_dyn);
        let queued = if block {
            py.detach(|| inner.submit_to_sink(tx, sink, token, true))
        } else {
            inner.submit_to_sink(tx, sink, token, false)
        };
        queued.map_err(|e| {
            // Dropped with the GIL held, as every Python reference should be.
            drop(self.sink.forget(token));
            errors::to_py(py, &e)
        })
    }

    /// Queues without waiting and returns an asyncio future of the running loop;
    /// `QueueFullError` when the queue is full (the caller then waits off the loop).
    fn enqueue_async<'py>(
        &self,
        py: Python<'py>,
        tx: Transaction,
        many: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let event_loop = GET_RUNNING_LOOP
            .import(py, "asyncio", "get_running_loop")?
            .call0()?;
        let future = event_loop.call_method0(intern!(py, "create_future"))?;
        let waiter = future.clone().unbind();
        self.enqueue(py, tx, many, Some(event_loop.unbind()), waiter, false)?;
        Ok(future)
    }
}

static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

#[pymethods]
impl NativeCommitter {
    /// `config` holds (name, value) pairs passed to `litecommit::Config::set`.
    #[new]
    fn new(py: Python<'_>, path: PathBuf, config: Vec<(String, String)>) -> PyResult<Self> {
        let mut cfg = Config::default();
        for (name, value) in &config {
            cfg.set(name, value).map_err(raise(py))?;
        }
        let sink = PySink::start().map_err(|e| {
            let msg = format!("cannot start the delivery thread: {e}");
            errors::to_py(py, &Error::Internal(msg))
        })?;
        let sink = Arc::new(sink);
        let inner = py
            .detach(|| Committer::open(&path, cfg))
            .map_err(raise(py))?;
        let sink_dyn: Arc<dyn BatchSink> = sink.clone();
        Ok(NativeCommitter {
            inner,
            sink,
            sink_dyn,
        })
    }

    #[pyo3(signature = (sql, params=None))]
    fn execute<'py>(
        &self,
        py: Python<'py>,
        sql: &str,
        params: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let tx = convert::single(sql, params)?;
        self.run(py, tx, false)
    }

    fn transaction<'py>(
        &self,
        py: Python<'py>,
        statements: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let tx = convert::transaction(statements)?;
        self.run(py, tx, true)
    }

    /// Queues one statement; `future` is resolved with its `Result`. With `event_loop`
    /// it is an asyncio future of that loop, otherwise a `concurrent.futures.Future`.
    #[pyo3(signature = (sql, params, event_loop, future, block))]
    fn submit(
        &self,
        py: Python<'_>,
        sql: &str,
        params: Option<&Bound<'_, PyAny>>,
        event_loop: Option<Py<PyAny>>,
        future: Py<PyAny>,
        block: bool,
    ) -> PyResult<()> {
        let tx = convert::single(sql, params)?;
        self.enqueue(py, tx, false, event_loop, future, block)
    }

    #[pyo3(signature = (statements, event_loop, future, block))]
    fn submit_transaction(
        &self,
        py: Python<'_>,
        statements: &Bound<'_, PyAny>,
        event_loop: Option<Py<PyAny>>,
        future: Py<PyAny>,
        block: bool,
    ) -> PyResult<()> {
        let tx = convert::transaction(statements)?;
        self.enqueue(py, tx, true, event_loop, future, block)
    }

    /// `submit` for the running event loop, never waiting: returns its asyncio future.
    #[pyo3(signature = (sql, params=None))]
    fn submit_async<'py>(
        &self,
        py: Python<'py>,
        sql: &str,
        params: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let tx = convert::single(sql, params)?;
        self.enqueue_async(py, tx, false)
    }

    fn submit_transaction_async<'py>(
        &self,
        py: Python<'py>,
        statements: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let tx = convert::transaction(statements)?;
        self.enqueue_async(py, tx, true)
    }

    #[pyo3(signature = (sql, params=None))]
    fn query<'py>(
        &self,
        py: Python<'py>,
        sql: &str,
        params: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let params = convert::params(params, None)?;
        let inner = &self.inner;
        let rows = py.detach(|| inner.query(sql, params)).map_err(raise(py))?;
        convert::rows_to_py(py, &rows)
    }

    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let (inner, sink) = (&self.inner, &self.sink);
        py.detach(|| {
            inner.flush()?;
            // Committed is not enough: the futures must also be resolved.
            sink.drain();
            Ok(())
        })
        .map_err(raise(py))
    }

    /// Returns `(mode, log_frames, checkpointed_frames, busy)`.
    fn checkpoint(&self, py: Python<'_>, mode: &str) -> PyResult<(String, i64, i64, bool)> {
        let mode: CheckpointMode = mode.parse().map_err(raise(py))?;
        let inner = &self.inner;
        let r = py.detach(|| inner.checkpoint(mode)).map_err(raise(py))?;
        Ok((
            r.mode.as_str().to_owned(),
            r.log_frames,
            r.checkpointed_frames,
            r.busy,
        ))
    }

    fn metrics_text(&self, py: Python<'_>) -> PyResult<String> {
        self.check_open(py)?;
        Ok(self.inner.metrics_text())
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.check_open(py)?;
        let s = self.inner.stats();
        let d = PyDict::new(py);
        d.set_item("transactions_committed", s.transactions_committed)?;
        d.set_item("transactions_failed", s.transactions_failed)?;
        d.set_item("transactions_aborted", s.transactions_aborted)?;
        d.set_item("batches", s.batches)?;
        d.set_item("flushes", s.flushes)?;
        d.set_item("max_batch_size", s.max_batch_size)?;
        d.set_item("mean_batch_size", s.mean_batch_size)?;
        d.set_item("mean_flush_ms", s.mean_flush_ms)?;
        d.set_item("mean_commit_latency_ms", s.mean_commit_latency_ms)?;
        d.set_item("checkpoints", s.checkpoints)?;
        d.set_item("checkpoints_busy", s.checkpoints_busy)?;
        d.set_item("checkpoint_running", s.checkpoint_running)?;
        d.set_item("wal_frames", s.wal_frames)?;
        d.set_item("wal_backlog_frames", s.wal_backlog_frames)?;
        d.set_item("wal_file_bytes", s.wal_file_bytes)?;
        d.set_item("queue_depth", s.queue_depth)?;
        d.set_item("max_writer_stall_ms", s.max_writer_stall_ms)?;
        Ok(d)
    }

    /// Commits everything queued, resolves every future, closes every connection.
    /// Idempotent: a second call returns once the first one has finished.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let (inner, sink) = (&self.inner, &self.sink);
        py.detach(|| {
            let closed = inner.close();
            sink.drain();
            closed
        })
        .map_err(raise(py))
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    #[getter]
    fn path(&self) -> PathBuf {
        self.inner.path().to_path_buf()
    }
}

impl Drop for NativeCommitter {
    /// Garbage-collected without `close()`: commit the queue with the GIL released. The
    /// delivery thread resolves the futures afterwards; waiting for it here could deadlock,
    /// as the collector may run while this thread holds the lock of one of those futures
    /// (inside `Future.result()`). At interpreter exit the package's atexit hook has
    /// already closed every committer.
    fn drop(&mut self) {
        if self.inner.is_closed() {
            return;
        }
        let inner = &self.inner;
        let close = || drop(inner.close());
        if Python::try_attach(|py| py.detach(close)).is_none() {
            close();
        }
    }
}

/// Symbolic name of an SQLite result code, e.g. `SQLITE_CONSTRAINT_UNIQUE`.
#[pyfunction]
fn code_name(code: i32) -> &'static str {
    litecommit::code_name(code)
}

/// Version of the SQLite library litecommit is built with.
#[pyfunction]
fn sqlite_version() -> &'static str {
    litecommit::sqlite_version()
}

#[pymodule]
fn _litecommit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeCommitter>()?;
    m.add_class::<PyStatementResult>()?;
    m.add_class::<sink::ResolveBatch>()?;
    m.add_function(wrap_pyfunction!(code_name, m)?)?;
    m.add_function(wrap_pyfunction!(sqlite_version, m)?)?;
    m.add_function(wrap_pyfunction!(bench::bench_core, m)?)?;
    Ok(())
}
