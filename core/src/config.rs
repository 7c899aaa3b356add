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
    /// The seed's policy: commit when `max_batch_size` transactions are queued or every
    /// `max_wait_ms`, whichever comes first.
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

/// Settings of a committer. `Config::default()` holds the documented defaults.
#[derive(Clone)]
pub struct Config {
    /// Fsync policy of each batch commit. Default `Full`.
    pub durability: Durability,
    /// When batches are committed. Default `Adaptive`.
    pub flush_policy: FlushPolicy,
    /// Most transactions in one batch (doubled while a checkpoint runs when
    /// `dynamic_batch_size` is on). Default 10,000: with a deep queue, fewer and larger
    /// batches mean fewer fsyncs (measured: +30% throughput with 10,000 in flight vs 1,000).
    pub max_batch_size: usize,
    /// `Ticker`: flush at least this often. `Adaptive`: unused. Default 10 ms.
    pub max_wait_ms: u64,
    /// `Adaptive`: after the first transaction of a batch, wait this long for more.
    /// Default 0 (no wait).
    pub linger_ms: u64,
    /// Transactions that may wait in the queue before submitters block. Default 10,000.
    pub queue_capacity: usize,
    /// How long the writer and readers wait for locks held by other processes. Default 5000 ms.
    pub busy_timeout_ms: u64,
    /// Read-only connections serving `query`. Default 4.
    pub read_connections: usize,
    /// Run the background checkpoint scheduler. Turn it off when an external tool
    /// (Litestream, a backup job) does the checkpoints. Default on.
    pub checkpoint: bool,
    /// Un-checkpointed WAL content that triggers a PASSIVE checkpoint. Default 4 MB.
    pub passive_threshold_mb: f64,
    /// WAL content that triggers a RESTART checkpoint (the WAL is not wrapping). Default 16 MB.
    pub restart_threshold_mb: f64,
    /// How long RESTART/TRUNCATE checkpoints wait for readers before giving up. Default 100 ms.
    pub checkpoint_busy_timeout_ms: u64,
    /// Double the effective max batch size while a checkpoint runs. Default on.
    pub dynamic_batch_size: bool,
    /// Run a TRUNCATE checkpoint once the writer has been idle for `idle_ms`. Default off.
    pub truncate_when_idle: bool,
    /// Pages of `PRAGMA incremental_vacuum` to run once idle (needs `auto_vacuum=INCREMENTAL`).
    /// Default 0 (off).
    pub idle_vacuum_pages: u32,
    /// Most time one idle incremental vacuum may take. Default 50 ms.
    pub idle_vacuum_budget_ms: u64,
    /// How long without commits counts as idle. Default 1000 ms.
    pub idle_ms: u64,
    /// `PRAGMA cache_size` in KiB for every connection. Default 8192 (8 MiB).
    pub cache_size_kib: u64,
    /// `PRAGMA mmap_size` in bytes. Default 0 (off).
    pub mmap_size: u64,
    /// `PRAGMA journal_size_limit` in bytes: the WAL file is truncated to this after it
    /// restarts. Default 64 MiB; `None` keeps the file at its high-water mark.
    pub journal_size_limit: Option<u64>,
    /// `PRAGMA foreign_keys` on the writer. Default on.
    pub foreign_keys: bool,
    /// Prepared statements cached by the writer and each reader. Default 256.
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
            .field("queue_capacity", &self.queue_capacity)
            .field("checkpoint", &self.checkpoint)
            .field("passive_threshold_mb", &self.passive_threshold_mb)
            .field("restart_threshold_mb", &self.restart_threshold_mb)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Sets one option from its name and a string value, as bindings receive them.
    /// Accepts snake_case and camelCase names.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), Error> {
        fn num<T: FromStr>(field: &str, value: &str) -> Result<T, Error> {
            value.trim().parse().map_err(|_| {
                Error::InvalidConfig(format!("{field}: {value:?} is not a valid number"))
            })
        }
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
            "max_batch_size" => self.max_batch_size = num(&key, value)?,
            "max_wait_ms" => self.max_wait_ms = num(&key, value)?,
            "linger_ms" => self.linger_ms = num(&key, value)?,
            "queue_capacity" => self.queue_capacity = num(&key, value)?,
            "busy_timeout_ms" => self.busy_timeout_ms = num(&key, value)?,
            "read_connections" => self.read_connections = num(&key, value)?,
            "checkpoint" => self.checkpoint = flag(&key, value)?,
            "passive_threshold_mb" => self.passive_threshold_mb = num(&key, value)?,
            "restart_threshold_mb" => self.restart_threshold_mb = num(&key, value)?,
            "checkpoint_busy_timeout_ms" => self.checkpoint_busy_timeout_ms = num(&key, value)?,
            "dynamic_batch_size" => self.dynamic_batch_size = flag(&key, value)?,
            "truncate_when_idle" => self.truncate_when_idle = flag(&key, value)?,
            "idle_vacuum_pages" => self.idle_vacuum_pages = num(&key, value)?,
            "idle_vacuum_budget_ms" => self.idle_vacuum_budget_ms = num(&key, value)?,
            "idle_ms" => self.idle_ms = num(&key, value)?,
            "cache_size_kib" => self.cache_size_kib = num(&key, value)?,
            "mmap_size" => self.mmap_size = num(&key, value)?,
            "journal_size_limit" => {
                let limit: i64 = num(&key, value)?;
                self.journal_size_limit = u64::try_from(limit).ok();
            }
            "foreign_keys" => self.foreign_keys = flag(&key, value)?,
            "statement_cache_capacity" => self.statement_cache_capacity = num(&key, value)?,
            _ => {
                return Err(Error::InvalidConfig(format!(
                    "{name}: unknown configuration option"
                )))
            }
        }
        Ok(())
    }

    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |msg: String| Err(Error::InvalidConfig(msg));
        if self.max_batch_size == 0 {
            return bad("max_batch_size: must be at least 1".into());
        }
        if self.flush_policy == FlushPolicy::Ticker && self.max_wait_ms == 0 {
            return bad("max_wait_ms: must be at least 1 with the ticker flush policy".into());
        }
        if self.queue_capacity == 0 {
            return bad("queue_capacity: must be at least 1".into());
        }
        if self.read_connections == 0 {
            return bad("read_connections: must be at least 1".into());
        }
        let finite_positive = |v: f64| v.is_finite() && v > 0.0;
        if !finite_positive(self.passive_threshold_mb) {
            return bad(format!(
                "passive_threshold_mb: must be a positive number, got {}",
                self.passive_threshold_mb
            ));
        }
        if !finite_positive(self.restart_threshold_mb) {
            return bad(format!(
                "restart_threshold_mb: must be a positive number, got {}",
                self.restart_threshold_mb
            ));
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
