//! Observable events of the writer and the checkpoint scheduler, for logging, tracing and
//! tests that must wait for something to happen rather than sleep.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use crate::modes::CheckpointMode;

/// A callback that receives every [`Event`]; set it in
/// [`Config::event_listener`](crate::Config::event_listener).
pub type EventListener = Arc<dyn Fn(&Event) + Send + Sync>;

/// Hands `event` to the listener, if any; a panic in the listener is caught.
pub(crate) fn emit(listener: Option<&EventListener>, event: Event) {
    if let Some(listener) = listener {
        drop(catch_unwind(AssertUnwindSafe(|| listener(&event))));
    }
}

/// Why a batch was committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlushTrigger {
    /// Adaptive policy: the writer was free and took what was queued.
    Adaptive,
    /// The batch reached the effective max batch size.
    Size,
    /// Ticker policy: `max_wait_ms` elapsed.
    Timer,
    /// An explicit `flush()` barrier.
    Flush,
    /// `close()` drained the queue.
    Close,
}

impl FlushTrigger {
    /// The metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            FlushTrigger::Adaptive => "adaptive",
            FlushTrigger::Size => "size",
            FlushTrigger::Timer => "timer",
            FlushTrigger::Flush => "flush",
            FlushTrigger::Close => "close",
        }
    }
}

/// Why a checkpoint ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckpointReason {
    /// Un-checkpointed WAL content reached `passive_threshold_mb`.
    Passive,
    /// WAL content reached `restart_threshold_mb` (the WAL is not wrapping).
    Restart,
    /// WAL content reached `wal_hard_limit_mb`: a RESTART that may pause the writer for up
    /// to `wal_hard_limit_pause_ms`.
    Limit,
    /// `truncate_when_idle` and the writer was idle.
    Idle,
    /// A `checkpoint(mode)` call.
    Manual,
}

/// Something that happened inside a committer.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A batch committed (its promises are resolved). Emitted on the thread that ran it: the
    /// writer thread, or the caller of an `execute`/`transaction` that committed inline.
    BatchCommitted {
        /// Transactions in the batch (committed and rejected).
        size: usize,
        /// Why it was flushed.
        trigger: FlushTrigger,
        /// The effective max batch size when it was formed.
        effective_max: usize,
        /// Whether a checkpoint was running when it was formed.
        checkpoint_running: bool,
        /// WAL frames after the commit (from the WAL hook).
        wal_frames: u64,
        /// Time to run and commit it (BEGIN to COMMIT, fsync included).
        duration: Duration,
        /// How long the writer waited before it, paused by a checkpoint.
        paused: Duration,
        /// How long the writer waited before it for its pace, while a checkpoint catch-up
        /// could not keep up with it.
        paced: Duration,
    },
    /// A batch failed as a whole (its BEGIN, COMMIT or a ROLLBACK failed): its transactions
    /// were rejected with this error, except those already rejected by their own statements.
    BatchFailed {
        /// Transactions in the batch.
        size: usize,
        /// The error they were rejected with.
        error: crate::Error,
    },
    /// The ticker's timer fired while a checkpoint ran, so no batch was flushed.
    TimerFlushSuppressed {
        /// Transactions waiting.
        queued: usize,
    },
    /// A checkpoint is about to start. Emitted on the scheduler thread.
    CheckpointStarted {
        /// Its mode.
        mode: CheckpointMode,
        /// Why it runs.
        reason: CheckpointReason,
    },
    /// A checkpoint finished. Emitted on the scheduler thread.
    CheckpointFinished {
        /// Its mode.
        mode: CheckpointMode,
        /// Why it ran.
        reason: CheckpointReason,
        /// Frames in the WAL.
        log_frames: i64,
        /// Frames copied back into the database (including earlier ones).
        checkpointed_frames: i64,
        /// SQLite reported busy (readers or a writer prevented completion).
        busy: bool,
        /// How long it took.
        duration: Duration,
    },
    /// An idle incremental vacuum ran on the writer.
    IdleVacuum {
        /// Free pages before.
        freelist_before: i64,
        /// Free pages after.
        freelist_after: i64,
    },
}
