//! This process's id, read without a system call on every check: the committer compares it
//! on each call to tell a forked child from the process that opened it.

use std::sync::atomic::{AtomicU32, Ordering};
#[cfg(unix)]
use std::sync::Once;

/// The id read last; 0 until read, and again in a child right after `fork`.
static PID: AtomicU32 = AtomicU32::new(0);

/// Registers [`forked`] once.
#[cfg(unix)]
static HOOK: Once = Once::new();

/// Runs in the child of every `fork` (a `pthread_atfork` handler): forget the parent's id.
#[cfg(unix)]
extern "C" fn forked() {
    PID.store(0, Ordering::Relaxed);
}

/// The id of the calling process.
pub fn id() -> u32 {
    #[cfg(unix)]
    HOOK.call_once(|| {
        // SAFETY: registers a handler that only stores to an atomic, which is allowed in the
        // child of a multi-threaded process. If registration fails, `id` keeps working: it
        // then reads the id every time.
        let registered = unsafe { libc::pthread_atfork(None, None, Some(forked)) } == 0;
        if !registered {
            PID.store(u32::MAX, Ordering::Relaxed);
        }
    });
    match PID.load(Ordering::Relaxed) {
        0 => {
            let pid = std::process::id();
            PID.store(pid, Ordering::Relaxed);
            pid
        }
        u32::MAX => std::process::id(),
        pid => pid,
    }
}
