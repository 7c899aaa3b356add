//! Options of `litecommit_open`.
//!
//! Start from `litecommit_options_default(&opts, sizeof opts)`, then change the fields you
//! need.

// Internals: reading a caller's struct of any published size, and converting it into the
// engine's `Config`.

use std::ffi::{c_char, CStr};
use std::mem::size_of;
use std::ptr;

use engine::{Config, Durability, FlushPolicy};

use crate::error::{guard, FfiError, FfiResult};
use crate::status::litecommit_status;

/// What a commit survives once its outcome is delivered: one of the
/// `LITECOMMIT_DURABILITY_*` constants. With FULL (the default) an outcome is delivered
/// only after the batch's COMMIT and its fsync.
#[allow(non_camel_case_types)]
pub type litecommit_durability = u32;
/// Fsync the WAL at every batch commit (survives power loss). Default.
pub const LITECOMMIT_DURABILITY_FULL: litecommit_durability = 0;
/// Fsync only at checkpoints (survives process crashes; a power loss may roll back the
/// latest batches, never corrupts).
pub const LITECOMMIT_DURABILITY_NORMAL: litecommit_durability = 1;
/// No fsync (survives process crashes only).
pub const LITECOMMIT_DURABILITY_OFF: litecommit_durability = 2;

/// When the writer commits what is queued: one of the `LITECOMMIT_FLUSH_*` constants.
#[allow(non_camel_case_types)]
pub type litecommit_flush_policy = u32;
/// Commit whatever is queued the moment the writer is free. Default.
pub const LITECOMMIT_FLUSH_ADAPTIVE: litecommit_flush_policy = 0;
/// Commit at `max_batch_size` queued or every `max_wait_ms`.
pub const LITECOMMIT_FLUSH_TICKER: litecommit_flush_policy = 1;

/// Options of `litecommit_open`. Always start from
/// `litecommit_options_default(&opts, sizeof opts)`, which also sets `struct_size`: fields
/// added in later versions go after the existing ones, and a library newer than the caller
/// uses defaults for the fields the caller does not know.
/// Flags are `int32_t`: 0 is off, anything else on.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct litecommit_options {
    /// `sizeof(litecommit_options)` as the caller was compiled; set by
    /// `litecommit_options_default`.
    pub struct_size: u32,
    /// `LITECOMMIT_DURABILITY_*`. Default FULL.
    pub durability: litecommit_durability,
    /// `LITECOMMIT_FLUSH_*`. Default ADAPTIVE.
    pub flush_policy: litecommit_flush_policy,
    /// Run the background checkpoint scheduler. Turn it off when an external tool
    /// (Litestream, a backup job) does the checkpoints. Default 1.
    pub checkpoint: i32,
    /// Most transactions in one batch. Default 10000.
    pub max_batch_size: u64,
    /// Ticker policy: flush at least this often, in ms. Default 10.
    pub max_wait_ms: u64,
    /// Adaptive policy: wait this long for more after the first transaction. Default 0.
    pub linger_ms: u64,
    /// Transactions that may wait before submitters block. Default 10000.
    pub queue_capacity: u64,
    /// Wait for locks held by other processes, in ms. Default 5000.
    pub busy_timeout_ms: u64,
    /// Read-only connections serving `litecommit_query`. Default 4.
    pub read_connections: u64,
    /// Un-checkpointed WAL that triggers a PASSIVE checkpoint, in MB. Default 4.
    pub passive_threshold_mb: f64,
    /// WAL that triggers a RESTART checkpoint, in MB. Default 16.
    pub restart_threshold_mb: f64,
    /// How long RESTART/TRUNCATE checkpoints wait for readers, in ms. Default 100.
    pub checkpoint_busy_timeout_ms: u64,
    /// Double the max batch size while a checkpoint runs. Default 1.
    pub dynamic_batch_size: i32,
    /// TRUNCATE checkpoint once idle for `idle_ms`. Default 0.
    pub truncate_when_idle: i32,
    /// How long without commits counts as idle, in ms. Default 1000.
    pub idle_ms: u64,
    /// `PRAGMA cache_size` in KiB. Default 8192.
    pub cache_size_kib: u64,
    /// `PRAGMA mmap_size` in bytes. Default 0.
    pub mmap_size: u64,
    /// `PRAGMA journal_size_limit` in bytes; -1 keeps the WAL at its high-water mark.
    /// Default 64 MiB.
    pub journal_size_limit: i64,
    /// `PRAGMA foreign_keys` on the writer. Default 1.
    pub foreign_keys: i32,
    /// Pages of incremental vacuum to run once idle. Default 0.
    pub idle_vacuum_pages: u32,
    /// Prepared statements cached per connection. Default 256.
    pub statement_cache_capacity: u64,
    /// Most time one idle incremental vacuum may take, in ms. Default 50.
    pub idle_vacuum_budget_ms: u64,
    /// Value of the constant label `db` on every metric (UTF-8, NUL-terminated, read only
    /// during `litecommit_open`). Default NULL: the database file's name.
    pub metrics_label: *const c_char,
    /// WAL past which a RESTART may pause the writer for up to `wal_hard_limit_pause_ms`,
    /// in MB. Default 64.
    pub wal_hard_limit_mb: f64,
    /// Longest writer pause of a RESTART past `wal_hard_limit_mb`, in ms. Default 1000.
    pub wal_hard_limit_pause_ms: u64,
}

/// The first published layout ends after `checkpoint`: anything shorter is not an
/// options struct.
const MIN_OPTIONS_SIZE: usize = 16;

/// A `usize` option as the C struct's `uint64_t`.
fn to_u64(v: usize) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// A C flag: 0 is off, anything else on.
fn flag(v: i32) -> bool {
    v != 0
}

impl litecommit_options {
    /// The engine's defaults, with `struct_size` set to this library's size.
    pub(crate) fn defaults() -> litecommit_options {
        litecommit_options::from_config(&Config::default())
    }

    /// The C struct holding `c`'s options, with `struct_size` set to this library's size.
    /// `metrics_label` is NULL (the default label): the struct does not own strings.
    pub(crate) fn from_config(c: &Config) -> litecommit_options {
        litecommit_options {
            struct_size: u32::try_from(size_of::<litecommit_options>()).unwrap_or(u32::MAX),
            durability: match c.durability {
                Durability::Full => LITECOMMIT_DURABILITY_FULL,
                Durability::Normal => LITECOMMIT_DURABILITY_NORMAL,
                Durability::Off => LITECOMMIT_DURABILITY_OFF,
            },
            flush_policy: match c.flush_policy {
                FlushPolicy::Adaptive => LITECOMMIT_FLUSH_ADAPTIVE,
                FlushPolicy::Ticker => LITECOMMIT_FLUSH_TICKER,
            },
            checkpoint: c.checkpoint.into(),
            max_batch_size: to_u64(c.max_batch_size),
            max_wait_ms: c.max_wait_ms,
            linger_ms: c.linger_ms,
            queue_capacity: to_u64(c.queue_capacity),
            busy_timeout_ms: c.busy_timeout_ms,
            read_connections: to_u64(c.read_connections),
            passive_threshold_mb: c.passive_threshold_mb,
            restart_threshold_mb: c.restart_threshold_mb,
            checkpoint_busy_timeout_ms: c.checkpoint_busy_timeout_ms,
            dynamic_batch_size: c.dynamic_batch_size.into(),
            truncate_when_idle: c.truncate_when_idle.into(),
            idle_ms: c.idle_ms,
            cache_size_kib: c.cache_size_kib,
            mmap_size: c.mmap_size,
            journal_size_limit: c
                .journal_size_limit
                .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX)),
            foreign_keys: c.foreign_keys.into(),
            idle_vacuum_pages: c.idle_vacuum_pages,
            statement_cache_capacity: to_u64(c.statement_cache_capacity),
            idle_vacuum_budget_ms: c.idle_vacuum_budget_ms,
            metrics_label: ptr::null(),
            wal_hard_limit_mb: c.wal_hard_limit_mb,
            wal_hard_limit_pause_ms: c.wal_hard_limit_pause_ms,
        }
    }

    /// Reads a caller's struct of any published size: the fields it has, defaults for the
    /// rest.
    ///
    /// # Safety
    /// `opts` must point to at least `opts->struct_size` readable bytes.
    pub(crate) unsafe fn read(opts: *const litecommit_options) -> FfiResult<litecommit_options> {
        let mut out = litecommit_options::defaults();
        if opts.is_null() {
            return Ok(out);
        }
        // SAFETY: the first field is present in every version.
        let size = unsafe { ptr::read_unaligned(opts.cast::<u32>()) } as usize;
        if size < MIN_OPTIONS_SIZE {
            return Err(FfiError::invalid(format!(
                "options.struct_size is {size}: fill the options with litecommit_options_default"
            )));
        }
        let n = size.min(size_of::<litecommit_options>());
        // SAFETY: every field is an integer, a float or a raw pointer (dereferenced only by
        // `into_config`), so any bytes are a valid value; the caller guarantees `size`
        // readable bytes and we copy at most that.
        unsafe {
            ptr::copy_nonoverlapping(
                opts.cast::<u8>(),
                (&mut out as *mut litecommit_options).cast::<u8>(),
                n,
            )
        };
        out.struct_size = u32::try_from(size_of::<litecommit_options>()).unwrap_or(u32::MAX);
        Ok(out)
    }

    /// The engine's `Config`, validated; options the struct does not carry keep their
    /// defaults.
    ///
    /// # Safety
    /// `metrics_label` must be NULL or point to a NUL-terminated string.
    pub(crate) unsafe fn into_config(self) -> FfiResult<Config> {
        fn size(field: &str, v: u64) -> FfiResult<usize> {
            usize::try_from(v).map_err(|_| {
                FfiError::new(
                    litecommit_status::LITECOMMIT_INVALID_CONFIG,
                    format!("{field}: {v} is too large"),
                )
            })
        }
        let bad_enum = |field: &str, v: u32| {
            FfiError::new(
                litecommit_status::LITECOMMIT_INVALID_CONFIG,
                format!("{field}: unknown value {v}"),
            )
        };
        let durability = match self.durability {
            LITECOMMIT_DURABILITY_FULL => Durability::Full,
            LITECOMMIT_DURABILITY_NORMAL => Durability::Normal,
            LITECOMMIT_DURABILITY_OFF => Durability::Off,
            v => return Err(bad_enum("durability", v)),
        };
        let flush_policy = match self.flush_policy {
            LITECOMMIT_FLUSH_ADAPTIVE => FlushPolicy::Adaptive,
            LITECOMMIT_FLUSH_TICKER => FlushPolicy::Ticker,
            v => return Err(bad_enum("flush_policy", v)),
        };
        let metrics_label = if self.metrics_label.is_null() {
            String::new()
        } else {
            // SAFETY: non-NULL and NUL-terminated per the caller.
            unsafe { CStr::from_ptr(self.metrics_label) }
                .to_str()
                .map(str::to_owned)
                .map_err(|e| {
                    FfiError::new(
                        litecommit_status::LITECOMMIT_INVALID_CONFIG,
                        format!("metrics_label: not valid UTF-8: {e}"),
                    )
                })?
        };
        let c = Config {
            durability,
            flush_policy,
            checkpoint: flag(self.checkpoint),
            max_batch_size: size("max_batch_size", self.max_batch_size)?,
            max_wait_ms: self.max_wait_ms,
            linger_ms: self.linger_ms,
            queue_capacity: size("queue_capacity", self.queue_capacity)?,
            busy_timeout_ms: self.busy_timeout_ms,
            read_connections: size("read_connections", self.read_connections)?,
            passive_threshold_mb: self.passive_threshold_mb,
            restart_threshold_mb: self.restart_threshold_mb,
            checkpoint_busy_timeout_ms: self.checkpoint_busy_timeout_ms,
            dynamic_batch_size: flag(self.dynamic_batch_size),
            truncate_when_idle: flag(self.truncate_when_idle),
            idle_ms: self.idle_ms,
            cache_size_kib: self.cache_size_kib,
            mmap_size: self.mmap_size,
            journal_size_limit: u64::try_from(self.journal_size_limit).ok(),
            foreign_keys: flag(self.foreign_keys),
            idle_vacuum_pages: self.idle_vacuum_pages,
            idle_vacuum_budget_ms: self.idle_vacuum_budget_ms,
            statement_cache_capacity: size(
                "statement_cache_capacity",
                self.statement_cache_capacity,
            )?,
            metrics_label,
            wal_hard_limit_mb: self.wal_hard_limit_mb,
            wal_hard_limit_pause_ms: self.wal_hard_limit_pause_ms,
            ..Config::default()
        };
        c.validate()?;
        Ok(c)
    }
}

/// Fills the caller's options with the defaults, writing only the first `struct_size` bytes
/// of `*opts`, and sets `opts->struct_size` to `struct_size`. Pass
/// `sizeof(litecommit_options)` as the caller was compiled: a program built against an
/// older, smaller struct gets the fields it knows and nothing past its end is written; a
/// program built against a newer, larger struct gets zeros in the fields this library does
/// not know (it ignores them).
///
/// Ownership: `opts` is the caller's storage of `struct_size` bytes.
///
/// @param struct_size `sizeof(litecommit_options)`; at least the size of the first
///        published layout, which ends after `checkpoint` (16 bytes).
/// @return `LITECOMMIT_INVALID_ARGUMENT` if `opts` is NULL or `struct_size` is smaller than
///         16 or larger than `UINT32_MAX`: then nothing is written.
/// @see litecommit_open
#[no_mangle]
pub unsafe extern "C" fn litecommit_options_default(
    opts: *mut litecommit_options,
    struct_size: usize,
) -> litecommit_status {
    guard("litecommit_options_default", || {
        if opts.is_null() {
            return Err(FfiError::invalid("opts is NULL"));
        }
        let Some(size_field) = u32::try_from(struct_size)
            .ok()
            .filter(|_| struct_size >= MIN_OPTIONS_SIZE)
        else {
            return Err(FfiError::invalid(format!(
                "struct_size is {struct_size}: pass sizeof(litecommit_options)"
            )));
        };
        let mut defaults = litecommit_options::defaults();
        defaults.struct_size = size_field;
        let known = struct_size.min(size_of::<litecommit_options>());
        let dst = opts.cast::<u8>();
        // SAFETY: the caller provides `struct_size` writable bytes at `opts`; this writes
        // the first `known` <= `struct_size` bytes from the defaults, then zeroes the rest
        // of the caller's `struct_size` bytes.
        unsafe {
            ptr::copy_nonoverlapping(
                (&defaults as *const litecommit_options).cast::<u8>(),
                dst,
                known,
            );
            ptr::write_bytes(dst.add(known), 0, struct_size - known);
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debug_fields;
    use engine::OptionKind;

    /// A valid value of `spec`'s option other than its default.
    fn other_value(spec: &engine::OptionSpec) -> String {
        match spec.kind {
            OptionKind::Bool => (spec.default != "true").to_string(),
            OptionKind::Int => {
                (spec.default.parse::<u64>().expect("an Int default") + 1).to_string()
            }
            OptionKind::Float => {
                (spec.default.parse::<f64>().expect("a Float default") + 1.0).to_string()
            }
            OptionKind::OptionalInt if spec.default == "-1" => "1".into(),
            OptionKind::OptionalInt => "-1".into(),
            OptionKind::Str => format!("{}orders", spec.default),
            OptionKind::Text => {
                let names = [
                    Durability::Full.as_str(),
                    Durability::Normal.as_str(),
                    Durability::Off.as_str(),
                    FlushPolicy::Adaptive.as_str(),
                    FlushPolicy::Ticker.as_str(),
                ];
                let mut config = Config::default();
                names
                    .into_iter()
                    .find(|v| *v != spec.default && config.set(spec.name, v).is_ok())
                    .unwrap_or_else(|| panic!("{}: add one of its values to `names`", spec.name))
                    .to_string()
            }
        }
    }

    #[test]
    fn the_c_struct_has_a_field_for_every_option_and_no_other() {
        let mut c_fields: Vec<String> = debug_fields(&litecommit_options::defaults())
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| name != "struct_size")
            .collect();
        let mut options: Vec<&str> = Config::OPTIONS.iter().map(|o| o.name).collect();
        c_fields.sort();
        options.sort_unstable();
        assert_eq!(
            c_fields, options,
            "litecommit_options fields vs Config::OPTIONS"
        );
    }

    #[test]
    fn every_option_survives_the_trip_through_the_c_struct() {
        for spec in Config::OPTIONS {
            let mut config = Config::default();
            let value = other_value(spec);
            config
                .set(spec.name, &value)
                .unwrap_or_else(|e| panic!("{} = {value}: {e}", spec.name));
            let mut c = litecommit_options::from_config(&config);
            let label = std::ffi::CString::new(config.metrics_label.clone())
                .unwrap_or_else(|e| panic!("{e}"));
            c.metrics_label = label.as_ptr();
            // SAFETY: `label` outlives the call.
            let back = unsafe { c.into_config() }.unwrap_or_else(|e| {
                panic!("{} = {value}: {}", spec.name, e.message.to_string_lossy())
            });
            for other in Config::OPTIONS {
                assert_eq!(
                    back.get(other.name),
                    config.get(other.name),
                    "{} after setting {} = {value}",
                    other.name,
                    spec.name
                );
            }
        }
    }

    #[test]
    fn defaults_are_the_engines() {
        // SAFETY: the defaults' metrics_label is NULL.
        let config = unsafe { litecommit_options::defaults().into_config() }
            .unwrap_or_else(|e| panic!("{}", e.message.to_string_lossy()));
        for spec in Config::OPTIONS {
            assert_eq!(
                config.get(spec.name).as_deref(),
                Some(spec.default),
                "{}",
                spec.name
            );
        }
    }

    /// Calls `litecommit_options_default` with `struct_size` on a canary-filled buffer
    /// larger than the struct, and returns its status and the buffer.
    fn defaults_into_canary(struct_size: usize) -> (litecommit_status, Vec<u8>) {
        const CANARY: u8 = 0xA5;
        // u64 words: aligned for the struct.
        let mut buf =
            vec![u64::from_ne_bytes([CANARY; 8]); size_of::<litecommit_options>() / 8 + 8];
        // SAFETY: `buf` holds more than `struct_size` bytes whenever the call may write;
        // the sizes it rejects write nothing.
        let status = unsafe {
            litecommit_options_default(buf.as_mut_ptr().cast::<litecommit_options>(), struct_size)
        };
        let bytes = buf.iter().flat_map(|w| w.to_ne_bytes()).collect();
        (status, bytes)
    }

    #[test]
    fn options_default_writes_only_the_callers_size() {
        let ours = size_of::<litecommit_options>();
        for size in [
            MIN_OPTIONS_SIZE,
            MIN_OPTIONS_SIZE + 8,
            ours - 8,
            ours,
            ours + 24,
        ] {
            let (status, bytes) = defaults_into_canary(size);
            assert_eq!(status, litecommit_status::LITECOMMIT_OK, "size {size}");
            assert!(
                bytes[size..].iter().all(|b| *b == 0xA5),
                "written past {size}"
            );
            assert_eq!(
                bytes[..4],
                u32::try_from(size).unwrap().to_ne_bytes(),
                "struct_size"
            );
            let mut defaults = litecommit_options::defaults();
            defaults.struct_size = u32::try_from(size).unwrap();
            // SAFETY: plain old data, read as bytes.
            let expected = unsafe {
                std::slice::from_raw_parts(
                    (&defaults as *const litecommit_options).cast::<u8>(),
                    ours,
                )
            };
            let known = size.min(ours);
            assert_eq!(bytes[..known], expected[..known], "defaults, size {size}");
            assert!(
                bytes[known..size].iter().all(|b| *b == 0),
                "zeroed tail, size {size}"
            );
        }
        for size in [
            0,
            MIN_OPTIONS_SIZE - 1,
            usize::try_from(u64::from(u32::MAX) + 1).unwrap(),
        ] {
            let (status, bytes) = defaults_into_canary(size);
            assert_eq!(
                status,
                litecommit_status::LITECOMMIT_INVALID_ARGUMENT,
                "size {size}"
            );
            assert!(bytes.iter().all(|b| *b == 0xA5), "written with size {size}");
        }
    }

    #[test]
    fn a_metrics_label_that_is_not_utf8_is_an_invalid_config() {
        let label = [0xffu8, 0];
        let mut c = litecommit_options::defaults();
        c.metrics_label = label.as_ptr().cast();
        // SAFETY: `label` is NUL-terminated and outlives the call.
        let err = unsafe { c.into_config() }.map(|_| ()).unwrap_err();
        assert_eq!(err.status, litecommit_status::LITECOMMIT_INVALID_CONFIG);
        assert!(err
            .message
            .to_string_lossy()
            .starts_with("metrics_label: not valid UTF-8"));
    }
}
