//! How a submitter learns that its transaction is durable: a handle to wait on, a future, a
//! callback, or a batch sink that receives all completions of one batch in one call.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::slot::{RelayBatch, Slot};
use crate::transaction::TransactionResult;

/// The outcome of one transaction.
pub type Outcome = Result<TransactionResult>;

/// Receives the completions of one batch in one call, on the writer thread.
///
/// This is how bindings resolve a whole batch of promises with one GIL acquisition or one
/// threadsafe call. `complete` must not block for long and must not submit to the same
/// committer and wait (that would deadlock the writer). A panic in it is caught.
pub trait BatchSink: Send + Sync + 'static {
    /// Called once per batch with every `(token, outcome)` of that batch for this sink,
    /// in submission order.
    fn complete(&self, completions: Vec<(u64, Outcome)>);
}

/// A handle on a submitted transaction; [`Pending::wait`] blocks until it is durable.
#[derive(Debug)]
pub struct Pending {
    /// Where the writer leaves the outcome.
    slot: Arc<Slot>,
}

impl Pending {
    /// Blocks until the transaction is committed (or rejected).
    pub fn wait(self) -> Outcome {
        self.slot.wait(None).unwrap_or_else(|| Err(dropped_error()))
    }

    /// Like [`Pending::wait`] with an upper bound; `Err(Error::Timeout)` when it runs out
    /// (the transaction may still commit later).
    pub fn wait_timeout(&self, timeout: Duration) -> Outcome {
        self.slot
            .wait(Some(Instant::now() + timeout))
            .unwrap_or(Err(Error::Timeout))
    }

    /// The outcome if it is already known, without blocking; it is then taken (a later call
    /// gets an internal error).
    pub fn try_get(&self) -> Option<Outcome> {
        self.slot.try_take()
    }
}

fn dropped_error() -> Error {
    Error::Internal("the writer stopped before this transaction completed".into())
}

type Callback = Box<dyn FnOnce(Outcome) + Send>;

/// Where one transaction's outcome goes. Dropping an unanswered `Reply` (a panic in the
/// writer, a queue dropped at shutdown) answers it with an error, so nobody waits forever.
pub(crate) struct Reply {
    /// Where the outcome goes; `None` once answered or disarmed.
    target: Option<Target>,
    /// When it was submitted, for the commit latency.
    pub(crate) submitted: Instant,
}

/// The ways a submitter learns the outcome.
enum Target {
    /// A [`Pending`] handle or a [`PendingFuture`](crate::PendingFuture) awaits this slot.
    Slot(Arc<Slot>),
    /// A callback run on the writer thread.
    Callback(Callback),
    /// A batch sink, with the submitter's token.
    Sink(Arc<dyn BatchSink>, u64),
}

impl Reply {
    pub(crate) fn handle() -> (Reply, Pending) {
        let (reply, slot) = Reply::future();
        (reply, Pending { slot })
    }

    /// A reply for a [`PendingFuture`](crate::PendingFuture), and the slot it awaits.
    pub(crate) fn future() -> (Reply, Arc<Slot>) {
        let slot = Slot::new();
        (Reply::new(Target::Slot(Arc::clone(&slot))), slot)
    }

    pub(crate) fn callback(f: impl FnOnce(Outcome) + Send + 'static) -> Reply {
        Reply::new(Target::Callback(Box::new(f)))
    }

    pub(crate) fn sink(sink: Arc<dyn BatchSink>, token: u64) -> Reply {
        Reply::new(Target::Sink(sink, token))
    }

    /// Forgets the target without answering it (the submitter got an error instead).
    pub(crate) fn disarm(&mut self) {
        self.target = None;
    }

    fn new(target: Target) -> Reply {
        Reply {
            target: Some(target),
            submitted: Instant::now(),
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if self.target.is_some() {
            let mut batch = Completions::default();
            batch.push(self, Err(dropped_error()));
            batch.deliver();
        }
    }
}

/// The completions of one batch for one sink.
struct SinkBatch {
    /// The sink.
    sink: Arc<dyn BatchSink>,
    /// Its `(token, outcome)` pairs, in submission order.
    completions: Vec<(u64, Outcome)>,
}

/// Delivers the outcomes of one batch: handles, futures and callbacks at once, sinks once
/// each (in [`Completions::deliver`]) with all of their completions.
#[derive(Default)]
pub(crate) struct Completions {
    /// The sink completions gathered so far, one entry per sink.
    sinks: Vec<SinkBatch>,
    /// How many completions to make room for in a sink's list at once.
    expected: usize,
    /// The outcomes whose threads are woken as a relay.
    relay: RelayBatch,
}

impl Completions {
    /// Completions for a batch of `n` transactions.
    pub(crate) fn for_batch(n: usize) -> Completions {
        Completions {
            sinks: Vec::new(),
            expected: n,
            relay: RelayBatch::default(),
        }
    }

    pub(crate) fn push(&mut self, reply: &mut Reply, outcome: Outcome) {
        match reply.target.take() {
            Some(Target::Sink(sink, token)) => {
                match self.sinks.iter_mut().find(|b| Arc::ptr_eq(&b.sink, &sink)) {
                    Some(batch) => batch.completions.push((token, outcome)),
                    None => {
                        let mut completions = Vec::with_capacity(self.expected.max(1));
                        completions.push((token, outcome));
                        self.sinks.push(SinkBatch { sink, completions });
                    }
                }
            }
            // The waiter may have given up (dropped its handle); that is fine.
            Some(Target::Slot(slot)) => slot.complete_in(outcome, &mut self.relay),
            Some(Target::Callback(f)) => drop(catch_unwind(AssertUnwindSafe(|| f(outcome)))),
            None => {}
        }
    }

    pub(crate) fn deliver(self) {
        self.relay.deliver();
        for SinkBatch { sink, completions } in self.sinks {
            drop(catch_unwind(AssertUnwindSafe(|| {
                sink.complete(completions)
            })));
        }
    }
}
