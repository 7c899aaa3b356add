//! Freeing a big batch's transactions on a thread of its own while the batch commits.
//!
//! A batch's parameters and texts were allocated by the submitting threads, and by the end
//! of a big batch they have left the writer's cache: freeing them one by one was a tenth of
//! the writer's time in pipelined runs. Once every transaction of a batch has run, nothing
//! reads them again (a failing COMMIT answers from the outcomes already kept), so they are
//! handed to the `litecommit-free` thread just before the batch's COMMIT, whose WAL writes
//! and sync the writer then spends in parallel with the freeing.

use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use crate::transaction::Transaction;

use super::Job;

/// Batches smaller than this free their transactions on the writer. Freeing costs about
/// 0.2 µs per transaction and waking the thread a few µs, so the hand-over pays from a few
/// dozen on; below this size, batches of blocking callers keep to one thread.
pub(super) const MIN_BATCH: usize = 256;

/// The freeing thread, started at the first big batch.
#[derive(Default)]
pub(super) struct Retire {
    /// The thread, once started; `None` before and after.
    running: Option<Freer>,
    /// The thread could not be started, or was stopped: transactions are freed where they
    /// are.
    unavailable: bool,
}

/// A running freeing thread and its two channels.
struct Freer {
    /// Takes batches' transactions to the thread.
    to: Sender<Vec<Transaction>>,
    /// Brings the emptied vectors back, so their memory serves the next batches.
    spare: Receiver<Vec<Transaction>>,
    /// The thread, joined by [`Retire::stop`].
    thread: JoinHandle<()>,
}

impl Retire {
    /// Moves the transactions of a big batch out of `jobs` (leaving empty ones) and hands
    /// them to the freeing thread; leaves a small batch, or one the thread has no room for
    /// yet, as it is.
    pub(super) fn take(&mut self, jobs: &mut [Job]) {
        if jobs.len() < MIN_BATCH {
            return;
        }
        let Some(freer) = self.start() else {
            return;
        };
        if freer.to.is_full() {
            return;
        }
        let mut batch = freer.spare.try_recv().unwrap_or_default();
        batch.extend(jobs.iter_mut().map(|job| std::mem::take(&mut job.tx)));
        // Only the writer sends, and it saw room: this fails only if the thread is gone,
        // and then the batch is freed here.
        drop(freer.to.try_send(batch));
    }

    /// The thread, started if it is not running; `None` if it cannot be.
    fn start(&mut self) -> Option<&Freer> {
        if self.running.is_none() && !self.unavailable {
            let (to, batches) = crossbeam_channel::bounded::<Vec<Transaction>>(1);
            let (spare_tx, spare) = crossbeam_channel::bounded(1);
            let spawned = std::thread::Builder::new()
                .name("litecommit-free".into())
                .spawn(move || {
                    for mut batch in batches {
                        batch.clear();
                        drop(spare_tx.try_send(batch));
                    }
                });
            match spawned {
                Ok(thread) => self.running = Some(Freer { to, spare, thread }),
                Err(_) => self.unavailable = true,
            }
        }
        self.running.as_ref()
    }

    /// Whether the thread runs.
    #[cfg(test)]
    pub(super) fn running(&self) -> bool {
        self.running.is_some()
    }

    /// Stops the thread once it has freed what it was given; later batches free their
    /// own transactions.
    pub(super) fn stop(&mut self) {
        self.unavailable = true;
        if let Some(Freer { to, thread, .. }) = self.running.take() {
            drop(to);
            drop(thread.join());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::completion::Reply;

    fn jobs(n: usize) -> Vec<Job> {
        (0..n)
            .map(|i| Job {
                tx: Transaction::single(
                    "INSERT INTO t VALUES (?, ?)",
                    crate::params![format!("text {i}"), vec![7u8; 100]],
                ),
                reply: Reply::handle().0,
            })
            .collect()
    }

    #[test]
    fn a_big_batch_is_freed_on_the_thread_and_a_small_one_is_left_alone() {
        let mut retire = Retire::default();
        let mut small = jobs(MIN_BATCH - 1);
        retire.take(&mut small);
        assert!(small.iter().all(|job| job.tx.statements().len() == 1));
        assert!(!retire.running(), "started for a small batch");

        let mut big = jobs(MIN_BATCH);
        retire.take(&mut big);
        assert!(big.iter().all(|job| job.tx.statements().is_empty()));
        // The thread empties the batch's vector and hands it back for the next one.
        let spare = &retire.running.as_ref().unwrap().spare;
        let back = spare.recv_timeout(Duration::from_secs(60)).unwrap();
        assert!(back.is_empty());
        assert!(back.capacity() >= MIN_BATCH);

        retire.stop();
        assert!(!retire.running());
        let mut after = jobs(MIN_BATCH);
        retire.take(&mut after);
        assert!(after.iter().all(|job| job.tx.statements().len() == 1));
        assert!(!retire.running(), "started again after stop");
    }
}
