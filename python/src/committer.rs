//! `NativeCommitter`: one open core `Committer` with its delivery thread, and the calls the
//! pure-Python `Committer` and `AsyncCommitter` make on it.

use std::collections::VecDeque;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use litecommit::__private::process_id;
use litecommit::{CheckpointMode, Committer, Error, Pending, Transaction, Wait};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PySet, PyString};

use crate::convert::{self, results_to_py, Returns};
use crate::errors::{self, raise};
use crate::loop_future::{LoopFuture, Work};
use crate::process::on_main_thread;
use crate::running_loop::running_loop;
use crate::sink::{Entry, PySink, Waiter};
use crate::{options, stats};

/// How long a wait with the GIL released lasts before it takes the GIL to run Python's
/// signal handlers, so that Ctrl-C raises `KeyboardInterrupt` promptly.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

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
    /// Shared with the threads that run `flush` and `checkpoint` for Python's main thread.
    inner: Arc<Committer>,
    sink: Arc<PySink>,
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

/// One step of a wait: done, or not yet (the signal handlers run, then the next step).
enum Step<T> {
    Done(litecommit::Result<T>),
    Again,
}

/// How long one step of a wait may last; `None`: until it is done.
type Limit = Option<Duration>;

/// A step of waiting for `rx`; `Ok(None)` once its sender is gone without a message.
fn recv_step<T>(rx: &Receiver<T>, limit: Limit) -> Step<Option<T>> {
    let received = match limit {
        Some(limit) => rx.recv_timeout(limit),
        None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
    };
    match received {
        Ok(value) => Step::Done(Ok(Some(value))),
        Err(RecvTimeoutError::Timeout) => Step::Again,
        Err(RecvTimeoutError::Disconnected) => Step::Done(Ok(None)),
    }
}

/// A step of sending `tx` with `send` into a full queue.
fn send_step<T>(
    send: impl FnOnce(Transaction, Wait) -> litecommit::Result<T>,
    tx: Transaction,
    limit: Limit,
) -> Step<T> {
    match send(tx, limit.map_or(Wait::Block, Wait::Timeout)) {
        Err(Error::Timeout) => Step::Again,
        sent => Step::Done(sent),
    }
}

/// Queues `tx` for a `Pending` handle, waiting for room as `wait` says.
fn submit_pending(inner: &Committer, tx: Transaction, wait: Wait) -> litecommit::Result<Pending> {
    match wait {
        Wait::Never => inner.try_submit(tx),
        Wait::Timeout(limit) => inner.submit_timeout(tx, limit),
        Wait::Block => inner.submit(tx),
    }
}

/// The transactions of one `submit_many` call, queued in order from position `next` on.
struct Batch {
    sql: String,
    /// The transactions not queued yet, from position `next` on.
    transactions: VecDeque<Transaction>,
    /// Every parameter set, by position: a failed send consumes its transaction, which is
    /// then converted again from its set.
    sets: Vec<Py<PyAny>>,
    /// The sink tokens of the futures, by position.
    tokens: Range<u64>,
    /// The position of the first transaction not queued.
    next: usize,
}

impl Batch {
    fn token(&self, position: usize) -> u64 {
        self.tokens.start + position as u64
    }

    /// The tokens of the transactions not queued.
    fn unqueued(&self) -> Range<u64> {
        self.token(self.next)..self.tokens.end
    }
}

/// How far [`NativeCommitter::queue_many`] got.
enum Queued {
    All,
    /// The transaction at `next` could not be queued (a full queue without waiting, a
    /// closed committer, a refused statement).
    Stopped(Error),
    /// A Python exception while waiting: `KeyboardInterrupt`, or converting a set again.
    Raised(PyErr),
}

impl NativeCommitter {
    fn forked(&self) -> bool {
        process_id() != self.opened_by
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

    /// Runs `f` with the GIL released, [`guarded`]; signal handlers run after it returns.
    fn wait<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce() -> litecommit::Result<T> + Send,
    ) -> PyResult<T> {
        let _counted = Waiting::enter(&self.waiting);
        py.detach(|| guarded(f)).map_err(raise(py))
    }

    /// Calls `step` with the GIL released until it is done. With a `limit`, each step
    /// lasts at most that long and Python's signal handlers run between steps: an exception
    /// they raise (`KeyboardInterrupt` on Ctrl-C) ends the wait as the outer error, while
    /// what was waited for goes on regardless. Without, one step waits until done.
    fn poll_interruptibly<T: Send>(
        &self,
        py: Python<'_>,
        limit: Limit,
        mut step: impl FnMut(Limit) -> Step<T> + Send,
    ) -> PyResult<litecommit::Result<T>> {
        let _counted = Waiting::enter(&self.waiting);
        loop {
            let step = &mut step;
            match py.detach(move || guarded(|| Ok(step(limit)))) {
                Ok(Step::Done(result)) => return Ok(result),
                Err(e) => return Ok(Err(e)),
                Ok(Step::Again) => py.check_signals()?,
            }
        }
    }

    /// Runs `f` with the GIL released. On Python's main thread it runs on a thread of its
    /// own, so that Ctrl-C ends the wait (`f` then goes on to its end unobserved).
    fn call_interruptibly<T: Send + 'static>(
        &self,
        py: Python<'_>,
        f: impl FnOnce() -> litecommit::Result<T> + Send + 'static,
    ) -> PyResult<T> {
        if !on_main_thread(py) {
            return self.wait(py, f);
        }
        let (done, outcome) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("litecommit-py-call".into())
            .spawn(move || drop(done.send(guarded(f))))
            .map_err(|e| {
                let msg = format!("cannot start a thread: {e}");
                errors::to_py(py, &Error::Internal(msg))
            })?;
        let received = self.poll_interruptibly(py, Some(SIGNAL_POLL), move |limit| {
            recv_step(&outcome, limit)
        })?;
        let gone = || Err(Error::Internal("the call ended without an outcome".into()));
        received
            .and_then(|outcome| outcome.unwrap_or_else(gone))
            .map_err(raise(py))
    }

    /// Waits until the futures of every transaction committed so far are resolved.
    fn drain(&self, py: Python<'_>, sink: &PySink) -> PyResult<()> {
        let Some(delivered) = sink.barrier() else {
            return Ok(());
        };
        // Disconnected: the delivery thread is gone, so nothing is left to deliver.
        self.poll_interruptibly(py, Some(SIGNAL_POLL), move |limit| {
            recv_step(&delivered, limit)
        })?
        .map(drop)
        .map_err(raise(py))
    }

    /// Hands `tx` to `send`: at once while the queue has room. In a full queue, with
    /// `block`, waits for room with the GIL released (interruptibly on the main thread,
    /// see [`Self::poll_interruptibly`]); without, fails with `QueueFullError`. A failed
    /// send consumes its transaction, so the wait sends copies of a new conversion, `remake`.
    fn queue<T: Send>(
        &self,
        py: Python<'_>,
        tx: Transaction,
        remake: impl FnOnce() -> PyResult<Transaction>,
        send: impl Fn(Transaction, Wait) -> litecommit::Result<T> + Sync,
        block: bool,
    ) -> PyResult<T> {
        match guarded(|| send(tx, Wait::Never)) {
            Err(Error::QueueFull) if block => {}
            sent => return sent.map_err(raise(py)),
        }
        let tx = remake()?;
        let limit = on_main_thread(py).then_some(SIGNAL_POLL);
        self.poll_interruptibly(py, limit, |limit| send_step(&send, tx.clone(), limit))?
            .map_err(raise(py))
    }

    /// Runs the transaction `make` converts and waits for it, with the GIL released. On a
    /// thread other than Python's main thread (which runs no signal handlers) this is the
    /// core's blocking call, which commits on this thread when the writer is idle; on the
    /// main thread the wait is interruptible (see [`Self::poll_interruptibly`]).
    fn run<'py>(
        &self,
        py: Python<'py>,
        make: impl Fn() -> PyResult<Transaction>,
        returns: Returns,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = &*self.get(py)?.inner;
        let tx = make()?;
        if !on_main_thread(py) {
            let result = self.wait(py, || inner.transaction(tx))?;
            return results_to_py(py, result, returns);
        }
        let send = |tx, wait| submit_pending(inner, tx, wait);
        let pending = self.queue(py, tx, &make, send, true)?;
        let result = self
            .poll_interruptibly(py, Some(SIGNAL_POLL), |limit| {
                match pending.wait_timeout(limit.unwrap_or(SIGNAL_POLL)) {
                    Err(Error::Timeout) => Step::Again,
                    outcome => Step::Done(outcome),
                }
            })?
            .map_err(raise(py))?;
        results_to_py(py, result, returns)
    }

    /// Queues the transaction `make` converts (waiting for room in a full queue if
    /// `block`); `waiter`'s future is resolved once it is committed (or has failed).
    fn enqueue(
        &self,
        py: Python<'_>,
        open: &Open,
        make: impl Fn() -> PyResult<Transaction>,
        returns: Returns,
        waiter: Waiter,
        block: bool,
    ) -> PyResult<()> {
        let tx = make()?;
        let token = open.sink.register(Entry { waiter, returns });
        let (inner, sink) = (&open.inner, &open.sink);
        let send = |tx, wait| inner.submit_to_sink(tx, sink.clone(), token, wait);
        self.queue(py, tx, &make, send, block).inspect_err(|_| {
            // Dropped with the GIL held, as every Python reference should be.
            drop(open.sink.forget(token));
        })
    }

    /// Queues without waiting and returns an asyncio future of the running loop;
    /// `QueueFullError` when the queue is full (the caller then waits off the loop).
    fn enqueue_async<'py>(
        &self,
        py: Python<'py>,
        make: impl Fn() -> PyResult<Transaction>,
        returns: Returns,
    ) -> PyResult<Bound<'py, PyAny>> {
        let open = self.get(py)?;
        let inbox = open.sink.inbox(py, &running_loop(py)?)?;
        let future = inbox.new_future(py)?;
        let waiter = Waiter::Loop {
            inbox,
            future: future.clone().unbind(),
        };
        self.enqueue(py, open, make, returns, waiter, false)?;
        Ok(future)
    }

    /// Queues `tx` if the queue has room (`false` when it is full); `waiter`'s future is
    /// resolved once it is committed (or has failed).
    fn try_enqueue(
        &self,
        py: Python<'_>,
        open: &Open,
        tx: Transaction,
        returns: Returns,
        waiter: Waiter,
    ) -> PyResult<bool> {
        let token = open.sink.register(Entry { waiter, returns });
        let (inner, sink) = (&open.inner, &open.sink);
        let sent = guarded(|| inner.submit_to_sink(tx, sink.clone(), token, Wait::Never));
        if sent.is_err() {
            // Dropped with the GIL held, as every Python reference should be.
            drop(open.sink.forget(token));
        }
        match sent {
            Ok(()) => Ok(true),
            Err(Error::QueueFull) => Ok(false),
            Err(e) => Err(errors::to_py(py, &e)),
        }
    }

    /// Queues the transaction of an unsent [`LoopFuture`], first awaited now, for the
    /// running loop; `false` (nothing queued) when the queue is full.
    pub fn start(
        &self,
        py: Python<'_>,
        future: &Bound<'_, LoopFuture>,
        work: &Work,
    ) -> PyResult<bool> {
        let open = self.get(py)?;
        let event_loop = running_loop(py)?;
        future.borrow_mut().set_loop(event_loop.clone().unbind());
        let waiter = Self::waiter(
            py,
            open,
            Some(event_loop),
            future.clone().into_any().unbind(),
        )?;
        let (tx, returns) = match work {
            Work::Execute { sql, params } => {
                let params = params.as_ref().map(|p| p.bind(py));
                (
                    convert::single(sql.bind(py).to_str()?, params)?,
                    Returns::Last,
                )
            }
            Work::Transaction(statements) => {
                (convert::transaction(statements.bind(py))?, Returns::Each)
            }
        };
        self.try_enqueue(py, open, tx, returns, waiter)
    }

    /// The waiter of `future`: of `event_loop` (an asyncio future, resolved on that loop)
    /// or, without, a `concurrent.futures.Future`.
    fn waiter(
        py: Python<'_>,
        open: &Open,
        event_loop: Option<Bound<'_, PyAny>>,
        future: Py<PyAny>,
    ) -> PyResult<Waiter> {
        Ok(match event_loop {
            Some(event_loop) => Waiter::Loop {
                inbox: open.sink.inbox(py, &event_loop)?,
                future,
            },
            None => Waiter::Thread(future),
        })
    }

    /// Converts the parameter sets of a `submit_many` call and registers one future per
    /// set, each made by `waiter`.
    fn prepare_many(
        &self,
        py: Python<'_>,
        sql: &str,
        seq_of_params: &Bound<'_, PyAny>,
        mut waiter: impl FnMut() -> PyResult<Waiter>,
    ) -> PyResult<Batch> {
        let open = self.get(py)?;
        let (transactions, sets) = convert::many(sql, seq_of_params)?;
        let entries = sets
            .iter()
            .map(|_| {
                let waiter = waiter()?;
                Ok(Entry {
                    waiter,
                    returns: Returns::Last,
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        Ok(Batch {
            sql: sql.to_owned(),
            transactions,
            sets,
            tokens: open.sink.register_many(entries),
            next: 0,
        })
    }

    /// Queues the batch's transactions in order, in one go with the GIL released. In a
    /// full queue, with `block`, the rest wait for room in turn (the GIL is taken only to
    /// run the signal handlers on the main thread, see [`Self::poll_interruptibly`]);
    /// without, it stops, the transaction at `batch.next` ready to be queued later.
    fn queue_many(&self, py: Python<'_>, open: &Open, batch: &mut Batch, block: bool) -> Queued {
        let (inner, sink) = (&open.inner, &open.sink);
        let send = |tx, token, wait| inner.submit_to_sink(tx, sink.clone(), token, wait);
        let first = batch.tokens.start;
        let (transactions, next) = (&mut batch.transactions, &mut batch.next);
        let failed = py.detach(|| {
            while let Some(tx) = transactions.pop_front() {
                if let Err(e) = guarded(|| send(tx, first + *next as u64, Wait::Never)) {
                    return Some(e);
                }
                *next += 1;
            }
            None
        });
        match failed {
            None => return Queued::All,
            Some(Error::QueueFull) => {}
            Some(e) => return Queued::Stopped(e),
        }
        // The failed send consumed its transaction: convert its set again.
        let set = batch.sets[batch.next].bind(py);
        match convert::one_of_many(&batch.sql, set, batch.next) {
            Ok(tx) => batch.transactions.push_front(tx),
            Err(e) => return Queued::Raised(e),
        }
        if !block {
            return Queued::Stopped(Error::QueueFull);
        }
        let limit = on_main_thread(py).then_some(SIGNAL_POLL);
        let (transactions, next) = (&mut batch.transactions, &mut batch.next);
        let waited = self.poll_interruptibly(py, limit, |limit| {
            while let Some(tx) = transactions.pop_front() {
                let token = first + *next as u64;
                let sent = match limit {
                    None => send(tx, token, Wait::Block),
                    // A send that times out consumes its transaction: send a copy.
                    Some(limit) => match send(tx.clone(), token, Wait::Timeout(limit)) {
                        Err(Error::Timeout) => {
                            transactions.push_front(tx);
                            return Step::Again;
                        }
                        sent => sent,
                    },
                };
                if let Err(e) = sent {
                    return Step::Done(Err(e));
                }
                *next += 1;
            }
            Step::Done(Ok(()))
        });
        match waited {
            Ok(Ok(())) => Queued::All,
            Ok(Err(e)) => Queued::Stopped(e),
            Err(e) => Queued::Raised(e),
        }
    }

    /// Settles what `queue_many` left of a batch, for the caller of `submit_many`: when
    /// nothing was queued the error is raised; when some were, the futures of the others
    /// fail with it. A Python exception (`KeyboardInterrupt`) is raised in any case.
    fn settle_stopped(py: Python<'_>, open: &Open, batch: &Batch, stopped: Queued) -> PyResult<()> {
        match stopped {
            Queued::All => Ok(()),
            Queued::Stopped(e) if batch.next > 0 => {
                open.sink
                    .fail(py, batch.unqueued(), || errors::instance(py, &e));
                Ok(())
            }
            Queued::Stopped(e) => {
                drop(open.sink.forget_many(batch.unqueued()));
                Err(errors::to_py(py, &e))
            }
            Queued::Raised(e) => {
                drop(open.sink.forget_many(batch.unqueued()));
                Err(e)
            }
        }
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

/// `concurrent.futures.Future`, imported once.
static THREAD_FUTURE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

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
            open: Some(Open {
                inner: Arc::new(inner),
                sink,
            }),
            path,
            opened_by: process_id(),
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
        self.run(py, || convert::single(sql, params), Returns::Last)
    }

    fn transaction<'py>(
        &self,
        py: Python<'py>,
        statements: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.get(py)?;
        self.run(py, || convert::transaction(statements), Returns::Each)
    }

    /// Queues one statement; `future` is resolved with its `Result`. With `event_loop`
    /// it is an asyncio future of that loop, otherwise a `concurrent.futures.Future`.
    #[pyo3(signature = (sql, params, event_loop, future, block))]
    fn submit(
        &self,
        py: Python<'_>,
        sql: &str,
        params: Option<&Bound<'_, PyAny>>,
        event_loop: Option<Bound<'_, PyAny>>,
        future: Py<PyAny>,
        block: bool,
    ) -> PyResult<()> {
        let open = self.get(py)?;
        let waiter = Self::waiter(py, open, event_loop, future)?;
        let make = || convert::single(sql, params);
        self.enqueue(py, open, make, Returns::Last, waiter, block)
    }

    #[pyo3(signature = (statements, event_loop, future, block))]
    fn submit_transaction(
        &self,
        py: Python<'_>,
        statements: &Bound<'_, PyAny>,
        event_loop: Option<Bound<'_, PyAny>>,
        future: Py<PyAny>,
        block: bool,
    ) -> PyResult<()> {
        let open = self.get(py)?;
        let waiter = Self::waiter(py, open, event_loop, future)?;
        let make = || convert::transaction(statements);
        self.enqueue(py, open, make, Returns::Each, waiter, block)
    }

    /// `submit` for the running event loop, never waiting: returns its asyncio future.
    #[pyo3(signature = (sql, params=None))]
    fn submit_async<'py>(
        &self,
        py: Python<'py>,
        sql: &str,
        params: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.enqueue_async(py, || convert::single(sql, params), Returns::Last)
    }

    /// `submit_transaction` for the running event loop, as `submit_async`.
    fn submit_transaction_async<'py>(
        &self,
        py: Python<'py>,
        statements: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.enqueue_async(py, || convert::transaction(statements), Returns::Each)
    }

    /// `AsyncCommitter.execute` for `owner`, whose `_draining` is `draining`: a
    /// [`LoopFuture`] that queues the statement when first awaited.
    #[pyo3(signature = (owner, draining, sql, params=None))]
    fn execute_async(
        slf: &Bound<'_, Self>,
        owner: Py<PyAny>,
        draining: Py<PySet>,
        sql: Py<PyString>,
        params: Option<Py<PyAny>>,
    ) -> LoopFuture {
        let work = Work::Execute { sql, params };
        LoopFuture::unsent(owner, draining, slf.clone().unbind(), work)
    }

    /// `AsyncCommitter.transaction` for `owner`, as `execute_async`.
    fn transaction_async(
        slf: &Bound<'_, Self>,
        owner: Py<PyAny>,
        draining: Py<PySet>,
        statements: Py<PyAny>,
    ) -> LoopFuture {
        let work = Work::Transaction(statements);
        LoopFuture::unsent(owner, draining, slf.clone().unbind(), work)
    }

    /// `sql` once per parameter set, each its own transaction: converts every set, then
    /// queues them in one go (waiting for room in a full queue if `block`). Returns one
    /// `concurrent.futures.Future` per set. Raises if none could be queued; when some
    /// were, the futures of the others fail with the error that stopped them.
    #[pyo3(signature = (sql, seq_of_params, block))]
    fn submit_many<'py>(
        &self,
        py: Python<'py>,
        sql: &str,
        seq_of_params: &Bound<'py, PyAny>,
        block: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let class = THREAD_FUTURE.import(py, "concurrent.futures", "Future")?;
        let mut futures = Vec::new();
        let mut batch = self.prepare_many(py, sql, seq_of_params, || {
            let future = class.call0()?;
            // In flight from now on: it cannot be cancelled any more.
            future.call_method0(intern!(py, "set_running_or_notify_cancel"))?;
            futures.push(future.clone());
            Ok(Waiter::Thread(future.unbind()))
        })?;
        let open = self.get(py)?;
        let queued = self.queue_many(py, open, &mut batch, block);
        Self::settle_stopped(py, open, &batch, queued)?;
        PyList::new(py, futures)
    }

    /// `submit_many` for the running event loop: one asyncio future per set, and the
    /// transactions left for the loop's overflow worker, if any. With `queue_now` those
    /// that fit are queued at once; without, all are left (other submissions of the loop
    /// wait for room and these must queue behind them).
    #[pyo3(signature = (sql, seq_of_params, queue_now))]
    fn submit_many_async<'py>(
        slf: &Bound<'py, Self>,
        sql: &str,
        seq_of_params: &Bound<'py, PyAny>,
        queue_now: bool,
    ) -> PyResult<(Bound<'py, PyList>, Option<Unqueued>)> {
        let py = slf.py();
        let this = slf.get();
        let open = this.get(py)?;
        let event_loop = running_loop(py)?;
        let inbox = open.sink.inbox(py, &event_loop)?;
        let mut futures = Vec::new();
        let mut batch = this.prepare_many(py, sql, seq_of_params, || {
            let future = inbox.new_future(py)?;
            futures.push(future.clone());
            Ok(Waiter::Loop {
                inbox: Arc::clone(&inbox),
                future: future.unbind(),
            })
        })?;
        let futures = PyList::new(py, futures)?;
        if queue_now {
            let open = this.get(py)?;
            match this.queue_many(py, open, &mut batch, false) {
                Queued::Stopped(Error::QueueFull) => {}
                queued => {
                    Self::settle_stopped(py, open, &batch, queued)?;
                    return Ok((futures, None));
                }
            }
        }
        let rest = Unqueued {
            committer: slf.clone().unbind(),
            batch: Mutex::new(Some(batch)),
        };
        Ok((futures, Some(rest)))
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

    /// Returns once every transaction submitted before it is committed and its future
    /// resolved (an asyncio future: its resolution scheduled on its loop, ahead of
    /// anything scheduled there afterwards). On the main thread Ctrl-C ends the wait.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let open = self.get(py)?;
        let inner = Arc::clone(&open.inner);
        self.call_interruptibly(py, move || inner.flush())?;
        // Committed is not enough: the futures must also be resolved.
        self.drain(py, &open.sink)
    }

    /// Runs a checkpoint in `mode` now; returns the fields of `CheckpointResult`. On the
    /// main thread Ctrl-C ends the wait (not the checkpoint).
    fn checkpoint(&self, py: Python<'_>, mode: &str) -> PyResult<CheckpointDone> {
        let inner = Arc::clone(&self.get(py)?.inner);
        let mode: CheckpointMode = mode.parse().map_err(raise(py))?;
        let r = self.call_interruptibly(py, move || inner.checkpoint(mode))?;
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

/// The transactions of an `AsyncCommitter.submit_many` call that met a full queue (or
/// other submissions of the loop waiting for room): the loop's overflow worker queues them,
/// waiting for room, behind those.
#[pyclass(module = "litecommit._litecommit", frozen)]
pub struct Unqueued {
    committer: Py<NativeCommitter>,
    /// Taken by the first `submit` or `forget`.
    batch: Mutex<Option<Batch>>,
}

impl Unqueued {
    fn take(&self) -> Option<Batch> {
        self.batch.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

#[pymethods]
impl Unqueued {
    /// Queues them in order, waiting for room with the GIL released; the futures of those
    /// that cannot be queued (a closed committer) fail. Does nothing a second time.
    fn submit(&self, py: Python<'_>) -> PyResult<()> {
        let Some(mut batch) = self.take() else {
            return Ok(());
        };
        let committer = self.committer.get();
        let open = committer.get(py)?;
        match committer.queue_many(py, open, &mut batch, true) {
            Queued::All => {}
            Queued::Stopped(e) => {
                let sink = &open.sink;
                sink.fail(py, batch.unqueued(), || errors::instance(py, &e));
            }
            Queued::Raised(e) => {
                let exception = || Ok(e.value(py).clone().into_any());
                open.sink.fail(py, batch.unqueued(), exception);
            }
        }
        Ok(())
    }

    /// Drops them unqueued (when they cannot be handed to the worker): their futures are
    /// never resolved.
    fn forget(&self, py: Python<'_>) {
        let Some(batch) = self.take() else {
            return;
        };
        if let Ok(open) = self.committer.get().get(py) {
            drop(open.sink.forget_many(batch.unqueued()));
        }
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
