//! Configuration of a [`Committer`](crate::Committer), validated at open.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::error::Error;
use crate::event::Event;

/// What a commit survives once its promise resolves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=FULL`: the WAL is fsynced at every batch commit. Survives process
    /// crashes and power loss.
    #[default]
    Full,
    /// `synchronous=NORMAL`: no fsync per commit, only at checkpoints. Survives process
    /// crashes; a power loss may roll back the most recent batches (never corrupts).
    Normal,
    /// `synchronous=OFF`: no fsync at all. Survives process crashes; a power loss may lose
    /// recent batches or corrupt the database.
    Off,
}

/// When the writer commits the transactions it has queued.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FlushPolicy {
    /// Commit whatever is queued (up to the effective max batch size) the moment the writer
    /// is free: a lone transaction at idle commits at once, batches grow with load.
    #[default]
    Adaptive,
    /// Commit when `max_batch_size` transactions are queued or every `max_wait_ms`,
    /// whichever comes first.
    Ticker,
}

/// A WAL checkpoint mode, as in `sqlite3_wal_checkpoint_v2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CheckpointMode {
    /// Copy what it can without waiting for anyone.
    Passive,
    /// Wait for the writer, then copy everything.
    Full,
    /// Like `Full`, then wait for readers so the next write restarts the WAL.
    Restart,
    /// Like `Restart`, then truncate the WAL file to zero bytes.
    Truncate,
}

impl CheckpointMode {
    /// The lower-case name used in metrics labels and configuration strings.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckpointMode::Passive => "passive",
            CheckpointMode::Full => "full",
            CheckpointMode::Restart => "restart",
            CheckpointMode::Truncate => "truncate",
        }
    }
}

macro_rules! string_enum {
    ($ty:ty, $field:literal, $($name:literal => $variant:expr),+) => {
        impl FromStr for $ty {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                match s.to_ascii_lowercase().as_str() {
                    $($name => Ok($variant),)+
                    _ => Err(Error::InvalidConfig(format!(
                        "{}: unknown value {:?} (expected one of: {})",
                        $field, s, [$($name),+].join(", ")
                    ))),
                }
            }
        }
    };
}

string_enum!(Durability, "durability", "full" => Durability::Full, "normal" => Durability::Normal, "off" => Durability::Off);
string_enum!(FlushPolicy, "flush_policy", "adaptive" => FlushPolicy::Adaptive, "ticker" => FlushPolicy::Ticker);
string_enum!(CheckpointMode, "checkpoint mode", "passive" => CheckpointMode::Passive, "full" => CheckpointMode::Full, "restart" => CheckpointMode::Restart, "truncate" => CheckpointMode::Truncate);

impl fmt::Display for CheckpointMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A callback that receives every [`Event`]; see [`Config::event_listener`].
pub type EventListener = Arc<dyn Fn(&Event) + Send + Sync>;

/// Largest accepted value of the `*_ms` options other than the busy timeouts: one day. It
/// keeps every deadline computed from them far from `Instant`'s limits.
const MAX_MS: u64 = 86_400_000;
/// SQLite keeps a busy timeout in an `int` of milliseconds (about 24.8 days).
const MAX_BUSY_TIMEOUT_MS: u64 = i32::MAX as u64;
/// The queue's slots are allocated when the committer opens (about 80 bytes each, so
/// 80 MB at this bound): a larger queue would only hide a writer that cannot keep up.
const MAX_QUEUE_CAPACITY: u64 = 1_000_000;
/// A batch is one SQLite transaction; larger ones hold the write lock for long stretches.
const MAX_BATCH_SIZE: u64 = 1_000_000;
/// Each read connection holds a file descriptor and its own page cache.
const MAX_READ_CONNECTIONS: u64 = 256;
/// Prepared statements cached per connection.
const MAX_STATEMENT_CACHE: u64 = 100_000;
/// SQLite's `PRAGMA cache_size` is an `int` (here a number of KiB: 2 TiB).
const MAX_CACHE_SIZE_KIB: u64 = i32::MAX as u64;
/// SQLite's `mmap_size` and `journal_size_limit` are 64-bit signed byte counts.
const MAX_BYTES: u64 = i64::MAX as u64;
/// `PRAGMA incremental_vacuum(N)` takes an `int`.
const MAX_VACUUM_PAGES: u64 = i32::MAX as u64;
/// Checkpoint thresholds (1 TiB of WAL).
const MAX_THRESHOLD_MB: f64 = 1_048_576.0;

/// The accepted range of an integer option.
fn integer_bounds(field: &str) -> Option<(u64, u64)> {
    Some(match field {
        "max_batch_size" => (1, MAX_BATCH_SIZE),
        "queue_capacity" => (1, MAX_QUEUE_CAPACITY),
        "read_connections" => (1, MAX_READ_CONNECTIONS),
        "max_wait_ms" | "linger_ms" | "idle_vacuum_budget_ms" | "idle_ms" => (0, MAX_MS),
        "busy_timeout_ms" | "checkpoint_busy_timeout_ms" => (0, MAX_BUSY_TIMEOUT_MS),
        "idle_vacuum_pages" => (0, MAX_VACUUM_PAGES),
        "cache_size_kib" => (0, MAX_CACHE_SIZE_KIB),
        "mmap_size" | "journal_size_limit" => (0, MAX_BYTES),
        "statement_cache_capacity" => (0, MAX_STATEMENT_CACHE),
        _ => return None,
    })
}

fn integer_error(field: &str, shown: impl fmt::Display) -> Error {
    let (min, max) = integer_bounds(field).unwrap_or((0, u64::MAX));
    let no_limit = if field == "journal_size_limit" {
        " (or negative for no limit)"
    } else {
        ""
    };
    Error::InvalidConfig(format!(
        "{field}: must be an integer from {min} to {max}{no_limit}, got {shown}"
    ))
}

fn check_integer(field: &str, value: u64) -> Result<(), Error> {
    match integer_bounds(field) {
        Some((min, max)) if (min..=max).contains(&value) => Ok(()),
        _ => Err(integer_error(field, value)),
    }
}

fn check_threshold(field: &str, value: f64) -> Result<(), Error> {
    if value.is_finite() && value > 0.0 && value <= MAX_THRESHOLD_MB {
        Ok(())
    } else {
        Err(threshold_error(field, value))
    }
}

fn threshold_error(field: &str, shown: impl fmt::Display) -> Error {
    Error::InvalidConfig(format!(
        "{field}: must be a number above 0 and at most {MAX_THRESHOLD_MB}, got {shown}"
    ))
}

/// Parses an integer option as `Config::set` receives it, with the range check of
/// `validate`.
fn parse_integer<T: TryFrom<u64>>(field: &str, value: &str) -> Result<T, Error> {
    let parsed: i128 = value
        .trim()
        .parse()
        .map_err(|_| integer_error(field, format!("{value:?}")))?;
    let checked = u64::try_from(parsed).map_err(|_| integer_error(field, parsed))?;
    check_integer(field, checked)?;
    T::try_from(checked).map_err(|_| integer_error(field, parsed))
}

fn parse_threshold(field: &str, value: &str) -> Result<f64, Error> {
    let parsed: f64 = value
        .trim()
        .parse()
        .map_err(|_| threshold_error(field, format!("{value:?}")))?;
    check_threshold(field, parsed)?;
    Ok(parsed)
}

/// Settings of a committer. `Config::default()` holds the documented defaults; every
/// value is range-checked when the committer opens.
#[derive(Clone)]
pub struct Config {
    /// Fsync policy of each batch commit. Default `Full`.
    pub durability: Durability,
    /// When batches are committed. Default `Adaptive`.
    pub flush_policy: FlushPolicy,
    /// Most transactions in one batch (doubled while a checkpoint runs when
    /// `dynamic_batch_size` is on). Default 10,000: with a deep queue, fewer and larger
    /// batches mean fewer fsyncs (measured: +30% throughput with 10,000 in flight vs 1,000).
    /// From 1 to 1,000,000.
    pub max_batch_size: usize,
    /// `Ticker`: flush at least this often. `Adaptive`: unused. Default 10 ms. At most one
    /// day (86,400,000), and at least 1 with `Ticker`.
    pub max_wait_ms: u64,
    /// `Adaptive`: after the first transaction of a batch, wait this long for more.
    /// Default 0 (no wait). At most one day.
    pub linger_ms: u64,
    /// Transactions that may wait in the queue before submitters block. Default 10,000.
    /// From 1 to 1,000,000: every slot is allocated at open (about 80 bytes each).
    pub queue_capacity: usize,
    /// How long the writer and readers wait for locks held by other processes. Default
    /// 5000 ms. At most 2,147,483,647 (SQLite keeps it in an `int`).
    pub busy_timeout_ms: u64,
    /// Read-only connections serving `query`. Default 4. From 1 to 256.
    pub read_connections: usize,
    /// Run the background checkpoint scheduler. Turn it off when an external tool
    /// (Litestream, a backup job) does the checkpoints. Default on.
    pub checkpoint: bool,
    /// Un-checkpointed WAL content that triggers a PASSIVE checkpoint. Default 4 MB.
    /// Above 0, at most 1,048,576 (1 TiB).
    pub passive_threshold_mb: f64,
    /// WAL content that triggers a RESTART checkpoint (the WAL is not wrapping). Default 16 MB.
    /// At least `passive_threshold_mb`, at most 1,048,576.
    pub restart_threshold_mb: f64,
    /// How long RESTART/TRUNCATE checkpoints wait for readers before giving up. Default
    /// 100 ms. At most 2,147,483,647.
    pub checkpoint_busy_timeout_ms: u64,
    /// Double the effective max batch size while a checkpoint runs. Default on.
    pub dynamic_batch_size: bool,
    /// Run a TRUNCATE checkpoint once the writer has been idle for `idle_ms`. Default off.
    pub truncate_when_idle: bool,
    /// Pages of `PRAGMA incremental_vacuum` to run once idle (needs `auto_vacuum=INCREMENTAL`).
    /// Default 0 (off). At most 2,147,483,647.
    pub idle_vacuum_pages: u32,
    /// Most time one idle incremental vacuum may take. Default 50 ms. At most one day.
    pub idle_vacuum_budget_ms: u64,
    /// How long without commits counts as idle. Default 1000 ms. At most one day, and at
    /// least 1 when idle work is enabled.
    pub idle_ms: u64,
    /// `PRAGMA cache_size` in KiB for every connection. Default 8192 (8 MiB). At most
    /// 2,147,483,647 (SQLite's `int`).
    pub cache_size_kib: u64,
    /// `PRAGMA mmap_size` in bytes. Default 0 (off). At most `i64::MAX`; SQLite caps it at
    /// its compile-time maximum.
    pub mmap_size: u64,
    /// `PRAGMA journal_size_limit` in bytes: the WAL file is truncated to this after it
    /// restarts. Default 64 MiB; `None` (a negative value in [`Config::set`]) keeps the
    /// file at its high-water mark. At most `i64::MAX`.
    pub journal_size_limit: Option<u64>,
    /// `PRAGMA foreign_keys` on the writer. Default on.
    pub foreign_keys: bool,
    /// Prepared statements cached by the writer and each reader. Default 256. At most
    /// 100,000.
    pub statement_cache_capacity: usize,
    /// Receives [`Event`]s on the writer and scheduler threads; it must return quickly.
    pub event_listener: Option<EventListener>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            durability: Durability::Full,
            flush_policy: FlushPolicy::Adaptive,
            max_batch_size: 10_000,
            max_wait_ms: 10,
            linger_ms: 0,
            queue_capacity: 10_000,
            busy_timeout_ms: 5000,
            read_connections: 4,
            checkpoint: true,
            passive_threshold_mb: 4.0,
            restart_threshold_mb: 16.0,
            checkpoint_busy_timeout_ms: 100,
            dynamic_batch_size: true,
            truncate_when_idle: false,
            idle_vacuum_pages: 0,
            idle_vacuum_budget_ms: 50,
            idle_ms: 1000,
            cache_size_kib: 8192,
            mmap_size: 0,
            journal_size_limit: Some(64 * 1024 * 1024),
            foreign_keys: true,
            statement_cache_capacity: 256,
            event_listener: None,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("durability", &self.durability)
            .field("flush_policy", &self.flush_policy)
            .field("max_batch_size", &self.max_batch_size)
            .field("max_wait_ms", &self.max_wait_ms)
            .field("linger_ms", &self.linger_ms)
            .field("queue_capacity", &self.queue_capacity)
            .field("busy_timeout_ms", &self.busy_timeout_ms)
            .field("read_connections", &self.read_connections)
            .field("checkpoint", &self.checkpoint)
            .field("passive_threshold_mb", &self.passive_threshold_mb)
            .field("restart_threshold_mb", &self.restart_threshold_mb)
            .field(
                "checkpoint_busy_timeout_ms",
                &self.checkpoint_busy_timeout_ms,
            )
            .field("dynamic_batch_size", &self.dynamic_batch_size)
            .field("truncate_when_idle", &self.truncate_when_idle)
            .field("idle_vacuum_pages", &self.idle_vacuum_pages)
            .field("idle_vacuum_budget_ms", &self.idle_vacuum_budget_ms)
            .field("idle_ms", &self.idle_ms)
            .field("cache_size_kib", &self.cache_size_kib)
            .field("mmap_size", &self.mmap_size)
            .field("journal_size_limit", &self.journal_size_limit)
            .field("foreign_keys", &self.foreign_keys)
            .field("statement_cache_capacity", &self.statement_cache_capacity)
            .field("event_listener", &self.event_listener.is_some())
            .finish()
    }
}

impl Config {
    /// Sets one option from its name and a string value, as bindings receive them.
    /// Accepts snake_case and camelCase names; a value out of the option's range is
    /// rejected with the same error as [`Config::validate`] gives.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), Error> {
        fn flag(field: &str, value: &str) -> Result<bool, Error> {
            match value.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "on" | "yes" => Ok(true),
                "0" | "false" | "off" | "no" => Ok(false),
                _ => Err(Error::InvalidConfig(format!(
                    "{field}: {value:?} is not a boolean"
                ))),
            }
        }
        let key: String = name
            .chars()
            .flat_map(|c| {
                let lower = c.to_ascii_lowercase();
                let underscore = (c.is_ascii_uppercase()).then_some('_');
                underscore.into_iter().chain(std::iter::once(lower))
            })
            .collect();
        match key.as_str() {
            "durability" => self.durability = value.parse()?,
            "flush_policy" => self.flush_policy = value.parse()?,
            "max_batch_size" => self.max_batch_size = parse_integer(&key, value)?,
            "max_wait_ms" => self.max_wait_ms = parse_integer(&key, value)?,
            "linger_ms" => self.linger_ms = parse_integer(&key, value)?,
            "queue_capacity" => self.queue_capacity = parse_integer(&key, value)?,
            "busy_timeout_ms" => self.busy_timeout_ms = parse_integer(&key, value)?,
            "read_connections" => self.read_connections = parse_integer(&key, value)?,
            "checkpoint" => self.checkpoint = flag(&key, value)?,
            "passive_threshold_mb" => self.passive_threshold_mb = parse_threshold(&key, value)?,
            "restart_threshold_mb" => self.restart_threshold_mb = parse_threshold(&key, value)?,
            "checkpoint_busy_timeout_ms" => {
                self.checkpoint_busy_timeout_ms = parse_integer(&key, value)?
            }
            "dynamic_batch_size" => self.dynamic_batch_size = flag(&key, value)?,
            "truncate_when_idle" => self.truncate_when_idle = flag(&key, value)?,
            "idle_vacuum_pages" => self.idle_vacuum_pages = parse_integer(&key, value)?,
            "idle_vacuum_budget_ms" => self.idle_vacuum_budget_ms = parse_integer(&key, value)?,
            "idle_ms" => self.idle_ms = parse_integer(&key, value)?,
            "cache_size_kib" => self.cache_size_kib = parse_integer(&key, value)?,
            "mmap_size" => self.mmap_size = parse_integer(&key, value)?,
            "journal_size_limit" => {
                // As in SQLite, a negative limit means no limit.
                let negative = value.trim().parse::<i128>().is_ok_and(|v| v < 0);
                self.journal_size_limit = if negative {
                    None
                } else {
                    Some(parse_integer(&key, value)?)
                };
            }
            "foreign_keys" => self.foreign_keys = flag(&key, value)?,
            "statement_cache_capacity" => {
                self.statement_cache_capacity = parse_integer(&key, value)?
            }
            _ => {
                return Err(Error::InvalidConfig(format!(
                    "{name}: unknown configuration option"
                )))
            }
        }
        Ok(())
    }

    /// Checks every field; the error names the first invalid one and its accepted range.
    pub fn validate(&self) -> Result<(), Error> {
        let size = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
        for (field, value) in [
            ("max_batch_size", size(self.max_batch_size)),
            ("max_wait_ms", self.max_wait_ms),
            ("linger_ms", self.linger_ms),
            ("queue_capacity", size(self.queue_capacity)),
            ("busy_timeout_ms", self.busy_timeout_ms),
            ("read_connections", size(self.read_connections)),
            (
                "checkpoint_busy_timeout_ms",
                self.checkpoint_busy_timeout_ms,
            ),
            ("idle_vacuum_pages", u64::from(self.idle_vacuum_pages)),
            ("idle_vacuum_budget_ms", self.idle_vacuum_budget_ms),
            ("idle_ms", self.idle_ms),
            ("cache_size_kib", self.cache_size_kib),
            ("mmap_size", self.mmap_size),
            ("journal_size_limit", self.journal_size_limit.unwrap_or(0)),
            (
                "statement_cache_capacity",
                size(self.statement_cache_capacity),
            ),
        ] {
            check_integer(field, value)?;
        }
        check_threshold("passive_threshold_mb", self.passive_threshold_mb)?;
        check_threshold("restart_threshold_mb", self.restart_threshold_mb)?;
        let bad = |msg: String| Err(Error::InvalidConfig(msg));
        if self.flush_policy == FlushPolicy::Ticker && self.max_wait_ms == 0 {
            return bad("max_wait_ms: must be at least 1 with the ticker flush policy".into());
        }
        if self.restart_threshold_mb < self.passive_threshold_mb {
            return bad(format!(
                "restart_threshold_mb: {} is below passive_threshold_mb {}",
                self.restart_threshold_mb, self.passive_threshold_mb
            ));
        }
        if self.idle_ms == 0 && (self.truncate_when_idle || self.idle_vacuum_pages > 0) {
            return bad("idle_ms: must be at least 1 when idle work is enabled".into());
        }
        Ok(())
    }

    /// The effective maximum batch size, given whether a checkpoint is running.
    pub(crate) fn effective_max_batch(&self, checkpoint_running: bool) -> usize {
        if checkpoint_running && self.dynamic_batch_size {
            self.max_batch_size.saturating_mul(2)
        } else {
            self.max_batch_size
        }
    }
}
