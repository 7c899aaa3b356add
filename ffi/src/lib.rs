//! The C ABI of litecommit. `include/litecommit.h` is generated from this crate by cbindgen
//! (`make header`): one header section per module, in the order listed by
//! `ffi/tests/support/header.rs`, each opened by its module's `//!` text.
//!
//! Every exported function converts its arguments, calls the engine and maps the outcome;
//! its body runs under `catch_unwind`, so no panic crosses into C.

// The safety contract of every exported function is the header's (NULL is always checked).
#![allow(clippy::missing_safety_doc)]

mod checkpoint;
mod committer;
mod error;
mod options;
mod queue;
mod results;
mod snapshot;
mod stats;
mod status;
mod submit;
mod values;

use std::ptr;

pub use checkpoint::*;
pub use committer::*;
pub use error::*;
pub use options::*;
pub use queue::*;
pub use results::*;
pub use snapshot::*;
pub use stats::*;
pub use status::*;
pub use submit::*;
pub use values::*;

use error::{FfiError, FfiResult};

/// Writes `value` to the caller's `out`, or fails when `out` is NULL.
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

/// Checks an out-pointer for a handed-out object and sets it to NULL, so that it is NULL
/// on every failure.
fn check_out<T>(out: *mut *mut T) -> FfiResult<()> {
    if out.is_null() {
        return Err(FfiError::invalid("out is NULL"));
    }
    // SAFETY: non-NULL; cleared first so that it is NULL on every failure.
    unsafe { ptr::write(out, ptr::null_mut()) };
    Ok(())
}

/// Drops `object`, unless this is a forked child of the process that created it: there its
/// locks may be held by threads that do not exist here, so it is forgotten instead (its
/// memory is the child's copy of the parent's).
pub(crate) fn forget_in_child<T>(opened_by: u32, object: T) {
    if engine::__private::process_id() == opened_by {
        drop(object);
    } else {
        std::mem::forget(object);
    }
}

/// A `#[derive(Debug)]` struct's fields as (name, value) text, in declaration order: how the
/// tests compare the C structs with the engine's lists of options and figures by name.
#[cfg(test)]
pub(crate) fn debug_fields(value: &impl std::fmt::Debug) -> Vec<(String, String)> {
    let text = format!("{value:?}");
    let body = text
        .split_once(" { ")
        .and_then(|(_, rest)| rest.strip_suffix(" }"))
        .unwrap_or_else(|| panic!("not a struct's Debug output: {text}"));
    body.split(", ")
        .map(|field| {
            let (name, value) = field
                .split_once(": ")
                .unwrap_or_else(|| panic!("not a field: {field}"));
            (name.to_string(), value.to_string())
        })
        .collect()
}
