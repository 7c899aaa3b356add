//! Resolves Python futures: every completion of one batch with one GIL acquisition, and one
//! `call_soon_threadsafe` per event loop per batch.
//!
//! The writer hands each batch's completions to a delivery thread and goes on committing:
//! it never waits for the GIL (which a busy event loop may hold for milliseconds) and never
//! runs Python code. The delivery thread takes the GIL once for everything that is waiting.

use std::cell::Cell;
use std::collections::HashMap;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, TryLockError};

use litecommit::{BatchSink, Outcome};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::convert::{results_to_py, Returns};
use crate::errors;

/// Who waits for a transaction.
pub enum Waiter {
    /// A `concurrent.futures.Future`, resolved on the delivery thread (its done-callbacks
    /// run there too).
    Thread(Py<PyAny>),
    /// An asyncio future, resolved on its own loop by a [`ResolveBatch`].
    Loop {
        event_loop: Py<PyAny>,
        future: Py<PyAny>,
    },
}

/// One submitted transaction: who waits for it and what it resolves to.
pub struct Entry {
    pub waiter: Waiter,
    pub returns: Returns,
}

/// The core's [`BatchSink`] for Python: it hands each batch's completions to the delivery
/// thread and keeps the entries they resolve.
pub struct PySink {
    shared: Arc<Shared>,
    deliveries: Sender<Delivery>,
}

#[derive(Default)]
struct Shared {
    pending: Mutex<HashMap<u64, Entry>>,
    next_token: AtomicU64,
}

enum Delivery {
    Batch(Vec<(u64, Outcome)>),
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
        self.shared.lock().insert(token, entry);
        token
    }

    /// Registers `entries` under consecutive tokens (one lock for all); returns the range.
    pub fn register_many(&self, entries: Vec<Entry>) -> Range<u64> {
        let count = entries.len() as u64;
        let first = self.shared.next_token.fetch_add(count, Ordering::Relaxed);
        let mut pending = self.shared.lock();
        pending.reserve(entries.len());
        pending.extend((first..).zip(entries));
        first..first + count
    }

    /// Takes back an entry whose submission failed (no completion will come for it).
    pub fn forget(&self, token: u64) -> Option<Entry> {
        self.shared.lock().remove(&token)
    }

    /// Takes back the entries of `tokens`, submissions that failed (no completion will come
    /// for them). Drop them with the GIL held.
    pub fn forget_many(&self, tokens: Range<u64>) -> Vec<Entry> {
        let mut pending = self.shared.lock();
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
            (entry.waiter, Settlement::Exception(exc))
        });
        settle(py, failed);
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

    /// In a forked child: takes the futures still waiting for a transaction, in submission
    /// order. None if a parent thread held their lock at the fork: that thread does not exist
    /// in the child, so waiting for the lock would never end.
    pub fn take_inherited(&self) -> Vec<Py<PyAny>> {
        let mut pending = match self.shared.pending.try_lock() {
            Ok(pending) => pending,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return Vec::new(),
        };
        let mut entries: Vec<(u64, Entry)> = pending.drain().collect();
        entries.sort_unstable_by_key(|(token, _)| *token);
        entries
            .into_iter()
            .map(|(_, entry)| match entry.waiter {
                Waiter::Thread(future) | Waiter::Loop { future, .. } => future,
            })
            .collect()
    }

    /// Waits until every completion handed over so far is delivered. Call it without the
    /// GIL (the delivery thread needs it); from a done-callback it returns at once.
    pub fn drain(&self) {
        if let Some(wait) = self.barrier() {
            wait.recv().ok();
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The delivery thread: everything that queued up while it held the GIL last time is
    /// delivered under the next single acquisition.
    fn run(&self, incoming: &Receiver<Delivery>) {
        while let Ok(first) = incoming.recv() {
            let mut entries = Vec::new();
            let mut barriers = Vec::new();
            {
                let mut pending = self.lock();
                for delivery in std::iter::once(first).chain(incoming.try_iter()) {
                    match delivery {
                        Delivery::Batch(list) => entries.extend(
                            list.into_iter()
                                .filter_map(|(t, o)| pending.remove(&t).map(|e| (e, o))),
                        ),
                        Delivery::Barrier(done) => barriers.push(done),
                    }
                }
            }
            if !entries.is_empty() {
                // When the interpreter is shutting down nobody can be woken any more; the
                // entries are then simply dropped.
                Python::try_attach(|py| {
                    IN_SINK.with(|f| f.set(true));
                    drop(catch_unwind(AssertUnwindSafe(|| deliver(py, entries))));
                    IN_SINK.with(|f| f.set(false));
                });
            }
            for done in barriers {
                done.send(()).ok();
            }
        }
    }
}

fn deliver(py: Python<'_>, entries: Vec<(Entry, Outcome)>) {
    let settled = entries.into_iter().map(|(entry, outcome)| {
        let settlement = Settlement::of(py, outcome, entry.returns);
        (entry.waiter, settlement)
    });
    settle(py, settled);
}

/// Resolves each waiter as its settlement says: a `concurrent.futures.Future` here, the
/// asyncio futures of each event loop with one `call_soon_threadsafe` per loop.
fn settle<'py>(
    py: Python<'py>,
    settled: impl Iterator<Item = (Waiter, Settlement<Bound<'py, PyAny>>)>,
) {
    let mut loops: Vec<LoopBatch> = Vec::new();
    for (waiter, settlement) in settled {
        match waiter {
            Waiter::Thread(future) => {
                // concurrent.futures already catches and logs exceptions raised by
                // done-callbacks; whatever still escapes is reported, never propagated.
                if let Err(e) = settlement.apply(future.bind(py)) {
                    e.write_unraisable(py, Some(future.bind(py)));
                }
            }
            Waiter::Loop { event_loop, future } => {
                let item = Resolution {
                    future,
                    settlement: settlement.unbind(),
                };
                match loops
                    .iter_mut()
                    .find(|l| l.event_loop.as_ptr() == event_loop.as_ptr())
                {
                    Some(batch) => batch.items.push(item),
                    None => loops.push(LoopBatch {
                        event_loop,
                        items: vec![item],
                    }),
                }
            }
        }
    }
    for LoopBatch { event_loop, items } in loops {
        let batch = ResolveBatch {
            items: Mutex::new(items),
        };
        let Ok(batch) = Py::new(py, batch) else {
            continue;
        };
        // A closed loop raises RuntimeError: nobody can await its futures any more.
        drop(event_loop.call_method1(py, intern!(py, "call_soon_threadsafe"), (batch,)));
    }
}

/// The futures of one event loop within one delivery.
struct LoopBatch {
    event_loop: Py<PyAny>,
    items: Vec<Resolution>,
}

/// How a future is resolved: with a value, or failed with an exception instance.
enum Settlement<T> {
    Result(T),
    Exception(T),
}

impl<'py> Settlement<Bound<'py, PyAny>> {
    /// The Python outcome of a transaction; a failed conversion fails the future.
    fn of(py: Python<'py>, outcome: Outcome, returns: Returns) -> Self {
        let converted = match outcome {
            Ok(result) => results_to_py(py, result, returns).map(Settlement::Result),
            Err(err) => errors::instance(py, &err).map(Settlement::Exception),
        };
        converted.unwrap_or_else(|e| Settlement::Exception(e.value(py).clone().into_any()))
    }

    /// The same, kept beyond this GIL acquisition.
    fn unbind(self) -> Settlement<Py<PyAny>> {
        match self {
            Settlement::Result(v) => Settlement::Result(v.unbind()),
            Settlement::Exception(e) => Settlement::Exception(e.unbind()),
        }
    }

    /// Calls `future.set_result(value)` or `future.set_exception(exc)`.
    fn apply(self, future: &Bound<'py, PyAny>) -> PyResult<()> {
        let py = future.py();
        let (method, value): (&Bound<'py, PyString>, _) = match self {
            Settlement::Result(v) => (intern!(py, "set_result"), v),
            Settlement::Exception(e) => (intern!(py, "set_exception"), e),
        };
        future.call_method1(method, (value,)).map(drop)
    }
}

impl Settlement<Py<PyAny>> {
    /// The same, usable under the GIL held by `py`.
    fn bind(self, py: Python<'_>) -> Settlement<Bound<'_, PyAny>> {
        match self {
            Settlement::Result(v) => Settlement::Result(v.into_bound(py)),
            Settlement::Exception(e) => Settlement::Exception(e.into_bound(py)),
        }
    }
}

/// An asyncio future and how to resolve it on its loop.
struct Resolution {
    future: Py<PyAny>,
    settlement: Settlement<Py<PyAny>>,
}

/// The asyncio futures of one batch on one event loop; the loop calls it once, through
/// `call_soon_threadsafe`, and it resolves them all.
#[pyclass(module = "litecommit._litecommit", frozen)]
pub struct ResolveBatch {
    items: Mutex<Vec<Resolution>>,
}

#[pymethods]
impl ResolveBatch {
    fn __call__(&self, py: Python<'_>) {
        let items = std::mem::take(&mut *self.items.lock().unwrap_or_else(|p| p.into_inner()));
        for Resolution { future, settlement } in items {
            let future = future.bind(py);
            // A future whose task was cancelled is done already; its transaction committed
            // (or failed) anyway and nobody is waiting for the outcome.
            let done = future
                .call_method0(intern!(py, "done"))
                .and_then(|d| d.is_truthy());
            if !matches!(done, Ok(false)) {
                continue;
            }
            if let Err(e) = settlement.bind(py).apply(future) {
                e.write_unraisable(py, Some(future));
            }
        }
    }

    fn __len__(&self) -> usize {
        self.items.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl BatchSink for PySink {
    fn complete(&self, completions: Vec<(u64, Outcome)>) {
        // Fails only if the delivery thread is gone; then nobody can be woken anyway.
        drop(self.deliveries.send(Delivery::Batch(completions)));
    }
}
