//! Read snapshots: several queries that see the database as it was at one moment.
//!
//! `litecommit_snapshot_begin` opens a read transaction on one of the committer's read
//! connections (waiting while all are busy, as `litecommit_query` does) and fixes it at
//! once: every `litecommit_snapshot_query` then sees what had committed before the begin,
//! and nothing that commits later. The snapshot holds its connection, and keeps the
//! checkpoint scheduler from checkpointing past that moment, until
//! `litecommit_snapshot_free`: keep it short. A snapshot may be used from any thread;
//! queries on one snapshot run one after another. `litecommit_close` does not wait for
//! open snapshots: it closes their connections, and their later queries return
//! `LITECOMMIT_CLOSED`; they must still be freed. In a forked child every call on a
//! snapshot returns `LITECOMMIT_FORKED`.

use std::ptr;

use crate::committer::{committer, litecommit_committer};
use crate::error::{guard, guard_void, same_process, FfiError};
use crate::results::litecommit_rows;
use crate::status::litecommit_status;
use crate::values::{litecommit_statement, statement_in};
use crate::{check_out, forget_in_child, take_box};

/// A read snapshot of a committer's database. Opaque; see `litecommit_snapshot_begin`.
#[allow(non_camel_case_types)]
pub struct litecommit_snapshot {
    /// The engine's snapshot.
    inner: engine::Snapshot,
    /// The process that began it: in a forked child every call fails before touching it.
    opened_by: u32,
}

/// Begins a read snapshot on a read connection of `db`, waiting while all of them are busy.
///
/// Ownership: the caller owns `*out`; free it with `litecommit_snapshot_free` (it may
/// outlive `db`: freed after `litecommit_committer_free`, it releases what is left).
/// Borrows `db` for the call.
///
/// @param out receives the snapshot; NULL on failure.
/// @return `LITECOMMIT_OK`; `LITECOMMIT_CLOSED` once `db` is closed.
/// @see litecommit_snapshot_query, litecommit_snapshot_free
#[no_mangle]
pub unsafe extern "C" fn litecommit_snapshot_begin(
    db: *const litecommit_committer,
    out: *mut *mut litecommit_snapshot,
) -> litecommit_status {
    guard("litecommit_snapshot_begin", || {
        check_out(out)?;
        // SAFETY: NULL or a live committer.
        let db = unsafe { committer(db) }?;
        let inner = db.snapshot()?;
        let snapshot = Box::into_raw(Box::new(litecommit_snapshot {
            inner,
            opened_by: engine::__private::process_id(),
        }));
        // SAFETY: checked non-NULL above.
        unsafe { ptr::write(out, snapshot) };
        Ok(())
    })
}

/// Runs one read-only statement inside the snapshot. Statements that would end its read
/// transaction (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, ...) are refused.
///
/// Ownership: the caller owns `*out`; free it with `litecommit_rows_free`. Borrows the
/// snapshot; the statement is only read during the call.
///
/// @param out receives the rows; NULL on failure.
/// @return `LITECOMMIT_OK`; `LITECOMMIT_CLOSED` once the committer is closed.
#[no_mangle]
pub unsafe extern "C" fn litecommit_snapshot_query(
    snapshot: *const litecommit_snapshot,
    stmt: *const litecommit_statement,
    out: *mut *mut litecommit_rows,
) -> litecommit_status {
    guard("litecommit_snapshot_query", || {
        check_out(out)?;
        // SAFETY: NULL or a live snapshot; the statement is valid per the API.
        let snapshot =
            unsafe { snapshot.as_ref() }.ok_or_else(|| FfiError::invalid("snapshot is NULL"))?;
        same_process(snapshot.opened_by)?;
        let stmt = unsafe { stmt.as_ref() }.ok_or_else(|| FfiError::invalid("stmt is NULL"))?;
        let stmt = unsafe { statement_in(stmt) }?;
        let rows = snapshot.inner.query(&stmt.sql, stmt.params)?;
        let rows = Box::into_raw(Box::new(litecommit_rows::from_rows(rows)));
        // SAFETY: checked non-NULL above.
        unsafe { ptr::write(out, rows) };
        Ok(())
    })
}

/// Ends a snapshot (its read transaction rolls back and its connection returns to the
/// read pool), frees it and sets `*snapshot` to NULL. NULL or `*snapshot == NULL` is a
/// no-op. No other thread may still be using the snapshot. In a forked child it releases
/// nothing (the connection is the parent's) and only forgets the handle.
///
/// Ownership: takes the snapshot.
#[no_mangle]
pub unsafe extern "C" fn litecommit_snapshot_free(snapshot: *mut *mut litecommit_snapshot) {
    guard_void(|| {
        // SAFETY: NULL or the caller's variable holding NULL or a live snapshot.
        if let Some(snapshot) = unsafe { take_box(snapshot) } {
            forget_in_child(snapshot.opened_by, snapshot);
        }
    })
}
