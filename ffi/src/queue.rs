//! Completion queues: outcomes collected until the caller polls them.
//!
//! A caller (typically a language binding) crosses the boundary once per batch of outcomes
//! rather than once per transaction. A queue may serve several committers and be polled
//! from any thread; it must not be freed while a thread is polling it.

// Internals: the queue is a `BatchSink` the engine hands each batch's outcomes to.

use std::collections::VecDeque;
use std::ptr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use engine::{BatchSink, Outcome, Wait};

use crate::committer::{committer, litecommit_committer};
use crate::error::{guard, guard_void, FfiError};
use crate::results::litecommit_result;
use crate::status::litecommit_status;
use crate::values::{litecommit_statement, transaction_in};

/// A completion queue. Opaque; see `litecommit_completion_queue_new`.
#[allow(non_camel_case_types)]
pub struct litecommit_completion_queue {
    /// The outcomes waiting to be polled.
    pub(crate) inner: Arc<Queue>,
    /// The creating process: in a forked child the queue's lock may be held by a thread
    /// of the parent, so every call there fails with `LITECOMMIT_FORKED`.
    pub(crate) created_by: u32,
}

/// One completed transaction, as returned by `litecommit_completion_queue_poll`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct litecommit_completion {
    /// The token given to `litecommit_submit_queue`.
    pub token: u64,
    /// `LITECOMMIT_OK` if it committed, else the error's status (details with
    /// `litecommit_result_error(result, ...)`).
    pub status: litecommit_status,
    /// Number of statement results (0 on error).
    pub statement_count: usize,
    /// Rows changed by the last statement (0 on error).
    pub changes: u64,
    /// Last insert rowid after the last statement (0 on error).
    pub last_insert_rowid: i64,
    /// 1 when some statement returned rows (RETURNING), else 0.
    pub has_rows: i32,
    /// The full outcome; owned by the caller: free it with `litecommit_result_free` or
    /// `litecommit_completions_free`.
    pub result: *mut litecommit_result,
}

/// The shared part of a completion queue: filled by the writer, drained by pollers.
#[derive(Default)]
pub(crate) struct Queue {
    /// The outcomes and whether the queue is closed.
    state: Mutex<State>,
    /// Signalled when outcomes arrive or the queue closes.
    ready: Condvar,
}

#[derive(Default)]
struct State {
    /// Outcomes not yet polled, with their tokens, in delivery order.
    items: VecDeque<(u64, Outcome)>,
    /// Set by `litecommit_completion_queue_close` (or free): new submits are refused.
    closed: bool,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

impl BatchSink for Queue {
    fn complete(&self, completions: Vec<(u64, Outcome)>) {
        self.lock().items.extend(completions);
        self.ready.notify_all();
    }
}

/// One polled outcome as C sees it; the summary fields spare a call for the common case.
fn completion(token: u64, outcome: Outcome) -> litecommit_completion {
    let result = litecommit_result::from_outcome(outcome);
    let mut c = litecommit_completion {
        token,
        status: litecommit_status::LITECOMMIT_OK,
        statement_count: 0,
        changes: 0,
        last_insert_rowid: 0,
        has_rows: 0,
        result: ptr::null_mut(),
    };
    match &result.outcome {
        Ok(stmts) => {
            c.statement_count = stmts.len();
            if let Some(last) = stmts.last() {
                c.changes = last.changes;
                c.last_insert_rowid = last.last_insert_rowid;
            }
            c.has_rows = stmts.iter().any(|s| !s.rows.rows.is_empty()).into();
        }
        Err(e) => c.status = e.status,
    }
    c.result = Box::into_raw(Box::new(result));
    c
}

/// Creates a completion queue in `*out`. One queue can serve several committers; any
/// thread may poll it.
///
/// Ownership: the caller owns `*out`; free it with `litecommit_completion_queue_free`.
#[no_mangle]
pub unsafe extern "C" fn litecommit_completion_queue_new(
    out: *mut *mut litecommit_completion_queue,
) -> litecommit_status {
    guard("litecommit_completion_queue_new", || {
        if out.is_null() {
            return Err(FfiError::invalid("out is NULL"));
        }
        let inner = Arc::new(Queue::default());
        let q = Box::into_raw(Box::new(litecommit_completion_queue {
            inner,
            created_by: engine::__private::process_id(),
        }));
        // SAFETY: non-NULL caller storage.
        unsafe { ptr::write(out, q) };
        Ok(())
    })
}

/// Queues a transaction whose outcome goes to `queue` tagged with `token` (any value the
/// caller likes, e.g. an index into its own table of waiters). With `block != 0` it waits
/// while the committer's queue is full; otherwise it fails with `LITECOMMIT_QUEUE_FULL`.
/// If this call fails, nothing is delivered to the queue for this token.
///
/// Ownership: the outcome's result goes to whoever polls `queue`; the statements are only
/// read during the call.
///
/// @see litecommit_completion_queue_poll
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
        crate::error::same_process(q.created_by)?;
        if q.inner.is_closed() {
            return Err(FfiError::new(
                litecommit_status::LITECOMMIT_CLOSED,
                "the completion queue is closed",
            ));
        }
        let tx = unsafe { transaction_in(stmts, n) }?;
        // One sink per queue: the engine delivers each batch's completions for this queue
        // in one call.
        let wait = if block != 0 { Wait::Block } else { Wait::Never };
        db.submit_to_sink(tx, q.inner.clone(), token, wait)?;
        Ok(())
    })
}

/// Moves up to `max` completions into `out[0..max]` and stores how many in `*n_out`.
/// Waits while the queue is empty.
///
/// Ownership: the caller owns each returned `result`; free them with
/// `litecommit_completions_free` (or one by one with `litecommit_result_free`).
///
/// @param timeout_ms `< 0` waits without limit, `0` not at all, otherwise at most that long
///                   (then `*n_out` is 0 and the status `LITECOMMIT_OK`).
/// @return `LITECOMMIT_CLOSED` at once when the queue is closed and empty.
#[no_mangle]
pub unsafe extern "C" fn litecommit_completion_queue_poll(
    queue: *const litecommit_completion_queue,
    out: *mut litecommit_completion,
    max: usize,
    timeout_ms: i64,
    n_out: *mut usize,
) -> litecommit_status {
    guard("litecommit_completion_queue_poll", || {
        // SAFETY: NULL or a live queue.
        let q = unsafe { queue.as_ref() }.ok_or_else(|| FfiError::invalid("queue is NULL"))?;
        crate::error::same_process(q.created_by)?;
        if out.is_null() || n_out.is_null() {
            return Err(FfiError::invalid("out or n_out is NULL"));
        }
        // SAFETY: non-NULL caller storage.
        unsafe { ptr::write(n_out, 0) };
        if max == 0 {
            return Err(FfiError::invalid("max is 0"));
        }
        let deadline = u64::try_from(timeout_ms)
            .ok()
            .map(|ms| Instant::now() + Duration::from_millis(ms));
        let mut state = q.inner.lock();
        while state.items.is_empty() && !state.closed {
            state = match deadline {
                None => q.inner.ready.wait(state).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(());
                    }
                    q.inner
                        .ready
                        .wait_timeout(state, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
        if state.items.is_empty() {
            return Err(FfiError::new(
                litecommit_status::LITECOMMIT_CLOSED,
                "the completion queue is closed",
            ));
        }
        let n = max.min(state.items.len());
        let taken: Vec<_> = state.items.drain(..n).collect();
        drop(state);
        for (i, (token, outcome)) in taken.into_iter().enumerate() {
            // SAFETY: the caller provides room for `max` >= `n` completions.
            unsafe { ptr::write(out.add(i), completion(token, outcome)) };
        }
        // SAFETY: non-NULL caller storage.
        unsafe { ptr::write(n_out, n) };
        Ok(())
    })
}

/// Closes the queue: pollers waiting on it wake up, polls return what is left and then
/// `LITECOMMIT_CLOSED`, and new submits to it fail with `LITECOMMIT_CLOSED`. Transactions
/// already submitted still deliver their completions. Idempotent.
///
/// Ownership: borrows `queue`; it stays valid until `litecommit_completion_queue_free`.
#[no_mangle]
pub unsafe extern "C" fn litecommit_completion_queue_close(
    queue: *const litecommit_completion_queue,
) -> litecommit_status {
    guard("litecommit_completion_queue_close", || {
        // SAFETY: NULL or a live queue.
        let q = unsafe { queue.as_ref() }.ok_or_else(|| FfiError::invalid("queue is NULL"))?;
        crate::error::same_process(q.created_by)?;
        q.inner.lock().closed = true;
        q.inner.ready.notify_all();
        Ok(())
    })
}

/// Frees the queue and every completion not yet polled, and sets `*queue` to NULL (NULL is
/// a no-op). No thread may be polling it. Completions of transactions still in flight are
/// dropped when they arrive.
///
/// Ownership: takes the queue and the results it still holds.
#[no_mangle]
pub unsafe extern "C" fn litecommit_completion_queue_free(
    queue: *mut *mut litecommit_completion_queue,
) {
    guard_void(|| {
        // SAFETY: NULL or the caller's variable holding NULL or a live queue.
        if let Some(q) = unsafe { crate::take_box(queue) } {
            if crate::error::same_process(q.created_by).is_ok() {
                q.inner.lock().closed = true;
                q.inner.ready.notify_all();
            }
            crate::forget_in_child(q.created_by, q);
        }
    })
}

/// Frees the results of `n` completions returned by a poll (one call for a whole batch)
/// and sets their `result` to NULL.
///
/// Ownership: takes each `completions[i].result`; the array itself stays the caller's.
#[no_mangle]
pub unsafe extern "C" fn litecommit_completions_free(
    completions: *mut litecommit_completion,
    n: usize,
) {
    guard_void(|| {
        if completions.is_null() {
            return;
        }
        for i in 0..n {
            // SAFETY: the caller passes `n` completions from a poll.
            let c = unsafe { &mut *completions.add(i) };
            // SAFETY: `c.result` is NULL or a result handed out by the poll.
            unsafe { crate::results::litecommit_result_free(&mut c.result) };
        }
    })
}
