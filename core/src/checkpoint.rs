//! The background checkpoint scheduler: its own thread and connection, triggered after each
//! commit by the WAL hook's frame count, never running on the commit path.

use std::os::raw::c_int;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use rusqlite::{ffi, Connection};

use crate::config::{CheckpointMode, Config};
use crate::error::{Error, Result};
use crate::event::{CheckpointReason, Event};
use crate::metrics::Metrics;

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

enum Request {
    Auto(CheckpointMode, CheckpointReason),
    Manual(CheckpointMode, Sender<Result<CheckpointResult>>),
    Stop,
}

/// Mutual exclusion between the writer's batches and checkpoints that need the write lock
/// (FULL/RESTART/TRUNCATE). Doing this in-process means such a checkpoint never fights the
/// writer through SQLite's busy handler, and the writer's stall is bounded and measured.
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    checkpoint_wants_lock: bool,
    writer_in_batch: bool,
}

impl Gate {
    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, GateState>) -> MutexGuard<'a, GateState> {
        self.changed.wait(guard).unwrap_or_else(|p| p.into_inner())
    }
}

/// Trigger bookkeeping shared by the writer (after each commit) and the scheduler.
struct TriggerState {
    /// The WAL hook's frame count at the latest commit.
    frames: u64,
    /// Frames of the current WAL generation known to be checkpointed.
    backfilled: u64,
    /// Counts WAL restarts seen by commits, so a checkpoint's counts are applied only to
    /// the generation they describe.
    generation: u64,
    /// WAL frames when the latest automatic PASSIVE was requested.
    passive_requested_at: u64,
    /// No RESTART before this instant (after one gave up on readers).
    restart_not_before: Instant,
    last_commit: Instant,
    idle_work_done: bool,
}

/// The writer's view of the scheduler.
pub(crate) struct Scheduler {
    requests: Sender<Request>,
    state: Mutex<TriggerState>,
    gate: Gate,
    metrics: Arc<Metrics>,
    automatic: bool,
    passive_frames: u64,
    restart_frames: u64,
    restart_backoff: Duration,
}

impl Scheduler {
    /// Opens the checkpoint connection and starts the scheduler thread.
    pub(crate) fn start(
        path: &Path,
        config: &Config,
        metrics: Arc<Metrics>,
    ) -> Result<(Arc<Scheduler>, JoinHandle<()>)> {
        let conn = crate::connection::open_checkpointer(path, config)?;
        let wal_path = wal_path(&conn);
        // Reading the schema also puts this connection's pager in WAL mode; until then a
        // checkpoint on it reports -1 frames.
        let page_size: i64 = conn
            .query_row(
                "SELECT page_size FROM pragma_page_size, (SELECT count(*) FROM sqlite_schema)",
                [],
                |r| r.get(0),
            )
            .map_err(|e| Error::Open(e.to_string()))?;
        // A WAL frame is a page plus a 24-byte header.
        let frame_bytes = (page_size.max(512) + 24) as f64;
        let frames = |mb: f64| (mb * 1024.0 * 1024.0 / frame_bytes).ceil().max(1.0) as u64;
        let (requests, rx) = crossbeam_channel::unbounded();
        let now = Instant::now();
        let scheduler = Arc::new(Scheduler {
            requests,
            state: Mutex::new(TriggerState {
                frames: 0,
                backfilled: 0,
                generation: 0,
                passive_requested_at: 0,
                restart_not_before: now,
                last_commit: now,
                idle_work_done: true,
            }),
            gate: Gate::default(),
            metrics,
            automatic: config.checkpoint,
            passive_frames: frames(config.passive_threshold_mb),
            restart_frames: frames(config.restart_threshold_mb),
            restart_backoff: Duration::from_millis(config.checkpoint_busy_timeout_ms.max(10) * 5),
        });
        let worker = Worker {
            conn,
            wal_path,
            scheduler: Arc::clone(&scheduler),
            listener: config.event_listener.clone(),
            idle: (config.checkpoint && config.truncate_when_idle)
                .then(|| Duration::from_millis(config.idle_ms)),
            busy_timeout: Duration::from_millis(config.checkpoint_busy_timeout_ms),
        };
        let handle = std::thread::Builder::new()
            .name("litecommit-checkpoint".into())
            .spawn(move || worker.run(rx))
            .map_err(|e| Error::Open(format!("cannot start the checkpoint thread: {e}")))?;
        Ok((scheduler, handle))
    }

    fn state(&self) -> MutexGuard<'_, TriggerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Called by the writer after each commit with the WAL hook's frame count; requests a
    /// checkpoint when a threshold is crossed and none is running.
    pub(crate) fn after_commit(&self, frames: u64) {
        let mut st = self.state();
        if frames < st.frames {
            // The WAL restarted from its beginning: nothing of it is checkpointed yet.
            st.generation += 1;
            st.backfilled = 0;
            st.passive_requested_at = 0;
        }
        st.frames = frames;
        st.last_commit = Instant::now();
        st.idle_work_done = false;
        let backlog = frames.saturating_sub(st.backfilled);
        self.metrics.wal_frames.store(frames, Ordering::Relaxed);
        self.metrics
            .wal_backlog_frames
            .store(backlog, Ordering::Relaxed);
        if !self.automatic || self.metrics.checkpoint_running.load(Ordering::Acquire) {
            return;
        }
        let request = if frames >= self.restart_frames && Instant::now() >= st.restart_not_before {
            // The WAL has not wrapped: PASSIVE is not keeping up (often a reader pins it).
            Some((CheckpointMode::Restart, CheckpointReason::Restart))
        } else if backlog >= self.passive_frames
            && frames >= st.passive_requested_at + self.passive_frames / 4
        {
            st.passive_requested_at = frames;
            Some((CheckpointMode::Passive, CheckpointReason::Passive))
        } else {
            None
        };
        if let Some((mode, reason)) = request {
            self.metrics
                .checkpoint_running
                .store(true, Ordering::Release);
            if self.requests.send(Request::Auto(mode, reason)).is_err() {
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

    /// Closes the gate: returns once the writer is between batches; it stays there until
    /// the returned guard is dropped (also when unwinding).
    fn pause_writer(&self) -> WriterPaused<'_> {
        let mut st = self.gate.lock();
        st.checkpoint_wants_lock = true;
        while st.writer_in_batch {
            st = self.gate.wait(st);
        }
        WriterPaused { gate: &self.gate }
    }

    /// The writer calls this before BEGIN; it waits while a checkpoint holds the gate and
    /// returns how long it waited. The batch lasts until the guard is dropped (after COMMIT
    /// or ROLLBACK, or when a panic unwinds the batch).
    pub(crate) fn enter_batch(&self) -> (InBatch<'_>, Duration) {
        let start = Instant::now();
        let mut st = self.gate.lock();
        while st.checkpoint_wants_lock {
            st = self.gate.wait(st);
        }
        st.writer_in_batch = true;
        (InBatch { gate: &self.gate }, start.elapsed())
    }
}

/// The writer is inside a batch; dropping this lets a waiting checkpoint pause it.
pub(crate) struct InBatch<'a> {
    gate: &'a Gate,
}

impl Drop for InBatch<'_> {
    fn drop(&mut self) {
        self.gate.lock().writer_in_batch = false;
        self.gate.changed.notify_all();
    }
}

/// A checkpoint holds the writer between batches; dropping this lets it go on.
struct WriterPaused<'a> {
    gate: &'a Gate,
}

impl Drop for WriterPaused<'_> {
    fn drop(&mut self) {
        self.gate.lock().checkpoint_wants_lock = false;
        self.gate.changed.notify_all();
    }
}

struct Worker {
    conn: Connection,
    wal_path: PathBuf,
    scheduler: Arc<Scheduler>,
    listener: Option<crate::config::EventListener>,
    idle: Option<Duration>,
    busy_timeout: Duration,
}

/// The scheduler's end of the request channel. Dropping it (when the scheduler thread stops,
/// also by unwinding) discards the requests still queued, so that a manual checkpoint's
/// caller gets [`Error::Closed`], then clears `checkpoint_running`, so that an automatic
/// request that never ran does not leave it set.
struct Requests {
    rx: Receiver<Request>,
    metrics: Arc<Metrics>,
}

impl Drop for Requests {
    fn drop(&mut self) {
        // Dropping the only receiver disconnects the channel and discards what it holds; an
        // `after_commit` after this finds it disconnected and clears the flag itself.
        drop(std::mem::replace(&mut self.rx, crossbeam_channel::never()));
        self.metrics
            .checkpoint_running
            .store(false, Ordering::Release);
    }
}

impl Worker {
    fn run(self, rx: Receiver<Request>) {
        let requests = Requests {
            rx,
            metrics: Arc::clone(&self.scheduler.metrics),
        };
        self.serve(&requests.rx);
    }

    fn serve(&self, rx: &Receiver<Request>) {
        loop {
            let request = match self.idle {
                Some(idle) => match rx.recv_timeout(idle) {
                    Ok(r) => r,
                    Err(RecvTimeoutError::Timeout) => {
                        self.maybe_truncate_idle(idle);
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                },
                None => match rx.recv() {
                    Ok(r) => r,
                    Err(_) => return,
                },
            };
            match request {
                Request::Auto(mode, reason) => {
                    let result = self.run_checkpoint(mode, reason);
                    if mode != CheckpointMode::Passive && result.map_or(true, |r| r.busy) {
                        self.scheduler.state().restart_not_before =
                            Instant::now() + self.scheduler.restart_backoff;
                    }
                }
                Request::Manual(mode, reply) => {
                    drop(reply.send(self.run_checkpoint(mode, CheckpointReason::Manual)));
                }
                Request::Stop => return,
            }
        }
    }

    fn maybe_truncate_idle(&self, idle: Duration) {
        let due = {
            let st = self.scheduler.state();
            !st.idle_work_done && st.last_commit.elapsed() >= idle
        };
        if due {
            if let Ok(result) =
                self.run_checkpoint(CheckpointMode::Truncate, CheckpointReason::Idle)
            {
                if !result.busy {
                    self.scheduler.state().idle_work_done = true;
                }
            }
        }
    }

    /// FULL/RESTART/TRUNCATE, with the writer paused between batches for at most about
    /// `checkpoint_busy_timeout_ms`.
    ///
    /// SQLite's own FULL wait polls one reader slot with its busy handler, and a reader that
    /// runs read transactions back to back takes that same slot again every time, so the
    /// wait nearly always times out. Instead, PASSIVE is repeated until it has copied every
    /// frame (each new read transaction starts on the latest snapshot, since the writer is
    /// paused); only then does the requested mode wait for readers, which by then start on
    /// the database file and leave the WAL's reader slots free.
    fn exclusive_checkpoint(&self, mode: CheckpointMode) -> Result<(i64, i64, bool)> {
        // The bulk of the copying runs while the writer keeps committing.
        checkpoint_v2(&self.conn, CheckpointMode::Passive)?;
        let paused = self.scheduler.pause_writer();
        let deadline = Instant::now() + self.busy_timeout;
        let outcome = loop {
            match checkpoint_v2(&self.conn, CheckpointMode::Passive) {
                Ok((log, done, _)) if done < log && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Ok(_) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    let wait = left.max(Duration::from_millis(1));
                    break self
                        .conn
                        .busy_timeout(wait)
                        .map_err(|e| Error::from_sqlite(e, None))
                        .and_then(|()| checkpoint_v2(&self.conn, mode));
                }
                Err(e) => break Err(e),
            }
        };
        drop(paused);
        outcome
    }

    /// An automatic PASSIVE. Under sustained writes a background checkpoint never catches
    /// up with the writer, and SQLite restarts the WAL only when a write begins with every
    /// frame copied. So while passes keep copying everything they saw, a couple more run
    /// (each copies only what was committed during the previous one), and the last one runs
    /// with the writer paused, so that its next write wraps the WAL. The pause is short:
    /// little is left to copy by then.
    fn passive_with_catch_up(&self) -> Result<(i64, i64, bool)> {
        const SMALL: i64 = 64;
        let complete = |(log, done, _): (i64, i64, bool)| log > 0 && done >= log;
        let mut last = checkpoint_v2(&self.conn, CheckpointMode::Passive)?;
        for _ in 0..2 {
            if !complete(last) {
                // A reader holds it back (or the WAL is empty): nothing to catch up with.
                return Ok(last);
            }
            let next = checkpoint_v2(&self.conn, CheckpointMode::Passive)?;
            let new_frames = next.0 - last.0;
            last = next;
            if new_frames <= SMALL {
                break;
            }
        }
        if !complete(last) {
            return Ok(last);
        }
        let _paused = self.scheduler.pause_writer();
        checkpoint_v2(&self.conn, CheckpointMode::Passive)
    }

    fn emit(&self, event: Event) {
        if let Some(listener) = &self.listener {
            drop(std::panic::catch_unwind(std::panic::AssertUnwindSafe(
                || listener(&event),
            )));
        }
    }

    fn run_checkpoint(
        &self,
        mode: CheckpointMode,
        reason: CheckpointReason,
    ) -> Result<CheckpointResult> {
        let metrics = &self.scheduler.metrics;
        metrics.checkpoint_running.store(true, Ordering::Release);
        self.emit(Event::CheckpointStarted { mode, reason });
        let start = Instant::now();
        metrics.wal_file(file_len(&self.wal_path));
        let generation = self.scheduler.state().generation;
        let outcome = if reason == CheckpointReason::Passive {
            self.passive_with_catch_up()
        } else if mode == CheckpointMode::Passive {
            checkpoint_v2(&self.conn, mode)
        } else {
            self.exclusive_checkpoint(mode)
        };
        let duration = start.elapsed();
        if mode != CheckpointMode::Passive {
            metrics.wal_file(file_len(&self.wal_path));
        }
        metrics.checkpoint_running.store(false, Ordering::Release);
        let result = outcome.map(|(log, done, busy)| CheckpointResult {
            mode,
            log_frames: log,
            checkpointed_frames: done,
            busy: busy || done < log,
        });
        if let Ok(r) = &result {
            metrics.checkpoint(
                mode,
                duration.as_secs_f64() * 1000.0,
                r.log_frames,
                r.checkpointed_frames,
                r.busy,
            );
            let mut st = self.scheduler.state();
            // The counts describe the WAL generation the checkpoint started in.
            if st.generation == generation && r.log_frames >= 0 {
                if r.log_frames == 0 {
                    st.frames = 0; // a TRUNCATE emptied it
                }
                st.backfilled = r.checkpointed_frames.max(0) as u64;
                let backlog = st.frames.saturating_sub(st.backfilled);
                metrics.wal_backlog_frames.store(backlog, Ordering::Relaxed);
            }
            self.emit(Event::CheckpointFinished {
                mode,
                reason,
                log_frames: r.log_frames,
                checkpointed_frames: r.checkpointed_frames,
                busy: r.busy,
                duration,
            });
        }
        result
    }
}

/// Runs `sqlite3_wal_checkpoint_v2`, keeping the frame counts even when SQLite says busy
/// (rusqlite's wrapper turns busy into an error and drops them).
fn checkpoint_v2(conn: &Connection, mode: CheckpointMode) -> Result<(i64, i64, bool)> {
    let raw_mode = match mode {
        CheckpointMode::Passive => ffi::SQLITE_CHECKPOINT_PASSIVE,
        CheckpointMode::Full => ffi::SQLITE_CHECKPOINT_FULL,
        CheckpointMode::Restart => ffi::SQLITE_CHECKPOINT_RESTART,
        CheckpointMode::Truncate => ffi::SQLITE_CHECKPOINT_TRUNCATE,
    };
    let mut log: c_int = -1;
    let mut done: c_int = -1;
    // SAFETY: the handle is valid for the connection's lifetime and used on this thread only.
    let rc = unsafe {
        ffi::sqlite3_wal_checkpoint_v2(
            conn.handle(),
            std::ptr::null(),
            raw_mode,
            &mut log,
            &mut done,
        )
    };
    match rc {
        ffi::SQLITE_OK => Ok((log.into(), done.into(), false)),
        rc if rc & 0xff == ffi::SQLITE_BUSY || rc & 0xff == ffi::SQLITE_LOCKED => {
            Ok((log.into(), done.into(), true))
        }
        rc => Err(Error::Sqlite {
            code: rc & 0xff,
            extended_code: rc,
            // SAFETY: as above; sqlite3_errmsg returns a NUL-terminated string owned by SQLite.
            message: unsafe { std::ffi::CStr::from_ptr(ffi::sqlite3_errmsg(conn.handle())) }
                .to_string_lossy()
                .into_owned(),
            statement_index: None,
        }),
    }
}

/// The path of the -wal file of the database `conn` has open (for a `file:` URI, SQLite's
/// resolved file name, not the URI text).
pub(crate) fn wal_path(conn: &Connection) -> PathBuf {
    PathBuf::from(format!("{}-wal", conn.path().unwrap_or_default()))
}

pub(crate) fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}
