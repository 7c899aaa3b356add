//! Submitting without waiting: pending handles and completion callbacks.
//!
//! `litecommit_submit` returns a pending handle to wait on later; any thread may wait on
//! it, one thread at a time. `litecommit_submit_callback` instead calls a function with the
//! outcome.
//!
//! Callbacks run on the committer's writer thread, once per transaction, after its batch
//! committed. While a callback runs, no other batch commits, so a callback must return
//! quickly and must NOT: wait in `litecommit_pending_wait` for a transaction of the same
//! committer that is not committed yet (the writer would wait for itself), free the
//! committer, block on locks held by threads that wait for this committer, or unwind (C++
//! exceptions, longjmp) out of the callback. Calls that would wait for the writer
//! (`litecommit_execute`, `litecommit_flush`, blocking submits) fail there at once with
//! `SQLITE_MISUSE`, and `litecommit_close` returns at once while the writer finishes
//! closing. It may submit new transactions with `litecommit_try_submit` or
//! `litecommit_submit_queue(..., block = 0)`, store the result, signal a condition variable,
//! or write to a pipe.

use std::ffi::c_void;
use std::ptr;
use std::sync::Mutex;
use std::time::Duration;

use engine::{Committer, Pending, Transaction};

use crate::committer::{committer, litecommit_committer};
use crate::error::{guard, guard_void, FfiError, FfiResult};
use crate::results::litecommit_result;
use crate::status::litecommit_status;
use crate::values::{litecommit_statement, transaction_in};
use crate::{check_out, forget_in_child, take_box};

/// A submitted transaction to wait on. Opaque; see `litecommit_submit`.
#[allow(non_camel_case_types)]
pub struct litecommit_pending {
    /// The engine's handle; `None` once waited on.
    inner: Mutex<Option<Pending>>,
    /// The submitting process: a forked child cannot wait for the parent's writer.
    opened_by: u32,
}

/// Called once on the writer thread with the outcome of a transaction submitted with
/// `litecommit_submit_callback`. `result` is the callback's to free
/// (`litecommit_result_free`). See this section's introduction for what it must not do.
#[allow(non_camel_case_types)]
pub type litecommit_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, result: *mut litecommit_result)>;

/// The body of `litecommit_submit` and `litecommit_try_submit`, which differ in `submit`.
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
        inner: Mutex::new(Some(pending)),
        opened_by: engine::__private::process_id(),
    }));
    // SAFETY: checked non-NULL above.
    unsafe { ptr::write(out, p) };
    Ok(())
}

/// Queues a transaction (waiting while the queue is full) and returns at once with a
/// handle to wait on.
///
/// Ownership: the caller owns `*out`; free it with `litecommit_pending_free`. The statements
/// are only read during the call.
///
/// @see litecommit_pending_wait, litecommit_try_submit
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
///
/// Ownership: the caller owns `*out`; free it with `litecommit_pending_free`. The statements
/// are only read during the call.
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

/// Waits for a submitted transaction. A handle can be waited on until it returns something
/// other than `LITECOMMIT_TIMEOUT`; after that, waiting again is
/// `LITECOMMIT_INVALID_ARGUMENT`.
///
/// Ownership: the caller owns `*out`; free it with `litecommit_result_free`. The handle
/// stays the caller's.
///
/// @param timeout_ms `< 0` waits without limit, otherwise at most that long.
/// @param out receives the result; NULL on failure, with the transaction's error in
///            `litecommit_last_error`.
/// @return `LITECOMMIT_TIMEOUT` when the time ran out (the transaction may still commit:
///         wait again).
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
        crate::error::same_process(p.opened_by)?;
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
///
/// Ownership: takes the handle.
#[no_mangle]
pub unsafe extern "C" fn litecommit_pending_free(pending: *mut *mut litecommit_pending) {
    guard_void(|| {
        // SAFETY: NULL or the caller's variable holding NULL or a live handle.
        if let Some(p) = unsafe { take_box(pending) } {
            forget_in_child(p.opened_by, p);
        }
    })
}

/// Carries the caller's `user_data` to the writer thread; what it points to is the
/// caller's business (documented: the callback runs on another thread).
struct UserData(*mut c_void);
// SAFETY: litecommit only passes the pointer back to the caller's callback.
unsafe impl Send for UserData {}

/// Queues a transaction (waiting while the queue is full); `callback(user_data, result)`
/// runs exactly once on the writer thread with the outcome, also when the transaction
/// fails. If this call itself fails, the callback is never called.
///
/// Ownership: the callback owns each `result` it receives and must free it with
/// `litecommit_result_free`; `user_data` is passed through untouched.
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
