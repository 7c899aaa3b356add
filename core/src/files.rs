//! The database's files on disk: where the WAL file is, and how large a file is.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

/// The path of the -wal file of the database `conn` has open (for a `file:` URI, SQLite's
/// resolved file name, not the URI text).
pub(crate) fn wal_path(conn: &Connection) -> PathBuf {
    PathBuf::from(format!("{}-wal", conn.path().unwrap_or_default()))
}

/// The size of a file in bytes; 0 when it does not exist (or cannot be read).
pub(crate) fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}
