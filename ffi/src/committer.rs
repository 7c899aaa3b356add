//! The committer: open a database, run transactions and queries, close it.
//!
//! A committer may be used from any number of threads at once; transactions submitted from
//! one thread commit in submission order. `litecommit_close` commits what is queued,
//! delivers every outcome and may be called from any thread, a completion callback
//! included; the handle stays valid (every call then returns `LITECOMMIT_CLOSED`) until
//! `litecommit_committer_free`, which may be called once no other thread uses it.
//!
//! A committer belongs to the process that opened it. In a forked child every call on it
//! (and on its pending handles and completion queues) returns `LITECOMMIT_FORKED`, and
//! freeing it there releases nothing of the parent's; a child that needs the database opens
//! its own committer.

use std::ffi::c_char;
use std::ptr;

use engine::Committer;

use crate::error::{guard, guard_void, FfiError, FfiResult};
use crate::options::litecommit_options;
use crate::results::{litecommit_result, litecommit_rows};
use crate::status::litecommit_status;
use crate::values::{litecommit_statement, statement_in, string_arg, transaction_in};
use crate::{check_out, forget_in_child, take_box};

/// A group committer on one database. Opaque; see `litecommit_open`.
#[allow(non_camel_case_types)]
pub struct litecommit_committer {
    /// The engine's committer.
    inner: Committer,
    /// The process that opened it: in a forked child (another pid) every call fails with
    /// `LITECOMMIT_FORKED` before touching the committer, whose threads and locks are the
    /// parent's (a lock held by one of them at fork time would never be released).
    opened_by: u32,
}

/// The engine's committer behind `db`, checked for NULL and for a forked child.
///
/// # Safety
/// `db` is NULL or a live committer.
pub(crate) unsafe fn committer<'a>(db: *const litecommit_committer) -> FfiResult<&'a Committer> {
    // SAFETY: per the caller.
    let db = unsafe { db.as_ref() }.ok_or_else(|| FfiError::invalid("db is NULL"))?;
    crate::error::same_process(db.opened_by)?;
    Ok(&db.inner)
}

/// Opens (creating if needed) the database at `path` in WAL mode and starts the writer and
/// the checkpoint scheduler. The read pool uses the same SQLite library as the writer:
/// never open the same database file with a second copy of SQLite in the same process
/// (POSIX locks would be lost; see SQLite's "How To Corrupt", section 2.2.1).
///
/// Ownership: the caller owns `*out`; free it with `litecommit_committer_free`. `path` and
/// `opts` are only read during the call.
///
/// @param path UTF-8, NUL-terminated.
/// @param opts NULL for all defaults, else filled by `litecommit_options_default` first.
/// @param out receives the committer; NULL on failure.
/// @return `LITECOMMIT_OK`; a failure SQLite reports (a file that is not a database:
///         SQLITE_NOTADB; a database locked by another process: SQLITE_BUSY) is
///         `LITECOMMIT_SQLITE_ERROR` with SQLite's codes in `litecommit_last_error`.
/// @see litecommit_options_default, litecommit_close
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
        // SAFETY: NULL or a struct filled by litecommit_options_default, whose string
        // fields are NULL or NUL-terminated per the API.
        let config = unsafe { litecommit_options::read(opts)?.into_config() }?;
        let inner = Committer::open(path, config)?;
        let db = Box::into_raw(Box::new(litecommit_committer {
            inner,
            opened_by: engine::__private::process_id(),
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
///
/// Ownership: borrows `db`; the handle stays valid until `litecommit_committer_free`.
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
///
/// Ownership: takes the committer. Freeing it through a copy of the pointer after this is
/// a double free, as with free(3).
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

/// Runs a transaction of `n` statements and waits until it is durable.
///
/// Ownership: the caller owns `*out`; free it with `litecommit_result_free`. The statements
/// are only read during the call.
///
/// @param stmts `n` statements (at least one), applied all or none.
/// @param out receives the result; NULL on failure, with the error in
///            `litecommit_last_error`.
/// @see litecommit_submit, litecommit_submit_callback, litecommit_submit_queue to submit
///      without waiting.
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

/// Runs one read-only statement on the read pool. It sees every transaction that
/// completed before it started.
///
/// Ownership: the caller owns `*out`; free it with `litecommit_rows_free`. The statement is
/// only read during the call.
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
///
/// Ownership: borrows `db` for the call.
#[no_mangle]
pub unsafe extern "C" fn litecommit_flush(db: *const litecommit_committer) -> litecommit_status {
    guard("litecommit_flush", || {
        // SAFETY: NULL or a live committer.
        unsafe { committer(db) }?.flush()?;
        Ok(())
    })
}

/// The version of this library, e.g. "0.1.0": equal to the header's `LITECOMMIT_VERSION`
/// when the program runs with the library it was compiled against.
///
/// Ownership: a static string; do not free it.
#[no_mangle]
pub unsafe extern "C" fn litecommit_version() -> *const c_char {
    // A constant: nothing here can panic, but every export runs under catch_unwind.
    std::panic::catch_unwind(|| concat!(env!("CARGO_PKG_VERSION"), "\0"))
        .unwrap_or("\0")
        .as_ptr()
        .cast()
}
