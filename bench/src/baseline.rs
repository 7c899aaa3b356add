//! The "before" configurations of the demo: a plain rusqlite group-commit writer (one
//! connection, every queued insert of a batch in one transaction, each under its own
//! SAVEPOINT like litecommit) with either
//! - `Inline`: SQLite's default autocheckpoint (PASSIVE on the writer, inside COMMIT, once
//!   the WAL holds 1000 frames), or
//! - `StatTrigger`: after every batch, stat the -wal file; past 4 MB run a PASSIVE
//!   checkpoint (past 16 MB a RESTART) on a second connection in a background thread, one
//!   at a time, and double the max batch size while it runs (the design Marmot's
//!   benchmark measured).

use std::os::raw::c_int;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use rusqlite::{ffi, Connection};

use crate::record::{Checkpoint, Recorder};

/// SQLite's default `wal_autocheckpoint`, in frames.
pub const AUTOCHECKPOINT_FRAMES: c_int = 1000;
/// `StatTrigger`: a -wal file this large starts a PASSIVE checkpoint.
const STAT_PASSIVE_BYTES: u64 = 4 * 1024 * 1024;
/// `StatTrigger`: a -wal file this large starts a RESTART checkpoint instead.
const STAT_RESTART_BYTES: u64 = 16 * 1024 * 1024;

/// How the baseline writer checkpoints (see the module's documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    Inline,
    StatTrigger,
}

/// Called on the writer thread with whether the insert committed.
pub type Done = Box<dyn FnOnce(bool) + Send>;

/// One queued insert.
struct Job {
    /// The row's payload.
    payload: Vec<u8>,
    /// Told whether the insert committed.
    done: Done,
}

/// A plain group-commit writer on its own thread (see the module's documentation).
pub struct Baseline {
    /// The writer's queue; `None` once closed.
    queue: Option<Sender<Job>>,
    /// The writer thread, joined by `close`.
    writer: Option<JoinHandle<()>>,
    /// The -wal file, whose size `sample` reads.
    wal_path: PathBuf,
    /// Where the writer and the checkpoints record what they did.
    recorder: Arc<Recorder>,
}

/// Opens a connection the way a plain rusqlite application would.
pub fn open(path: &Path, synchronous: &str) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))?;
    conn.execute_batch(&format!(
        "PRAGMA synchronous={synchronous}; PRAGMA cache_size=-8192;"
    ))?;
    Ok(conn)
}

impl Baseline {
    pub fn start(
        path: &Path,
        synchronous: &str,
        strategy: Strategy,
        max_batch: usize,
        queue_capacity: usize,
        recorder: Arc<Recorder>,
    ) -> rusqlite::Result<Baseline> {
        let mut conn = open(path, synchronous)?;
        let frames = Arc::new(AtomicU64::new(0));
        let hook_frames = Arc::clone(&frames);
        let hook_recorder = Arc::clone(&recorder);
        let wal_path = crate::wal_path(path);
        let hook_wal = wal_path.clone();
        // A WAL hook replaces SQLite's own autocheckpoint hook, so `Inline` re-does exactly
        // what SQLite's default hook (sqlite3WalDefaultHook) does, timing each checkpoint.
        conn.wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, pages: c_int| {
            hook_frames.store(u64::try_from(pages).unwrap_or(0), Ordering::Relaxed);
            if strategy == Strategy::Inline && pages >= AUTOCHECKPOINT_FRAMES {
                hook_recorder.batch_frames(u64::try_from(pages).unwrap_or(0));
                hook_recorder.checkpoint_started(crate::file_len(&hook_wal));
                let start = Instant::now();
                let result = wal.checkpoint_v2(rusqlite::wal::CheckpointMode::PASSIVE);
                let (log, done, busy) = match result {
                    Ok((log, done)) => (i64::from(log), i64::from(done), log != done),
                    Err(_) => (-1, -1, true),
                };
                hook_recorder.checkpoint_finished(Checkpoint {
                    mode: "passive",
                    ms: start.elapsed().as_secs_f64() * 1000.0,
                    log,
                    done,
                    busy,
                });
            }
            Ok(())
        }))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)",
        )?;
        let checkpointer = match strategy {
            Strategy::Inline => None,
            Strategy::StatTrigger => Some(StatCheckpointer::start(
                path,
                synchronous,
                Arc::clone(&recorder),
            )?),
        };
        let (queue, rx) = crossbeam_channel::bounded(queue_capacity);
        let writer = Writer {
            conn,
            frames,
            recorder: Arc::clone(&recorder),
            checkpointer,
            wal_path: wal_path.clone(),
            max_batch,
        };
        let handle = std::thread::Builder::new()
            .name("baseline-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(Baseline {
            queue: Some(queue),
            writer: Some(handle),
            wal_path,
            recorder,
        })
    }

    /// Queues one insert; `done` runs on the writer thread. Blocks while the queue is full.
    pub fn submit(&self, payload: Vec<u8>, done: Done) {
        match &self.queue {
            Some(q) => {
                if let Err(e) = q.send(Job { payload, done }) {
                    (e.0.done)(false);
                }
            }
            None => done(false),
        }
    }

    /// (un-checkpointed WAL frames, -wal file size in bytes).
    pub fn sample(&self) -> (u64, u64) {
        (self.recorder.backlog(), crate::file_len(&self.wal_path))
    }

    /// Drains the queue and stops the writer (and the checkpointer).
    pub fn close(&mut self) {
        self.queue = None;
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Baseline {
    fn drop(&mut self) {
        self.close();
    }
}

/// The writer thread's state.
struct Writer {
    /// The one write connection.
    conn: Connection,
    /// Frames in the WAL after the latest commit, from the WAL hook.
    frames: Arc<AtomicU64>,
    /// Where batches are recorded.
    recorder: Arc<Recorder>,
    /// The stat trigger's checkpointer (`None` for `Inline`).
    checkpointer: Option<StatCheckpointer>,
    /// The -wal file, stat-ed after every batch by the stat trigger.
    wal_path: PathBuf,
    /// Most inserts per batch (doubled while a checkpoint runs).
    max_batch: usize,
}

impl Writer {
    fn run(mut self, rx: Receiver<Job>) {
        while let Ok(first) = rx.recv() {
            let running = self.checkpointer.as_ref().is_some_and(|c| c.running());
            // Dynamic batch sizing: twice the batch while a checkpoint runs.
            let max = if running {
                self.max_batch * 2
            } else {
                self.max_batch
            };
            let mut batch = vec![first];
            while batch.len() < max {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let checkpoints_before = self.recorder.checkpoints_finished();
            let start = Instant::now();
            let ok = self.commit(&batch).is_ok();
            let flush_ms = start.elapsed().as_secs_f64() * 1000.0;
            if self.checkpointer.is_none()
                && self.recorder.checkpoints_finished() > checkpoints_before
            {
                // The inline autocheckpoint ran inside this COMMIT: the writer stood still.
                self.recorder.checkpointing_commit(flush_ms);
                self.recorder.pause(start, Instant::now());
            }
            let frames = self.frames.load(Ordering::Relaxed);
            self.recorder
                .batch(batch.len(), running, frames, Some(flush_ms));
            if let Some(c) = &self.checkpointer {
                c.after_commit(crate::file_len(&self.wal_path));
            }
            for job in batch {
                (job.done)(ok);
            }
        }
        if let Some(c) = self.checkpointer.take() {
            c.stop();
        }
    }

    fn commit(&mut self, batch: &[Job]) -> rusqlite::Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let result = (|| {
            let mut insert = self
                .conn
                .prepare_cached("INSERT INTO events (payload) VALUES (?1)")?;
            for job in batch {
                self.conn.execute_batch("SAVEPOINT tx")?;
                insert.execute([&job.payload])?;
                self.conn.execute_batch("RELEASE tx")?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => self.conn.execute_batch("COMMIT"),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }
}

/// The stat trigger's background checkpointer: a thread with its own connection.
struct StatCheckpointer {
    /// Checkpoint modes to run, one at a time.
    requests: Sender<&'static str>,
    /// Set from a request until its checkpoint finished.
    running: Arc<AtomicBool>,
    /// The checkpoint thread, joined by `stop`.
    handle: Option<JoinHandle<()>>,
}

impl StatCheckpointer {
    fn start(path: &Path, synchronous: &str, recorder: Arc<Recorder>) -> rusqlite::Result<Self> {
        let conn = open(path, synchronous)?;
        let wal = crate::wal_path(path);
        let running = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&running);
        let (requests, rx) = crossbeam_channel::unbounded::<&'static str>();
        let handle = std::thread::Builder::new()
            .name("stat-checkpointer".into())
            .spawn(move || {
                while let Ok(mode) = rx.recv() {
                    recorder.checkpoint_started(crate::file_len(&wal));
                    let start = Instant::now();
                    let (log, done, busy) = checkpoint_v2(&conn, mode);
                    recorder.checkpoint_finished(Checkpoint {
                        mode,
                        ms: start.elapsed().as_secs_f64() * 1000.0,
                        log,
                        done,
                        busy,
                    });
                    flag.store(false, Ordering::Release);
                }
            })
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(StatCheckpointer {
            requests,
            running,
            handle: Some(handle),
        })
    }

    fn running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    /// The trigger: the -wal file's size by stat, checked after every commit.
    fn after_commit(&self, wal_bytes: u64) {
        if wal_bytes < STAT_PASSIVE_BYTES || self.running() {
            return;
        }
        let mode = if wal_bytes >= STAT_RESTART_BYTES {
            "restart"
        } else {
            "passive"
        };
        self.running.store(true, Ordering::Release);
        if self.requests.send(mode).is_err() {
            self.running.store(false, Ordering::Release);
        }
    }

    fn stop(mut self) {
        drop(self.requests);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// `sqlite3_wal_checkpoint_v2`, keeping the frame counts when SQLite reports busy.
fn checkpoint_v2(conn: &Connection, mode: &str) -> (i64, i64, bool) {
    let raw = match mode {
        "restart" => ffi::SQLITE_CHECKPOINT_RESTART,
        _ => ffi::SQLITE_CHECKPOINT_PASSIVE,
    };
    let (mut log, mut done): (c_int, c_int) = (-1, -1);
    // SAFETY: the handle is valid while `conn` lives and is used on this thread only.
    let rc = unsafe {
        ffi::sqlite3_wal_checkpoint_v2(conn.handle(), std::ptr::null(), raw, &mut log, &mut done)
    };
    (
        i64::from(log),
        i64::from(done),
        rc != ffi::SQLITE_OK || done < log,
    )
}
