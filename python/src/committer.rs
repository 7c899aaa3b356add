//! `NativeCommitter`: one open core `Committer` with its delivery thread, and the calls the
//! pure-Python `Committer` and `AsyncCommitter` make on it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use litecommit::{CheckpointMode, Committer, Error, Transaction, Wait};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList};

use crate::convert::{self, results_to_py, Returns};
use crate::errors::{self, raise};
use crate::sink::{Entry, PySink, Waiter};
use crate::{options, stats};

/// One open committer. The pure-Python `Committer` and `AsyncCommitter` wrap it.
///
/// It belongs to the process that opened it: in a forked child (which has none of the
/// parent's threads) every call raises `ForkedError` and dropping it releases nothing.
#[pyclass(module = "litecommit._litecommit", frozen)]
pub struct NativeCommitter {
    /// `None` only while it is being dropped.
    open: Option<Open>,
    /// The database path as given.
    path: PathBuf,
    /// The process id of the process that opened it.
    opened_by: u32,
    /// Calls currently waiting with the GIL released (read by the tests through `_waiting`).
    waiting: AtomicUsize,
}

/// The core committer and the sink that resolves its Python futures.
struct Open {
    inner: Committer,
    sink: Arc<PySink>,
}

/// How `submit` and `submit_transaction` wait for room in a full queue: `block=True` waits
/// (with the GIL released), `block=False` raises `QueueFullError` at once.
fn wait_for_room(block: bool) -> Wait {
    if block {
        Wait::Block
    } else {
        Wait::Never
    }
}

/// The outcome of a manual checkpoint, handed to Python as a dict of these fields.
#[derive(IntoPyObject)]
struct CheckpointDone {
    mode: &'static str,
    log_frames: i64,
    checkpointed_frames: i64,
    busy: bool,
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

    /// Runs `tx` and waits for it, with the GIL released.
    fn run<'py>(
        &self,
        py: Python<'py>,
        tx: Transaction,
        returns: Returns,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = &self.get(py)?.inner;
        let result = self.wait(py, || inner.transaction(tx))?;
        results_to_py(py, result, returns)
    }

    /// Queues `tx`, waiting for room in a full queue as `wait` says; `future` is resolved
    /// once it is committed (or has failed).
    fn enqueue(
        &self,
        py: Python<'_>,
        tx: Transaction,
        returns: Returns,
        event_loop: Option<Py<PyAny>>,
        future: Py<PyAny>,
        wait: Wait,
    ) -> PyResult<()> {
        let open = self.get(py)?;
        let waiter = match event_loop {
            Some(event_loop) => Waiter::Loop { event_loop, future },
            None => Waiter::Thread(future),
        };
        let token = open.sink.register(Entry { waiter, returns });
        let (inner, sink) = (&open.inner, open.sink.clone());
        let submit = || inner.submit_to_sink(tx, sink, token, wait);
        // The GIL is released only where the call may wait for room.
        let queued = match wait {
            Wait::Never => guarded(submit).map_err(raise(py)),
            Wait::Block | Wait::Timeout(_) => self.wait(py, submit),
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
        returns: Returns,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.get(py)?;
        let event_loop = GET_RUNNING_LOOP
            .import(py, "asyncio", "get_running_loop")?
            .call0()?;
        let future = event_loop.call_method0(intern!(py, "create_future"))?;
        let waiter = future.clone().unbind();
        let event_loop = Some(event_loop.unbind());
        self.enqueue(py, tx, returns, event_loop, waiter, Wait::Never)?;
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

/// `asyncio.get_running_loop`, imported once.
static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

#[pymethods]
impl NativeCommitter {
    /// Opens the database at `path`; `options` are the keyword options of the Python
    /// classes, each passed on to `litecommit::Config::set`.
    #[new]
    fn new(py: Python<'_>, path: PathBuf, options: &Bound<'_, PyDict>) -> PyResult<Self> {
        let cfg = options::config(options)?;
        let sink = PySink::start().map_err(|e| {
            let msg = format!("cannot start the delivery thread: {e}");
            errors::to_py(py, &Error::Internal(msg))
        })?;
        let sink = Arc::new(sink);
        let inner = py
            .detach(|| guarded(|| Committer::open(&path, cfg)))
            .map_err(raise(py))?;
        Ok(NativeCommitter {
            open: Some(Open { inner, sink }),
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
        self.run(py, tx, Returns::Last)
    }

    fn transaction<'py>(
        &self,
        py: Python<'py>,
        statements: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.get(py)?;
        let tx = convert::transaction(statements)?;
        self.run(py, tx, Returns::Each)
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
        self.enqueue(
            py,
            tx,
            Returns::Last,
            event_loop,
            future,
            wait_for_room(block),
        )
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
        self.enqueue(
            py,
            tx,
            Returns::Each,
            event_loop,
            future,
            wait_for_room(block),
        )
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
        self.enqueue_async(py, tx, Returns::Last)
    }

    fn submit_transaction_async<'py>(
        &self,
        py: Python<'py>,
        statements: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.get(py)?;
        let tx = convert::transaction(statements)?;
        self.enqueue_async(py, tx, Returns::Each)
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

    /// Runs a checkpoint in `mode` now; returns the fields of `CheckpointResult`.
    fn checkpoint(&self, py: Python<'_>, mode: &str) -> PyResult<CheckpointDone> {
        let inner = &self.get(py)?.inner;
        let mode: CheckpointMode = mode.parse().map_err(raise(py))?;
        let r = self.wait(py, || inner.checkpoint(mode))?;
        Ok(CheckpointDone {
            mode: r.mode.as_str(),
            log_frames: r.log_frames,
            checkpointed_frames: r.checkpointed_frames,
            busy: r.busy,
        })
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
        stats::to_dict(py, &inner.stats())
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

    /// In a forked child: the futures inherited from the parent that still wait for a
    /// transaction, each with the `ForkedError` to fail it with (taken: asked again, it
    /// returns none). Empty in the process that opened it.
    fn take_inherited_futures<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Vec<(Py<PyAny>, Bound<'py, PyAny>)>> {
        let Some(open) = self.open.as_ref().filter(|_| self.forked()) else {
            return Ok(Vec::new());
        };
        let forked = Error::Forked {
            opened_by: self.opened_by,
        };
        open.sink
            .take_inherited()
            .into_iter()
            .map(|future| Ok((future, errors::instance(py, &forked)?)))
            .collect()
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
