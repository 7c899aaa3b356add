//! One batch from the checkpoint gate to resolved promises: run it, count it, tell the
//! scheduler about the WAL, answer every transaction, emit the batch's event.

use std::time::Instant;

use crate::completion::Completions;
use crate::event::{emit, Event};

use super::batch::{self, Answer, BatchFailure};
use super::{Gathered, Job, Writer};

impl Writer {
    /// Runs one batch, then resolves every promise of it.
    pub(super) fn commit(&mut self, mut jobs: Vec<Job>, gathered: &Gathered) {
        let start = Instant::now();
        let (run, paused) = {
            let in_batch = self.gate.enter_batch();
            self.metrics.writer_stall(in_batch.waited());
            (batch::run(&mut self.db, &jobs), in_batch.waited())
        };
        let size = jobs.len();
        let duration = start.elapsed();
        self.metrics.batch(size, gathered.trigger, duration);
        let wal_frames = self.db.wal_frames();
        self.idle_vacuum_due = true;
        if run
            .as_ref()
            .map_or_else(BatchFailure::committed_midway, |_| true)
        {
            self.scheduler
                .after_commit(wal_frames, crate::files::wal_salt(self.db.conn()));
        }
        let event = match run {
            Ok(outcomes) => {
                self.resolve(&mut jobs, outcomes.into_iter().map(Answer::committed_batch));
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
                self.resolve(&mut jobs, (0..size).map(|i| failure.answer(i)));
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
        let mut completions = Completions::default();
        for (job, answer) in jobs.iter_mut().zip(answers) {
            let latency = job.reply.submitted.elapsed();
            self.metrics.transaction(answer.label, latency);
            completions.push(&mut job.reply, answer.outcome);
        }
        completions.deliver();
    }
}
