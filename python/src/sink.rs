//! Resolves Python futures without making the writer wait for the GIL.
//!
//! The core hands each batch's completions to [`PySink::complete`] on the writer thread,
//! which only routes them, without the GIL and without running Python code:
//!
//! - an asyncio future's outcome goes into its event loop's [`Inbox`]. When the inbox was
//!   empty, the delivery thread schedules one [`LoopInbox`] callback on the loop
//!   (`call_soon_threadsafe`), which converts the outcomes and resolves every future in
//!   the inbox by then: at most one threadsafe call per loop per batch, fewer when the loop
//!   is busy, and the conversions run on the loop, not under the delivery thread's GIL.
//!   The tasks awaiting a [`LoopFuture`] are woken right there (see `loop_future`).
//! - a `concurrent.futures.Future`'s outcome goes to the delivery thread, which resolves
//!   everything that queued up under one GIL acquisition (their done-callbacks run there).

use std::cell::Cell;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use litecommit::{BatchSink, Outcome};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use rustc_hash::FxHashMap;

use crate::convert::{results_to_py, Returns};
use crate::errors;
use crate::loop_future::{self, LoopFuture};

/// Who waits for a transaction.
pub enum Waiter {
    /// A `concurrent.futures.Future`, resolved on the delivery thread (its done-callbacks
    /// run there too).
    Thread(Py<PyAny>),
    /// An asyncio future, resolved on its own loop when the loop drains its inbox.
    Loop {
        inbox: Arc<Inbox>,
        future: Py<PyAny>,
    },
}

/// One submitted transaction: who waits for it and what it resolves to.
pub struct Entry {
    pub waiter: Waiter,
    pub returns: Returns,
}

/// What a future resolves to.
enum Ending {
    /// A transaction's outcome, converted to Python when the future is resolved.
    Outcome(Outcome, Returns),
    /// An exception instance to fail the future with.
    Raise(Py<PyAny>),
}

impl Ending {
    /// The value to resolve with (`Ok`) or the exception to fail with (`Err`); a failed
    /// conversion fails the future.
    fn into_py(self, py: Python<'_>) -> Result<Bound<'_, PyAny>, Bound<'_, PyAny>> {
        let converted = match self {
            Ending::Outcome(Ok(result), returns) => results_to_py(py, result, returns).map(Ok),
            Ending::Outcome(Err(err), _) => errors::instance(py, &err).map(Err),
            Ending::Raise(exc) => return Err(exc.into_bound(py)),
        };
        converted.unwrap_or_else(|e| Err(e.value(py).clone().into_any()))
    }
}

/// A future and what it resolves to.
struct Arrival {
    future: Py<PyAny>,
    ending: Ending,
}

impl Arrival {
    /// Calls `future.set_result(value)` or `future.set_exception(exc)`; on an
    /// `asyncio.Future` through the class's methods, which makes no bound method.
    fn apply(self, py: Python<'_>) -> (Py<PyAny>, PyResult<()>) {
        let future = self.future.bind(py);
        let ending = self.ending.into_py(py);
        let applied = match FutureMethods::get(py) {
            Some(m) if future.get_type().is(&m.class) => match ending {
                Ok(value) => m.set_result.call1(py, (future, value)),
                Err(exc) => m.set_exception.call1(py, (future, exc)),
            },
            _ => match ending {
                Ok(value) => future.call_method1(intern!(py, "set_result"), (value,)),
                Err(exc) => future.call_method1(intern!(py, "set_exception"), (exc,)),
            }
            .map(Bound::unbind),
        };
        (self.future, applied.map(drop))
    }
}

/// `asyncio.Future` and its `set_result` and `set_exception`.
struct FutureMethods {
    class: Py<PyType>,
    set_result: Py<PyAny>,
    set_exception: Py<PyAny>,
}

impl FutureMethods {
    /// Looked up once; `None` if `asyncio` could not be imported.
    fn get(py: Python<'_>) -> Option<&FutureMethods> {
        static METHODS: PyOnceLock<Option<FutureMethods>> = PyOnceLock::new();
        METHODS
            .get_or_init(py, || {
                let class = py.import("asyncio").ok()?.getattr("Future").ok()?;
                Some(FutureMethods {
                    set_result: class.getattr("set_result").ok()?.unbind(),
                    set_exception: class.getattr("set_exception").ok()?.unbind(),
                    class: class.cast_into::<PyType>().ok()?.unbind(),
                })
            })
            .as_ref()
    }
}

/// The core's [`BatchSink`] for Python: routes each batch's completions and keeps the
/// entries they resolve.
pub struct PySink {
    shared: Arc<Shared>,
    deliveries: Sender<Delivery>,
}

#[derive(Default)]
struct Shared {
    /// By token (a counter: a multiplicative hash spreads it).
    pending: Mutex<FxHashMap<u64, Entry>>,
    next_token: AtomicU64,
    /// The inbox of every event loop that submitted, until the loop closes or releases it.
    inboxes: Mutex<Vec<Arc<Inbox>>>,
}

/// The delivery thread's work.
enum Delivery {
    /// Outcomes for `concurrent.futures.Future`s.
    Threads(Vec<Arrival>),
    /// An inbox that was empty has outcomes: its loop must be told.
    Wake(Arc<Inbox>),
    /// Answered once everything handed over before it is delivered.
    Barrier(SyncSender<()>),
}

thread_local! {
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

/// True while this thread delivers completions (inside a user's done-callback), where
/// waiting for deliveries would wait for this very thread.
fn in_sink() -> bool {
    IN_SINK.with(Cell::get)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl PySink {
    /// Starts the delivery thread; it ends once the sink is dropped (with the committer).
    pub fn start() -> std::io::Result<PySink> {
        let (deliveries, incoming) = mpsc::channel();
        let shared = Arc::new(Shared::default());
        let for_thread = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("litecommit-py-delivery".into())
            .spawn(move || for_thread.run(&incoming))?;
        Ok(PySink { shared, deliveries })
    }

    pub fn register(&self, entry: Entry) -> u64 {
        let token = self.shared.next_token.fetch_add(1, Ordering::Relaxed);
        lock(&self.shared.pending).insert(token, entry);
        token
    }

    /// Registers `entries` under consecutive tokens (one lock for all); returns the range.
    pub fn register_many(&self, entries: Vec<Entry>) -> Range<u64> {
        let count = entries.len() as u64;
        let first = self.shared.next_token.fetch_add(count, Ordering::Relaxed);
        let mut pending = lock(&self.shared.pending);
        pending.reserve(entries.len());
        pending.extend((first..).zip(entries));
        first..first + count
    }

    /// Takes back an entry whose submission failed (no completion will come for it).
    pub fn forget(&self, token: u64) -> Option<Entry> {
        lock(&self.shared.pending).remove(&token)
    }

    /// Takes back the entries of `tokens`, submissions that failed (no completion will come
    /// for them). Drop them with the GIL held.
    pub fn forget_many(&self, tokens: Range<u64>) -> Vec<Entry> {
        let mut pending = lock(&self.shared.pending);
        tokens.filter_map(|t| pending.remove(&t)).collect()
    }

    /// Fails the futures of `tokens`, submissions that were never queued, each with an
    /// exception made by `exception`: at once for a `concurrent.futures.Future`, on its own
    /// loop for an asyncio future.
    pub fn fail<'py>(
        &self,
        py: Python<'py>,
        tokens: Range<u64>,
        exception: impl Fn() -> PyResult<Bound<'py, PyAny>>,
    ) {
        let failed = self.forget_many(tokens).into_iter().map(|entry| {
            let exc = exception().unwrap_or_else(|e| e.value(py).clone().into_any());
            (entry.waiter, Ending::Raise(exc.unbind()))
        });
        let here = self.shared.route(failed, &self.deliveries);
        resolve_threads(py, here);
    }

    /// The inbox of `event_loop`, made at its first submission.
    pub fn inbox(&self, py: Python<'_>, event_loop: &Bound<'_, PyAny>) -> PyResult<Arc<Inbox>> {
        if let Some(inbox) = self.shared.find_inbox(event_loop) {
            return Ok(inbox);
        }
        self.shared.forget_closed_loops(py);
        let create_future = event_loop.getattr(intern!(py, "create_future"))?;
        let stand_in = create_future.call0()?;
        stand_in.call_method1(intern!(py, "set_result"), (py.None(),))?;
        let mut inboxes = lock(&self.shared.inboxes);
        // Another thread may have made one meanwhile (Python code ran above): keep that.
        if let Some(theirs) = inboxes.iter().find(|i| i.is_for(event_loop)) {
            return Ok(Arc::clone(theirs));
        }
        let inbox = Arc::new(Inbox {
            event_loop: event_loop.clone().unbind(),
            create_future: create_future.unbind(),
            stand_in: stand_in.unbind(),
            arrived: Mutex::new(Vec::new()),
        });
        inboxes.push(Arc::clone(&inbox));
        Ok(inbox)
    }

    /// A channel answered once every completion handed over so far is delivered; `None`
    /// from a done-callback, where waiting for deliveries would wait for this very thread.
    pub fn barrier(&self) -> Option<Receiver<()>> {
        if in_sink() {
            return None;
        }
        let (done, wait) = mpsc::sync_channel(1);
        // If the delivery thread is gone, `wait` reports a disconnection at once.
        drop(self.deliveries.send(Delivery::Barrier(done)));
        Some(wait)
    }

    /// In a forked child: takes the futures still waiting for a transaction or for their
    /// loop to resolve them, those in inboxes first, then the others in submission order.
    /// None of those whose lock a parent thread held at the fork: that thread does not
    /// exist in the child, so waiting for the lock would never end.
    pub fn take_inherited(&self) -> Vec<Py<PyAny>> {
        let mut futures = Vec::new();
        if let Some(inboxes) = try_lock(&self.shared.inboxes) {
            for inbox in inboxes.iter() {
                if let Some(mut arrived) = try_lock(&inbox.arrived) {
                    futures.extend(arrived.drain(..).map(|a| a.future));
                }
            }
        }
        let Some(mut pending) = try_lock(&self.shared.pending) else {
            return futures;
        };
        let mut entries: Vec<(u64, Entry)> = pending.drain().collect();
        entries.sort_unstable_by_key(|(token, _)| *token);
        futures.extend(entries.into_iter().map(|(_, entry)| match entry.waiter {
            Waiter::Thread(future) | Waiter::Loop { future, .. } => future,
        }));
        futures
    }

    /// Waits until every completion handed over so far is delivered. Call it without the
    /// GIL (the delivery thread needs it); from a done-callback it returns at once.
    pub fn drain(&self) {
        if let Some(wait) = self.barrier() {
            wait.recv().ok();
        }
    }
}

/// The lock, unless another thread holds it (in a forked child: a thread that is gone).
fn try_lock<T>(mutex: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match mutex.try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

impl Shared {
    fn find_inbox(&self, event_loop: &Bound<'_, PyAny>) -> Option<Arc<Inbox>> {
        lock(&self.inboxes)
            .iter()
            .find(|i| i.is_for(event_loop))
            .cloned()
    }

    /// Drops the inboxes of closed loops (whose futures nobody can await any more), so
    /// that a committer outliving many loops does not keep them all.
    fn forget_closed_loops(&self, py: Python<'_>) {
        let inboxes: Vec<Arc<Inbox>> = lock(&self.inboxes).clone();
        // Python code runs here, so without the lock.
        let closed: Vec<Arc<Inbox>> = inboxes
            .into_iter()
            .filter(|i| {
                let is_closed = i.event_loop.call_method0(py, intern!(py, "is_closed"));
                is_closed.is_ok_and(|c| c.is_truthy(py).unwrap_or(false))
            })
            .collect();
        if closed.is_empty() {
            return;
        }
        lock(&self.inboxes).retain(|i| !closed.iter().any(|c| Arc::ptr_eq(i, c)));
    }

    /// Sends each ending where its future is resolved: an asyncio future's into its loop's
    /// inbox (asking the delivery thread to tell the loop if the inbox was empty). Returns
    /// those of `concurrent.futures.Future`s. Runs no Python code and needs no GIL.
    fn route(
        &self,
        endings: impl Iterator<Item = (Waiter, Ending)>,
        deliveries: &Sender<Delivery>,
    ) -> Vec<Arrival> {
        let mut threads = Vec::new();
        let mut loops: Vec<(Arc<Inbox>, Vec<Arrival>)> = Vec::new();
        for (waiter, ending) in endings {
            match waiter {
                Waiter::Thread(future) => threads.push(Arrival { future, ending }),
                Waiter::Loop { inbox, future } => {
                    let arrival = Arrival { future, ending };
                    match loops.iter_mut().find(|(i, _)| Arc::ptr_eq(i, &inbox)) {
                        Some((_, arrivals)) => arrivals.push(arrival),
                        None => loops.push((inbox, vec![arrival])),
                    }
                }
            }
        }
        for (inbox, arrivals) in loops {
            inbox.deliver(arrivals, deliveries);
        }
        threads
    }

    /// The delivery thread: everything that queued up while it held the GIL last time is
    /// delivered under the next single acquisition.
    fn run(&self, incoming: &Receiver<Delivery>) {
        while let Ok(first) = incoming.recv() {
            let mut arrivals = Vec::new();
            let mut wakes = Vec::new();
            let mut barriers = Vec::new();
            for delivery in std::iter::once(first).chain(incoming.try_iter()) {
                match delivery {
                    Delivery::Threads(list) => arrivals.extend(list),
                    Delivery::Wake(inbox) => wakes.push(inbox),
                    Delivery::Barrier(done) => barriers.push(done),
                }
            }
            if !arrivals.is_empty() || !wakes.is_empty() {
                // When the interpreter is shutting down nobody can be woken any more; the
                // futures are then simply dropped.
                Python::try_attach(|py| {
                    IN_SINK.with(|f| f.set(true));
                    drop(catch_unwind(AssertUnwindSafe(|| {
                        resolve_threads(py, arrivals);
                        for inbox in wakes {
                            inbox.call_soon(py);
                        }
                    })));
                    IN_SINK.with(|f| f.set(false));
                });
            }
            for done in barriers {
                done.send(()).ok();
            }
        }
    }
}

/// Resolves `concurrent.futures.Future`s here. concurrent.futures already catches and logs
/// exceptions raised by done-callbacks; whatever still escapes is reported, never
/// propagated.
fn resolve_threads(py: Python<'_>, arrivals: Vec<Arrival>) {
    for arrival in arrivals {
        if let (future, Err(e)) = arrival.apply(py) {
            e.write_unraisable(py, Some(future.bind(py)));
        }
    }
}

impl BatchSink for PySink {
    fn complete(&self, completions: Vec<(u64, Outcome)>) {
        // The lock is taken once per entry, not once for the batch: an event loop
        // registering its next submission would otherwise wait for the whole batch's
        // removals, long enough to park its thread (once per batch).
        let endings: Vec<(Waiter, Ending)> = completions
            .into_iter()
            .filter_map(|(token, outcome)| {
                let entry = lock(&self.shared.pending).remove(&token)?;
                Some((entry.waiter, Ending::Outcome(outcome, entry.returns)))
            })
            .collect();
        let threads = self.shared.route(endings.into_iter(), &self.deliveries);
        if !threads.is_empty() {
            // Fails only if the delivery thread is gone; then nobody can be woken anyway.
            drop(self.deliveries.send(Delivery::Threads(threads)));
        }
    }
}

/// The outcomes that arrived for one event loop's futures.
pub struct Inbox {
    event_loop: Py<PyAny>,
    /// The loop's `create_future`, looked up once.
    create_future: Py<PyAny>,
    /// A future of the loop, done with `None`: what a task's wake-up is handed when its
    /// `LoopFuture` gets a value (see `loop_future`).
    stand_in: Py<PyAny>,
    arrived: Mutex<Vec<Arrival>>,
}

impl Inbox {
    /// A new future of the loop (`loop.create_future()`).
    pub fn new_future<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.create_future.bind(py).call0()
    }

    fn is_for(&self, event_loop: &Bound<'_, PyAny>) -> bool {
        self.event_loop.as_ptr() == event_loop.as_ptr()
    }

    /// Adds `arrivals`; if the inbox was empty, asks the delivery thread to tell the loop
    /// (otherwise the loop has been told already and takes everything in one go).
    fn deliver(self: Arc<Self>, arrivals: Vec<Arrival>, deliveries: &Sender<Delivery>) {
        let was_empty = {
            let mut arrived = lock(&self.arrived);
            let was_empty = arrived.is_empty();
            arrived.extend(arrivals);
            was_empty
        };
        if was_empty {
            // Fails only if the delivery thread is gone; then nobody can be woken anyway.
            drop(deliveries.send(Delivery::Wake(self)));
        }
    }

    /// On the delivery thread: schedules the loop's [`LoopInbox`] callback. A closed loop
    /// raises RuntimeError: nobody can await its futures any more.
    fn call_soon(self: Arc<Self>, py: Python<'_>) {
        let handler = LoopInbox {
            inbox: Arc::clone(&self),
        };
        let Ok(handler) = Py::new(py, handler) else {
            return;
        };
        let event_loop = self.event_loop.bind(py);
        drop(event_loop.call_method1(intern!(py, "call_soon_threadsafe"), (handler,)));
    }

    /// On the loop: resolves every future whose outcome arrived. Then raises the first
    /// `KeyboardInterrupt` or `SystemExit` a woken task raised, which stops the loop.
    fn resolve(&self, py: Python<'_>) -> PyResult<()> {
        let arrived = std::mem::take(&mut *lock(&self.arrived));
        let stand_in = self.stand_in.bind(py);
        let mut exit = None;
        for arrival in arrived {
            if let Ok(future) = arrival.future.bind(py).cast::<LoopFuture>() {
                let resolved =
                    loop_future::resolve_here(future, arrival.ending.into_py(py), stand_in);
                if let Err(e) = resolved {
                    exit.get_or_insert(e);
                }
                continue;
            }
            let (future, applied) = arrival.apply(py);
            let Err(e) = applied else {
                continue;
            };
            // A future whose task was cancelled is done already; its transaction committed
            // (or failed) anyway and nobody is waiting for the outcome.
            let future = future.bind(py);
            let done = future.call_method0(intern!(py, "done"));
            if !done.is_ok_and(|d| d.is_truthy().unwrap_or(false)) {
                e.write_unraisable(py, Some(future));
            }
        }
        exit.map_or(Ok(()), Err)
    }
}

/// The callback that resolves, on its event loop, the futures whose outcomes arrived in
/// the loop's inbox.
#[pyclass(module = "litecommit._litecommit", frozen)]
pub struct LoopInbox {
    inbox: Arc<Inbox>,
}

#[pymethods]
impl LoopInbox {
    fn __call__(&self, py: Python<'_>) -> PyResult<()> {
        self.inbox.resolve(py)
    }

    /// How many outcomes wait for the loop.
    fn __len__(&self) -> usize {
        lock(&self.inbox.arrived).len()
    }
}
