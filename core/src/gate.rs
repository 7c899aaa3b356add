//! Mutual exclusion between the writer's batches and the checkpoints that need the write
//! lock (FULL/RESTART/TRUNCATE, and the last pass of a PASSIVE catch-up). Doing this
//! in-process means such a checkpoint never fights the writer through SQLite's busy handler,
//! and the writer's stall is bounded and measured.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Shared by the writer and the checkpoint worker.
#[derive(Default)]
pub(crate) struct Gate {
    /// Who holds or wants the gate.
    state: Mutex<GateState>,
    /// Signalled whenever `state` changes.
    changed: Condvar,
}

/// What the gate's lock guards.
#[derive(Default)]
struct GateState {
    /// A checkpoint holds the gate or waits for the writer to leave its batch.
    checkpoint_wants_lock: bool,
    /// The writer is inside a batch (from before BEGIN to after COMMIT or ROLLBACK).
    writer_in_batch: bool,
}

impl Gate {
    /// The writer calls this before BEGIN; it waits while a checkpoint holds the gate. The
    /// batch lasts until the guard is dropped (after COMMIT or ROLLBACK, or when a panic
    /// unwinds the batch).
    pub(crate) fn enter_batch(&self) -> InBatch<'_> {
        let start = Instant::now();
        let mut st = self.lock();
        let paused = st.checkpoint_wants_lock;
        while st.checkpoint_wants_lock {
            st = self.wait(st);
        }
        st.writer_in_batch = true;
        InBatch {
            gate: self,
            waited: if paused {
                start.elapsed()
            } else {
                Duration::ZERO
            },
        }
    }

    /// Closes the gate: returns once the writer is between batches; it stays there until
    /// the returned guard is dropped (also when unwinding).
    pub(crate) fn pause_writer(&self) -> WriterPaused<'_> {
        let mut st = self.lock();
        st.checkpoint_wants_lock = true;
        while st.writer_in_batch {
            st = self.wait(st);
        }
        WriterPaused { gate: self }
    }

    /// Whether the writer may enter a batch now (no checkpoint holds or wants the gate).
    #[cfg(test)]
    pub(crate) fn is_open(&self) -> bool {
        !self.lock().checkpoint_wants_lock
    }

    /// Locks the state (a panic while it was held does not poison it).
    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for the next change of the state.
    fn wait<'a>(&self, guard: MutexGuard<'a, GateState>) -> MutexGuard<'a, GateState> {
        self.changed.wait(guard).unwrap_or_else(|p| p.into_inner())
    }
}

/// The writer is inside a batch; dropping this lets a waiting checkpoint pause it.
pub(crate) struct InBatch<'a> {
    /// The gate it holds open.
    gate: &'a Gate,
    /// How long the writer waited for a checkpoint before it could enter (zero when it did
    /// not wait).
    waited: Duration,
}

impl InBatch<'_> {
    /// How long the writer waited for a checkpoint before it could enter.
    pub(crate) fn waited(&self) -> Duration {
        self.waited
    }
}

impl Drop for InBatch<'_> {
    fn drop(&mut self) {
        let mut st = self.gate.lock();
        st.writer_in_batch = false;
        // Only a checkpoint waits for the batch to end, and only once it wants the gate
        // (set under the same lock). A notification is a system call even with nobody
        // waiting; this one would come after every batch.
        let wanted = st.checkpoint_wants_lock;
        drop(st);
        if wanted {
            self.gate.changed.notify_all();
        }
    }
}

/// A checkpoint holds the writer between batches; dropping this lets it go on.
pub(crate) struct WriterPaused<'a> {
    /// The gate it holds closed.
    gate: &'a Gate,
}

impl Drop for WriterPaused<'_> {
    fn drop(&mut self) {
        self.gate.lock().checkpoint_wants_lock = false;
        self.gate.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const PATIENCE: Duration = Duration::from_secs(60);

    /// Waits until the gate's state satisfies `condition`, failing after `PATIENCE`. Polls:
    /// closing the gate does not signal the condition variable.
    fn wait_for(gate: &Gate, condition: impl Fn(&GateState) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        let mut st = gate.lock();
        while !condition(&st) {
            assert!(
                Instant::now() < deadline,
                "the gate never reached the state"
            );
            st = gate
                .changed
                .wait_timeout(st, Duration::from_millis(1))
                .unwrap()
                .0;
        }
    }

    #[test]
    fn a_checkpoint_waits_for_the_batch_to_end() {
        let gate = Arc::new(Gate::default());
        let in_batch = gate.enter_batch();
        let (paused_tx, paused_rx) = crossbeam_channel::bounded(1);
        let pausing = {
            let gate = Arc::clone(&gate);
            std::thread::spawn(move || {
                let paused = gate.pause_writer();
                paused_tx.send(()).unwrap();
                drop(paused);
            })
        };
        wait_for(&gate, |st| st.checkpoint_wants_lock);
        assert!(
            paused_rx.try_recv().is_err(),
            "the checkpoint paused the writer inside its batch"
        );
        drop(in_batch);
        paused_rx.recv_timeout(PATIENCE).unwrap();
        pausing.join().unwrap();
        // The checkpoint let go: the next batch enters.
        let next = gate.enter_batch();
        assert!(gate.lock().writer_in_batch);
        drop(next);
    }
}
