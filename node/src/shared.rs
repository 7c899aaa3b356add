//! What a committer's JavaScript object, its pool tasks and its exit hooks share: the core
//! committer, its sink, and the submissions waiting for room in the core's bounded queue.
//!
//! Submissions that find the queue full wait here, already converted, so that whatever
//! ends the JavaScript side (close, garbage collection, `process.exit()`,
//! `worker.terminate()`) can still hand them to the core.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

use litecommit::{Committer, Error as CoreError, Transaction, Wait};

use crate::errors::CoreResult;
use crate::sink::Sink;

/// Whether a submission may wait for room when the core's queue is full.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Wait, behind earlier waiting submissions (`execute`, `transaction`).
    Wait,
    /// Fail at once with `QueueFull` (`tryExecute`, `tryTransaction`).
    Fail,
}

impl WhenFull {
    /// `Wait` when `wait` is set: index.js passes a boolean.
    pub fn from_wait(wait: bool) -> WhenFull {
        if wait {
            WhenFull::Wait
        } else {
            WhenFull::Fail
        }
    }
}

/// Submissions waiting for room in the core's queue, in submission order.
#[derive(Default)]
struct Waiting {
    list: VecDeque<(u64, Transaction)>,
    /// Set once [`Shared::hand_over`] started: it alone moves the list into the core.
    handing_over: bool,
}

/// The state shared by a committer's JavaScript object, pool tasks and exit hooks.
pub struct Shared {
    /// Shared so that a close after garbage collection can run on a thread of its own.
    pub core: Arc<Committer>,
    pub sink: Arc<Sink>,
    capacity: usize,
    waiting: Mutex<Waiting>,
}

impl Shared {
    /// Wraps an open core committer whose completions go to `sink`.
    pub fn new(core: Committer, sink: Arc<Sink>) -> Shared {
        Shared {
            capacity: core.config().queue_capacity,
            core: Arc::new(core),
            sink,
            waiting: Mutex::new(Waiting::default()),
        }
    }

    fn waiting(&self) -> MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `tx` without blocking. `Ok(Some(tx))` gives it back when the queue is full
    /// and `when_full` is `Wait`; other errors (closed, refused, full with `Fail`) are final.
    fn offer(
        &self,
        token: u64,
        tx: Transaction,
        when_full: WhenFull,
    ) -> CoreResult<Option<Transaction>> {
        // Only this committer's own messages fill its queue, and `in_core` counts every one
        // of them: below the capacity there is room, and the copy kept for a full queue is
        // only needed at or above it.
        let before = self.sink.in_core.fetch_add(1, Ordering::AcqRel);
        let spare = (when_full == WhenFull::Wait && before >= self.capacity).then(|| tx.clone());
        match self
            .core
            .submit_to_sink(tx, self.sink.clone(), token, Wait::Never)
        {
            Ok(()) => Ok(None),
            Err(e) => {
                self.sink.in_core.fetch_sub(1, Ordering::AcqRel);
                match (e, spare) {
                    (CoreError::QueueFull, Some(tx)) => Ok(Some(tx)),
                    (e, _) => Err(e),
                }
            }
        }
    }

    /// Accepts a submission from JavaScript: queued, or (with `Wait`) waiting for room
    /// behind earlier waiting ones. `Err` means it was not accepted.
    pub fn accept(&self, token: u64, tx: Transaction, when_full: WhenFull) -> CoreResult<()> {
        self.accept_locked(&mut self.waiting(), token, tx, when_full)
    }

    /// Accepts `txs` under the tokens `first`, `first + 1`, ... in order, as [`Shared::accept`]
    /// would one by one. `Err((n, e))`: the first `n` were accepted, the one after failed
    /// with `e` and the rest were not tried.
    pub fn accept_many(
        &self,
        first: u64,
        txs: Vec<Transaction>,
        when_full: WhenFull,
    ) -> Result<(), (usize, CoreError)> {
        let mut waiting = self.waiting();
        for (i, tx) in txs.into_iter().enumerate() {
            self.accept_locked(&mut waiting, first + i as u64, tx, when_full)
                .map_err(|e| (i, e))?;
        }
        Ok(())
    }

    /// [`Shared::accept`], with the waiting list already locked.
    fn accept_locked(
        &self,
        waiting: &mut Waiting,
        token: u64,
        tx: Transaction,
        when_full: WhenFull,
    ) -> CoreResult<()> {
        if waiting.handing_over {
            return Err(CoreError::Closed);
        }
        if !waiting.list.is_empty() {
            if when_full == WhenFull::Fail {
                return Err(CoreError::QueueFull);
            }
            waiting.list.push_back((token, tx));
            return Ok(());
        }
        if let Some(tx) = self.offer(token, tx, when_full)? {
            waiting.list.push_back((token, tx));
        }
        Ok(())
    }

    /// Moves waiting submissions into the queue while it has room; one that cannot be
    /// queued at all (closed, refused) is rejected through the sink.
    pub fn drain(&self) {
        let mut waiting = self.waiting();
        if waiting.handing_over {
            return;
        }
        while let Some((token, tx)) = waiting.list.pop_front() {
            match self.offer(token, tx, WhenFull::Wait) {
                Ok(None) => {}
                Ok(Some(tx)) => {
                    waiting.list.push_front((token, tx));
                    break;
                }
                Err(e) => self.sink.deliver(vec![(token, Err(e))]),
            }
        }
    }

    /// The token of the first waiting submission.
    pub fn first_waiting(&self) -> Option<u64> {
        self.waiting().list.front().map(|(token, _)| *token)
    }

    /// Runs a flush barrier, counted in `in_core` while it takes a queue slot; then moves
    /// in what waits, since no batch (whose arrival drains too) may follow the barrier.
    pub fn flush(&self) -> CoreResult<()> {
        {
            // Counted under the lock every `offer` holds: an `offer` that saw room queues
            // before this barrier is sent, and one after it counts the barrier's slot.
            let _waiting = self.waiting();
            self.sink.in_core.fetch_add(1, Ordering::AcqRel);
        }
        let flushed = self.core.flush();
        self.sink.in_core.fetch_sub(1, Ordering::AcqRel);
        self.drain();
        flushed
    }

    /// Hands every waiting submission to the core with blocking submits, in order; one the
    /// core does not take (it was closed) is rejected through the sink. Never drops one.
    fn hand_over(&self) {
        self.waiting().handing_over = true;
        loop {
            let next = self.waiting().list.pop_front();
            let Some((token, tx)) = next else { break };
            self.sink.in_core.fetch_add(1, Ordering::AcqRel);
            if let Err(e) = self
                .core
                .submit_to_sink(tx, self.sink.clone(), token, Wait::Block)
            {
                self.sink.in_core.fetch_sub(1, Ordering::AcqRel);
                self.sink.deliver(vec![(token, Err(e))]);
            }
        }
    }

    /// Hands over what waits, then closes (committing everything queued).
    pub fn shutdown(&self) -> CoreResult<()> {
        self.hand_over();
        self.core.close()
    }
}

impl Drop for Shared {
    /// Garbage-collected unclosed: nothing accepted is dropped. With nothing in the core or
    /// waiting, the close (a checkpoint and an fsync) runs on a thread of its own so that it
    /// does not stall the JavaScript thread, where the garbage collector drops this.
    fn drop(&mut self) {
        let idle = self.waiting().list.is_empty() && self.sink.in_core.load(Ordering::Acquire) == 0;
        if idle && !self.core.is_closed() {
            let core = Arc::clone(&self.core);
            let closing = thread::Builder::new()
                .name("litecommit-close".into())
                .spawn(move || drop(core.close()));
            if closing.is_ok() {
                return;
            }
        }
        let _ = catch_unwind(AssertUnwindSafe(|| self.shutdown()));
    }
}
