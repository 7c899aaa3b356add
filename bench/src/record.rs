//! What a demo run records, the same way for litecommit (through its event listener) and
//! for the baseline writers (directly): batches, checkpoints and the WAL backlog.

use std::sync::Mutex;
use std::time::Instant;

/// One checkpoint as it finished.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    pub mode: &'static str,
    pub ms: f64,
    /// Frames in the WAL and frames checkpointed (-1 when SQLite did not say).
    pub log: i64,
    pub done: i64,
    pub busy: bool,
}

#[derive(Default)]
struct State {
    /// Batch sizes, split by whether a checkpoint was running when the batch was formed.
    batches_quiet: Vec<f64>,
    batches_checkpointing: Vec<f64>,
    flush_ms: Vec<f64>,
    checkpoints: Vec<Checkpoint>,
    /// Un-checkpointed frames (WAL backlog) when each checkpoint started.
    backlog_at_start: Vec<f64>,
    /// -wal file size when each checkpoint started.
    file_at_start: Vec<f64>,
    frames: u64,
    backfilled: u64,
    max_backlog: u64,
    max_frames: u64,
    wraps: u64,
    wraps_at_checkpoint_start: u64,
    /// When the running checkpoint started.
    checkpoint_start: Option<Instant>,
    /// Each checkpoint's start, end and mode.
    checkpoint_spans: Vec<(Instant, Instant, &'static str)>,
    /// Each time the writer stood still for a checkpoint: litecommit's gate waits, and the
    /// baselines' commits that ran a checkpoint inline.
    pauses: Vec<(Instant, Instant)>,
    /// Durations of the commits that ran a checkpoint inline.
    checkpointing_commits_ms: Vec<f64>,
    /// The longest wait of litecommit's writer for its pace before a batch, in ms.
    longest_pace_wait_ms: f64,
}

impl State {
    /// `frames` comes from commits only (one writer, in order), so a drop is a wrap.
    fn set_frames(&mut self, frames: u64) {
        if frames < self.frames {
            // The WAL restarted from its beginning.
            self.backfilled = 0;
            self.wraps += 1;
        }
        self.frames = frames;
        self.max_frames = self.max_frames.max(frames);
        let backlog = frames.saturating_sub(self.backfilled);
        self.max_backlog = self.max_backlog.max(backlog);
    }
}

/// Thread-safe recorder; events arrive from the writer and the checkpointer threads.
#[derive(Default)]
pub struct Recorder(Mutex<State>);

/// Everything recorded in one run.
pub struct Recorded {
    pub batches_quiet: Vec<f64>,
    pub batches_checkpointing: Vec<f64>,
    pub flush_ms: Vec<f64>,
    pub checkpoints: Vec<Checkpoint>,
    pub backlog_at_start: Vec<f64>,
    pub file_at_start: Vec<f64>,
    pub max_backlog_frames: u64,
    /// Most frames the WAL held (since its latest restart) after any commit.
    pub max_frames: u64,
    /// Times the WAL restarted from its beginning (seen as a drop in the frame count).
    pub wraps: u64,
    /// Each checkpoint's start, end and mode.
    pub checkpoint_spans: Vec<(Instant, Instant, &'static str)>,
    /// When the writer stood still for a checkpoint (start, end).
    pub pauses: Vec<(Instant, Instant)>,
    /// Durations of the commits that ran a checkpoint inline.
    pub checkpointing_commits_ms: Vec<f64>,
    /// The longest wait of litecommit's writer for its pace before a batch, in ms.
    pub longest_pace_wait_ms: f64,
}

impl Recorder {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A batch committed, leaving `frames` frames in the WAL.
    pub fn batch(&self, size: usize, checkpoint_running: bool, frames: u64, flush_ms: Option<f64>) {
        let mut st = self.state();
        if checkpoint_running {
            st.batches_checkpointing.push(size as f64);
        } else {
            st.batches_quiet.push(size as f64);
        }
        if let Some(ms) = flush_ms {
            st.flush_ms.push(ms);
        }
        st.set_frames(frames);
    }

    /// The WAL holds `frames` frames after a commit (the WAL hook's count).
    pub fn batch_frames(&self, frames: u64) {
        self.state().set_frames(frames);
    }

    /// A checkpoint starts; `file_bytes` is the -wal file's size now.
    pub fn checkpoint_started(&self, file_bytes: u64) {
        let mut st = self.state();
        let backlog = st.frames.saturating_sub(st.backfilled) as f64;
        st.backlog_at_start.push(backlog);
        st.file_at_start.push(file_bytes as f64);
        st.wraps_at_checkpoint_start = st.wraps;
        st.checkpoint_start = Some(Instant::now());
    }

    /// The writer stood still for a checkpoint from `start` to `end`.
    pub fn pause(&self, start: Instant, end: Instant) {
        self.state().pauses.push((start, end));
    }

    /// litecommit's writer waited `ms` for its pace before a batch.
    pub fn pace_wait(&self, ms: f64) {
        let mut st = self.state();
        st.longest_pace_wait_ms = st.longest_pace_wait_ms.max(ms);
    }

    /// A commit that ran a checkpoint inline took `ms` in all.
    pub fn checkpointing_commit(&self, ms: f64) {
        self.state().checkpointing_commits_ms.push(ms);
    }

    /// Checkpoints finished so far.
    pub fn checkpoints_finished(&self) -> usize {
        self.state().checkpoints.len()
    }

    pub fn checkpoint_finished(&self, c: Checkpoint) {
        let mut st = self.state();
        // The first `done` frames of the WAL are in the database now, unless the WAL
        // restarted meanwhile (then its counts describe the previous generation). Commits
        // that appended frames while it ran do not invalidate them.
        if c.done >= 0 && st.wraps == st.wraps_at_checkpoint_start {
            st.backfilled = st.backfilled.max(c.done as u64);
        }
        let end = Instant::now();
        let start = st.checkpoint_start.take().unwrap_or(end);
        st.checkpoint_spans.push((start, end, c.mode));
        st.checkpoints.push(c);
    }

    /// Current un-checkpointed frames, as recorded.
    pub fn backlog(&self) -> u64 {
        let st = self.state();
        st.frames.saturating_sub(st.backfilled)
    }

    pub fn take(&self) -> Recorded {
        let st = std::mem::take(&mut *self.state());
        Recorded {
            batches_quiet: st.batches_quiet,
            batches_checkpointing: st.batches_checkpointing,
            flush_ms: st.flush_ms,
            checkpoints: st.checkpoints,
            backlog_at_start: st.backlog_at_start,
            file_at_start: st.file_at_start,
            max_backlog_frames: st.max_backlog,
            max_frames: st.max_frames,
            wraps: st.wraps,
            checkpoint_spans: st.checkpoint_spans,
            pauses: st.pauses,
            checkpointing_commits_ms: st.checkpointing_commits_ms,
            longest_pace_wait_ms: st.longest_pace_wait_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backlog_follows_commits_checkpoints_and_wal_restarts() {
        let r = Recorder::default();
        r.batch(10, false, 100, Some(1.0));
        assert_eq!(r.backlog(), 100);
        r.checkpoint_started(0);
        r.batch(20, true, 150, None);
        // A checkpoint that saw 150 frames and copied 120 of them.
        r.checkpoint_finished(Checkpoint {
            mode: "passive",
            ms: 2.0,
            log: 150,
            done: 120,
            busy: true,
        });
        assert_eq!(r.backlog(), 30);
        // A checkpoint during which more frames were committed still counts.
        r.checkpoint_started(0);
        r.batch(20, true, 180, None);
        r.checkpoint_finished(Checkpoint {
            mode: "passive",
            ms: 2.0,
            log: 150,
            done: 150,
            busy: false,
        });
        assert_eq!(r.backlog(), 30);
        // A checkpoint whose WAL restarted meanwhile says nothing about the new one.
        r.checkpoint_started(0);
        r.batch(5, true, 4, None);
        r.checkpoint_finished(Checkpoint {
            mode: "passive",
            ms: 2.0,
            log: 180,
            done: 180,
            busy: false,
        });
        assert_eq!(r.backlog(), 4);
        // The WAL wrapped: the frame count starts again from the beginning.
        r.batch(5, false, 200, None);
        r.batch(5, false, 8, None);
        assert_eq!(r.backlog(), 8);
        let rec = r.take();
        assert_eq!(rec.batches_quiet, vec![10.0, 5.0, 5.0]);
        assert_eq!(rec.batches_checkpointing, vec![20.0, 20.0, 5.0]);
        assert_eq!(rec.backlog_at_start, vec![100.0, 30.0, 30.0]);
        assert_eq!(rec.max_backlog_frames, 200);
        assert_eq!(rec.max_frames, 200);
        assert_eq!(rec.wraps, 2);
    }
}
