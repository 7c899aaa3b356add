//! How callers hand work to the writer: the messages of its queue, and the intake that lets
//! closing wait for callers still handing work over.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crossbeam_channel::Sender;

use crate::completion::Reply;
use crate::future::Room;
use crate::transaction::Transaction;

/// A message to the writer, in submission order.
pub(crate) enum Msg {
    /// A transaction to commit.
    Tx(Transaction, Reply),
    /// A barrier: answered once everything before it is committed.
    Flush(Sender<()>),
    /// Wakes the writer after [`Intake::close`]: it commits what is still queued or being
    /// handed over, then shuts down.
    Close,
    /// Makes the writer panic inside its next batch, between BEGIN and COMMIT.
    #[cfg(test)]
    Panic,
    /// Leaves the connection inside a transaction, as a ROLLBACK that failed would.
    #[cfg(test)]
    LeaveTransactionOpen,
    /// Makes the next `n` rollbacks of a transaction left open fail.
    #[cfg(test)]
    FailRollbacks(usize),
    /// Makes the final COMMIT of the next batch that gets that far fail.
    #[cfg(test)]
    FailFinalCommit,
    /// Makes the next WAL sync fail.
    #[cfg(test)]
    FailSync,
}

/// How callers hand work to the writer without holding a lock, so that nothing is held
/// while a submitter waits for room in a full queue.
///
/// A caller that finds `closed` set is refused without being counted. Otherwise it enters
/// (`inflight` + 1), checks `closed` again, and leaves once its send has returned. `close`
/// sets `closed`; a writer that has seen it stops only once the queue is empty and nobody
/// is inside. Both sides use SeqCst, so a caller that saw `closed == false` after entering
/// is counted by the time the writer looks, or its message is already queued: nothing is
/// left in the queue, and nobody waits for a writer that has stopped.
#[derive(Default)]
pub(crate) struct Intake {
    /// Closing started: no caller may enter any more.
    closed: AtomicBool,
    /// Callers inside: between their check of `closed` and the return of their send.
    inflight: AtomicUsize,
    /// The async submitters waiting for room in a full queue; they are not inside while
    /// they wait (each try enters and leaves), and closing wakes them to fail.
    pub(crate) room: Room,
}

impl Intake {
    /// Enters, unless closing started. The caller stays inside (keeps the guard) until its
    /// send has returned.
    pub(crate) fn enter(&self) -> Option<Entered<'_>> {
        if self.closed.load(Ordering::SeqCst) {
            return None;
        }
        // Counted before the check that matters, so that `close` cannot miss this caller.
        self.inflight.fetch_add(1, Ordering::SeqCst);
        if self.closed.load(Ordering::SeqCst) {
            self.inflight.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Entered(self))
    }

    /// Starts closing; `true` for the first caller only. Wakes the async submitters
    /// waiting for room: they find `closed` set and fail.
    pub(crate) fn close(&self) -> bool {
        let first = !self.closed.swap(true, Ordering::SeqCst);
        self.room.wake_all();
        first
    }

    /// Whether closing started.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Callers inside now: with a full queue, the submitters waiting for room.
    pub(crate) fn inside(&self) -> usize {
        self.inflight.load(Ordering::SeqCst)
    }
}

/// A caller inside the [`Intake`] (the one it entered); dropping it leaves.
pub(crate) struct Entered<'a>(&'a Intake);

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, Ordering::SeqCst);
    }
}
