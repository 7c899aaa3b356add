//! One call of `sqlite3_wal_checkpoint_v2`, keeping the frame counts even when SQLite says
//! busy (rusqlite's wrapper turns busy into an error and drops them).

use std::ffi::CStr;
use std::os::raw::c_int;

use rusqlite::{ffi, Connection};

use crate::error::{primary_code, Error, Result};
use crate::modes::CheckpointMode;

use super::CheckpointResult;

/// What one checkpoint call reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Frames {
    /// Frames in the WAL (-1 if the database is not in WAL mode).
    pub(super) log: i64,
    /// Frames copied into the database, including earlier ones.
    pub(super) copied: i64,
    /// SQLite reported busy: readers or a writer kept it from finishing.
    pub(super) busy: bool,
}

impl Frames {
    /// Some frames are not copied yet.
    pub(super) fn left_behind(&self) -> bool {
        self.copied < self.log
    }

    /// The WAL holds frames and every one of them is copied.
    pub(super) fn all_copied(&self) -> bool {
        self.log > 0 && self.copied >= self.log
    }

    /// The result of a checkpoint in `mode` that ended with these counts.
    pub(super) fn result(self, mode: CheckpointMode) -> CheckpointResult {
        CheckpointResult {
            mode,
            log_frames: self.log,
            checkpointed_frames: self.copied,
            busy: self.busy || self.left_behind(),
        }
    }
}

/// Runs one checkpoint of the main database in `mode`.
pub(super) fn checkpoint_v2(conn: &Connection, mode: CheckpointMode) -> Result<Frames> {
    let raw_mode = match mode {
        CheckpointMode::Passive => ffi::SQLITE_CHECKPOINT_PASSIVE,
        CheckpointMode::Full => ffi::SQLITE_CHECKPOINT_FULL,
        CheckpointMode::Restart => ffi::SQLITE_CHECKPOINT_RESTART,
        CheckpointMode::Truncate => ffi::SQLITE_CHECKPOINT_TRUNCATE,
    };
    let mut log: c_int = -1;
    let mut copied: c_int = -1;
    // SAFETY: the handle is valid for the connection's lifetime and used on this thread only.
    let rc = unsafe {
        ffi::sqlite3_wal_checkpoint_v2(
            conn.handle(),
            std::ptr::null(),
            raw_mode,
            &mut log,
            &mut copied,
        )
    };
    let frames = |busy| Frames {
        log: log.into(),
        copied: copied.into(),
        busy,
    };
    match primary_code(rc) {
        ffi::SQLITE_OK => Ok(frames(false)),
        ffi::SQLITE_BUSY | ffi::SQLITE_LOCKED => Ok(frames(true)),
        // SAFETY: as above; sqlite3_errmsg returns a NUL-terminated string owned by SQLite.
        _ => Err(Error::from_code(rc, unsafe {
            CStr::from_ptr(ffi::sqlite3_errmsg(conn.handle()))
                .to_string_lossy()
                .into_owned()
        })),
    }
}
