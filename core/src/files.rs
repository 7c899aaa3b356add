//! The database's files: where the WAL file is, how large a file is, and the open files of
//! a connection as its VFS sees them (to read the WAL header and to sync).

use std::os::raw::c_int;
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

/// The salt of the WAL header (it changes whenever the WAL restarts); 0 while there is no
/// WAL header.
pub(crate) fn wal_salt(conn: &Connection) -> u64 {
    const SALT_OFFSET: i64 = 16;
    let Some((ptr, methods)) = vfs_file(conn, OpenFile::Wal) else {
        return 0;
    };
    let mut salt = [0u8; 8];
    // SAFETY: xRead of an open file into a buffer of the length given.
    let rc = methods.xRead.map_or(ffi::SQLITE_IOERR, |read| unsafe {
        read(
            ptr,
            salt.as_mut_ptr().cast(),
            salt.len() as c_int,
            SALT_OFFSET,
        )
    });
    if rc == ffi::SQLITE_OK {
        u64::from_be_bytes(salt)
    } else {
        0 // a short read: the WAL is empty
    }
}
