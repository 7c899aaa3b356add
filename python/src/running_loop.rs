//! The running asyncio event loop, found once per transaction an `AsyncCommitter` queues.
//!
//! Before Python 3.12, `asyncio.get_running_loop` makes a `getpid` system call on every
//! call (to tell a forked child from its parent), some 8% of the event loop's time per
//! transaction on a 2-CPU virtual machine. So there each thread keeps the loop it found last
//! and uses it again while that loop runs on this thread, which `asyncio.BaseEventLoop` tells
//! without a system call: it sets `_thread_id` to `threading.get_ident()` while it runs and
//! to `None` after. At most one loop runs on a thread, so a loop that runs here is the
//! running loop. Other loops (uvloop's) are asked for every time, as on 3.12 and later. A
//! forked child never gets here: its calls fail before they look for a loop.

use std::cell::RefCell;
use std::sync::OnceLock;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::{ffi, intern};

/// `asyncio.get_running_loop`, imported once.
static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `asyncio.BaseEventLoop`, imported once.
static BASE_EVENT_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

thread_local! {
    /// Before 3.12: the `BaseEventLoop` found running on this thread last. It stays
    /// referenced until another is found here, or the thread ends.
    static LAST: RefCell<Option<Py<PyAny>>> = const { RefCell::new(None) };
}

/// The running asyncio event loop (`RuntimeError` if there is none).
pub fn running_loop(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    // Read once: under the stable ABI every read formats and parses the version string.
    static FROM_3_12: OnceLock<bool> = OnceLock::new();
    if *FROM_3_12.get_or_init(|| py.version_info() >= (3, 12)) {
        return ask(py);
    }
    let last = LAST.with(|last| last.borrow().as_ref().map(|l| l.clone_ref(py)));
    if let Some(last) = last.map(|l| l.into_bound(py)) {
        if runs_here(py, &last) {
            return Ok(last);
        }
    }
    let found = ask(py)?;
    let base = BASE_EVENT_LOOP.import(py, "asyncio", "BaseEventLoop")?;
    let keep = found.is_instance(base)?.then(|| found.clone().unbind());
    // Replaced outside the borrow: dropping the previous loop may run Python code.
    let previous = LAST.with(|last| last.replace(keep));
    drop(previous);
    Ok(found)
}

/// `asyncio.get_running_loop()`.
fn ask(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    GET_RUNNING_LOOP
        .import(py, "asyncio", "get_running_loop")?
        .call0()
}

/// Whether the `BaseEventLoop` `event_loop` runs on this thread.
fn runs_here(py: Python<'_>, event_loop: &Bound<'_, PyAny>) -> bool {
    // SAFETY: called with the GIL held (as `py` proves); it only reads the thread's id.
    let here = unsafe { ffi::PyThread_get_thread_ident() };
    event_loop
        .getattr(intern!(py, "_thread_id"))
        .and_then(|id| id.extract::<std::os::raw::c_ulong>())
        .is_ok_and(|id| id == here)
}
