//! A pass-through VFS that counts the bytes written to and the syncs of each kind of file.
//!
//! The disk's own counter (`stats::device_write_bytes`) gives one number for the whole
//! disk; the point of the demo is how the writes split between the -wal file and the
//! database file (checkpointing after every batch rewrites the same database pages again
//! and again). Registered as the default VFS before any connection opens, it wraps every
//! file that litecommit and the baselines open in this process, forwarding each call
//! unchanged to the original default VFS.
//!
//! Each sync is also charged against the disk model (`crate::disk`) with the bytes written
//! to that kind of file since its previous sync (the benchmarks use one database at a time).

use std::ffi::c_int;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use litecommit_vfs_wrap::{Hooks, Inner, Kind};
use rusqlite::ffi;

static BYTES: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];
static SYNCS: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];
/// Bytes written since the latest sync, per file kind (indexed by `Kind as usize`).
static DIRTY: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

/// Bytes written and syncs per file kind since the program started.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub main_bytes: u64,
    pub wal_bytes: u64,
    pub other_bytes: u64,
    pub main_syncs: u64,
    pub wal_syncs: u64,
}

impl Counts {
    pub fn now() -> Counts {
        let b = |k: Kind| BYTES[k as usize].load(Ordering::Relaxed);
        let s = |k: Kind| SYNCS[k as usize].load(Ordering::Relaxed);
        Counts {
            main_bytes: b(Kind::Main),
            wal_bytes: b(Kind::Wal),
            other_bytes: b(Kind::Other),
            main_syncs: s(Kind::Main),
            wal_syncs: s(Kind::Wal),
        }
    }

    pub fn since(self, start: Counts) -> Counts {
        Counts {
            main_bytes: self.main_bytes - start.main_bytes,
            wal_bytes: self.wal_bytes - start.wal_bytes,
            other_bytes: self.other_bytes - start.other_bytes,
            main_syncs: self.main_syncs - start.main_syncs,
            wal_syncs: self.wal_syncs - start.wal_syncs,
        }
    }
}

/// Makes the counting VFS the process's default. Call before opening any connection;
/// idempotent.
pub fn install() -> Result<(), String> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| litecommit_vfs_wrap::register("litecommit-bench-counting", Counting, true))
        .clone()
}

/// Watches every file, with its kind.
struct Counting;

impl Hooks for Counting {
    type File = Kind;

    fn watch(&self, _path: Option<&str>, kind: Kind) -> Result<Option<Kind>, c_int> {
        Ok(Some(kind))
    }

    fn write(&self, kind: &Kind, inner: &Inner, data: &[u8], off: i64) -> c_int {
        let rc = inner.write(data, off);
        if rc == ffi::SQLITE_OK {
            let n = data.len() as u64;
            BYTES[*kind as usize].fetch_add(n, Ordering::Relaxed);
            DIRTY[*kind as usize].fetch_add(n, Ordering::Relaxed);
        }
        rc
    }

    fn sync(&self, kind: &Kind, inner: &Inner, flags: c_int) -> c_int {
        SYNCS[*kind as usize].fetch_add(1, Ordering::Relaxed);
        let dirty = DIRTY[*kind as usize].swap(0, Ordering::Relaxed);
        let rc = inner.sync(flags);
        crate::disk::sync(dirty);
        rc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_wal_and_database_writes_separately() {
        install().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
        conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))
            .unwrap();
        conn.execute_batch("PRAGMA wal_autocheckpoint=0; CREATE TABLE t (x BLOB)")
            .unwrap();
        let before = Counts::now();
        conn.execute("INSERT INTO t VALUES (zeroblob(10000))", [])
            .unwrap();
        let after_insert = Counts::now().since(before);
        // The insert goes to the WAL only: frames of at least the 10,000 bytes.
        assert!(after_insert.wal_bytes >= 10_000, "{after_insert:?}");
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        let after_checkpoint = Counts::now().since(before);
        assert!(
            after_checkpoint.main_bytes >= 10_000,
            "{after_checkpoint:?}"
        );
        assert!(after_checkpoint.main_syncs >= 1, "{after_checkpoint:?}");
    }
}
