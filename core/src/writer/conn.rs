//! The write connection: its WAL hook, the statements the writer itself runs, and its
//! recovery before each batch (a transaction left open, a connection to replace).

use std::os::raw::{c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rusqlite::{ffi, Connection};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::modes::Durability;
use crate::runner::Runner;
use crate::transaction::{Statement, StatementResult};

use super::reach::SchemaWords;
use super::sync::Synchronous;
use super::wal_room::WalRoom;
#[cfg(test)]
use super::Msg;

/// Batches in a row that found a transaction left open and could not roll it back, after
/// which the connection is replaced.
const REOPEN_AFTER: u32 = 2;

/// The writer's connection and what the writer keeps about it.
pub(super) struct WriteConn {
    /// The connection, which runs the submitted statements (replaced by
    /// [`WriteConn::prepare`] when it cannot recover).
    conn: Runner,
    /// The database path, to reopen it.
    path: PathBuf,
    /// The committer's settings, to reopen the connection and restore `synchronous`.
    config: Config,
    /// WAL frames after the latest commit (the WAL hook's count).
    wal_frames: Arc<AtomicU64>,
    /// The `synchronous` level now.
    pub(super) synchronous: Synchronous,
    /// Batches in a row that could not roll back a transaction left open.
    failed_recoveries: u32,
    /// What transactions may reach through their SQL and the schema.
    pub(super) words: SchemaWords,
    /// The WAL file's room past its last frame.
    wal_room: WalRoom,
    /// The pager's data version when the latest batch ended (see [`WriteConn::begin`]).
    ended_at: Option<u32>,
    /// Faults injected by unit tests.
    #[cfg(test)]
    hooks: TestHooks,
}

/// The write connection as the writer runs it, with a WAL hook that keeps each commit's WAL
/// frame count in `frames` (registering a WAL hook also replaces SQLite's inline
/// autocheckpoint).
fn runner(conn: Connection, config: &Config, frames: &Arc<AtomicU64>) -> Result<Runner> {
    count_wal_frames(&conn, frames)
        .map_err(|e| Error::Open(format!("cannot register the WAL hook: {e}")))?;
    Ok(Runner::new(conn, config.statement_cache_capacity))
}

/// Registers the WAL hook that stores each commit's frame count in `frames`. Through the C
/// API: rusqlite's `wal_hook` allocates on every commit, and this hook cannot fail or panic.
fn count_wal_frames(conn: &Connection, frames: &Arc<AtomicU64>) -> rusqlite::Result<()> {
    unsafe extern "C" fn hook(
        frames: *mut c_void,
        _db: *mut ffi::sqlite3,
        _schema: *const c_char,
        n: c_int,
    ) -> c_int {
        // SAFETY: `frames` is the connection's client data below, alive while it is open.
        let frames = unsafe { &*frames.cast::<Arc<AtomicU64>>() };
        frames.store(u64::try_from(n).unwrap_or(0), Ordering::Relaxed);
        ffi::SQLITE_OK
    }
    // SAFETY: the name is used for this `Arc` only; the connection owns the value until it
    // closes, and its WAL hook runs only while it is open.
    unsafe {
        let data = conn.set_clientdata(WAL_FRAMES, Some(Arc::clone(frames)))?;
        ffi::sqlite3_wal_hook(conn.handle(), Some(hook), data.cast());
    }
    Ok(())
}

/// The client data name of the WAL hook's frame count.
const WAL_FRAMES: &std::ffi::CStr = c"litecommit_wal_frames";

/// Faults that unit tests inject through [`Msg`].
#[cfg(test)]
#[derive(Default)]
struct TestHooks {
    /// Panic inside the next batch.
    panic_in_batch: bool,
    /// Rollbacks of a transaction left open that are still to fail.
    failing_rollbacks: usize,
    /// Fail the next final COMMIT of a batch.
    failing_final_commit: bool,
    /// Fail the next WAL sync.
    failing_sync: bool,
}

impl WriteConn {
    /// Takes over an opened write connection and registers its WAL hook.
    pub(super) fn new(conn: Connection, path: &Path, config: Config) -> Result<WriteConn> {
        let wal_frames = Arc::default();
        Ok(WriteConn {
            conn: runner(conn, &config, &wal_frames)?,
            path: path.to_path_buf(),
            config,
            wal_frames,
            synchronous: Synchronous::Configured,
            failed_recoveries: 0,
            words: SchemaWords::default(),
            wal_room: WalRoom::default(),
            ended_at: None,
            #[cfg(test)]
            hooks: TestHooks::default(),
        })
    }

    /// The connection.
    pub(super) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Runs one submitted statement; `index` is its place in its transaction.
    pub(super) fn run(&mut self, stmt: &Statement, index: usize) -> Result<StatementResult> {
        self.conn.run(stmt, index)
    }

    /// WAL frames after the latest commit.
    pub(super) fn wal_frames(&self) -> u64 {
        self.wal_frames.load(Ordering::Relaxed)
    }

    /// The configured durability.
    pub(super) fn durability(&self) -> Durability {
        self.config.durability
    }

    /// Runs one of the writer's own statements (kept prepared).
    pub(super) fn exec(&mut self, sql: &'static str) -> Result<()> {
        self.conn
            .exec_own(sql)
            .map(drop)
            .map_err(|e| Error::from_sqlite(e, None))
    }

    /// Begins an SQLite write transaction: takes the write lock, makes room in the WAL
    /// file (see `wal_room`), and reads what the schema lets transactions reach (see
    /// `reach`).
    ///
    /// The pager's data version (`SQLITE_FCNTL_DATA_VERSION`) moves only through this
    /// connection: when it commits, and when one of its read transactions (a BEGIN, idle
    /// work) finds that another connection committed. So if it is where the latest batch
    /// left it, nobody else committed since, and the schema is as that batch's BEGIN saw it
    /// but for this connection's own statements.
    pub(super) fn begin(&mut self) -> Result<()> {
        if let Err(e) = self.exec("BEGIN IMMEDIATE") {
            // It may have found another connection's commit, and nothing scanned the schema.
            self.words.forget();
            return Err(e.with_context("BEGIN IMMEDIATE failed"));
        }
        let others_committed = self.ended_at.is_none() || self.data_version() != self.ended_at;
        let frames = self.wal_frames();
        self.wal_room
            .make_room(&self.conn, frames, self.config.journal_size_limit);
        self.words.begin(&mut self.conn, others_committed)
    }

    /// After a batch, whatever its outcome: notes the pager's data version for the next
    /// [`WriteConn::begin`].
    pub(super) fn batch_ended(&mut self) {
        self.ended_at = self.data_version();
    }

    /// The pager's data version.
    fn data_version(&self) -> Option<u32> {
        let mut version: u32 = 0;
        // SAFETY: the handle is valid while the connection lives and this thread owns it;
        // the call stores an unsigned int into `version`.
        let rc = unsafe {
            ffi::sqlite3_file_control(
                self.conn().handle(),
                c"main".as_ptr(),
                ffi::SQLITE_FCNTL_DATA_VERSION,
                (&mut version as *mut u32).cast::<c_void>(),
            )
        };
        (rc == ffi::SQLITE_OK).then_some(version)
    }

    /// Whether an SQLite transaction is open.
    pub(super) fn in_transaction(&self) -> bool {
        !self.conn.is_autocommit()
    }

    /// Rolls back the open SQLite transaction, if any; if that fails, the next batch tries
    /// again before it begins.
    pub(super) fn roll_back_if_open(&mut self) {
        if self.in_transaction() {
            drop(self.exec("ROLLBACK"));
        }
    }

    /// Before a batch: a transaction left open (a ROLLBACK that failed) is rolled back, and
    /// `synchronous` is back at its configured level. When that rollback keeps failing, the
    /// connection is replaced by a new one.
    pub(super) fn prepare(&mut self) -> Result<()> {
        if self.in_transaction() {
            match self.roll_back_leftover() {
                Ok(()) => self.failed_recoveries = 0,
                Err(e) => {
                    self.failed_recoveries += 1;
                    if self.failed_recoveries < REOPEN_AFTER {
                        return Err(e.with_context(
                            "rolling back the transaction a previous batch left open failed",
                        ));
                    }
                    self.reopen()
                        .map_err(|e| e.with_context("reopening the write connection failed"))?;
                    self.failed_recoveries = 0;
                }
            }
        }
        self.restore_synchronous()
    }

    /// Rolls back a transaction a previous batch left open.
    fn roll_back_leftover(&mut self) -> Result<()> {
        #[cfg(test)]
        if self.hooks.failing_rollbacks > 0 {
            self.hooks.failing_rollbacks -= 1;
            return Err(Error::from_code(
                ffi::SQLITE_IOERR,
                "disk I/O error (injected by a test)".into(),
            ));
        }
        self.exec("ROLLBACK")
    }

    /// Replaces the connection by a new one; closing the old one rolls back what it holds.
    fn reopen(&mut self) -> Result<()> {
        let conn = crate::connection::open_writer(&self.path, &self.config)?;
        let conn = runner(conn, &self.config, &self.wal_frames)?;
        drop(std::mem::replace(&mut self.conn, conn));
        self.synchronous = Synchronous::Configured;
        // The new connection's data version counts afresh.
        self.ended_at = None;
        Ok(())
    }

    /// Pages on the free list (0 if it cannot be read).
    pub(super) fn freelist_count(&self) -> i64 {
        self.conn
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))
            .unwrap_or(0)
    }

    /// Frees up to `pages` pages of the free list; `false` if SQLite refused.
    pub(super) fn incremental_vacuum(&self, pages: i64) -> bool {
        self.conn
            .execute_batch(&format!("PRAGMA incremental_vacuum({pages})"))
            .is_ok()
    }

    /// Arms the fault a test message asks for.
    #[cfg(test)]
    pub(super) fn inject(&mut self, fault: Msg) {
        match fault {
            Msg::Panic => self.hooks.panic_in_batch = true,
            Msg::LeaveTransactionOpen => drop(self.conn.execute_batch("BEGIN")),
            Msg::FailRollbacks(n) => self.hooks.failing_rollbacks = n,
            Msg::FailFinalCommit => self.hooks.failing_final_commit = true,
            Msg::FailSync => self.hooks.failing_sync = true,
            Msg::Tx(..) | Msg::Flush(_) | Msg::Close => {}
        }
    }

    /// Once after [`Msg::FailFinalCommit`]: the error a batch's final COMMIT fails with.
    #[cfg(test)]
    pub(super) fn injected_commit_failure(&mut self) -> Option<Error> {
        std::mem::take(&mut self.hooks.failing_final_commit).then(|| {
            Error::from_code(
                ffi::SQLITE_IOERR_WRITE,
                "disk I/O error (injected by a test)".into(),
            )
        })
    }

    /// Once after [`Msg::FailSync`]: the error the WAL sync fails with.
    #[cfg(test)]
    pub(super) fn injected_sync_failure(&mut self) -> Option<Error> {
        std::mem::take(&mut self.hooks.failing_sync).then(|| {
            Error::from_code(
                ffi::SQLITE_IOERR_FSYNC,
                "disk I/O error (injected by a test)".into(),
            )
        })
    }

    /// Panics once after [`Msg::Panic`], inside the batch that runs next.
    #[cfg(test)]
    pub(super) fn panic_if_injected(&mut self) {
        if std::mem::take(&mut self.hooks.panic_in_batch) {
            panic!("injected by a test");
        }
    }
}
