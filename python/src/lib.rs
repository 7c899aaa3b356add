//! Native part of the `litecommit` Python package: converts values, maps completions and
//! errors. The engine (batching, flushing, checkpoints) is all in the `litecommit` crate.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
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
///
/// It belongs to the process that opened it: in a forked child (which has none of the
/// parent's threads) every call raises `ForkedError` and dropping it releases nothing.
#[pyclass(module = "litecommit._litecommit", frozen)]
struct NativeCommitter {
    /// `None` only while it is being dropped.
    open: Option<Open>,
    path: PathBuf,
    /// The process id of the process that opened it.
    opened_by: u32,
    /// Calls currently waiting with the GIL released (read by the tests through `_waiting`).
    waiting: AtomicUsize,
}

struct Open {
    inner: Committer,
    sink: Arc<PySink>,
    sink_dyn: Arc<dyn BatchSink>,
}

/// Counts one call in `NativeCommitter::waiting` for as long as it lives.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Waiting(counter)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl NativeCommitter {
    fn forked(&self) -> bool {
        std::process::id() != self.opened_by
    }

    /// The open committer; `ForkedError` in a forked child.
    fn get(&self, py: Python<'_>) -> PyResult<&Open> {
        if self.forked() {
            let opened_by = self.opened_by;
            return Err(errors::to_py(py, &Error::Forked { opened_by }));
        }
        self.open
            .as_ref()
            .ok_or_else(|| errors::to_py(py, &Error::Closed))
    }

    /// Runs `f` with the GIL released, [`guarded`].
    fn wait<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce() -> litecommit::Result<T> + Send,
    ) -> PyResult<T> {
        let waiting = &self.waiting;
        py.detach(|| {
            let _counted = Waiting::enter(waiting);
            guarded(f)
        })
        .map_err(raise(py))
    }

    fn run<'py>(
        &self,
        py: Python<'py>,
        tx: Transaction,
        many: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = &self.get(py)?.inner;
        let result = self.wait(py, || inner.transaction(tx))?;
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
        let open = self.get(py)?;
        let waiter = match event_loop {
            Some(event_loop) => Waiter::Loop { event_loop, future },
            None => Waiter::Thread(future),
        };
        let token = open.sink.register(Entry { waiter, many });
        let (inner, sink) = (&open.inner, &open.sink_dyn);
        let queued = if block {
            self.wait(py, || inner.submit_to_sink(tx, sink, token, true))
        } else {
            guarded(|| inner.submit_to_sink(tx, sink, token, false)).map_err(raise(py))
        };
        queued.inspect_err(|_| {
            // Dropped with the GIL held, as every Python reference should be.
            drop(open.sink.forget(token));
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
        self.get(py)?;
        let event_loop = GET_RUNNING_LOOP
            .import(py, "asyncio", "get_running_loop")?
            .call0()?;
        let future = event_loop.call_method0(intern!(py, "create_future"))?;
        let waiter = future.clone().unbind();
        self.enqueue(py, tx, many, Some(event_loop.unbind()), waiter, false)?;
        Ok(future)
    }
}

/// Runs `f`; a panic inside becomes [`Error::Internal`], so that Python sees a
/// `litecommit.Error` rather than a `PanicException`.
fn guarded<T>(f: impl FnOnce() -> litecommit::Result<T>) -> litecommit::Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(Error::Internal(format!("panic: {what}")))
    })
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
            .detach(|| guarded(|| Committer::open(&path, cfg)))
            .map_err(raise(py))?;
        let sink_dyn: Arc<dyn BatchSink> = sink.clone();
        Ok(NativeCommitter {
            open: Some(Open {
                inner,
                sink,
                sink_dyn,
            }),
            path,
            opened_by: std::process::id(),
            waiting: AtomicUsize::new(0),
        })
    }

    #[pyo3(signature = (sql, params=None))]
    fn execute<'py>(
        &self,
        py: Python<'py>,
        sql: &str,
        params: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.get(py)?;
        let tx = convert::single(sql, params)?;
        self.run(py, tx, false)
    }

    fn transaction<'py>(
        &self,
        py: Python<'py>,
        statements: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.get(py)?;
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
        self.get(py)?;
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
        self.get(py)?;
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
        self.get(py)?;
        let tx = convert::single(sql, params)?;
        self.enqueue_async(py, tx, false)
    }

    fn submit_transaction_async<'py>(
        &self,
        py: Python<'py>,
        statements: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.get(py)?;
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
        let inner = &self.get(py)?.inner;
        let params = convert::params(params, None)?;
        let rows = self.wait(py, || inner.query(sql, params))?;
        convert::rows_to_py(py, &rows)
    }

    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let open = self.get(py)?;
        self.wait(py, || {
            open.inner.flush()?;
            // Committed is not enough: the futures must also be resolved.
            open.sink.drain();
            Ok(())
        })
    }

    /// Returns `(mode, log_frames, checkpointed_frames, busy)`.
    fn checkpoint(&self, py: Python<'_>, mode: &str) -> PyResult<(String, i64, i64, bool)> {
        let inner = &self.get(py)?.inner;
        let mode: CheckpointMode = mode.parse().map_err(raise(py))?;
        let r = self.wait(py, || inner.checkpoint(mode))?;
        Ok((
            r.mode.as_str().to_owned(),
            r.log_frames,
            r.checkpointed_frames,
            r.busy,
        ))
    }

    fn metrics_text(&self, py: Python<'_>) -> PyResult<String> {
        let inner = &self.get(py)?.inner;
        if inner.is_closed() {
            return Err(errors::to_py(py, &Error::Closed));
        }
        Ok(inner.metrics_text())
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let inner = &self.get(py)?.inner;
        if inner.is_closed() {
            return Err(errors::to_py(py, &Error::Closed));
        }
        let s = inner.stats();
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
        let open = self.get(py)?;
        self.wait(py, || {
            let closed = open.inner.close();
            open.sink.drain();
            closed
        })
    }

    /// Raises `ForkedError` in a forked child; does nothing in the process that opened it.
    fn check_process(&self, py: Python<'_>) -> PyResult<()> {
        self.get(py).map(drop)
    }

    /// Whether `close()` has been called; always true in a forked child, where the
    /// committer cannot be used.
    #[getter]
    fn closed(&self) -> bool {
        match &self.open {
            Some(open) if !self.forked() => open.inner.is_closed(),
            _ => true,
        }
    }

    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// Calls currently waiting with the GIL released (a testing aid).
    #[getter(_waiting)]
    fn waiting_calls(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }
}

impl Drop for NativeCommitter {
    /// Garbage-collected without `close()`: commit the queue with the GIL released. The
    /// delivery thread resolves the futures afterwards; waiting for it here could deadlock,
    /// as the collector may run while this thread holds the lock of one of those futures
    /// (inside `Future.result()`). At interpreter exit the package's atexit hook has
    /// already closed every committer. In a forked child nothing is released: the threads,
    /// connections and futures it refers to belong to the parent.
    fn drop(&mut self) {
        let Some(open) = self.open.take() else {
            return;
        };
        if self.forked() {
            std::mem::forget(open);
            return;
        }
        if open.inner.is_closed() {
            return;
        }
        let inner = &open.inner;
        let close = || drop(guarded(|| inner.close()));
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
