//! Per-batch completion delivery: the core calls [`Sink::complete`] once per batch on its
//! writer thread, which packs the batch (see [`Batch`]) and makes ONE threadsafe-function
//! call; on the JavaScript thread the batch becomes a [`JsBatch`], from which index.js
//! settles every promise of the batch.

use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

use litecommit::{BatchSink, Error as CoreError, Outcome};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{sys, Env};

use crate::convert::{to_js, tx_to_js, MAX_NUMBER_INTEGER};
use crate::errors::{guard, ErrorInfo};

/// One batch of completions, packed on the writer thread: `numbers` holds `token, status,
/// changes, lastInsertRowid` per completion. The common case (one statement, no rows, a
/// rowid within ±2^53) needs nothing else, and its outcome is dropped where it was made;
/// the others keep their outcome in `extras`, with their position in the batch.
pub struct Batch {
    numbers: Vec<f64>,
    extras: Vec<(u32, Outcome)>,
}

impl Batch {
    /// Packs `(token, outcome)` per transaction.
    pub fn pack(completions: Vec<(u64, Outcome)>) -> Batch {
        let mut numbers = Vec::with_capacity(completions.len() * NUMBERS_PER_COMPLETION);
        let mut extras = Vec::new();
        for (i, (token, outcome)) in completions.into_iter().enumerate() {
            let token = token as f64;
            match simple(&outcome) {
                Some((changes, rowid)) => {
                    numbers.extend_from_slice(&[token, DONE_SIMPLE, changes, rowid])
                }
                None => {
                    let status = if outcome.is_ok() {
                        DONE_FULL
                    } else {
                        DONE_ERROR
                    };
                    numbers.extend_from_slice(&[token, status, 0.0, 0.0]);
                    extras.push((i as u32, outcome));
                }
            }
        }
        Batch { numbers, extras }
    }
}

/// Created weak (unreferenced): an idle committer does not keep the process alive. The JS
/// side references it while any promise is pending (see `ref`/`unref`).
pub type BatchFn = ThreadsafeFunction<Batch, Unknown<'static>, JsBatch, Status, false, true, 0>;

/// Delivers a committer's completions to its JavaScript callback.
pub struct Sink {
    pub tsfn: BatchFn,
    /// Transactions and flush barriers handed to the core and not completed yet: never
    /// fewer than the messages this committer has in the core's queue.
    pub in_core: AtomicUsize,
}

impl Sink {
    /// A sink calling `tsfn`, with nothing in the core yet.
    pub fn new(tsfn: BatchFn) -> Sink {
        Sink {
            tsfn,
            in_core: AtomicUsize::new(0),
        }
    }

    /// Passes completions to JavaScript. Non-blocking on an unbounded queue: never stalls
    /// the writer. It fails only while the environment is being torn down, when there is
    /// nobody left to tell.
    pub fn deliver(&self, completions: Vec<(u64, Outcome)>) {
        let _ = self.tsfn.call(
            Batch::pack(completions),
            ThreadsafeFunctionCallMode::NonBlocking,
        );
    }
}

impl BatchSink for Sink {
    fn complete(&self, completions: Vec<(u64, Outcome)>) {
        self.in_core.fetch_sub(completions.len(), Ordering::AcqRel);
        self.deliver(completions);
    }
}

/// Numbers per completion in [`JsBatch`]'s Float64Array: token, status, changes, rowid.
const NUMBERS_PER_COMPLETION: usize = 4;

/// Status of one completion in [`JsBatch`]'s numbers (index.js reads the same values).
const DONE_SIMPLE: f64 = 0.0;
const DONE_FULL: f64 = 1.0;
const DONE_ERROR: f64 = 2.0;

/// One batch of completions, converted on the JS thread to `[numbers, extras]`: `numbers`
/// is a Float64Array of `token, status, changes, lastInsertRowid` per completion, and
/// `extras[i]` holds the full result (status 1) or the error (status 2) of completion `i`
/// (`undefined` when every completion is simple). A batch of simple completions costs a
/// handful of N-API calls whatever its size.
pub struct JsBatch(pub Batch);

impl ToNapiValue for JsBatch {
    unsafe fn to_napi_value(env: sys::napi_env, batch: JsBatch) -> Result<sys::napi_value> {
        // Called by napi inside a C callback: a panic must not unwind out of it.
        guard(|| batch_to_js(env, batch))
    }
}

/// `(changes, lastInsertRowid)` of an outcome that needs nothing else: one statement, no
/// rows, a rowid that is an exact JS number.
fn simple(outcome: &Outcome) -> Option<(f64, f64)> {
    match outcome.as_ref().ok()?.statements.as_slice() {
        [s] if s.rows.columns.is_empty()
            && s.last_insert_rowid.unsigned_abs() <= MAX_NUMBER_INTEGER =>
        {
            Some((s.changes as f64, s.last_insert_rowid as f64))
        }
        _ => None,
    }
}

fn batch_to_js(env: sys::napi_env, batch: JsBatch) -> Result<sys::napi_value> {
    let js_env = Env::from_raw(env);
    let Batch {
        mut numbers,
        extras,
    } = batch.0;
    let mut list: Option<Array> = None;
    for (i, outcome) in extras {
        let (status, extra) = completion_to_js(env, outcome)?;
        numbers[i as usize * NUMBERS_PER_COMPLETION + 1] = status;
        let list = match &mut list {
            Some(list) => list,
            None => list.insert(js_env.create_array(0)?),
        };
        list.set(i, extra)?;
    }
    let mut pair = js_env.create_array(2)?;
    // Copied into V8's heap: external memory would make V8 run full GCs far more often.
    pair.set(0, Float64ArraySlice::copy_from(&js_env, &numbers)?)?;
    pair.set(1, list)?;
    to_js(env, pair)
}

/// One completion that is not simple: `(DONE_FULL, result)` or `(DONE_ERROR, error)`.
/// A committed result that JavaScript cannot hold (a string beyond V8's length limit, a
/// property assignment that throws) becomes this completion's error alone: the rest of
/// the batch still settles normally.
fn completion_to_js(env: sys::napi_env, outcome: Outcome) -> Result<(f64, sys::napi_value)> {
    let error = match outcome {
        Ok(result) => match guard(|| tx_to_js(env, result)) {
            Ok(value) => return Ok((DONE_FULL, value)),
            Err(e) => unrepresentable(env, &e),
        },
        Err(e) => ErrorInfo::from(&e),
    };
    Ok((DONE_ERROR, to_js(env, error)?))
}

/// The error of a transaction that committed but whose result failed to convert with `e`.
fn unrepresentable(env: sys::napi_env, e: &napi::Error) -> ErrorInfo {
    let reason = take_exception(env).unwrap_or_else(|| {
        if e.reason.is_empty() {
            e.status.to_string()
        } else {
            e.reason.clone()
        }
    });
    ErrorInfo {
        message: format!("committed, but the result cannot be represented in JavaScript: {reason}"),
        ..ErrorInfo::from(&CoreError::Internal(String::new()))
    }
}

/// The JavaScript exception a failed conversion left pending, as text, cleared so that the
/// other conversions of the batch can go on.
fn take_exception(env: sys::napi_env) -> Option<String> {
    let mut pending = false;
    let status = unsafe { sys::napi_is_exception_pending(env, &mut pending) };
    if status != sys::Status::napi_ok || !pending {
        return None;
    }
    let mut exception = ptr::null_mut();
    unsafe { sys::napi_get_and_clear_last_exception(env, &mut exception) };
    let mut text = ptr::null_mut();
    let status = unsafe { sys::napi_coerce_to_string(env, exception, &mut text) };
    let text = (status == sys::Status::napi_ok)
        .then(|| unsafe { String::from_napi_value(env, text) }.ok())
        .flatten();
    if text.is_none() {
        // Its toString() threw in turn: clear that one too.
        let mut again = ptr::null_mut();
        unsafe { sys::napi_get_and_clear_last_exception(env, &mut again) };
    }
    Some(text.unwrap_or_else(|| "a JavaScript exception".to_string()))
}
