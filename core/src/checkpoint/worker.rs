//! The scheduler thread: serves checkpoint requests on its own connection, runs idle
//! TRUNCATE checkpoints, and records what each checkpoint did.

use std::cell::Cell;
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
use crate::gate::{Gate, Pace};
use crate::metrics::Metrics;
use crate::modes::{CheckpointMode, Durability};

use super::policy::{pace_rate, Due};
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
    /// Frames the first pass of the latest catch-up copied, and how long it took with its
    /// database sync: the next first pass, of about as many frames, should go as fast.
    first_pass: Cell<Option<(u64, Duration)>>,
    /// A catch-up ran: its first pass's speed is no longer guessed.
    caught_up: Cell<bool>,
    /// The latest pass was held back by a reader: until a pass copies every frame again,
    /// pacing the writer is futile (the WAL cannot wrap however slow it is).
    reader_holds_wal: Cell<bool>,
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
            first_pass: Cell::new(None),
            caught_up: Cell::new(false),
            reader_holds_wal: Cell::new(false),
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
    /// wraps the WAL. The pause is short: little is left to copy and sync by then.
    ///
    /// A writer faster than the disk outpaces the passes, so it gets a pace, spread over
    /// each pass as short waits before its batches (see [`crate::gate::Pace`]). During the
    /// first pass it may commit half of what is left below the restart threshold (see
    /// [`super::policy::Policy::room`]); once it outpaced a pass, half of what the next
    /// pass copies (see [`super::policy::Policy::allowance`]), so that each pass copies at
    /// most half as much as the one before. No pace is set after a pass held back by a
    /// reader, until a pass copies every frame again. A writer that does not keep to its
    /// pace is paused at once (before the database sync, which would let it write still
    /// more) when the WAL could pass the restart threshold, however much is left (see
    /// [`super::policy::Policy::outpaced_near_restart`]).
    fn passive_with_catch_up(&self) -> Result<Frames> {
        let Some(policy) = &self.scheduler.policy else {
            return checkpoint_v2(&self.conn, CheckpointMode::Passive);
        };
        // The WAL hook's frame count at the latest commit; lower than a pass's if the WAL
        // has restarted since.
        let committed = || self.scheduler.metrics.wal_frames.load(Ordering::Relaxed);
        let pace = |allowance: u64, from_frames: u64, (burst, frames_per_sec): (u64, f64)| Pace {
            since: Instant::now(),
            from_frames,
            burst,
            frames_per_sec,
            allowance,
            max_wait: self.busy_timeout,
        };
        let unpaced = (0, f64::INFINITY);
        // Lifted on every way out.
        let pacing = self.gate.pacing();
        let mut copied_before = self.scheduler.state().backfilled();
        // Until the first pass ends, the writer may commit what the WAL has room for, spread
        // over the time that pass should take (the backlog at the latest first pass's rate,
        // or, in the first catch-up, half of it at once and the rest at a slow disk's rate).
        let now = committed();
        let (room, backlog) = (policy.room(now), now.saturating_sub(copied_before));
        let first_catch_up = !self.caught_up.replace(true);
        let spread = match self.first_pass.get() {
            Some((copied, took)) => pace_rate(room, backlog, copied, took).map(|rate| (0, rate)),
            None if first_catch_up => policy.unknown_first_pass_pace(room, backlog),
            None => None,
        };
        let mut paced = (room > 0 && !self.reader_holds_wal.get())
            .then(|| pace(room, now, spread.unwrap_or(unpaced)));
        pacing.set(paced);
        let mut began = Instant::now();
        let mut last = checkpoint_v2(&self.conn, CheckpointMode::Passive)?;
        // Whether the writer outpaced a pass of this catch-up, and whether it keeps to its
        // pace.
        let (mut outpacing, mut keeps_pace) = (false, true);
        for pass in 0..CATCH_UP_PASSES {
            if !last.all_copied() {
                // A reader holds it back (or the WAL is empty): nothing to catch up with.
                self.reader_holds_wal.set(last.log > 0);
                return Ok(last);
            }
            self.reader_holds_wal.set(false);
            let log = u64::try_from(last.log).unwrap_or(0);
            let copied = log.saturating_sub(copied_before);
            // What the writer may commit during the next pass, while it keeps to its pace.
            let mut next_allowance = |now: u64| {
                keeps_pace &= paced.map_or(true, |p| p.kept(now));
                let grown = now.saturating_sub(log);
                let next = policy.allowance(copied, now, grown, outpacing);
                (grown, next.filter(|_| keeps_pace))
            };
            let now = committed();
            let (grown, next) = next_allowance(now);
            let outpaced =
                next == Some(0) || policy.outpaced_near_restart(now, next.unwrap_or(grown));
            if !outpaced {
                // The pass synced the WAL up to `last.log`: the paused pass below syncs no
                // more of it than the writer commits meanwhile.
                self.sync_files(&[OpenFile::Database])?;
            }
            let took = began.elapsed();
            // Counted from here: the writer went on committing during the database sync.
            let now = committed();
            let (grown, next) = next_allowance(now);
            outpacing |= next.is_some();
            if pass == 0 && !outpaced {
                self.first_pass.set(Some((copied, took)));
            }
            if outpaced || next == Some(0) || policy.residual_is_small(now, last.log, outpacing) {
                let _paused = self.gate.pause_writer();
                return checkpoint_v2(&self.conn, CheckpointMode::Passive);
            }
            paced = next.map(|allowance| {
                let rate = pace_rate(allowance, grown, copied, took);
                pace(allowance, now, rate.map_or(unpaced, |rate| (0, rate)))
            });
            pacing.set(paced);
            copied_before = log;
            began = Instant::now();
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

    /// Held by each test that runs catch-ups through [`DuringPasses`]: [`DURING_PASS`] is
    /// one for the process.
    static SCENARIO: Mutex<()> = Mutex::new(());

    /// What a catch-up beside a writer that commits during its passes came to.
    struct CatchUp {
        /// The last pass's counts.
        last: Frames,
        /// Passes during which the writer committed.
        passes_with_commits: u64,
        /// WAL frames after one more commit once the catch-up ended.
        frames_after: u64,
        /// Whether the worker took the last pass to be held back by a reader.
        reader_holds_wal: bool,
        /// The pace, if any, the writer found before each of its commits during passes.
        paces: Vec<Option<Pace>>,
    }

    /// Runs `catch_ups` automatic PASSIVE catch-ups (1 MB passive and 2 MB restart
    /// thresholds: 510 frames), each after a commit, while a writer commits during each pass,
    /// `during_pass` times, transactions of `frames_per_commit` frames (about), each only if
    /// `may_commit` (given the gate and the WAL's frame count) lets it; with `reader`, while
    /// a reader holds a snapshot, taken before the first and again, of the latest commit,
    /// before each later one. Tells how the last one went, and what the writer found of
    /// the pace during all of them.
    fn catch_up_beside(
        catch_ups: usize,
        frames_per_commit: u64,
        during_pass: u64,
        may_commit: fn(&Gate, u64) -> bool,
        reader: bool,
    ) -> CatchUp {
        let _one_at_a_time = SCENARIO.lock().unwrap_or_else(|p| p.into_inner());
        static REGISTERED: std::sync::Once = std::sync::Once::new();
        REGISTERED.call_once(|| {
            litecommit_vfs_wrap::register("litecommit-during-passes", DuringPasses, false).unwrap();
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outpaced.db");
        let config = Config {
            passive_threshold_mb: 1.0,
            restart_threshold_mb: 2.0,
            ..Config::default()
        };
        let mut writer = crate::connection::open_writer(&path, &config).unwrap();
        let uri = format!("file:{}?vfs=litecommit-during-passes", path.display());
        let conn = crate::connection::open_checkpointer(Path::new(&uri), &config).unwrap();
        let metrics = Arc::new(Metrics::new(&config, &wal_path(&conn)));
        // The WAL's frame count after each commit, where the worker reads it.
        let hook_metrics = Arc::clone(&metrics);
        writer
            .wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, n| {
                let n = u64::try_from(n).unwrap_or(0);
                hook_metrics.wal_frames.store(n, Ordering::Relaxed);
                Ok(())
            }))
            .unwrap();
        writer.execute_batch("CREATE TABLE t(x BLOB)").unwrap();
        let snapshot = reader.then(|| {
            let reader = rusqlite::Connection::open(&path).unwrap();
            reader
                .execute_batch("BEGIN; SELECT count(*) FROM t;")
                .unwrap();
            reader
        });
        let writer = Arc::new(Mutex::new(writer));
        // Overflow pages of the blob, its leaf page, the root page.
        let sql = format!(
            "INSERT INTO t VALUES (randomblob({} * 4096 - 100))",
            frames_per_commit.saturating_sub(1)
        );
        let commit = move || writer.lock().unwrap().execute_batch(&sql).unwrap();
        let (requests, _rx) = crossbeam_channel::unbounded();
        let scheduler = Arc::new(Scheduler {
            requests,
            state: Mutex::new(TriggerState::new(Instant::now())),
            policy: Some(Policy::new(&config, 4096)),
            metrics: Arc::clone(&metrics),
        });
        let gate = Arc::new(Gate::default());
        let worker = Worker::new(conn, scheduler, Arc::clone(&gate), &config);
        let passes_with_commits = Arc::new(AtomicU64::new(0));
        let paces = Arc::new(Mutex::new(Vec::new()));
        *DURING_PASS.lock().unwrap() = Some(Box::new({
            let (metrics, count) = (Arc::clone(&metrics), Arc::clone(&passes_with_commits));
            let paces = Arc::clone(&paces);
            let commit = commit.clone();
            let gate = Arc::clone(&gate);
            move || {
                let mut committed = false;
                for _ in 0..during_pass {
                    // A paused writer commits nothing.
                    let frames = metrics.wal_frames.load(Ordering::Relaxed);
                    if !gate.is_open() || !may_commit(&gate, frames) {
                        break;
                    }
                    paces.lock().unwrap().push(gate.pace());
                    commit();
                    committed = true;
                }
                if committed {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));

        let mut last = None;
        for i in 0..catch_ups {
            if let Some(reader) = snapshot.as_ref().filter(|_| i > 0) {
                reader
                    .execute_batch("COMMIT; BEGIN; SELECT count(*) FROM t;")
                    .unwrap();
            }
            commit();
            last = Some(worker.passive_with_catch_up().unwrap());
            assert!(gate.pace_allows(u64::MAX), "the pace outlived the catch-up");
        }
        *DURING_PASS.lock().unwrap() = None;
        drop(snapshot);
        commit();
        let paces = std::mem::take(&mut *paces.lock().unwrap());
        CatchUp {
            last: last.unwrap(),
            passes_with_commits: passes_with_commits.load(Ordering::Relaxed),
            frames_after: metrics.wal_frames.load(Ordering::Relaxed),
            reader_holds_wal: worker.reader_holds_wal.get(),
            paces,
        }
    }

    impl CatchUp {
        /// Asserts that the writer committed during `passes` passes at least, that the last
        /// pass copied every frame and left fewer than `frames` in the WAL, and that the next
        /// commit, of about `commit_frames`, wrapped the WAL (no reader holds it).
        fn assert_ended(&self, passes: u64, frames: i64, commit_frames: u64) {
            assert!(
                self.passes_with_commits >= passes,
                "the writer committed during {} passes only",
                self.passes_with_commits
            );
            assert!(self.last.all_copied(), "{:?}", self.last);
            assert!(!self.reader_holds_wal);
            assert!(
                self.last.log < frames,
                "the WAL reached {} frames, with commits during {} passes",
                self.last.log,
                self.passes_with_commits
            );
            assert!(
                self.frames_after <= commit_frames + 2,
                "{} frames after the catch-up",
                self.frames_after
            );
        }
    }

    /// A catch-up whose every pass the writer outpaces (it commits about 100 frames during
    /// each pass, a disk too slow for it) and which does not keep to its pace pauses the
    /// writer before the WAL would pass the restart threshold (510 frames), so the next
    /// write wraps the WAL. Without that pause the catch-up gives up after nine passes, with
    /// about 900 frames in the WAL.
    #[test]
    fn a_writer_that_outpaces_every_pass_is_paused_before_the_restart_threshold() {
        catch_up_beside(1, 100, 1, |_, _| true, false).assert_ended(2, 510, 100);
    }

    /// The same writer, up to 100 frames in commits of about 10 during each pass, each only
    /// when its pace lets it: after the first pass (about 110 frames in the WAL, 100 more
    /// committed during it) it may commit 50 frames during the next, whose residual is then
    /// small enough for the last pass. Without the pace the WAL would reach 300-400 frames
    /// before the pause.
    #[test]
    fn a_writer_that_keeps_to_its_pace_lets_the_catch_up_end_early() {
        catch_up_beside(1, 10, 10, Gate::pace_allows, false).assert_ended(2, 200, 10);
    }

    /// A writer that would commit 600 frames during the first pass may commit only what the
    /// WAL has room for: half of what is left below the restart threshold (about 250
    /// frames).
    #[test]
    fn the_first_pass_leaves_the_writer_only_the_room_below_the_threshold() {
        catch_up_beside(1, 10, 60, Gate::pace_allows, false).assert_ended(1, 510, 10);
    }

    /// The first catch-up cannot know how fast its first pass goes: the writer may commit
    /// half of its room at once and the rest at a slow disk's pace. Later first passes go
    /// by the latest one's speed, with no burst.
    #[test]
    fn only_the_first_catch_up_guesses_its_first_pass_speed() {
        let run = catch_up_beside(2, 10, 1, |_, _| true, false);
        let paces: Vec<Pace> = run.paces.into_iter().flatten().collect();
        let (first, later) = paces.split_first().expect("no pace during the first pass");
        assert!(
            first.burst > 0 && first.burst == first.allowance / 2,
            "{first:?}"
        );
        assert!(first.frames_per_sec.is_finite(), "{first:?}");
        assert!(
            !later.is_empty(),
            "no pace after the first catch-up's first pass"
        );
        assert!(later.iter().all(|pace| pace.burst == 0), "{later:?}");
    }

    /// A pass held back by a reader: the next catch-up does not pace the writer, since the
    /// WAL cannot wrap while the reader holds it, however slow the writer. The reader moves
    /// to a later snapshot between the two catch-ups, so that the second one's pass has
    /// frames to copy (and the writer commits during it).
    #[test]
    fn a_pass_held_back_by_a_reader_stops_the_pacing() {
        let run = catch_up_beside(2, 10, 1, |_, _| true, true);
        assert!(!run.last.all_copied(), "{:?}", run.last);
        assert!(run.reader_holds_wal);
        let paced: Vec<bool> = run.paces.iter().map(Option::is_some).collect();
        assert_eq!(paced, [true, false], "paced during each catch-up's pass");
    }
}
