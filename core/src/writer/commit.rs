//! One batch from the checkpoint gate to resolved promises: run it, count it, tell the
//! scheduler about the WAL, answer every transaction, emit the batch's event.

use std::time::Instant;

use crate::completion::Completions;
use crate::error::Error;
use crate::event::{emit, Event};

use super::batch::{self, Answer, BatchFailure};
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
                let error = broken.clone().unwrap_or(Error::Closed);
                let answers = (0..jobs.len()).map(|_| Answer::refused(error.clone()));
                self.resolve(jobs, answers);
                return;
            }
        };
        let start = Instant::now();
        let (run, paused) = {
            let in_batch = self.gate.enter_batch();
            self.metrics.writer_stall(in_batch.waited());
            (batch::run(db, jobs, &mut state.retire), in_batch.waited())
        };
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
                self.resolve(jobs, outcomes.into_iter().map(Answer::committed_batch));
                Event::BatchCommitted {
                    size,
                    trigger: gathered.trigger,
                    effective_max: self.config.effective_max_batch(gathered.checkpoint_running),
                    checkpoint_running: gathered.checkpoint_running,
                    wal_frames,
                    duration,
                    paused,
                }
            }
            Err(mut failure) => {
                self.resolve(jobs, (0..size).map(|i| failure.answer(i)));
                Event::BatchFailed {
                    size,
                    error: failure.error,
                }
            }
        };
        emit(self.config.event_listener.as_ref(), event);
    }

    /// Counts each transaction's answer and delivers it.
    fn resolve(&self, jobs: &mut [Job], answers: impl Iterator<Item = Answer>) {
        let answers: Vec<Answer> = answers.collect();
        // Counted before anyone learns an outcome.
        let mut counted = self.metrics.batch_transactions(jobs.len());
        let now = Instant::now();
        for (job, answer) in jobs.iter().zip(&answers) {
            let latency = now.saturating_duration_since(job.reply.submitted);
            counted.transaction(answer.label, latency);
        }
        drop(counted);
        let mut completions = Completions::for_batch(jobs.len());
        for (job, answer) in jobs.iter_mut().zip(answers) {
            completions.push(&mut job.reply, answer.outcome);
        }
        completions.deliver();
    }
}
