//! A pass-through VFS that counts the bytes written to and the syncs of each kind of file.
//!
//! `/proc/self/io` only gives one number for the whole process; the point of the demo is
//! how the writes split between the -wal file and the database file (checkpointing after
//! every batch rewrites the same database pages again and again). Registered as the default
//! VFS before any connection opens, it wraps every file that litecommit and the baselines
//! open in this process, forwarding each call unchanged to the original default VFS.
//!
//! Each sync is also charged against the disk model (`crate::disk`) with the bytes written
//! to that kind of file since its previous sync (the benchmarks use one database at a time).

use std::ffi::{c_int, c_void, CString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use rusqlite::ffi;

/// The kinds of files counted separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Main = 0,
    Wal = 1,
    Other = 2,
}

static BYTES: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];
static SYNCS: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];
/// Bytes written since the latest sync, per file kind.
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

/// Our file object: SQLite allocates `szOsFile` bytes; the wrapped VFS's file follows it.
#[repr(C)]
struct File {
    base: ffi::sqlite3_file,
    real: *mut ffi::sqlite3_file,
    kind: usize,
}

/// Room for `File`, rounded up so the wrapped file that follows stays 8-byte aligned.
const HEADER: usize = std::mem::size_of::<File>().div_ceil(8) * 8;

struct RealVfs(*mut ffi::sqlite3_vfs);
// SAFETY: SQLite's VFS objects are process-wide and thread-safe.
unsafe impl Send for RealVfs {}
unsafe impl Sync for RealVfs {}

static REAL: OnceLock<RealVfs> = OnceLock::new();
static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();

/// Makes the counting VFS the process's default. Call before opening any connection;
/// idempotent.
pub fn install() -> Result<(), String> {
    INSTALLED.get_or_init(install_once).clone()
}

fn install_once() -> Result<(), String> {
    // SAFETY: plain calls into SQLite's VFS registry; the objects we register are leaked,
    // so they outlive every connection.
    unsafe {
        let real = ffi::sqlite3_vfs_find(std::ptr::null());
        if real.is_null() {
            return Err("SQLite has no default VFS".into());
        }
        let real_size = usize::try_from((*real).szOsFile).map_err(|e| e.to_string())?;
        let size = c_int::try_from(HEADER + real_size).map_err(|e| e.to_string())?;
        let _ = REAL.set(RealVfs(real));
        let name = CString::new("litecommit-bench-counting").map_err(|e| e.to_string())?;
        let mut ours: ffi::sqlite3_vfs = *real;
        ours.szOsFile = size;
        ours.zName = name.into_raw();
        ours.pNext = std::ptr::null_mut();
        ours.xOpen = Some(x_open);
        // Every other method is the original's: they only read `pAppData` and
        // `mxPathname`, which are copied unchanged.
        let ours = Box::into_raw(Box::new(ours));
        match ffi::sqlite3_vfs_register(ours, 1) {
            ffi::SQLITE_OK => Ok(()),
            rc => Err(format!("sqlite3_vfs_register failed with code {rc}")),
        }
    }
}

fn real_vfs() -> *mut ffi::sqlite3_vfs {
    REAL.get().map_or(std::ptr::null_mut(), |r| r.0)
}

unsafe extern "C" fn x_open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let real_vfs = real_vfs();
    let Some(open) = real_vfs.as_ref().and_then(|v| v.xOpen) else {
        return ffi::SQLITE_ERROR;
    };
    let ours = file.cast::<File>();
    let real = file.cast::<u8>().add(HEADER).cast::<ffi::sqlite3_file>();
    let kind = if flags & ffi::SQLITE_OPEN_MAIN_DB != 0 {
        Kind::Main
    } else if flags & ffi::SQLITE_OPEN_WAL != 0 {
        Kind::Wal
    } else {
        Kind::Other
    };
    (*ours).real = real;
    (*ours).kind = kind as usize;
    (*real).pMethods = std::ptr::null();
    let rc = open(real_vfs, name, real, flags, out_flags);
    // SQLite calls xClose only when pMethods is set, so mirror the wrapped file.
    (*ours).base.pMethods = if (*real).pMethods.is_null() {
        std::ptr::null()
    } else {
        &METHODS
    };
    rc
}

/// The wrapped file and its methods.
unsafe fn real(
    f: *mut ffi::sqlite3_file,
) -> (*mut ffi::sqlite3_file, &'static ffi::sqlite3_io_methods) {
    let real = (*f.cast::<File>()).real;
    (real, &*(*real).pMethods)
}

unsafe fn kind(f: *mut ffi::sqlite3_file) -> usize {
    (*f.cast::<File>()).kind
}

macro_rules! forward {
    ($f:expr, $method:ident, $missing:expr $(, $arg:expr)*) => {{
        let (real, methods) = real($f);
        match methods.$method {
            Some(m) => m(real $(, $arg)*),
            None => $missing,
        }
    }};
}

unsafe extern "C" fn x_close(f: *mut ffi::sqlite3_file) -> c_int {
    forward!(f, xClose, ffi::SQLITE_OK)
}

unsafe extern "C" fn x_read(
    f: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    n: c_int,
    off: i64,
) -> c_int {
    forward!(f, xRead, ffi::SQLITE_IOERR, buf, n, off)
}

unsafe extern "C" fn x_write(
    f: *mut ffi::sqlite3_file,
    buf: *const c_void,
    n: c_int,
    off: i64,
) -> c_int {
    let rc = forward!(f, xWrite, ffi::SQLITE_IOERR, buf, n, off);
    if rc == ffi::SQLITE_OK {
        let n = u64::try_from(n).unwrap_or(0);
        BYTES[kind(f)].fetch_add(n, Ordering::Relaxed);
        DIRTY[kind(f)].fetch_add(n, Ordering::Relaxed);
    }
    rc
}

unsafe extern "C" fn x_truncate(f: *mut ffi::sqlite3_file, size: i64) -> c_int {
    forward!(f, xTruncate, ffi::SQLITE_IOERR, size)
}

unsafe extern "C" fn x_sync(f: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    SYNCS[kind(f)].fetch_add(1, Ordering::Relaxed);
    let dirty = DIRTY[kind(f)].swap(0, Ordering::Relaxed);
    let rc = forward!(f, xSync, ffi::SQLITE_IOERR, flags);
    crate::disk::sync(dirty);
    rc
}

unsafe extern "C" fn x_file_size(f: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    forward!(f, xFileSize, ffi::SQLITE_IOERR, size)
}

unsafe extern "C" fn x_lock(f: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    forward!(f, xLock, ffi::SQLITE_IOERR, level)
}

unsafe extern "C" fn x_unlock(f: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    forward!(f, xUnlock, ffi::SQLITE_IOERR, level)
}

unsafe extern "C" fn x_check_reserved_lock(f: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    forward!(f, xCheckReservedLock, ffi::SQLITE_IOERR, out)
}

unsafe extern "C" fn x_file_control(
    f: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    forward!(f, xFileControl, ffi::SQLITE_NOTFOUND, op, arg)
}

unsafe extern "C" fn x_sector_size(f: *mut ffi::sqlite3_file) -> c_int {
    forward!(f, xSectorSize, 4096)
}

unsafe extern "C" fn x_device_characteristics(f: *mut ffi::sqlite3_file) -> c_int {
    forward!(f, xDeviceCharacteristics, 0)
}

unsafe extern "C" fn x_shm_map(
    f: *mut ffi::sqlite3_file,
    page: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    forward!(f, xShmMap, ffi::SQLITE_IOERR, page, size, extend, out)
}

unsafe extern "C" fn x_shm_lock(
    f: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    forward!(f, xShmLock, ffi::SQLITE_IOERR, offset, n, flags)
}

unsafe extern "C" fn x_shm_barrier(f: *mut ffi::sqlite3_file) {
    forward!(f, xShmBarrier, ())
}

unsafe extern "C" fn x_shm_unmap(f: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    forward!(f, xShmUnmap, ffi::SQLITE_OK, delete)
}

unsafe extern "C" fn x_fetch(
    f: *mut ffi::sqlite3_file,
    off: i64,
    n: c_int,
    out: *mut *mut c_void,
) -> c_int {
    let (real, methods) = real(f);
    match methods.xFetch {
        Some(m) if methods.iVersion >= 3 => m(real, off, n, out),
        _ => {
            *out = std::ptr::null_mut();
            ffi::SQLITE_OK
        }
    }
}

unsafe extern "C" fn x_unfetch(f: *mut ffi::sqlite3_file, off: i64, p: *mut c_void) -> c_int {
    let (real, methods) = real(f);
    match methods.xUnfetch {
        Some(m) if methods.iVersion >= 3 => m(real, off, p),
        _ => ffi::SQLITE_OK,
    }
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: Some(x_shm_map),
    xShmLock: Some(x_shm_lock),
    xShmBarrier: Some(x_shm_barrier),
    xShmUnmap: Some(x_shm_unmap),
    xFetch: Some(x_fetch),
    xUnfetch: Some(x_unfetch),
};

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
