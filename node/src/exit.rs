//! Closes the committers still open when JavaScript stops: at environment teardown (the
//! end of the process or of a worker, `worker.terminate()`) and at `exit()`
//! (`process.exit()`), an unclosed committer still commits every submission it accepted.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, Once, Weak};
use std::thread;

use napi::{CleanupEnvHook, Env, Result};

use crate::shared::Shared;

/// Every committer opened in this process, for [`close_all_at_exit`].
static OPEN: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());

extern "C" {
    fn atexit(callback: extern "C" fn()) -> std::os::raw::c_int;
}

/// `process.exit()` on the main thread ends the process through `exit()` without tearing
/// the environment down, so environment cleanup hooks do not run: this `atexit` handler
/// shuts down what is still open, committing every submission accepted, including those
/// still waiting for room in the queue. It does so on a thread of its own: `exit()` has
/// already destroyed the exiting thread's thread-local values, which the core may use.
extern "C" fn close_all_at_exit() {
    let _ = catch_unwind(|| {
        let spawned = thread::Builder::new()
            .name("litecommit-exit".into())
            .spawn(close_all);
        match spawned {
            Ok(handle) => drop(handle.join()),
            // No thread to be had: here, then.
            Err(_) => close_all(),
        }
    });
}

/// Shuts down every committer in [`OPEN`] that is still there.
fn close_all() {
    let open = std::mem::take(&mut *OPEN.lock().unwrap_or_else(|p| p.into_inner()));
    for shared in open.iter().filter_map(Weak::upgrade) {
        let _ = catch_unwind(AssertUnwindSafe(|| shared.shutdown()));
    }
}

/// Shuts `shared` down at `exit()` unless it is gone by then.
fn register_for_exit(shared: &Arc<Shared>) {
    static AT_EXIT: Once = Once::new();
    AT_EXIT.call_once(|| {
        // If registration fails, environment cleanup hooks still cover normal exits.
        let _ = unsafe { atexit(close_all_at_exit) };
    });
    let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
    open.retain(|w| w.strong_count() > 0);
    open.push(Arc::downgrade(shared));
}

/// The hook that shuts a committer down at environment teardown; `close()` removes it.
pub type TeardownHook = CleanupEnvHook<Weak<Shared>>;

/// Shuts `shared` down at `exit()` and at the teardown of `env`, whichever comes first,
/// unless it was closed or collected before.
pub fn close_when_stopping(env: &Env, shared: &Arc<Shared>) -> Result<TeardownHook> {
    register_for_exit(shared);
    env.add_env_cleanup_hook(Arc::downgrade(shared), |shared| {
        if let Some(shared) = shared.upgrade() {
            let _ = catch_unwind(AssertUnwindSafe(|| shared.shutdown()));
        }
    })
}
