//! Native part of the `litecommit` Python package: converts values, maps completions and
//! errors. The engine (batching, flushing, checkpoints) is all in the `litecommit` crate.

use pyo3::prelude::*;

#[cfg(feature = "bench")]
mod bench;
mod committer;
mod convert;
mod errors;
mod loop_future;
mod options;
mod process;
mod running_loop;
mod sink;
mod stats;

/// The extension's Rust allocations go to mimalloc. A transaction's SQL and parameters are
/// allocated on the submitting thread and freed on another (the writer, or its free
/// thread), which glibc's malloc serves from a shared arena under its lock; mimalloc hands
/// them back to the allocating thread's heap without one. Local-dynamic TLS: the extension
/// is loaded with `dlopen`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `arena_eager_commit` (its number in `mi_option_e`, the same in mimalloc 2 and 3;
/// `libmimalloc-sys` does not name it), turned off at import: an arena committed at once is
/// backed by transparent huge pages, and the process's first transactions made it 30 MB
/// larger (34 MB of `AnonHugePages`) instead of 4 MB.
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// Symbolic name of an SQLite result code, e.g. `SQLITE_CONSTRAINT_UNIQUE`.
#[pyfunction]
fn code_name(code: i32) -> &'static str {
    litecommit::code_name(code)
}

/// Version of the SQLite library litecommit is built with.
#[pyfunction]
fn sqlite_version() -> &'static str {
    litecommit::sqlite_version()
}

#[pymodule]
fn _litecommit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // SAFETY: sets an option's value, which mimalloc reads when it next reserves an arena.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0) };
    m.add_class::<committer::NativeCommitter>()?;
    m.add_class::<convert::PyStatementResult>()?;
    m.add_class::<sink::LoopInbox>()?;
    m.add_class::<loop_future::LoopFuture>()?;
    m.add_class::<committer::Unqueued>()?;
    m.add_function(wrap_pyfunction!(code_name, m)?)?;
    m.add_function(wrap_pyfunction!(sqlite_version, m)?)?;
    #[cfg(feature = "bench")]
    m.add_function(wrap_pyfunction!(bench::bench_core, m)?)?;
    Ok(())
}
