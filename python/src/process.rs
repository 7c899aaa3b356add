//! Which thread a call runs in: Python's main thread, remembered per process (the process
//! id comes from the core, cached and refreshed after `fork`).

use std::os::raw::c_ulong;
use std::sync::Mutex;

use litecommit::__private::process_id;
use pyo3::intern;
use pyo3::prelude::*;

/// Python's main thread in the process it was asked in, as `threading.get_ident()` numbers
/// it (a forked child's main thread is the one that forked).
static MAIN_THREAD: Mutex<Option<(u32, c_ulong)>> = Mutex::new(None);

/// Whether this is Python's main thread, the only one that runs signal handlers. Asks
/// `threading` once per process.
pub fn on_main_thread(py: Python<'_>) -> bool {
    let here = process_id();
    // SAFETY: called with the GIL held (as `py` proves); it only reads the thread's id.
    let this_thread = unsafe { pyo3::ffi::PyThread_get_thread_ident() };
    let known = *MAIN_THREAD.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, main)) = known.filter(|(lineage, _)| *lineage == here) {
        return main == this_thread;
    }
    let ask = || -> PyResult<c_ulong> {
        let threading = py.import(intern!(py, "threading"))?;
        threading
            .call_method0(intern!(py, "main_thread"))?
            .getattr(intern!(py, "ident"))?
            .extract()
    };
    let Ok(main) = ask() else {
        return false;
    };
    *MAIN_THREAD.lock().unwrap_or_else(|p| p.into_inner()) = Some((here, main));
    main == this_thread
}
