//! Manual checkpoints.
//!
//! The background scheduler keeps the WAL small on its own (see
//! `litecommit_options.checkpoint`); a manual checkpoint is for a backup or a shutdown.

use engine::CheckpointMode;

use crate::committer::{committer, litecommit_committer};
use crate::error::{guard, FfiError};
use crate::status::litecommit_status;
use crate::write_out;

/// A checkpoint mode of `litecommit_checkpoint`: one of the `LITECOMMIT_CHECKPOINT_*`
/// constants (SQLite's modes, with SQLite's values).
#[allow(non_camel_case_types)]
pub type litecommit_checkpoint_mode = u32;
/// Copy what it can without waiting.
pub const LITECOMMIT_CHECKPOINT_PASSIVE: litecommit_checkpoint_mode = 0;
/// Wait for the writer, then copy everything.
pub const LITECOMMIT_CHECKPOINT_FULL: litecommit_checkpoint_mode = 1;
/// Like FULL, then wait for readers so the WAL restarts.
pub const LITECOMMIT_CHECKPOINT_RESTART: litecommit_checkpoint_mode = 2;
/// Like RESTART, then truncate the WAL file.
pub const LITECOMMIT_CHECKPOINT_TRUNCATE: litecommit_checkpoint_mode = 3;

/// What a manual checkpoint did.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct litecommit_checkpoint_result {
    /// Frames in the WAL (-1 if the database is not in WAL mode).
    pub log_frames: i64,
    /// Frames copied into the database.
    pub checkpointed_frames: i64,
    /// 1 if it could not finish (SQLite reported busy or frames were left behind).
    pub busy: i32,
}

/// Runs a checkpoint now on the scheduler's connection.
///
/// Ownership: borrows `db` for the call; `out` is the caller's storage.
///
/// @param mode a `LITECOMMIT_CHECKPOINT_*` constant.
/// @param out filled with what the checkpoint did; may be NULL.
/// @return `LITECOMMIT_INVALID_ARGUMENT` for an unknown mode.
#[no_mangle]
pub unsafe extern "C" fn litecommit_checkpoint(
    db: *const litecommit_committer,
    mode: litecommit_checkpoint_mode,
    out: *mut litecommit_checkpoint_result,
) -> litecommit_status {
    guard("litecommit_checkpoint", || {
        // SAFETY: NULL or a live committer.
        let db = unsafe { committer(db) }?;
        let mode = match mode {
            LITECOMMIT_CHECKPOINT_PASSIVE => CheckpointMode::Passive,
            LITECOMMIT_CHECKPOINT_FULL => CheckpointMode::Full,
            LITECOMMIT_CHECKPOINT_RESTART => CheckpointMode::Restart,
            LITECOMMIT_CHECKPOINT_TRUNCATE => CheckpointMode::Truncate,
            other => {
                return Err(FfiError::invalid(format!(
                    "unknown checkpoint mode {other}"
                )))
            }
        };
        let r = db.checkpoint(mode)?;
        if !out.is_null() {
            write_out(
                out,
                litecommit_checkpoint_result {
                    log_frames: r.log_frames,
                    checkpointed_frames: r.checkpointed_frames,
                    busy: r.busy.into(),
                },
            )?;
        }
        Ok(())
    })
}
