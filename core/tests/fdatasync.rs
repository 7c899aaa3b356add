//! The workspace builds SQLite with `HAVE_FDATASYNC` (`.cargo/config.toml`): a durable
//! commit syncs the WAL with `fdatasync`, not `fsync`.
#![cfg(target_os = "linux")]

mod common;

use std::ffi::c_int;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use litecommit::{params, Config, Durability};

static FDATASYNC_CALLS: AtomicUsize = AtomicUsize::new(0);

/// Stands in for libc's `fdatasync` everywhere in this test binary, SQLite included: counts
/// the call, then makes the system call.
#[no_mangle]
pub extern "C" fn fdatasync(fd: c_int) -> c_int {
    FDATASYNC_CALLS.fetch_add(1, Ordering::SeqCst);
    // SAFETY: the system call takes a file descriptor and nothing else.
    unsafe { libc::syscall(libc::SYS_fdatasync, fd) as c_int }
}

#[test]
fn a_durable_commit_syncs_the_wal_with_fdatasync() {
    let (_dir, path) = temp_db();
    let db = open(
        &path,
        Config {
            durability: Durability::Full,
            ..Config::default()
        },
    );
    exec(&db, "CREATE TABLE t (v INTEGER)", ());
    let before = FDATASYNC_CALLS.load(Ordering::SeqCst);
    exec(&db, "INSERT INTO t VALUES (?)", params![1]);
    assert!(
        FDATASYNC_CALLS.load(Ordering::SeqCst) > before,
        "the commit made no fdatasync call: SQLite was built without HAVE_FDATASYNC"
    );
    db.close().unwrap();
}
