//! Where the writer leaves one transaction's outcome for its handle or future, and how the
//! threads of a batch blocked on their handles are woken.
//!
//! Waking a parked thread is a system call. A batch of many blocking submitters would have
//! the writer make one per transaction between two commits, so threads blocked in an
//! untimed [`Slot::wait`] are woken as a relay instead: the writer wakes [`RELAY_START`]
//! of them, and each woken thread wakes [`RELAY_FAN_OUT`] more before it returns. Such a thread
//! cannot leave its wait without its outcome, so the relay never stops short. With
//! [`MANY_WAITING`] threads waiting, a new one parks with a [`Group`] of its CPU, and a
//! batch's groups are woken without a relay, each from its CPU ([`cpu_wake`]): a relay's
//! woken thread would wait behind the many others for a CPU before it passed the relay on.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Poll, Waker};
use std::thread::Thread;
use std::time::Instant;

use crate::completion::Outcome;
use crate::cpu_wake::{self, Group, Sleeper};
use crate::error::Error;
use crate::futex_hash;
use crate::future::wake;

/// Threads that each woken thread of a relay wakes.
const RELAY_FAN_OUT: usize = 4;

/// Threads the writer wakes itself to start a relay: a batch of up to this many threads
/// needs no relay at all, so small batches wait for no second wake-up.
const RELAY_START: usize = 8;

/// Times a waiter yields its CPU, checking its slot, before it parks, when at least
/// [`YIELD_MIN_WAITING`] and fewer than [`MANY_WAITING`] other threads wait. A yield is
/// one system call, and every other runnable thread runs before it returns, so a few span
/// the others' work on a batch; a thread whose outcome has not come by then would only
/// switch back and forth. Measured at 64 threads on 2 CPUs, 4 yields against 64: about
/// 15% more transactions/s at durability normal, and a fifth less CPU per transaction for
/// the same throughput at durability full (figures in docs/performance.md).
const YIELDS: usize = 4;

/// Threads blocked in [`Slot::wait`] from which a new one yields [`YIELDS`] times before it
/// parks. With many waiting, batches are large and follow each other closely, so an outcome
/// tends to come while its thread still yields; with few, a wait is about one commit's
/// sync, mostly longer than the yields would last, which would only burn CPU.
const YIELD_MIN_WAITING: usize = 16;

/// Threads blocked in [`Slot::wait`] from which the CPUs are crowded with them: a new one
/// parks in a [`Group`] without yielding (its yields would keep the writer off the CPU),
/// and a batch's threads are woken without a relay. Measured on 2 CPUs with 4,096 blocking
/// threads, all woken by the writer: 125k transactions/s against 100k with the relay, on
/// average over 8 runs each.
const MANY_WAITING: usize = 256;

/// Threads blocked in [`Slot::wait`] in this process.
static WAITING: AtomicUsize = AtomicUsize::new(0);

/// CPUs this process may run on (1 when unknown), read once.
pub(crate) fn cpus() -> usize {
    static CPUS: OnceLock<usize> = OnceLock::new();
    *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// A thread counted in [`WAITING`] until dropped.
struct Waiting {
    /// How many others were waiting when it entered.
    others: usize,
}

impl Waiting {
    fn enter() -> Waiting {
        Waiting {
            others: WAITING.fetch_add(1, Ordering::Relaxed),
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        WAITING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One transaction's outcome, for whoever waits for it.
#[derive(Debug)]
pub(crate) struct Slot {
    /// The outcome, or who waits for it.
    state: Mutex<SlotState>,
}

/// What a [`Slot`] holds.
#[derive(Debug)]
enum SlotState {
    /// No outcome yet.
    Waiting(Waiter),
    /// The outcome, not yet taken, and the relay its taker passes on.
    Done(Outcome, Option<Arc<Relay>>),
    /// The outcome was taken.
    Taken,
}

/// Who waits for a slot's outcome.
#[derive(Debug)]
enum Waiter {
    /// Nobody yet.
    Nobody,
    /// A task, with the waker of its latest poll.
    Task(Waker),
    /// A thread blocked in [`Slot::wait`] with a deadline.
    TimedThread(Thread),
    /// A thread blocked in [`Slot::wait`] until the outcome arrives, and the CPU it parked on.
    Thread(Thread, Option<u32>),
    /// A thread parked with its group until the outcome arrives.
    Group(Group),
}

impl Waiter {
    /// Wakes it at once.
    fn wake(self) {
        match self {
            Waiter::Nobody => {}
            Waiter::Task(waker) => wake(waker),
            Waiter::TimedThread(thread) | Waiter::Thread(thread, _) => thread.unpark(),
            Waiter::Group(group) => group.wake(),
        }
    }
}

/// The threads of one batch still to be woken.
#[derive(Debug)]
pub(crate) struct Relay {
    /// Every thread of the relay.
    threads: Vec<Thread>,
    /// The next one to wake.
    next: AtomicUsize,
}

impl Relay {
    /// Wakes the next `n` threads, if any are left.
    fn wake(&self, n: usize) {
        for _ in 0..n {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            match self.threads.get(i) {
                Some(thread) => thread.unpark(),
                None => return,
            }
        }
    }
}

/// The outcomes of one batch for slots whose threads are woken together.
#[derive(Default)]
pub(crate) struct RelayBatch {
    /// The slots and their outcomes.
    slots: Vec<(Arc<Slot>, Outcome)>,
    /// Their threads, with the CPU each parked on.
    threads: Vec<(Thread, Option<u32>)>,
    /// The groups of their threads; repeats may follow each other.
    groups: Vec<Group>,
}

impl RelayBatch {
    /// Leaves every outcome in its slot, then wakes their groups, and their threads: all at
    /// once with many waiting, else by starting a relay.
    pub(crate) fn deliver(mut self) {
        if self.slots.is_empty() {
            return;
        }
        let mut parked = Vec::new();
        let relay = if self.threads.is_empty() {
            None
        } else if WAITING.load(Ordering::Relaxed) >= MANY_WAITING {
            parked.extend(
                self.threads
                    .into_iter()
                    .map(|(thread, cpu)| (Sleeper::Thread(thread), cpu)),
            );
            None
        } else {
            Some(Arc::new(Relay {
                threads: self.threads.into_iter().map(|(thread, _)| thread).collect(),
                next: AtomicUsize::new(0),
            }))
        };
        for (slot, outcome) in self.slots {
            let mut state = slot.lock();
            let passes_relay = matches!(&*state, SlotState::Waiting(Waiter::Thread(..)));
            let relay = relay.as_ref().filter(|_| passes_relay).map(Arc::clone);
            let previous = std::mem::replace(&mut *state, SlotState::Done(outcome, relay));
            drop(state);
            // A thread in an untimed wait stays registered until it has the outcome.
            if let SlotState::Waiting(waiter) = previous {
                if !matches!(waiter, Waiter::Thread(..) | Waiter::Group(..)) {
                    waiter.wake();
                }
            }
        }
        if let Some(relay) = relay {
            relay.wake(RELAY_START);
        }
        self.groups.sort_unstable();
        self.groups.dedup();
        parked.extend(
            self.groups
                .into_iter()
                .map(|group| (Sleeper::Group(group), Some(group.cpu()))),
        );
        cpu_wake::wake(parked);
    }
}

impl Slot {
    /// An empty slot.
    pub(crate) fn new() -> Arc<Slot> {
        Arc::new(Slot {
            state: Mutex::new(SlotState::Waiting(Waiter::Nobody)),
        })
    }

    /// Leaves the outcome and wakes whoever waits for it (after letting go of the lock; a
    /// panicking waker is contained), except that a thread blocked in an untimed wait is
    /// left for `batch` to wake with the others of its batch.
    pub(crate) fn complete_in(self: Arc<Self>, outcome: Outcome, batch: &mut RelayBatch) {
        let state = self.lock();
        match &*state {
            SlotState::Waiting(Waiter::Group(group)) => {
                if batch.groups.last() != Some(group) {
                    batch.groups.push(*group);
                }
            }
            SlotState::Waiting(Waiter::Thread(thread, cpu)) => {
                batch.threads.push((thread.clone(), *cpu));
            }
            _ => return leave(state, outcome),
        }
        drop(state);
        batch.slots.push((self, outcome));
    }

    /// Takes the outcome if it is there, or leaves `waker` to be woken when it arrives.
    pub(crate) fn poll(&self, waker: &Waker) -> Poll<Outcome> {
        let mut state = self.lock();
        if let SlotState::Waiting(waiter) = &mut *state {
            match waiter {
                Waiter::Task(w) if w.will_wake(waker) => {}
                _ => *waiter = Waiter::Task(waker.clone()),
            }
            return Poll::Pending;
        }
        Poll::Ready(take(&mut state))
    }

    /// Takes the outcome if it is there, without waiting.
    pub(crate) fn try_take(&self) -> Option<Outcome> {
        let mut state = self.lock();
        match *state {
            SlotState::Waiting(_) => None,
            _ => Some(take(&mut state)),
        }
    }

    /// Blocks the calling thread until the outcome arrives or `deadline` passes (then
    /// `None`; the outcome stays for a later call).
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> Option<Outcome> {
        // A short spin while fewer threads wait than there are CPUs, and yields (which let
        // the writer run) while many wait, before parking: an outcome that arrives meanwhile
        // costs neither side a system call to wake, and its thread submits its next
        // transaction in time for the next batch. A spinning thread without a CPU of its
        // own only delays the writer and the threads whose outcomes are there.
        let waiting = Waiting::enter();
        if waiting.others < cpus() {
            let backoff = crossbeam_utils::Backoff::new();
            while !backoff.is_completed() {
                if let Some(outcome) = self.try_take() {
                    return Some(outcome);
                }
                backoff.snooze();
            }
        }
        if (YIELD_MIN_WAITING..MANY_WAITING).contains(&waiting.others) {
            for _ in 0..YIELDS {
                if let Some(outcome) = self.try_take() {
                    return Some(outcome);
                }
                std::thread::yield_now();
            }
        }
        futex_hash::fit(waiting.others + 1);
        let crowded = deadline.is_none() && waiting.others >= MANY_WAITING;
        // Asked only when crowded: otherwise the CPU is read when the thread registers.
        let group = crowded.then(cpu_wake::this_cpu).flatten().map(Group::join);
        loop {
            // Read before the check, so that a wake-up between the two is not missed.
            let wakeups = group.map(Group::wakeups);
            {
                let mut state = self.lock();
                if let SlotState::Waiting(waiter) = &mut *state {
                    *waiter = match (group, deadline) {
                        (Some(group), _) => Waiter::Group(group),
                        (None, None) => {
                            Waiter::Thread(std::thread::current(), cpu_wake::this_cpu())
                        }
                        (None, Some(_)) => Waiter::TimedThread(std::thread::current()),
                    };
                } else {
                    return Some(take(&mut state));
                }
            }
            match (group.zip(wakeups), deadline) {
                (Some((group, wakeups)), _) => group.wait(wakeups),
                (None, None) => std::thread::park(),
                (None, Some(deadline)) => {
                    let now = Instant::now();
                    if now >= deadline {
                        // Nobody to wake any more.
                        if let SlotState::Waiting(waiter) = &mut *self.lock() {
                            *waiter = Waiter::Nobody;
                        }
                        return None;
                    }
                    std::thread::park_timeout(deadline - now);
                }
            }
        }
    }

    /// Locks the state (a panic while it was held does not poison it).
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Leaves `outcome` in a slot's locked state, then wakes whoever waited for it (after
/// letting go of the lock).
fn leave(mut state: MutexGuard<'_, SlotState>, outcome: Outcome) {
    let previous = std::mem::replace(&mut *state, SlotState::Done(outcome, None));
    drop(state);
    if let SlotState::Waiting(waiter) = previous {
        waiter.wake();
    }
}

/// Takes the outcome out of a slot that has one (passing its relay on), or the error of a
/// second take.
fn take(state: &mut SlotState) -> Outcome {
    match std::mem::replace(state, SlotState::Taken) {
        SlotState::Done(outcome, relay) => {
            if let Some(relay) = relay {
                relay.wake(RELAY_FAN_OUT);
            }
            outcome
        }
        SlotState::Waiting(_) | SlotState::Taken => Err(taken_again()),
    }
}

/// The error of an outcome asked for again after it was taken.
pub(crate) fn taken_again() -> Error {
    Error::Internal("a litecommit future was polled after it resolved".into())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::futex_hash;
    use crate::transaction::{StatementResult, TransactionResult};

    /// Threads parked at once, more than the futex table has buckets on up to 256 CPUs.
    const THREADS: usize = 1_100;

    fn result(i: usize) -> Outcome {
        Ok(TransactionResult {
            statements: smallvec::smallvec![StatementResult {
                last_insert_rowid: i as i64,
                ..StatementResult::default()
            }],
        })
    }

    #[test]
    fn many_parked_threads_get_a_futex_bucket_each_and_are_all_woken() {
        if futex_hash::buckets().is_none() {
            eprintln!("this kernel has no per-process futex hash table: nothing to fit");
            return;
        }
        let slots: Vec<_> = (0..THREADS).map(|_| Slot::new()).collect();
        let threads: Vec<_> = slots
            .iter()
            .map(|slot| {
                let slot = Arc::clone(slot);
                std::thread::Builder::new()
                    .stack_size(64 * 1024)
                    .spawn(move || slot.wait(None))
                    .unwrap()
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        while futex_hash::buckets() < Some(1024) {
            assert!(
                Instant::now() < deadline,
                "the futex table still has {:?} buckets with {} threads waiting",
                futex_hash::buckets(),
                WAITING.load(Ordering::Relaxed)
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        // In two batches: the threads parked in groups, and a group that straddles the two
        // is woken with the first, where its threads of the second wait again.
        let mut threads = threads.into_iter();
        for batch_of in [0..THREADS / 2, THREADS / 2..THREADS] {
            let mut batch = RelayBatch::default();
            for i in batch_of.clone() {
                Arc::clone(&slots[i]).complete_in(result(i), &mut batch);
            }
            batch.deliver();
            for (i, thread) in batch_of.clone().zip(threads.by_ref()) {
                assert_eq!(thread.join().unwrap().unwrap(), result(i));
            }
        }
    }
}
