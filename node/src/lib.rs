//! Node.js binding of litecommit: converts values, maps completions and errors. The engine
//! (batching, flushing, checkpoints) lives in the `litecommit` crate.
//!
//! - [`committer`]: the `NativeCommitter` class and `open`, which index.js wraps;
//! - [`shared`]: its state shared with pool tasks and exit hooks, including submissions
//!   waiting for room in the core's queue;
//! - [`submit`]: the submission calls of `execute` and `submitMany`, as plain N-API
//!   functions bound to one committer;
//! - [`sink`]: per-batch completion delivery to JavaScript;
//! - [`task`]: blocking calls run on the libuv pool;
//! - [`exit`]: closing what is still open when the process or a worker stops;
//! - [`convert`], [`errors`], [`options`], [`stats`]: values, errors, options and figures
//!   between JavaScript and the core;
//! - `bench` (feature `bench` only): the core alone, for `make bench-node`.
//!
//! Every export catches panics (`catch_unwind`): no panic unwinds into Node.

#[cfg(feature = "bench")]
mod bench;
mod committer;
mod convert;
mod errors;
mod exit;
mod options;
mod shared;
mod sink;
mod stats;
mod submit;
mod task;

use napi_derive::napi;

/// mimalloc for the addon's Rust allocations: what the JavaScript thread allocates for a
/// transaction, the writer frees, and glibc serves that from one arena under a lock
/// (local-dynamic TLS: the addon is loaded with `dlopen`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `arena_eager_commit` (its number in `mi_option_e`, unnamed in
/// `libmimalloc-sys`), turned off at load: an arena committed at once is backed by
/// transparent huge pages, 16 MB more resident memory after the first transactions instead
/// of 2.
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

#[napi_derive::module_init]
fn commit_arenas_on_demand() {
    // SAFETY: sets an option's value, which mimalloc reads when it next reserves an arena.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0) };
}

// What JavaScript sees (napi registers each where it is defined).
#[cfg(feature = "bench")]
pub use bench::{bench_core, CoreBench};
pub use committer::{open, NativeCommitter};

/// Test helper (not public API): panics inside an export, which must reach JavaScript as
/// an Error rather than abort the process.
#[napi(js_name = "__panic", catch_unwind)]
pub fn panic_for_tests(message: String) {
    panic!("{message}");
}
