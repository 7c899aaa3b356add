//! The C ABI of litecommit. `include/litecommit.h` is generated from this crate by cbindgen
//! (`ffi/cbindgen.toml`); the header's preamble documents ownership and thread safety.
//!
//! Every exported function converts its arguments, calls the engine and maps the outcome;
//! its body runs under `catch_unwind`, so no panic crosses into C.

// The safety contract of every exported function is the header's (NULL is always checked).
#![allow(clippy::missing_safety_doc)]

mod error;
mod options;
mod queue;
mod results;
mod values;

use std::ffi::{c_char, c_void, CString};
use std::ptr;
use std::time::Duration;

use engine::{CheckpointMode, Committer, Pending, Transaction};

pub use error::*;
pub use options::*;
pub use queue::*;
pub use results::*;
pub use values::*;

use error::{guard, guard_void, FfiError, FfiResult};

/// A group committer on one database. Opaque; see `litecommit_open`.
#[allow(non_camel_case_types)]
pub struct litecommit_committer {
    inner: Committer,
    /// The process that opened it: in a forked child (another pid) every call fails with
    /// `LITECOMMIT_FORKED` before touching the committer, whose threads and locks are the
    /// parent's (a lock held by one of them at fork time would never be released).
    opened_by: u32,
}

/// A submitted transaction to wait on. Opaque; see `litecommit_submit`.
#[allow(non_camel_case_types)]
pub struct litecommit_pending {
    /// `None` once waited on.
    inner: std::sync::Mutex<Option<Pending>>,
    /// The submitting process: a forked child cannot wait for the parent's writer.
    opened_by: u32,
}

/// `litecommit_checkpoint` mode: copy what it can without waiting.
pub const LITECOMMIT_CHECKPOINT_PASSIVE: u32 = 0;
/// `litecommit_checkpoint` mode: wait for the writer, then copy everything.
pub const LITECOMMIT_CHECKPOINT_FULL: u32 = 1;
/// `litecommit_checkpoint` mode: like FULL, then wait for readers so the WAL restarts.
pub const LITECOMMIT_CHECKPOINT_RESTART: u32 = 2;
/// `litecommit_checkpoint` mode: like RESTART, then truncate the WAL file.
pub const LITECOMMIT_CHECKPOINT_TRUNCATE: u32 = 3;

/// What a manual checkpoint did.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct litecommit_checkpoint_result {
    /// Frames in the WAL (-1 if the database is not in WAL mode).
    pub log_frames: i64,
    /// Frames copied into the database.
    pub checkpointed_frames: i64,
    /// 1 if it could not finish (SQLite reported busy or frames were left behind).
    pub busy: i32,
}

/// A snapshot of a committer's figures (the same as its metrics). Pass `sizeof` to
/// `litecommit_get_stats` so that later versions can add fields.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct litecommit_stats {
    /// Transactions committed.
    pub transactions_committed: u64,
    /// Transactions rejected by one of their own statements.
    pub transactions_failed: u64,
    /// Transactions rejected because their batch's BEGIN or COMMIT failed.
    pub transactions_aborted: u64,
    /// Batches committed (or attempted).
    pub batches: u64,
    /// Batches flushed by the adaptive policy.
    pub flushes_adaptive: u64,
    /// Batches flushed because they reached the max batch size.
    pub flushes_size: u64,
    /// Batches flushed by the ticker's timer.
    pub flushes_timer: u64,
    /// Batches flushed by `litecommit_flush`.
    pub flushes_flush: u64,
    /// Batches flushed at close.
    pub flushes_close: u64,
    /// Largest batch so far.
    pub max_batch_size: u64,
    /// Mean transactions per batch.
    pub mean_batch_size: f64,
    /// Mean time to run and commit a batch, in ms.
    pub mean_flush_ms: f64,
    /// Mean time from submit to resolved, in ms.
    pub mean_commit_latency_ms: f64,
    /// PASSIVE checkpoints.
    pub checkpoints_passive: u64,
    /// FULL checkpoints.
    pub checkpoints_full: u64,
    /// RESTART checkpoints.
    pub checkpoints_restart: u64,
    /// TRUNCATE checkpoints.
    pub checkpoints_truncate: u64,
    /// Checkpoints for which SQLite reported busy.
    pub checkpoints_busy: u64,
    /// 1 while a checkpoint runs.
    pub checkpoint_running: i32,
    /// Frames in the WAL after the latest commit.
    pub wal_frames: u64,
    /// Frames not yet checkpointed.
    pub wal_backlog_frames: u64,
    /// Size of the -wal file at the latest reading, in bytes.
    pub wal_file_bytes: u64,
    /// Transactions queued when the latest batch was formed.
    pub queue_depth: u64,
    /// Longest time the writer paused for a checkpoint (RESTART/TRUNCATE, or a PASSIVE catch-up), in ms.
    pub max_writer_stall_ms: f64,
}

/// Called once on the writer thread with the outcome of a transaction submitted with
/// `litecommit_submit_callback`. `result` is the callback's to free
/// (`litecommit_result_free`). See the header's preamble for what it must not do.
#[allow(non_camel_case_types)]
pub type litecommit_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, result: *mut litecommit_result)>;

/// # Safety
/// `db` is NULL or a live committer.
unsafe fn committer<'a>(db: *const litecommit_committer) -> FfiResult<&'a Committer> {
    // SAFETY: per the caller.
    let db = unsafe { db.as_ref() }.ok_or_else(|| FfiError::invalid("db is NULL"))?;
    error::same_process(db.opened_by)?;
    Ok(&db.inner)
}

fn write_out<T>(out: *mut T, value: T) -> FfiResult<()> {
    if out.is_null() {
        return Err(FfiError::invalid("out is NULL"));
    }
    // SAFETY: non-NULL caller storage for one T.
    unsafe { ptr::write(out, value) };
    Ok(())
}

/// Takes an object out of the caller's variable and sets the variable to NULL: what every
/// `litecommit_*_free` does. `None` when `slot` or `*slot` is NULL.
///
/// # Safety
/// `slot` is NULL or points to NULL or to an object handed out by `Box::into_raw`.
pub(crate) unsafe fn take_box<T>(slot: *mut *mut T) -> Option<Box<T>> {
    // SAFETY: per the caller.
    let slot = unsafe { slot.as_mut() }?;
    let p = std::mem::replace(slot, ptr::null_mut());
    // SAFETY: per the caller; the variable no longer holds it, so it is freed only once.
    (!p.is_null()).then(|| unsafe { Box::from_raw(p) })
}

fn check_out<T>(out: *mut *mut T) -> FfiResult<()> {
    if out.is_null() {
        return Err(FfiError::invalid("out is NULL"));
    }
    // SAFETY: non-NULL; cleared first so that it is NULL on every failure.
    unsafe { ptr::write(out, ptr::null_mut()) };
    Ok(())
}

/// The version of this library, e.g. "0.1.0" (static string).
#[no_mangle]
pub unsafe extern "C" fn litecommit_version() -> *const c_char {
    // A constant: nothing here can panic, but every export runs under catch_unwind.
    std::panic::catch_unwind(|| concat!(env!("CARGO_PKG_VERSION"), "\0"))
        .unwrap_or("\0")
        .as_ptr()
        .cast()
}

/// Opens (creating if needed) the database at `path` (UTF-8) in WAL mode and starts the
/// writer and the checkpoint scheduler. `opts` may be NULL for all defaults. On success
/// `*out` is the committer; on failure it is NULL. A failure SQLite reports (a file that
/// is not a database: SQLITE_NOTADB; a database locked by another process: SQLITE_BUSY)
/// is `LITECOMMIT_SQLITE_ERROR` with SQLite's codes in `litecommit_last_error`.
#[no_mangle]
pub unsafe extern "C" fn litecommit_open(
    path: *const c_char,
    opts: *const litecommit_options,
    out: *mut *mut litecommit_committer,
) -> litecommit_status {
    guard("litecommit_open", || {
        check_out(out)?;
        // SAFETY: NULL or NUL-terminated per the API.
        let path = unsafe { string_arg(path, "path") }?;
        // SAFETY: NULL or a struct filled by litecommit_options_default.
        let config = unsafe { litecommit_options::read(opts) }?.into_config()?;
        let inner = Committer::open(path, config)?;
        let db = Box::into_raw(Box::new(litecommit_committer {
            inner,
            opened_by: std::process::id(),
        }));
        // SAFETY: checked non-NULL above.
        unsafe { ptr::write(out, db) };
        Ok(())
    })
}

/// Stops accepting work, commits everything already queued, delivers every outcome, stops
/// the scheduler and closes the connections. Idempotent: closing a closed committer returns
/// `LITECOMMIT_OK`. Every later call on it fails with `LITECOMMIT_CLOSED`.
/// Called from a completion callback it returns at once and the writer finishes closing
/// on its own.
#[no_mangle]
pub unsafe extern "C" fn litecommit_close(db: *const litecommit_committer) -> litecommit_status {
    guard("litecommit_close", || {
        // SAFETY: NULL or a live committer.
        unsafe { committer(db) }?.close()?;
        Ok(())
    })
}

/// Closes (as `litecommit_close`) and frees a committer, then sets `*db` to NULL. NULL or
/// `*db == NULL` is a no-op, so a second free through the same variable does nothing. No
/// other thread may still be using the committer. In a forked child it releases nothing
/// (the writer thread and the connections are the parent's) and only forgets the handle.
#[no_mangle]
pub unsafe extern "C" fn litecommit_committer_free(db: *mut *mut litecommit_committer) {
    guard_void(|| {
        // SAFETY: NULL or the caller's variable holding NULL or a live committer.
        // Drop closes, which in a forked child would wait for a writer thread that does
        // not exist there.
        if let Some(db) = unsafe { take_box(db) } {
            forget_in_child(db.opened_by, db);
        }
    })
}

/// Runs a transaction of `n` statements and waits until it is durable. On success
/// `*out` is the result (free it with `litecommit_result_free`); on failure `*out` is
/// NULL and the error is in `litecommit_last_error`.
#[no_mangle]
pub unsafe extern "C" fn litecommit_execute(
    db: *const litecommit_committer,
    stmts: *const litecommit_statement,
    n: usize,
    out: *mut *mut litecommit_result,
) -> litecommit_status {
    guard("litecommit_execute", || {
        check_out(out)?;
        // SAFETY: NULL or a live committer; statements valid per the API.
        let db = unsafe { committer(db) }?;
        let tx = unsafe { transaction_in(stmts, n) }?;
        let result = db.transaction(tx)?;
        let result = litecommit_result::from_outcome(Ok(result));
        // SAFETY: checked non-NULL above.
        unsafe { ptr::write(out, Box::into_raw(Box::new(result))) };
        Ok(())
    })
}

fn submit_pending(
    db: *const litecommit_committer,
    stmts: *const litecommit_statement,
    n: usize,
    out: *mut *mut litecommit_pending,
    submit: impl FnOnce(&Committer, Transaction) -> engine::Result<Pending>,
) -> FfiResult<()> {
    check_out(out)?;
    // SAFETY: NULL or a live committer; statements valid per the API.
    let db = unsafe { committer(db) }?;
    let tx = unsafe { transaction_in(stmts, n) }?;
    let pending = submit(db, tx)?;
    let p = Box::into_raw(Box::new(litecommit_pending {
        inner: std::sync::Mutex::new(Some(pending)),
        opened_by: std::process::id(),
    }));
    // SAFETY: checked non-NULL above.
    unsafe { ptr::write(out, p) };
    Ok(())
}

/// Queues a transaction (waiting while the queue is full) and returns at once with a
/// handle in `*out` to wait on with `litecommit_pending_wait`.
#[no_mangle]
pub unsafe extern "C" fn litecommit_submit(
    db: *const litecommit_committer,
    stmts: *const litecommit_statement,
    n: usize,
    out: *mut *mut litecommit_pending,
) -> litecommit_status {
    guard("litecommit_submit", || {
        submit_pending(db, stmts, n, out, |db, tx| db.submit(tx))
    })
}

/// Like `litecommit_submit`, but fails at once with `LITECOMMIT_QUEUE_FULL` when the
/// queue is full.
#[no_mangle]
pub unsafe extern "C" fn litecommit_try_submit(
    db: *const litecommit_committer,
    stmts: *const litecommit_statement,
    n: usize,
    out: *mut *mut litecommit_pending,
) -> litecommit_status {
    guard("litecommit_try_submit", || {
        submit_pending(db, stmts, n, out, |db, tx| db.try_submit(tx))
    })
}

/// Waits for a submitted transaction: `timeout_ms < 0` without limit, otherwise at most
/// that long (`LITECOMMIT_TIMEOUT`; the transaction may still commit, wait again). On
/// success `*out` is the result; on failure NULL, with the transaction's error in
/// `litecommit_last_error`. A handle can be waited on until it returns something other
/// than `LITECOMMIT_TIMEOUT`; after that, waiting again is `LITECOMMIT_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn litecommit_pending_wait(
    pending: *const litecommit_pending,
    timeout_ms: i64,
    out: *mut *mut litecommit_result,
) -> litecommit_status {
    guard("litecommit_pending_wait", || {
        check_out(out)?;
        // SAFETY: NULL or a live pending handle.
        let p = unsafe { pending.as_ref() }.ok_or_else(|| FfiError::invalid("pending is NULL"))?;
        error::same_process(p.opened_by)?;
        let mut slot = p.inner.lock().unwrap_or_else(|e| e.into_inner());
        let handle = slot
            .as_ref()
            .ok_or_else(|| FfiError::invalid("this transaction was already waited on"))?;
        let outcome = match u64::try_from(timeout_ms) {
            Ok(ms) => match handle.wait_timeout(Duration::from_millis(ms)) {
                Err(engine::Error::Timeout) => return Err(engine::Error::Timeout.into()),
                other => other,
            },
            Err(_) => slot.take().map_or_else(
                || Err(engine::Error::Internal("pending handle vanished".into())),
                Pending::wait,
            ),
        };
        *slot = None;
        let result = litecommit_result::from_outcome(Ok(outcome?));
        // SAFETY: checked non-NULL above.
        unsafe { ptr::write(out, Box::into_raw(Box::new(result))) };
        Ok(())
    })
}

/// Frees a pending handle (waited on or not: the transaction still commits) and sets
/// `*pending` to NULL. NULL or `*pending == NULL` is a no-op.
#[no_mangle]
pub unsafe extern "C" fn litecommit_pending_free(pending: *mut *mut litecommit_pending) {
    guard_void(|| {
        // SAFETY: NULL or the caller's variable holding NULL or a live handle.
        if let Some(p) = unsafe { take_box(pending) } {
            forget_in_child(p.opened_by, p);
        }
    })
}

/// Drops `object`, unless this is a forked child of the process that created it: there its
/// locks may be held by threads that do not exist here, so it is forgotten instead (its
/// memory is the child's copy of the parent's).
pub(crate) fn forget_in_child<T>(opened_by: u32, object: T) {
    if std::process::id() == opened_by {
        drop(object);
    } else {
        std::mem::forget(object);
    }
}

/// Carries the caller's `user_data` to the writer thread; what it points to is the
/// caller's business (documented: the callback runs on another thread).
struct UserData(*mut c_void);
// SAFETY: litecommit only passes the pointer back to the caller's callback.
unsafe impl Send for UserData {}

/// Queues a transaction (waiting while the queue is full); `callback(user_data, result)`
/// runs exactly once on the writer thread with the outcome, also when the transaction
/// fails. If this call itself fails, the callback is never called.
#[no_mangle]
pub unsafe extern "C" fn litecommit_submit_callback(
    db: *const litecommit_committer,
    stmts: *const litecommit_statement,
    n: usize,
    callback: litecommit_callback,
    user_data: *mut c_void,
) -> litecommit_status {
    guard("litecommit_submit_callback", || {
        let callback = callback.ok_or_else(|| FfiError::invalid("callback is NULL"))?;
        // SAFETY: NULL or a live committer; statements valid per the API.
        let db = unsafe { committer(db) }?;
        let tx = unsafe { transaction_in(stmts, n) }?;
        let user_data = UserData(user_data);
        db.submit_with_callback(tx, move |outcome| {
            let user_data = user_data;
            let result = Box::into_raw(Box::new(litecommit_result::from_outcome(outcome)));
            // SAFETY: a C function pointer given by the caller; it owns `result` now.
            unsafe { callback(user_data.0, result) };
        })?;
        Ok(())
    })
}

/// Queues a transaction whose outcome goes to `queue` tagged with `token` (any value the
/// caller likes, e.g. an index into its own table of waiters). With `block != 0` it waits
/// while the committer's queue is full; otherwise it fails with `LITECOMMIT_QUEUE_FULL`.
/// If this call fails, nothing is delivered to the queue for this token.
#[no_mangle]
pub unsafe extern "C" fn litecommit_submit_queue(
    db: *const litecommit_committer,
    stmts: *const litecommit_statement,
    n: usize,
    queue: *const litecommit_completion_queue,
    token: u64,
    block: i32,
) -> litecommit_status {
    guard("litecommit_submit_queue", || {
        // SAFETY: NULL or live handles; statements valid per the API.
        let db = unsafe { committer(db) }?;
        let q = unsafe { queue.as_ref() }.ok_or_else(|| FfiError::invalid("queue is NULL"))?;
        error::same_process(q.created_by)?;
        if q.inner.is_closed() {
            return Err(FfiError::new(
                litecommit_status::LITECOMMIT_CLOSED,
                "the completion queue is closed",
            ));
        }
        let tx = unsafe { transaction_in(stmts, n) }?;
        db.submit_to_sink(tx, &q.sink, token, block != 0)?;
        Ok(())
    })
}

/// Runs one read-only statement on the read pool; `*out` gets the rows (free them with
/// `litecommit_rows_free`). It sees every transaction that completed before it started.
#[no_mangle]
pub unsafe extern "C" fn litecommit_query(
    db: *const litecommit_committer,
    stmt: *const litecommit_statement,
    out: *mut *mut litecommit_rows,
) -> litecommit_status {
    guard("litecommit_query", || {
        check_out(out)?;
        // SAFETY: NULL or a live committer; the statement is valid per the API.
        let db = unsafe { committer(db) }?;
        let stmt = unsafe { stmt.as_ref() }.ok_or_else(|| FfiError::invalid("stmt is NULL"))?;
        let stmt = unsafe { statement_in(stmt) }?;
        let rows = db.query(&stmt.sql, stmt.params)?;
        let rows = Box::into_raw(Box::new(litecommit_rows::from_rows(rows)));
        // SAFETY: checked non-NULL above.
        unsafe { ptr::write(out, rows) };
        Ok(())
    })
}

/// A barrier: returns once every transaction submitted before it is committed.
#[no_mangle]
pub unsafe extern "C" fn litecommit_flush(db: *const litecommit_committer) -> litecommit_status {
    guard("litecommit_flush", || {
        // SAFETY: NULL or a live committer.
        unsafe { committer(db) }?.flush()?;
        Ok(())
    })
}

/// Runs a checkpoint now (`LITECOMMIT_CHECKPOINT_*`) on the scheduler's connection.
/// `out` may be NULL.
#[no_mangle]
pub unsafe extern "C" fn litecommit_checkpoint(
    db: *const litecommit_committer,
    mode: u32,
    out: *mut litecommit_checkpoint_result,
) -> litecommit_status {
    guard("litecommit_checkpoint", || {
        // SAFETY: NULL or a live committer.
        let db = unsafe { committer(db) }?;
        let mode = match mode {
            LITECOMMIT_CHECKPOINT_PASSIVE => CheckpointMode::Passive,
            LITECOMMIT_CHECKPOINT_FULL => CheckpointMode::Full,
            LITECOMMIT_CHECKPOINT_RESTART => CheckpointMode::Restart,
            LITECOMMIT_CHECKPOINT_TRUNCATE => CheckpointMode::Truncate,
            other => {
                return Err(FfiError::invalid(format!(
                    "unknown checkpoint mode {other}"
                )))
            }
        };
        let r = db.checkpoint(mode)?;
        if !out.is_null() {
            write_out(
                out,
                litecommit_checkpoint_result {
                    log_frames: r.log_frames,
                    checkpointed_frames: r.checkpointed_frames,
                    busy: r.busy.into(),
                },
            )?;
        }
        Ok(())
    })
}

/// The metrics in the Prometheus text format, in `*out` (free it with
/// `litecommit_string_free`).
#[no_mangle]
pub unsafe extern "C" fn litecommit_metrics_text(
    db: *const litecommit_committer,
    out: *mut *mut c_char,
) -> litecommit_status {
    guard("litecommit_metrics_text", || {
        check_out(out)?;
        // SAFETY: NULL or a live committer.
        let db = unsafe { committer(db) }?;
        if db.is_closed() {
            return Err(engine::Error::Closed.into());
        }
        let text = error::cstring(db.metrics_text()).into_raw();
        // SAFETY: checked non-NULL above.
        unsafe { ptr::write(out, text) };
        Ok(())
    })
}

/// Frees a string returned by litecommit and sets `*s` to NULL (NULL is a no-op).
#[no_mangle]
pub unsafe extern "C" fn litecommit_string_free(s: *mut *mut c_char) {
    guard_void(|| {
        // SAFETY: NULL or the caller's variable holding NULL or a string from litecommit.
        if let Some(slot) = unsafe { s.as_mut() } {
            let p = std::mem::replace(slot, ptr::null_mut());
            if !p.is_null() {
                // SAFETY: handed out by CString::into_raw and freed only here.
                drop(unsafe { CString::from_raw(p) });
            }
        }
    })
}

/// Fills `out` with the committer's figures. `size` is `sizeof(litecommit_stats)` as the
/// caller was compiled: only that many bytes are written.
#[no_mangle]
pub unsafe extern "C" fn litecommit_get_stats(
    db: *const litecommit_committer,
    out: *mut litecommit_stats,
    size: usize,
) -> litecommit_status {
    guard("litecommit_get_stats", || {
        // SAFETY: NULL or a live committer.
        let db = unsafe { committer(db) }?;
        if out.is_null() {
            return Err(FfiError::invalid("out is NULL"));
        }
        if db.is_closed() {
            return Err(engine::Error::Closed.into());
        }
        let s = db.stats();
        let count = |map: &std::collections::BTreeMap<String, u64>, key: &str| {
            map.get(key).copied().unwrap_or(0)
        };
        let stats = litecommit_stats {
            transactions_committed: s.transactions_committed,
            transactions_failed: s.transactions_failed,
            transactions_aborted: s.transactions_aborted,
            batches: s.batches,
            flushes_adaptive: count(&s.flushes, "adaptive"),
            flushes_size: count(&s.flushes, "size"),
            flushes_timer: count(&s.flushes, "timer"),
            flushes_flush: count(&s.flushes, "flush"),
            flushes_close: count(&s.flushes, "close"),
            max_batch_size: s.max_batch_size,
            mean_batch_size: s.mean_batch_size,
            mean_flush_ms: s.mean_flush_ms,
            mean_commit_latency_ms: s.mean_commit_latency_ms,
            checkpoints_passive: count(&s.checkpoints, "passive"),
            checkpoints_full: count(&s.checkpoints, "full"),
            checkpoints_restart: count(&s.checkpoints, "restart"),
            checkpoints_truncate: count(&s.checkpoints, "truncate"),
            checkpoints_busy: s.checkpoints_busy,
            checkpoint_running: s.checkpoint_running.into(),
            wal_frames: s.wal_frames,
            wal_backlog_frames: s.wal_backlog_frames,
            wal_file_bytes: s.wal_file_bytes,
            queue_depth: s.queue_depth,
            max_writer_stall_ms: s.max_writer_stall_ms,
        };
        let n = size.min(std::mem::size_of::<litecommit_stats>());
        // SAFETY: the caller provides `size` writable bytes; we write at most that.
        unsafe {
            ptr::copy_nonoverlapping(
                (&stats as *const litecommit_stats).cast::<u8>(),
                out.cast::<u8>(),
                n,
            )
        };
        Ok(())
    })
}
