//! The background checkpoint scheduler: its own thread and connection, asked after each
//! commit (with the WAL hook's frame count) whether a checkpoint is due, never running on
//! the commit path.
//!
//! - `policy`: what to checkpoint when (thresholds, RESTART backoff, idle work).
//! - `worker`: the scheduler thread, and how each kind of checkpoint runs.
//! - `wal`: the raw `sqlite3_wal_checkpoint_v2` call.

mod policy;
mod wal;
mod worker;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::Sender;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::gate::Gate;
use crate::metrics::Metrics;
use crate::modes::CheckpointMode;

use policy::{Due, Policy, TriggerState};
use worker::Worker;

/// What a checkpoint reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointResult {
    /// The mode it ran in.
    pub mode: CheckpointMode,
    /// Frames in the WAL (-1 if the database is not in WAL mode).
    pub log_frames: i64,
    /// Frames copied into the database, including earlier ones.
    pub checkpointed_frames: i64,
    /// It could not finish: SQLite reported busy or frames were left behind.
    pub busy: bool,
}

/// A message to the scheduler thread.
enum Request {
    /// A checkpoint the policy asked for after a commit.
    Auto(Due),
    /// A `checkpoint(mode)` call, answered on its channel.
    Manual(CheckpointMode, Sender<Result<CheckpointResult>>),
    /// Stop after the checkpoint that may be running.
    Stop,
}

/// The scheduler as the writer and the committer see it.
pub(crate) struct Scheduler {
    /// Requests to the scheduler thread.
    requests: Sender<Request>,
    /// What the WAL holds and what is copied, updated by commits and checkpoints.
    state: Mutex<TriggerState>,
    /// The automatic checkpoints' thresholds; `None` when `checkpoint` is off.
    policy: Option<Policy>,
    /// Where the WAL figures and `checkpoint_running` are kept.
    metrics: Arc<Metrics>,
}

impl Scheduler {
    /// Opens the checkpoint connection and starts the scheduler thread.
    pub(crate) fn start(
        path: &Path,
        config: &Config,
        metrics: Arc<Metrics>,
        gate: Arc<Gate>,
    ) -> Result<(Arc<Scheduler>, JoinHandle<()>)> {
        let conn = crate::connection::open_checkpointer(path, config)?;
        // Reading the schema also puts this connection's pager in WAL mode; until then a
        // checkpoint on it reports -1 frames.
        let page_size: i64 = conn
            .query_row(
                "SELECT page_size FROM pragma_page_size, (SELECT count(*) FROM sqlite_schema)",
                [],
                |r| r.get(0),
            )
            .map_err(|e| crate::connection::open_error(path, e))?;
        let (requests, rx) = crossbeam_channel::unbounded();
        let scheduler = Arc::new(Scheduler {
            requests,
            state: Mutex::new(TriggerState::new(Instant::now())),
            policy: config.checkpoint.then(|| Policy::new(config, page_size)),
            metrics,
        });
        let worker = Worker::new(conn, Arc::clone(&scheduler), gate, config);
        let handle = std::thread::Builder::new()
            .name("litecommit-checkpoint".into())
            .spawn(move || worker.run(rx))
            .map_err(|e| Error::Open(format!("cannot start the checkpoint thread: {e}")))?;
        Ok((scheduler, handle))
    }

    /// Locks the trigger state (a panic while it was held does not poison it).
    fn state(&self) -> MutexGuard<'_, TriggerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Called by the writer after each commit with the WAL hook's frame count and the WAL
    /// header's salt; requests a checkpoint when a threshold is crossed and none is running.
    pub(crate) fn after_commit(&self, frames: u64, salt: u64) {
        let mut st = self.state();
        let now = Instant::now();
        let backlog = st.record_commit(frames, salt, now);
        self.metrics.wal_frames.store(frames, Ordering::Relaxed);
        self.metrics
            .wal_backlog_frames
            .store(backlog, Ordering::Relaxed);
        let Some(policy) = &self.policy else { return };
        if self.metrics.checkpoint_running.load(Ordering::Acquire) {
            return;
        }
        if let Some(due) = st.due(policy, now) {
            self.metrics
                .checkpoint_running
                .store(true, Ordering::Release);
            if self.requests.send(Request::Auto(due)).is_err() {
                // The scheduler stopped: no checkpoint will run.
                self.metrics
                    .checkpoint_running
                    .store(false, Ordering::Release);
            }
        }
    }

    /// Runs a checkpoint on the scheduler thread and waits for its result.
    pub(crate) fn checkpoint(&self, mode: CheckpointMode) -> Result<CheckpointResult> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.requests
            .send(Request::Manual(mode, tx))
            .map_err(|_| Error::Closed)?;
        rx.recv().map_err(|_| Error::Closed)?
    }

    /// Stops the scheduler thread after the checkpoint it may be running.
    pub(crate) fn stop(&self) {
        drop(self.requests.send(Request::Stop));
    }
}
