//! The scheduler thread: serves checkpoint requests on its own connection, runs idle
//! TRUNCATE checkpoints, and records what each checkpoint did.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use rusqlite::Connection;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::event::{emit, CheckpointReason, Event, EventListener};
use crate::files::{self, file_len, wal_path, OpenFile};
use crate::gate::Gate;
use crate::metrics::Metrics;
use crate::modes::{CheckpointMode, Durability};

use super::policy::Due;
use super::wal::{checkpoint_v2, Frames};
use super::{CheckpointResult, Request, Scheduler};

/// How often an exclusive checkpoint repeats PASSIVE while a reader holds frames back.
const RETRY_INTERVAL: Duration = Duration::from_millis(1);
/// The shortest busy timeout of the final, exclusive step of a checkpoint.
const MIN_EXCLUSIVE_WAIT: Duration = Duration::from_millis(1);
/// Most extra PASSIVE passes of a catch-up while waiting for one during which the writer
/// commits few frames.
const CATCH_UP_PASSES: usize = 8;

/// The scheduler thread's state.
pub(super) struct Worker {
    /// The checkpoint connection, opened with a busy timeout of `checkpoint_busy_timeout_ms`;
    /// each exclusive checkpoint sets it to what is left of `busy_timeout` for its last step.
    conn: Connection,
    /// The -wal file, whose size is recorded around checkpoints.
    wal_path: PathBuf,
    /// The trigger state and metrics shared with the writer.
    scheduler: Arc<Scheduler>,
    /// Pauses the writer between batches for exclusive checkpoints.
    gate: Arc<Gate>,
    /// Receives the checkpoint events.
    listener: Option<EventListener>,
    /// How long without commits before an idle TRUNCATE; `None` when it is off.
    idle: Option<Duration>,
    /// How long an exclusive checkpoint may keep the writer paused.
    busy_timeout: Duration,
    /// How long a RESTART past the hard WAL limit may keep the writer paused.
    limit_pause: Duration,
    /// Whether checkpoints sync (durability is not off).
    sync: bool,
}

/// The scheduler's end of the request channel. Dropping it (when the scheduler thread stops,
/// also by unwinding) discards the requests still queued, so that a manual checkpoint's
/// caller gets [`Error::Closed`], then clears `checkpoint_running`, so that an automatic
/// request that never ran does not leave it set.
struct Requests {
    /// The requests.
    rx: Receiver<Request>,
    /// Where `checkpoint_running` is kept.
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
    /// The worker of `scheduler`, on its own checkpoint connection.
    pub(super) fn new(
        conn: Connection,
        scheduler: Arc<Scheduler>,
        gate: Arc<Gate>,
        config: &Config,
    ) -> Worker {
        Worker {
            wal_path: wal_path(&conn),
            conn,
            scheduler,
            gate,
            listener: config.event_listener.clone(),
            idle: (config.checkpoint && config.truncate_when_idle)
                .then(|| Duration::from_millis(config.idle_ms)),
            busy_timeout: Duration::from_millis(config.checkpoint_busy_timeout_ms),
            limit_pause: Duration::from_millis(config.wal_hard_limit_pause_ms),
            sync: config.durability != Durability::Off,
        }
    }

    /// The thread's body: serves requests until asked to stop or every sender is gone.
    pub(super) fn run(self, rx: Receiver<Request>) {
        let requests = Requests {
            rx,
            metrics: Arc::clone(&self.scheduler.metrics),
        };
        while let Some(request) = self.next_request(&requests.rx) {
            match request {
                Request::Auto(due) => self.run_automatic(due),
                Request::Manual(mode, reply) => {
                    drop(reply.send(self.run_checkpoint(mode, CheckpointReason::Manual)));
                }
                Request::Stop => return,
            }
        }
    }

    /// The next request; with idle TRUNCATE on, runs it whenever waiting takes `idle`.
    fn next_request(&self, rx: &Receiver<Request>) -> Option<Request> {
        let Some(idle) = self.idle else {
            return rx.recv().ok();
        };
        loop {
            match rx.recv_timeout(idle) {
                Ok(request) => return Some(request),
                Err(RecvTimeoutError::Timeout) => self.truncate_if_idle(idle),
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Runs a checkpoint the policy asked for; a RESTART that gave up backs off.
    fn run_automatic(&self, due: Due) {
        let result = self.run_checkpoint(due.mode, due.reason);
        let gave_up = result.map_or(true, |r| r.busy);
        if due.mode == CheckpointMode::Passive {
            return;
        }
        let mut st = self.scheduler.state();
        match &self.scheduler.policy {
            Some(policy) if gave_up => st.back_off_restart(policy, Instant::now()),
            _ => st.restart_succeeded(),
        }
    }

    /// Runs a TRUNCATE checkpoint if nothing was committed for `idle` since the last one.
    fn truncate_if_idle(&self, idle: Duration) {
        if !self.scheduler.state().idle_work_due(idle) {
            return;
        }
        let result = self.run_checkpoint(CheckpointMode::Truncate, CheckpointReason::Idle);
        if result.is_ok_and(|r| !r.busy) {
            self.scheduler.state().idle_work_done();
        }
    }

    /// Runs one checkpoint and records it (metrics, trigger state, events).
    fn run_checkpoint(
        &self,
        mode: CheckpointMode,
        reason: CheckpointReason,
    ) -> Result<CheckpointResult> {
        let metrics = &self.scheduler.metrics;
        metrics.checkpoint_running.store(true, Ordering::Release);
        emit(
            self.listener.as_ref(),
            Event::CheckpointStarted { mode, reason },
        );
        let start = Instant::now();
        metrics.wal_file(file_len(&self.wal_path));
        let generation = self.scheduler.state().generation();
        let frames = match (mode, reason) {
            (_, CheckpointReason::Passive) => self.passive_with_catch_up(),
            (CheckpointMode::Passive, _) => checkpoint_v2(&self.conn, mode),
            (_, CheckpointReason::Limit) => self.exclusive_checkpoint(mode, self.limit_pause),
            _ => self.exclusive_checkpoint(mode, self.busy_timeout),
        };
        let duration = start.elapsed();
        if mode != CheckpointMode::Passive {
            metrics.wal_file(file_len(&self.wal_path));
        }
        metrics.checkpoint_running.store(false, Ordering::Release);
        let result = frames.map(|f| f.result(mode));
        if let Ok(r) = &result {
            self.record(r, reason, generation, duration);
        }
        result
    }

    /// Records a finished checkpoint that started in WAL `generation`.
    fn record(
        &self,
        r: &CheckpointResult,
        reason: CheckpointReason,
        generation: u64,
        duration: Duration,
    ) {
        let metrics = &self.scheduler.metrics;
        metrics.checkpoint(
            r.mode,
            duration,
            r.log_frames,
            r.checkpointed_frames,
            r.busy,
        );
        {
            let mut st = self.scheduler.state();
            if let Some(backlog) = st.record_checkpoint(generation, r) {
                metrics.wal_backlog_frames.store(backlog, Ordering::Relaxed);
            }
        }
        emit(
            self.listener.as_ref(),
            Event::CheckpointFinished {
                mode: r.mode,
                reason,
                log_frames: r.log_frames,
                checkpointed_frames: r.checkpointed_frames,
                busy: r.busy,
                duration,
            },
        );
    }

    /// FULL/RESTART/TRUNCATE, with the writer paused between batches for at most about
    /// `pause`.
    ///
    /// SQLite's own FULL wait polls one reader slot with its busy handler, and a reader that
    /// runs read transactions back to back takes that same slot again every time, so the
    /// wait nearly always times out. Instead, PASSIVE is repeated until it has copied every
    /// frame (each new read transaction starts on the latest snapshot, since the writer is
    /// paused); only then does the requested mode wait for readers, which by then start on
    /// the database file and leave the WAL's reader slots free.
    ///
    /// The writer is paused only once readers have shown they move on within `pause`: while
    /// a reader keeps a snapshot for longer than that (a replicator's long read transaction,
    /// say), pausing the writer would be futile, so the checkpoint gives up without pausing
    /// it.
    fn exclusive_checkpoint(&self, mode: CheckpointMode, pause: Duration) -> Result<Frames> {
        // The bulk of the copying, and of its sync, runs while the writer keeps committing.
        let mut last = checkpoint_v2(&self.conn, CheckpointMode::Passive)?;
        if last.left_behind() {
            // Readers must move past the frames there are now, then past those there are
            // once they did: the second wait lasts about one of their read transactions.
            for _ in 0..2 {
                let log = last.log;
                last = self.wait_for_readers_past(log, pause)?;
                if last.copied < log {
                    return Ok(last);
                }
            }
        }
        self.sync_files(&[OpenFile::Wal, OpenFile::Database])?;
        let _paused = self.gate.pause_writer();
        let deadline = Instant::now() + pause;
        while checkpoint_v2(&self.conn, CheckpointMode::Passive)?.left_behind()
            && Instant::now() < deadline
        {
            std::thread::sleep(RETRY_INTERVAL);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        self.conn
            .busy_timeout(left.max(MIN_EXCLUSIVE_WAIT))
            .map_err(|e| Error::from_sqlite(e, None))?;
        checkpoint_v2(&self.conn, mode)
    }

    /// Repeats PASSIVE, with the writer running, until every reader has moved past frame
    /// `log` (all of the first `log` frames are copied) or `wait` has passed; returns the
    /// last pass's counts.
    fn wait_for_readers_past(&self, log: i64, wait: Duration) -> Result<Frames> {
        let deadline = Instant::now() + wait;
        loop {
            let frames = checkpoint_v2(&self.conn, CheckpointMode::Passive)?;
            if frames.copied >= log || Instant::now() >= deadline {
                return Ok(frames);
            }
            std::thread::sleep(RETRY_INTERVAL);
        }
    }

    /// Syncs `files` now, unless durability is off (then SQLite's checkpoints do not sync
    /// either), so that the pass with the writer paused has little left to sync.
    ///
    /// A checkpoint pass syncs the WAL before it copies, and the database file only when it
    /// copied up to the end of the WAL, and SQLite lets the WAL restart only after such a
    /// pass, so durability never depends on these syncs; but a pass beside a busy writer
    /// rarely reaches the end, and the sync of all it copied would otherwise fall to the
    /// pass that finally does: the one that runs with the writer paused.
    fn sync_files(&self, files: &[OpenFile]) -> Result<()> {
        if self.sync {
            for &file in files {
                files::sync(&self.conn, file)?;
            }
        }
        Ok(())
    }

    /// An automatic PASSIVE. Under sustained writes a background checkpoint never catches
    /// up with the writer, and SQLite restarts the WAL only when a write begins with every
    /// frame copied. So while passes keep copying everything they saw, more run, each after
    /// syncing what the one before copied; once the writer committed only a few frames
    /// since a pass began, the last pass runs with the writer paused, so that its next write
    /// wraps the WAL. The pause is short: little is left to copy and sync by then. A writer
    /// that outpaces every pass is paused at once (before the database sync, which would let
    /// it write still more) when the WAL could pass the restart threshold, however much is
    /// left (see [`super::policy::Policy::outpaced_near_restart`]).
    fn passive_with_catch_up(&self) -> Result<Frames> {
        let Some(policy) = &self.scheduler.policy else {
            return checkpoint_v2(&self.conn, CheckpointMode::Passive);
        };
        let mut last = checkpoint_v2(&self.conn, CheckpointMode::Passive)?;
        for _ in 0..CATCH_UP_PASSES {
            if !last.all_copied() {
                // A reader holds it back (or the WAL is empty): nothing to catch up with.
                return Ok(last);
            }
            // The WAL hook's frame count at the latest commit; lower than the pass's if the
            // WAL has restarted since.
            let committed = || self.scheduler.metrics.wal_frames.load(Ordering::Relaxed);
            let outpaced = policy.outpaced_near_restart(committed(), last.log);
            if !outpaced {
                // The pass synced the WAL up to `last.log`: the paused pass below syncs no
                // more of it than the writer commits meanwhile.
                self.sync_files(&[OpenFile::Database])?;
            }
            if outpaced || policy.residual_is_small(committed(), last.log) {
                let _paused = self.gate.pause_writer();
                return checkpoint_v2(&self.conn, CheckpointMode::Passive);
            }
            last = checkpoint_v2(&self.conn, CheckpointMode::Passive)?;
        }
        // The writer outpaced every pass: no pause this time; the next PASSIVE tries again.
        Ok(last)
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::c_int;
    use std::path::Path;
    use std::sync::atomic::AtomicU64;
    use std::sync::Mutex;

    use litecommit_vfs_wrap::{Hooks, Kind};
    use rusqlite::ffi;

    use super::*;
    use crate::checkpoint::policy::{Policy, TriggerState};

    /// What runs whenever a checkpoint pass through [`DuringPasses`] starts copying.
    static DURING_PASS: Mutex<Option<Box<dyn Fn() + Send>>> = Mutex::new(None);

    /// A VFS that runs [`DURING_PASS`] when a checkpoint pass has read the WAL's length and
    /// starts copying (`SQLITE_FCNTL_CKPT_START`), so that a commit there lands during the
    /// pass, as the writer's do.
    struct DuringPasses;

    impl Hooks for DuringPasses {
        type File = ();

        fn watch(&self, _path: Option<&str>, kind: Kind) -> Result<Option<()>, c_int> {
            Ok((kind == Kind::Main).then_some(()))
        }

        fn file_control(&self, file: Option<&()>, op: c_int) -> Option<c_int> {
            if file.is_some() && op == ffi::SQLITE_FCNTL_CKPT_START {
                if let Some(during_pass) = &*DURING_PASS.lock().unwrap() {
                    during_pass();
                }
            }
            None
        }
    }

    /// A catch-up whose every pass the writer outpaces (it commits about 100 frames during
    /// each pass, a disk too slow for it) pauses the writer before the WAL would pass the
    /// restart threshold (510 frames), so the next write wraps the WAL. Without that pause
    /// the catch-up gives up after nine passes, with about 900 frames in the WAL.
    #[test]
    fn a_writer_that_outpaces_every_pass_is_paused_before_the_restart_threshold() {
        litecommit_vfs_wrap::register("litecommit-during-passes", DuringPasses, false).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outpaced.db");
        let config = Config {
            passive_threshold_mb: 1.0,
            restart_threshold_mb: 2.0,
            ..Config::default()
        };
        let mut writer = crate::connection::open_writer(&path, &config).unwrap();
        let frames = Arc::new(AtomicU64::new(0));
        let hook_frames = Arc::clone(&frames);
        writer
            .wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, n| {
                hook_frames.store(u64::try_from(n).unwrap_or(0), Ordering::Relaxed);
                Ok(())
            }))
            .unwrap();
        writer.execute_batch("CREATE TABLE t(x BLOB)").unwrap();
        let writer = Arc::new(Mutex::new(writer));
        // About 100 frames: 99 overflow pages of the blob, its leaf page, the root page.
        let commit = move || {
            writer
                .lock()
                .unwrap()
                .execute_batch("INSERT INTO t VALUES (randomblob(99 * 4096 - 100))")
                .unwrap();
        };
        commit();

        let uri = format!("file:{}?vfs=litecommit-during-passes", path.display());
        let conn = crate::connection::open_checkpointer(Path::new(&uri), &config).unwrap();
        let metrics = Arc::new(Metrics::new(&config, &wal_path(&conn)));
        let (requests, _rx) = crossbeam_channel::unbounded();
        let scheduler = Arc::new(Scheduler {
            requests,
            state: Mutex::new(TriggerState::new(Instant::now())),
            policy: Some(Policy::new(&config, 4096)),
            metrics: Arc::clone(&metrics),
        });
        let gate = Arc::new(Gate::default());
        let worker = Worker::new(conn, scheduler, Arc::clone(&gate), &config);
        let committed_during_passes = Arc::new(AtomicU64::new(0));
        *DURING_PASS.lock().unwrap() = Some(Box::new({
            let (frames, count) = (Arc::clone(&frames), Arc::clone(&committed_during_passes));
            let commit = commit.clone();
            move || {
                // A paused writer commits nothing.
                if gate.is_open() {
                    commit();
                    let now = frames.load(Ordering::Relaxed);
                    metrics.wal_frames.store(now, Ordering::Relaxed);
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));

        let last = worker.passive_with_catch_up().unwrap();
        *DURING_PASS.lock().unwrap() = None;
        let during = committed_during_passes.load(Ordering::Relaxed);
        assert!(
            during >= 2,
            "the writer committed during {during} passes only"
        );
        assert!(last.all_copied(), "{last:?}");
        assert!(
            last.log < 510,
            "the WAL reached {} frames, with commits during {during} passes",
            last.log
        );
        // Every frame is copied and no reader holds the WAL: the next commit wraps it, so the
        // WAL then holds that commit's frames only.
        commit();
        let after = frames.load(Ordering::Relaxed);
        assert!(after <= 102, "{after} frames");
    }
}
