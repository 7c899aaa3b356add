//! The async API: futures that wait for room in the queue and for durability without
//! blocking a thread, on any executor (they use only [`std::task::Waker`]).
//!
//! Two pieces of shared state back them:
//! - a [`Slot`] per transaction (see `slot`), where the writer leaves the outcome and wakes
//!   the task that awaits it (the one allocation an async submit adds);
//! - the [`Room`] of a committer: the wakers of the futures waiting for room in a full
//!   queue. The writer wakes one each time it takes a message off the queue; when nobody
//!   waits, that costs it one fence and one load per message.

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::committer::{Committer, HandOver};
use crate::completion::{Outcome, Reply};
use crate::error::Result;
use crate::slot::{taken_again, Slot};
use crate::transaction::Transaction;
use crate::value::Params;
use crate::writer::Msg;

impl Committer {
    /// Queues a transaction without blocking: the future waits (as a task, not a thread)
    /// while the queue is full, and resolves to a [`PendingFuture`] once the transaction is
    /// queued, like [`Committer::submit`] does. Await that one for the outcome.
    ///
    /// Nothing happens before the first poll. Dropped while it waits for room, the future
    /// queues nothing. Once it resolved, the transaction commits (or fails) whether or not
    /// anyone awaits its outcome.
    ///
    /// Fails with [`Error::Closed`](crate::Error::Closed) after [`Committer::close`], also when closing starts
    /// while it waits for room, and with the errors [`Committer::submit`] gives for
    /// refused statements or invalid parameters.
    pub fn submit_async(&self, tx: impl Into<Transaction>) -> SubmitFuture<'_> {
        SubmitFuture {
            committer: self,
            stage: Stage::New(tx.into()),
            waiting: None,
        }
    }

    /// Runs a transaction and resolves to its outcome once it is durable: the async
    /// [`Committer::transaction`]. Waits for room in a full queue without blocking.
    ///
    /// Dropping the future before it resolves does not cancel the transaction once it was
    /// queued: it still commits (or fails); only the wait for its outcome is given up.
    /// Dropped while it waits for room, it queues nothing.
    pub fn transaction_async(&self, tx: impl Into<Transaction>) -> TransactionFuture<'_> {
        TransactionFuture {
            stage: TxStage::Submitting(self.submit_async(tx)),
        }
    }

    /// Runs one statement as a transaction and resolves to its outcome once it is durable:
    /// the async [`Committer::execute`]. Dropping the future does not cancel the statement
    /// once it was queued (see [`Committer::transaction_async`]).
    pub fn execute_async(&self, sql: &str, params: impl Into<Params>) -> TransactionFuture<'_> {
        self.transaction_async(Transaction::single(sql.to_owned(), params))
    }
}

/// Queues a transaction, waiting for room in the queue; resolves to a [`PendingFuture`].
/// Made by [`Committer::submit_async`].
#[must_use = "futures do nothing unless polled"]
pub struct SubmitFuture<'a> {
    /// Where it goes.
    committer: &'a Committer,
    /// What it holds now.
    stage: Stage,
    /// Its key among the waiters for room, once it has one. It keeps it after a wake, so
    /// that if the room it was woken for is taken by someone else, it waits again in its
    /// old place.
    waiting: Option<u64>,
}

/// The stages of a [`SubmitFuture`].
enum Stage {
    /// Not polled yet.
    New(Transaction),
    /// Checked, and waiting for room: the message to queue and the outcome's slot.
    Sending(Msg, Arc<Slot>),
    /// Queued, or failed.
    Finished,
}

impl Future for SubmitFuture<'_> {
    type Output = Result<PendingFuture>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (msg, slot) = match std::mem::replace(&mut this.stage, Stage::Finished) {
            Stage::New(tx) => {
                if let Err(e) = this.committer.check(&tx) {
                    return Poll::Ready(Err(e));
                }
                let (reply, slot) = Reply::future();
                (Msg::Tx(tx, reply), slot)
            }
            Stage::Sending(msg, slot) => (msg, slot),
            Stage::Finished => return Poll::Ready(Err(taken_again())),
        };
        this.send(msg, slot, cx)
    }
}

impl SubmitFuture<'_> {
    /// Tries to queue `msg`; while the queue is full, registers as a waiter for room (then
    /// tries once more, so that room made meanwhile is not missed) and returns `Pending`.
    fn send(
        &mut self,
        mut msg: Msg,
        slot: Arc<Slot>,
        cx: &Context<'_>,
    ) -> Poll<<Self as Future>::Output> {
        let room = self.committer.room();
        loop {
            match self.committer.hand_over(msg) {
                HandOver::Queued => {
                    self.stop_waiting(true);
                    return Poll::Ready(Ok(PendingFuture { slot }));
                }
                HandOver::Failed(e) => {
                    self.stop_waiting(false);
                    return Poll::Ready(Err(e));
                }
                HandOver::Full(back) => msg = back,
            }
            match self.waiting {
                Some(key) if room.rewait(key, cx.waker()) => {
                    self.stage = Stage::Sending(msg, slot);
                    return Poll::Pending;
                }
                // Not waiting yet, or woken: (re)registered, then tried again.
                key => self.waiting = Some(room.wait(key, cx.waker())),
            }
        }
    }

    /// Leaves the waiters for room, if it is one of them. `queued`: it took the room it
    /// may have been woken for; otherwise that wake goes to the next waiter.
    fn stop_waiting(&mut self, queued: bool) {
        if let Some(key) = self.waiting.take() {
            self.committer.room().leave(key, queued);
        }
    }
}

impl Drop for SubmitFuture<'_> {
    fn drop(&mut self) {
        self.stop_waiting(false);
        if let Stage::Sending(Msg::Tx(_, reply), _) = &mut self.stage {
            // Never queued: nobody waits for its outcome.
            reply.disarm();
        }
    }
}

/// The outcome of a queued transaction, once it is durable (or rejected): the async
/// [`Pending`](crate::Pending). Dropping it does not cancel the transaction.
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct PendingFuture {
    /// Where the writer leaves the outcome.
    slot: Arc<Slot>,
}

impl PendingFuture {
    /// The outcome if it is already known, without waiting; it is then taken (a later poll
    /// or call gets an internal error).
    pub fn try_get(&self) -> Option<Outcome> {
        self.slot.try_take()
    }
}

impl Future for PendingFuture {
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        self.slot.poll(cx.waker())
    }
}

/// Runs a transaction: queues it, then waits for its outcome. Made by
/// [`Committer::transaction_async`] and [`Committer::execute_async`].
#[must_use = "futures do nothing unless polled"]
pub struct TransactionFuture<'a> {
    /// Queuing, or waiting for the outcome.
    stage: TxStage<'a>,
}

/// The stages of a [`TransactionFuture`].
enum TxStage<'a> {
    /// Waiting for room in the queue.
    Submitting(SubmitFuture<'a>),
    /// Queued: waiting for the outcome.
    Waiting(PendingFuture),
}

impl Future for TransactionFuture<'_> {
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let this = self.get_mut();
        if let TxStage::Submitting(submit) = &mut this.stage {
            match Pin::new(submit).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(pending)) => this.stage = TxStage::Waiting(pending),
            }
        }
        match &mut this.stage {
            TxStage::Waiting(pending) => Pin::new(pending).poll(cx),
            TxStage::Submitting(_) => Poll::Pending,
        }
    }
}

/// Wakes a task; a panic in its executor's waker does not unwind into the caller (the
/// writer thread).
pub(crate) fn wake(waker: Waker) {
    drop(catch_unwind(AssertUnwindSafe(|| waker.wake())));
}

/// The futures waiting for room in a full queue, longest-waiting first.
///
/// No waiter is lost: a waiter registers (count, then a SeqCst fence), then tries the queue
/// again; the writer takes messages off the queue, then (before it waits for more, so at
/// most a batch's gathering later) fences, reads the count, and wakes one waiter per
/// message taken. By the fences' total order, either the writer sees the waiter and wakes
/// it, or the waiter's second try sees the room. A woken waiter that gives up without
/// queuing (it was dropped, or failed) passes the wake on; closing wakes every waiter.
#[derive(Default)]
pub(crate) struct Room {
    /// How many wait: read by the writer without taking the lock.
    waiting: AtomicUsize,
    /// The waiters.
    waiters: Mutex<Waiters>,
}

/// What a [`Room`]'s lock guards.
#[derive(Default)]
struct Waiters {
    /// The next waiter's key: keys grow, so the smallest waited longest.
    next_key: u64,
    /// Each waiter's waker, by key.
    wakers: BTreeMap<u64, Waker>,
}

impl Room {
    /// Called by the writer after it took `n` messages off the queue (before it waits for
    /// more): wakes up to `n` waiters, those that waited longest first.
    #[inline]
    pub(crate) fn freed(&self, n: usize) {
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::Relaxed) != 0 {
            self.wake_first(n);
        }
    }

    /// Wakes every waiter (closing started: each of them fails with `Closed`).
    pub(crate) fn wake_all(&self) {
        let wakers = {
            let mut waiters = self.lock();
            let wakers = std::mem::take(&mut waiters.wakers);
            self.waiting.store(0, Ordering::Relaxed);
            wakers
        };
        wakers.into_values().for_each(wake);
    }

    /// How many futures wait for room now.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Registers a waiter, under `key` if it had one (its place in line), and returns its
    /// key. The caller must try the queue once more before it sleeps.
    fn wait(&self, key: Option<u64>, waker: &Waker) -> u64 {
        let mut waiters = self.lock();
        let key = key.unwrap_or_else(|| {
            waiters.next_key += 1;
            waiters.next_key
        });
        waiters.wakers.insert(key, waker.clone());
        self.waiting.store(waiters.wakers.len(), Ordering::Relaxed);
        drop(waiters);
        // Pairs with the writer's fence in `freed`.
        fence(Ordering::SeqCst);
        key
    }

    /// Keeps waiting under `key` with `waker`; `false` if it was woken since (it is no
    /// longer registered).
    fn rewait(&self, key: u64, waker: &Waker) -> bool {
        match self.lock().wakers.get_mut(&key) {
            Some(w) => {
                if !w.will_wake(waker) {
                    *w = waker.clone();
                }
                true
            }
            None => false,
        }
    }

    /// Removes the waiter `key`. If it had been woken and did not take the room
    /// (`queued == false`), wakes the next waiter in its place.
    fn leave(&self, key: u64, queued: bool) {
        let next = {
            let mut waiters = self.lock();
            let woken = waiters.wakers.remove(&key).is_none();
            let next = if woken && !queued {
                waiters.wakers.pop_first().map(|(_, w)| w)
            } else {
                None
            };
            self.waiting.store(waiters.wakers.len(), Ordering::Relaxed);
            next
        };
        if let Some(waker) = next {
            wake(waker);
        }
    }

    /// Wakes up to `n` waiters, those that waited longest first.
    #[cold]
    fn wake_first(&self, n: usize) {
        let first: Vec<Waker> = {
            let mut waiters = self.lock();
            let first = (0..n)
                .map_while(|_| waiters.wakers.pop_first().map(|(_, w)| w))
                .collect();
            self.waiting.store(waiters.wakers.len(), Ordering::Relaxed);
            first
        };
        first.into_iter().for_each(wake);
    }

    /// Locks the waiters (a panic while they were held does not poison them).
    fn lock(&self) -> MutexGuard<'_, Waiters> {
        self.waiters.lock().unwrap_or_else(|p| p.into_inner())
    }
}
