//! Stats and metrics.
//!
//! A committer's figures, as a struct or in the Prometheus text format.

use std::collections::BTreeMap;
use std::ffi::{c_char, CString};
use std::ptr;

use crate::check_out;
use crate::committer::{committer, litecommit_committer};
use crate::error::{cstring, guard, guard_void, FfiError};
use crate::status::litecommit_status;

/// A snapshot of a committer's figures (the same as its metrics). Pass `sizeof` to
/// `litecommit_get_stats` so that later versions can add fields.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct litecommit_stats {
    /// Transactions committed.
    pub transactions_committed: u64,
    /// Transactions rejected by one of their own statements.
    pub transactions_failed: u64,
    /// Transactions rejected because their batch's BEGIN or COMMIT failed.
    pub transactions_aborted: u64,
    /// Batches committed (or attempted).
    pub batches: u64,
    /// Batches flushed by the adaptive policy.
    pub flushes_adaptive: u64,
    /// Batches flushed because they reached the max batch size.
    pub flushes_size: u64,
    /// Batches flushed by the ticker's timer.
    pub flushes_timer: u64,
    /// Batches flushed by `litecommit_flush`.
    pub flushes_flush: u64,
    /// Batches flushed at close.
    pub flushes_close: u64,
    /// Largest batch so far.
    pub max_batch_size: u64,
    /// Mean transactions per batch.
    pub mean_batch_size: f64,
    /// Mean time to run and commit a batch, in ms.
    pub mean_flush_ms: f64,
    /// Mean time from submit to resolved, in ms.
    pub mean_commit_latency_ms: f64,
    /// PASSIVE checkpoints.
    pub checkpoints_passive: u64,
    /// FULL checkpoints.
    pub checkpoints_full: u64,
    /// RESTART checkpoints.
    pub checkpoints_restart: u64,
    /// TRUNCATE checkpoints.
    pub checkpoints_truncate: u64,
    /// Checkpoints for which SQLite reported busy.
    pub checkpoints_busy: u64,
    /// 1 while a checkpoint runs.
    pub checkpoint_running: i32,
    /// Frames in the WAL after the latest commit.
    pub wal_frames: u64,
    /// Frames not yet checkpointed.
    pub wal_backlog_frames: u64,
    /// Size of the -wal file at the latest reading, in bytes.
    pub wal_file_bytes: u64,
    /// Transactions queued when the latest batch was formed.
    pub queue_depth: u64,
    /// Longest time the writer paused for a checkpoint (RESTART/TRUNCATE, or a PASSIVE
    /// catch-up), in ms.
    pub max_writer_stall_ms: f64,
    /// Messages (transactions and flush barriers) in the queue right now.
    pub queue_length: u64,
    /// Calls handing work to the queue right now: while the queue is full, the submitters
    /// waiting for room.
    pub submitting: u64,
}

impl From<&engine::Stats> for litecommit_stats {
    /// The C struct's fields: `flushes_*` and `checkpoints_*` (but `checkpoints_busy`) are
    /// the engine's counts by trigger and by mode, flags are 0 or 1.
    fn from(s: &engine::Stats) -> litecommit_stats {
        let count = |map: &BTreeMap<String, u64>, key: &str| map.get(key).copied().unwrap_or(0);
        litecommit_stats {
            transactions_committed: s.transactions_committed,
            transactions_failed: s.transactions_failed,
            transactions_aborted: s.transactions_aborted,
            batches: s.batches,
            flushes_adaptive: count(&s.flushes, "adaptive"),
            flushes_size: count(&s.flushes, "size"),
            flushes_timer: count(&s.flushes, "timer"),
            flushes_flush: count(&s.flushes, "flush"),
            flushes_close: count(&s.flushes, "close"),
            max_batch_size: s.max_batch_size,
            mean_batch_size: s.mean_batch_size,
            mean_flush_ms: s.mean_flush_ms,
            mean_commit_latency_ms: s.mean_commit_latency_ms,
            checkpoints_passive: count(&s.checkpoints, "passive"),
            checkpoints_full: count(&s.checkpoints, "full"),
            checkpoints_restart: count(&s.checkpoints, "restart"),
            checkpoints_truncate: count(&s.checkpoints, "truncate"),
            checkpoints_busy: s.checkpoints_busy,
            checkpoint_running: s.checkpoint_running.into(),
            wal_frames: s.wal_frames,
            wal_backlog_frames: s.wal_backlog_frames,
            wal_file_bytes: s.wal_file_bytes,
            queue_depth: s.queue_depth,
            max_writer_stall_ms: s.max_writer_stall_ms,
            queue_length: s.queue_length,
            submitting: s.submitting,
        }
    }
}

/// Fills `out` with the committer's figures.
///
/// Ownership: borrows `db` for the call; `out` is the caller's storage.
///
/// @param size `sizeof(litecommit_stats)` as the caller was compiled: only that many bytes
///             are written, so a program built against an older header keeps working.
#[no_mangle]
pub unsafe extern "C" fn litecommit_get_stats(
    db: *const litecommit_committer,
    out: *mut litecommit_stats,
    size: usize,
) -> litecommit_status {
    guard("litecommit_get_stats", || {
        // SAFETY: NULL or a live committer.
        let db = unsafe { committer(db) }?;
        if out.is_null() {
            return Err(FfiError::invalid("out is NULL"));
        }
        if db.is_closed() {
            return Err(engine::Error::Closed.into());
        }
        let stats = litecommit_stats::from(&db.stats());
        let n = size.min(std::mem::size_of::<litecommit_stats>());
        // SAFETY: the caller provides `size` writable bytes; we write at most that.
        unsafe {
            ptr::copy_nonoverlapping(
                (&stats as *const litecommit_stats).cast::<u8>(),
                out.cast::<u8>(),
                n,
            )
        };
        Ok(())
    })
}

/// Stores in `*out` the metrics in the Prometheus text format.
///
/// Ownership: the caller owns `*out`; free it with `litecommit_string_free`.
#[no_mangle]
pub unsafe extern "C" fn litecommit_metrics_text(
    db: *const litecommit_committer,
    out: *mut *mut c_char,
) -> litecommit_status {
    guard("litecommit_metrics_text", || {
        check_out(out)?;
        // SAFETY: NULL or a live committer.
        let db = unsafe { committer(db) }?;
        if db.is_closed() {
            return Err(engine::Error::Closed.into());
        }
        let text = cstring(db.metrics_text()).into_raw();
        // SAFETY: checked non-NULL above.
        unsafe { ptr::write(out, text) };
        Ok(())
    })
}

/// Frees a string returned by litecommit and sets `*s` to NULL (NULL is a no-op).
///
/// Ownership: takes the string (from `litecommit_metrics_text`).
#[no_mangle]
pub unsafe extern "C" fn litecommit_string_free(s: *mut *mut c_char) {
    guard_void(|| {
        // SAFETY: NULL or the caller's variable holding NULL or a string from litecommit.
        if let Some(slot) = unsafe { s.as_mut() } {
            let p = std::mem::replace(slot, ptr::null_mut());
            if !p.is_null() {
                // SAFETY: handed out by CString::into_raw and freed only here.
                drop(unsafe { CString::from_raw(p) });
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debug_fields;
    use engine::{StatValue, Stats};

    #[test]
    fn the_c_struct_has_a_field_for_every_figure_and_no_other() {
        let mut unclaimed: Vec<String> = debug_fields(&litecommit_stats::default())
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        // A figure is one field of the same name; counts by label are one field per label,
        // named `<figure>_<label>`.
        for (name, value) in Stats::default().fields() {
            let before = unclaimed.len();
            match value {
                StatValue::Counts(_) => unclaimed.retain(|f| {
                    !f.strip_prefix(name)
                        .is_some_and(|label| label.starts_with('_'))
                        || Stats::FIELDS.iter().any(|spec| spec.name == f)
                }),
                _ => unclaimed.retain(|f| f != name),
            }
            assert!(
                unclaimed.len() < before,
                "litecommit_stats has no field for {name}"
            );
        }
        assert!(
            unclaimed.is_empty(),
            "litecommit_stats fields that are no figure: {unclaimed:?}"
        );
    }

    #[test]
    fn every_figure_survives_the_copy_into_the_c_struct() {
        let counts = |labels: &[&str], first: u64| {
            labels
                .iter()
                .zip(first..)
                .map(|(label, n)| (label.to_string(), n))
                .collect()
        };
        // No `..Default::default()`: a new figure does not compile until it is given here.
        let stats = Stats {
            transactions_committed: 1,
            transactions_failed: 2,
            transactions_aborted: 3,
            batches: 4,
            flushes: counts(&["adaptive", "size", "timer", "flush", "close"], 10),
            max_batch_size: 5,
            mean_batch_size: 6.5,
            mean_flush_ms: 7.5,
            mean_commit_latency_ms: 8.5,
            checkpoints: counts(&["passive", "full", "restart", "truncate"], 20),
            checkpoints_busy: 9,
            checkpoint_running: true,
            wal_frames: 30,
            wal_backlog_frames: 31,
            wal_file_bytes: 32,
            queue_depth: 33,
            queue_length: 34,
            submitting: 35,
            max_writer_stall_ms: 36.5,
        };
        let c = debug_fields(&litecommit_stats::from(&stats));
        let field = |name: &str| {
            c.iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("litecommit_stats has no field {name}"))
        };
        for (name, value) in stats.fields() {
            match value {
                StatValue::Int(v) => assert_eq!(field(name), v.to_string(), "{name}"),
                StatValue::Float(v) => assert_eq!(field(name), format!("{v:?}"), "{name}"),
                StatValue::Bool(v) => assert_eq!(field(name), i32::from(v).to_string(), "{name}"),
                StatValue::Counts(map) => {
                    for (label, v) in map {
                        assert_eq!(field(&format!("{name}_{label}")), v.to_string(), "{name}");
                    }
                }
            }
        }
    }
}
