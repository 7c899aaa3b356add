//! One batch from the checkpoint gate to resolved promises: run it, count it, tell the
//! scheduler about the WAL, answer every transaction, emit the batch's event.

use std::time::Instant;

use crate::completion::{Completions, Outcome};
use crate::error::Error;
use crate::event::{emit, Event};
use crate::metrics::TxOutcome;

use super::batch::{self, BatchFailure};
use super::{BatchState, Gathered, Job, Shared};

impl Shared {
    /// Runs one batch, then resolves every promise of it; leaves `jobs` empty (its capacity
    /// serves the next batch).
    pub(super) fn commit(&self, state: &mut BatchState, jobs: &mut Vec<Job>, gathered: &Gathered) {
        self.run_batch(state, jobs, gathered);
        jobs.clear();
    }

    fn run_batch(&self, state: &mut BatchState, jobs: &mut [Job], gathered: &Gathered) {
        let db = match (&state.broken, state.db.as_mut()) {
            (None, Some(db)) => db,
            (broken, _) => {
                // They never ran: the writer broke or shut down.
                let error = broken.clone().unwrap_or(Error::Closed);
                let outcomes = vec![Err(error); jobs.len()];
                self.resolve(jobs, outcomes, |_, _| TxOutcome::Aborted);
                return;
            }
        };
        let start = Instant::now();
        let (run, paused, paced) = {
            let in_batch = self.gate.enter_batch(db.wal_frames());
            self.metrics.writer_stall(in_batch.paused());
            let run = batch::run(db, jobs, &mut state.retire);
            (run, in_batch.paused(), in_batch.paced())
        };
        db.batch_ended();
        let size = jobs.len();
        let duration = start.elapsed();
        self.metrics.batch(size, gathered.trigger, duration);
        let wal_frames = db.wal_frames();
        state.idle_vacuum_due = true;
        if run
            .as_ref()
            .map_or_else(BatchFailure::committed_midway, |_| true)
        {
            self.scheduler
                .after_commit(wal_frames, crate::files::wal_salt(db.conn()));
        }
        let event = match run {
            Ok(outcomes) => {
                self.resolve(jobs, outcomes, |_, outcome| batch::committed_label(outcome));
                Event::BatchCommitted {
                    size,
                    trigger: gathered.trigger,
                    effective_max: self.config.effective_max_batch(gathered.checkpoint_running),
                    checkpoint_running: gathered.checkpoint_running,
                    wal_frames,
                    duration,
                    paused,
                    paced,
                }
            }
            Err(mut failure) => {
                let (outcomes, labels): (Vec<Outcome>, Vec<TxOutcome>) =
                    (0..size).map(|i| failure.answer(i)).unzip();
                self.resolve(jobs, outcomes, |i, _| labels[i]);
                Event::BatchFailed {
                    size,
                    error: failure.error,
                }
            }
        };
        emit(self.config.event_listener.as_ref(), event);
    }

    /// Counts each transaction's outcome under the label `label` gives it (from its index
    /// and outcome), then delivers it.
    fn resolve(
        &self,
        jobs: &mut [Job],
        outcomes: Vec<Outcome>,
        label: impl Fn(usize, &Outcome) -> TxOutcome,
    ) {
        // Counted before anyone learns an outcome.
        let mut counted = self.metrics.batch_transactions(jobs.len());
        let now = Instant::now();
        for (i, (job, outcome)) in jobs.iter().zip(&outcomes).enumerate() {
            let latency = now.saturating_duration_since(job.reply.submitted);
            counted.transaction(label(i, outcome), latency);
        }
        drop(counted);
        let mut completions = Completions::for_batch(jobs.len());
        for (job, outcome) in jobs.iter_mut().zip(outcomes) {
            completions.push(&mut job.reply, outcome);
        }
        completions.deliver();
    }
}
