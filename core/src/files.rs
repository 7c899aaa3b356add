//! The database's files: where the WAL file is, how large a file is, and the open files of
//! a connection as its VFS sees them (to read the WAL's salt and size, and to sync).

use std::os::raw::{c_int, c_void};
use std::path::{Path, PathBuf};

use rusqlite::{ffi, Connection};

use crate::error::{Error, Result};

/// The path of the -wal file of the database `conn` has open (for a `file:` URI, SQLite's
/// resolved file name, not the URI text).
pub(crate) fn wal_path(conn: &Connection) -> PathBuf {
    PathBuf::from(format!("{}-wal", conn.path().unwrap_or_default()))
}

/// The size of a file in bytes; 0 when it does not exist (or cannot be read).
pub(crate) fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// One of `conn`'s open files, through its VFS.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenFile {
    /// The database file.
    Database,
    /// The WAL file.
    Wal,
}

/// `file`'s VFS object and methods; `None` while the connection has not opened it.
fn vfs_file(
    conn: &Connection,
    file: OpenFile,
) -> Option<(*mut ffi::sqlite3_file, &ffi::sqlite3_io_methods)> {
    let op = match file {
        OpenFile::Database => ffi::SQLITE_FCNTL_FILE_POINTER,
        OpenFile::Wal => ffi::SQLITE_FCNTL_JOURNAL_POINTER,
    };
    let mut ptr: *mut ffi::sqlite3_file = std::ptr::null_mut();
    // SAFETY: both file controls store one `sqlite3_file` pointer (or leave it null) for
    // the connection's open file. The caller uses `conn` on its own thread, so the file
    // stays open while the pointer is used.
    let rc = unsafe {
        ffi::sqlite3_file_control(conn.handle(), c"main".as_ptr(), op, (&raw mut ptr).cast())
    };
    // SAFETY: an open file's methods live as long as it is open.
    let methods = unsafe { ptr.as_ref()?.pMethods.as_ref()? };
    (rc == ffi::SQLITE_OK).then_some((ptr, methods))
}

/// Syncs `file` as SQLite's own syncs do.
pub(crate) fn sync(conn: &Connection, file: OpenFile) -> Result<()> {
    let Some((ptr, methods)) = vfs_file(conn, file) else {
        return Ok(());
    };
    // SAFETY: xSync of an open file, called as SQLite calls it.
    let rc = methods.xSync.map_or(ffi::SQLITE_OK, |sync| unsafe {
        sync(ptr, ffi::SQLITE_SYNC_NORMAL)
    });
    match rc {
        ffi::SQLITE_OK => Ok(()),
        rc => Err(Error::from_code(rc, "cannot sync a database file".into())),
    }
}

/// The salt of the WAL header (it changes whenever the WAL restarts), as the wal-index
/// header in shared memory holds it (8 bytes at offset 32 of its first copy, in the WAL
/// header's byte order: <https://sqlite.org/walformat.html#the_wal_index_file_format>).
/// Read there rather than from the WAL file: no system call (a commit of one row makes
/// about ten). 0 before the connection's first WAL transaction.
pub(crate) fn wal_salt(conn: &Connection) -> u64 {
    /// Region size of the wal-index, as SQLite maps it (`WALINDEX_PGSZ`).
    const REGION: c_int = 32768;
    const SALT_OFFSET: usize = 32;
    let Some((ptr, methods)) = vfs_file(conn, OpenFile::Database) else {
        return 0;
    };
    let Some(map) = methods.xShmMap.filter(|_| methods.iVersion >= 2) else {
        return 0;
    };
    let mut region: *mut c_void = std::ptr::null_mut();
    // SAFETY: xShmMap of an open file, as SQLite calls it (its region size, no extending).
    // The locking mode is always NORMAL, so the wal-index is in shared memory, mapped by the
    // connection since its first WAL transaction.
    let rc = unsafe { map(ptr, 0, REGION, 0, &raw mut region) };
    if rc != ffi::SQLITE_OK || region.is_null() {
        return 0;
    }
    // SAFETY: region 0 is REGION bytes long and stays mapped while the connection is open.
    // Another process may be rewriting it: a torn read is taken for a restart once, as a
    // racing read of the WAL file's header would be.
    let salt: [u8; 8] =
        unsafe { std::ptr::read_volatile(region.cast::<u8>().add(SALT_OFFSET).cast()) };
    u64::from_be_bytes(salt)
}

/// The WAL file's size through the VFS; `None` while the connection has not opened it.
pub(crate) fn wal_size(conn: &Connection) -> Option<u64> {
    let (ptr, methods) = vfs_file(conn, OpenFile::Wal)?;
    let mut size: ffi::sqlite3_int64 = 0;
    // SAFETY: xFileSize of an open file into an `sqlite3_int64`.
    let rc = unsafe { methods.xFileSize?(ptr, &raw mut size) };
    (rc == ffi::SQLITE_OK).then(|| u64::try_from(size).unwrap_or(0))
}

/// Writes zeros to the WAL file from byte `from` to byte `to`. Only while holding the
/// write lock, and only past the WAL's last frame: WAL recovery stops at the first frame
/// whose salt does not match the header's, so zeros there are never read as frames.
pub(crate) fn zero_wal(conn: &Connection, from: u64, to: u64) -> Result<()> {
    static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
    let Some((ptr, methods)) = vfs_file(conn, OpenFile::Wal) else {
        return Ok(());
    };
    let Some(write) = methods.xWrite else {
        return Ok(());
    };
    let mut at = from;
    while at < to {
        let len = (to - at).min(ZEROS.len() as u64);
        let offset = i64::try_from(at).map_err(|_| Error::Internal("WAL offset".into()))?;
        // SAFETY: xWrite of an open file from a buffer of at least `len` bytes.
        let rc = unsafe { write(ptr, ZEROS.as_ptr().cast(), len as c_int, offset) };
        if rc != ffi::SQLITE_OK {
            return Err(Error::from_code(rc, "cannot extend the WAL file".into()));
        }
        at += len;
    }
    Ok(())
}
