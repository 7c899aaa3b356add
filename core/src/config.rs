//! Configuration of a [`Committer`](crate::Committer), validated at open.
//!
//! Every option is one entry of the `options!` table below, which generates its `Config`
//! field, its default, its line in [`Config::OPTIONS`], [`Config::set`], [`Config::get`],
//! `Debug` and its range check.

use std::fmt;

use crate::error::Error;
use crate::event::EventListener;
use crate::modes::{Durability, FlushPolicy};
use crate::schema::doc_text;

/// How an option's value is written as text, in [`Config::set`] and [`Config::get`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionKind {
    /// `true` or `false` (`set` also takes `1`/`0`, `on`/`off`, `yes`/`no`).
    Bool,
    /// A whole number within the option's range.
    Int,
    /// A number above 0.
    Float,
    /// One of a few lower-case names (`full`, `normal`, `off`, ...), in any case.
    Text,
    /// A whole number, or a negative one for none; `get` shows none as `-1`.
    OptionalInt,
    /// Any text, taken as it is.
    Str,
}

/// One option of [`Config`], for bindings that list, document or forward options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionSpec {
    /// The snake_case name: the `Config` field and the name [`Config::set`] takes.
    pub name: &'static str,
    /// How its value is written as text.
    pub kind: OptionKind,
    /// Its default value, as [`Config::get`] shows it.
    pub default: &'static str,
    /// The field's documentation, on one line.
    pub doc: &'static str,
}

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
/// Bytes in a MiB.
const MIB: u64 = 1024 * 1024;

/// Generates `Config` and everything that lists its options from one table. An entry is
/// `name: Type = default => "default as text", Kind(range arguments);`, where `Kind` is an
/// [`OptionKind`] and names the `codec` that parses, shows and checks the value.
macro_rules! options {
    ($(
        $(#[doc = $doc:literal])+
        $name:ident: $ty:ty = $default:expr => $text:literal, $kind:ident $(($($arg:expr),*))?;
    )+) => {
        /// Settings of a committer. `Config::default()` holds the documented defaults; every
        /// value is range-checked when the committer opens.
        #[derive(Clone)]
        pub struct Config {
            $($(#[doc = $doc])+ pub $name: $ty,)+
            /// Receives [`Event`](crate::Event)s on the writer and scheduler threads, and on a
            /// thread whose `execute`/`transaction` committed inline; it must return quickly.
            pub event_listener: Option<EventListener>,
        }

        impl Default for Config {
            fn default() -> Self {
                Config {
                    $($name: $default,)+
                    event_listener: None,
                }
            }
        }

        impl fmt::Debug for Config {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct("Config")
                    $(.field(stringify!($name), &self.$name))+
                    .field("event_listener", &self.event_listener.is_some())
                    .finish()
            }
        }

        impl Config {
            /// Every option [`Config::set`] and [`Config::get`] take, in field order (all
            /// fields but `event_listener`, which only code can set).
            pub const OPTIONS: &'static [OptionSpec] = &[$(OptionSpec {
                name: stringify!($name),
                kind: OptionKind::$kind,
                default: $text,
                doc: doc_text(concat!($($doc),+)),
            },)+];

            /// Sets one option from its name and a string value, as bindings receive them.
            /// Accepts snake_case and camelCase names; a value out of the option's range is
            /// rejected with the same error as [`Config::validate`] gives.
            pub fn set(&mut self, name: &str, value: &str) -> Result<(), Error> {
                let key = snake_case(name);
                match key.as_str() {
                    $(stringify!($name) => {
                        self.$name = codec::$kind::parse(&key, value $($(, $arg)*)?)?
                    })+
                    _ => {
                        return Err(Error::InvalidConfig(format!(
                            "{name}: unknown configuration option"
                        )))
                    }
                }
                Ok(())
            }

            /// The value of one option as text that [`Config::set`] takes back (snake_case
            /// or camelCase name); `None` for an unknown name.
            pub fn get(&self, name: &str) -> Option<String> {
                Some(match snake_case(name).as_str() {
                    $(stringify!($name) => codec::$kind::show(&self.$name),)+
                    _ => return None,
                })
            }

            /// The first option out of its range. Integers are reported before thresholds.
            fn check_ranges(&self) -> Result<(), Error> {
                let mut checks = [$((
                    OptionKind::$kind,
                    codec::$kind::check(stringify!($name), &self.$name $($(, $arg)*)?),
                ),)+];
                checks.sort_by_key(|(kind, _)| *kind == OptionKind::Float);
                checks.into_iter().map(|(_, checked)| checked).collect()
            }
        }
    };
}

options! {
    /// Fsync policy of each batch commit. Default `Full`.
    durability: Durability = Durability::Full => "full", Text;
    /// When batches are committed. Default `Adaptive`.
    flush_policy: FlushPolicy = FlushPolicy::Adaptive => "adaptive", Text;
    /// Most transactions in one batch (doubled while a checkpoint runs when
    /// `dynamic_batch_size` is on). Default 10,000: with a deep queue, fewer and larger
    /// batches mean fewer fsyncs (measured: +30% throughput with 10,000 in flight vs 1,000).
    /// From 1 to 1,000,000.
    max_batch_size: usize = 10_000 => "10000", Int(1, MAX_BATCH_SIZE);
    /// `Ticker`: flush at least this often. `Adaptive`: unused. Default 10 ms. At most one
    /// day (86,400,000), and at least 1 with `Ticker`.
    max_wait_ms: u64 = 10 => "10", Int(0, MAX_MS);
    /// `Adaptive`: after the first transaction of a batch, wait this long for more.
    /// Default 0 (no wait). At most one day.
    linger_ms: u64 = 0 => "0", Int(0, MAX_MS);
    /// Transactions that may wait in the queue before submitters block. Default 10,000.
    /// From 1 to 1,000,000: every slot is allocated at open (about 80 bytes each).
    queue_capacity: usize = 10_000 => "10000", Int(1, MAX_QUEUE_CAPACITY);
    /// How long the writer and readers wait for locks held by other processes. Default
    /// 5000 ms. At most 2,147,483,647 (SQLite keeps it in an `int`).
    busy_timeout_ms: u64 = 5000 => "5000", Int(0, MAX_BUSY_TIMEOUT_MS);
    /// Read-only connections serving `query`. Default 4. From 1 to 256.
    read_connections: usize = 4 => "4", Int(1, MAX_READ_CONNECTIONS);
    /// Run the background checkpoint scheduler. Turn it off when an external tool
    /// (Litestream, a backup job) does the checkpoints. Default on.
    checkpoint: bool = true => "true", Bool;
    /// Un-checkpointed WAL content that triggers a PASSIVE checkpoint. Default 4 MB.
    /// Above 0, at most 1,048,576 (1 TiB).
    passive_threshold_mb: f64 = 4.0 => "4", Float(MAX_THRESHOLD_MB);
    /// WAL content that triggers a RESTART checkpoint (the WAL is not wrapping). Default 16 MB.
    /// At least `passive_threshold_mb`, at most 1,048,576.
    restart_threshold_mb: f64 = 16.0 => "16", Float(MAX_THRESHOLD_MB);
    /// How long RESTART/TRUNCATE checkpoints wait for readers before giving up. Default
    /// 100 ms. At most 2,147,483,647.
    checkpoint_busy_timeout_ms: u64 = 100 => "100", Int(0, MAX_BUSY_TIMEOUT_MS);
    /// WAL content past which a RESTART may pause the writer for up to
    /// `wal_hard_limit_pause_ms` (instead of `checkpoint_busy_timeout_ms`) to wait for
    /// readers. Default 64 MB; below `restart_threshold_mb` it counts from there. Above 0,
    /// at most 1,048,576.
    wal_hard_limit_mb: f64 = 64.0 => "64", Float(MAX_THRESHOLD_MB);
    /// Longest writer pause of a RESTART past `wal_hard_limit_mb`. Default 1000 ms. At most
    /// 2,147,483,647.
    wal_hard_limit_pause_ms: u64 = 1000 => "1000", Int(0, MAX_BUSY_TIMEOUT_MS);
    /// Double the effective max batch size while a checkpoint runs. Default on.
    dynamic_batch_size: bool = true => "true", Bool;
    /// Run a TRUNCATE checkpoint once the writer has been idle for `idle_ms`. Default off.
    truncate_when_idle: bool = false => "false", Bool;
    /// Pages of `PRAGMA incremental_vacuum` to run once idle (needs `auto_vacuum=INCREMENTAL`).
    /// Default 0 (off). At most 2,147,483,647.
    idle_vacuum_pages: u32 = 0 => "0", Int(0, MAX_VACUUM_PAGES);
    /// Most time one idle incremental vacuum may take. Default 50 ms. At most one day.
    idle_vacuum_budget_ms: u64 = 50 => "50", Int(0, MAX_MS);
    /// How long without commits counts as idle. Default 1000 ms. At most one day, and at
    /// least 1 when idle work is enabled.
    idle_ms: u64 = 1000 => "1000", Int(0, MAX_MS);
    /// `PRAGMA cache_size` in KiB for every connection. Default 8192 (8 MiB). At most
    /// 2,147,483,647 (SQLite's `int`).
    cache_size_kib: u64 = 8192 => "8192", Int(0, MAX_CACHE_SIZE_KIB);
    /// `PRAGMA mmap_size` in bytes. Default 0 (off). At most `i64::MAX`; SQLite caps it at
    /// its compile-time maximum.
    mmap_size: u64 = 0 => "0", Int(0, MAX_BYTES);
    /// `PRAGMA journal_size_limit` in bytes: the WAL file is truncated to this after it
    /// restarts. Default 64 MiB; `None` (a negative value in [`Config::set`]) keeps the
    /// file at its high-water mark. At most `i64::MAX`.
    journal_size_limit: Option<u64> = Some(64 * MIB) => "67108864", OptionalInt(0, MAX_BYTES);
    /// `PRAGMA foreign_keys` on the writer. Default on.
    foreign_keys: bool = true => "true", Bool;
    /// Prepared statements cached by the writer and each reader. Default 256. At most
    /// 100,000.
    statement_cache_capacity: usize = 256 => "256", Int(0, MAX_STATEMENT_CACHE);
    /// Value of the constant label `db` on every Prometheus metric, so that committers on
    /// different databases can share one registry. Default empty: the database file's name
    /// (`app.db` for `/data/app.db`).
    metrics_label: String = String::new() => "", Str;
}

impl Config {
    /// Checks every field; the error names the first invalid one and its accepted range.
    pub fn validate(&self) -> Result<(), Error> {
        self.check_ranges()?;
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

/// An option name in snake_case: `maxBatchSize` becomes `max_batch_size`.
fn snake_case(name: &str) -> String {
    name.chars()
        .flat_map(|c| {
            let underscore = c.is_ascii_uppercase().then_some('_');
            underscore
                .into_iter()
                .chain(std::iter::once(c.to_ascii_lowercase()))
        })
        .collect()
}

/// How the values of each [`OptionKind`] are handled: `parse` reads the text
/// [`Config::set`] takes (range-checked), `show` writes the text [`Config::get`] gives, and
/// `check` is the range check of [`Config::validate`]. Each takes the range arguments of its
/// kind's entries in the `options!` table.
mod codec {
    use std::fmt::Display;
    use std::str::FromStr;

    use crate::error::Error;

    /// The accepted values of an integer option, and how its errors describe them.
    struct IntRange {
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
        /// Appended to the description of the range in errors.
        note: &'static str,
    }

    impl IntRange {
        /// The error for a value outside the range, shown as `shown`.
        fn error(&self, field: &str, shown: impl Display) -> Error {
            let IntRange { min, max, note } = self;
            Error::InvalidConfig(format!(
                "{field}: must be an integer from {min} to {max}{note}, got {shown}"
            ))
        }

        /// Whether `value` is in the range.
        fn check(&self, field: &str, value: u64) -> Result<(), Error> {
            if (self.min..=self.max).contains(&value) {
                Ok(())
            } else {
                Err(self.error(field, value))
            }
        }

        /// Reads a whole number in the range as a `T`.
        fn parse<T: TryFrom<u64>>(&self, field: &str, text: &str) -> Result<T, Error> {
            let parsed: i128 = text
                .trim()
                .parse()
                .map_err(|_| self.error(field, format!("{text:?}")))?;
            let checked = u64::try_from(parsed).map_err(|_| self.error(field, parsed))?;
            self.check(field, checked)?;
            T::try_from(checked).map_err(|_| self.error(field, parsed))
        }
    }

    /// [`OptionKind::Bool`](super::OptionKind::Bool).
    pub(super) struct Bool;

    impl Bool {
        pub(super) fn parse(field: &str, text: &str) -> Result<bool, Error> {
            match text.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "on" | "yes" => Ok(true),
                "0" | "false" | "off" | "no" => Ok(false),
                _ => Err(Error::InvalidConfig(format!(
                    "{field}: {text:?} is not a boolean"
                ))),
            }
        }

        pub(super) fn show(value: &bool) -> String {
            value.to_string()
        }

        pub(super) fn check(_field: &str, _value: &bool) -> Result<(), Error> {
            Ok(())
        }
    }

    /// [`OptionKind::Int`](super::OptionKind::Int), from `min` to `max`.
    pub(super) struct Int;

    impl Int {
        pub(super) fn parse<T: TryFrom<u64>>(
            field: &str,
            text: &str,
            min: u64,
            max: u64,
        ) -> Result<T, Error> {
            IntRange { min, max, note: "" }.parse(field, text)
        }

        pub(super) fn show(value: &impl Display) -> String {
            value.to_string()
        }

        pub(super) fn check<T: Copy + TryInto<u64>>(
            field: &str,
            value: &T,
            min: u64,
            max: u64,
        ) -> Result<(), Error> {
            let value = (*value).try_into().unwrap_or(u64::MAX);
            IntRange { min, max, note: "" }.check(field, value)
        }
    }

    /// [`OptionKind::OptionalInt`](super::OptionKind::OptionalInt): none, or from `min`
    /// to `max`. As in SQLite, a negative value means none (no limit).
    pub(super) struct OptionalInt;

    /// How the ranges of [`OptionalInt`] options are described in errors.
    const NO_LIMIT: &str = " (or negative for no limit)";

    impl OptionalInt {
        pub(super) fn parse(
            field: &str,
            text: &str,
            min: u64,
            max: u64,
        ) -> Result<Option<u64>, Error> {
            if text.trim().parse::<i128>().is_ok_and(|v| v < 0) {
                return Ok(None);
            }
            let range = IntRange {
                min,
                max,
                note: NO_LIMIT,
            };
            range.parse(field, text).map(Some)
        }

        pub(super) fn show(value: &Option<u64>) -> String {
            value.map_or_else(|| "-1".to_string(), |v| v.to_string())
        }

        pub(super) fn check(
            field: &str,
            value: &Option<u64>,
            min: u64,
            max: u64,
        ) -> Result<(), Error> {
            let range = IntRange {
                min,
                max,
                note: NO_LIMIT,
            };
            value.map_or(Ok(()), |v| range.check(field, v))
        }
    }

    /// [`OptionKind::Float`](super::OptionKind::Float): above 0, at most `max`.
    pub(super) struct Float;

    impl Float {
        /// The error for a value outside the range, shown as `shown`.
        fn error(field: &str, max: f64, shown: impl Display) -> Error {
            Error::InvalidConfig(format!(
                "{field}: must be a number above 0 and at most {max}, got {shown}"
            ))
        }

        pub(super) fn parse(field: &str, text: &str, max: f64) -> Result<f64, Error> {
            let parsed: f64 = text
                .trim()
                .parse()
                .map_err(|_| Float::error(field, max, format!("{text:?}")))?;
            Float::check(field, &parsed, max)?;
            Ok(parsed)
        }

        pub(super) fn show(value: &f64) -> String {
            value.to_string()
        }

        pub(super) fn check(field: &str, value: &f64, max: f64) -> Result<(), Error> {
            if value.is_finite() && *value > 0.0 && *value <= max {
                Ok(())
            } else {
                Err(Float::error(field, max, value))
            }
        }
    }

    /// [`OptionKind::Str`](super::OptionKind::Str): any text.
    pub(super) struct Str;

    impl Str {
        pub(super) fn parse(_field: &str, text: &str) -> Result<String, Error> {
            Ok(text.to_owned())
        }

        pub(super) fn show(value: &str) -> String {
            value.to_owned()
        }

        pub(super) fn check(_field: &str, _value: &str) -> Result<(), Error> {
            Ok(())
        }
    }

    /// [`OptionKind::Text`](super::OptionKind::Text): a type with lower-case names.
    pub(super) struct Text;

    impl Text {
        pub(super) fn parse<T: FromStr<Err = Error>>(_field: &str, text: &str) -> Result<T, Error> {
            text.parse()
        }

        pub(super) fn show(value: &impl Display) -> String {
            value.to_string()
        }

        pub(super) fn check<T>(_field: &str, _value: &T) -> Result<(), Error> {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value of the option other than its default, as `set` takes it.
    fn other_value(spec: &OptionSpec) -> Vec<String> {
        match spec.kind {
            OptionKind::Bool => vec![(spec.default != "true").to_string()],
            OptionKind::Int => vec!["7".into()],
            OptionKind::Float => vec!["2.5".into()],
            OptionKind::OptionalInt => vec!["7".into(), "-1".into()],
            OptionKind::Str => vec!["orders".into()],
            // Every name of every choice type: those the option takes are checked below.
            OptionKind::Text => ["full", "normal", "off", "adaptive", "ticker"]
                .map(String::from)
                .to_vec(),
        }
    }

    #[test]
    fn every_option_round_trips_through_set_and_get() {
        for spec in Config::OPTIONS {
            let mut config = Config::default();
            let mut changed = false;
            for value in other_value(spec) {
                if config.set(spec.name, &value).is_err() {
                    assert_eq!(
                        spec.kind,
                        OptionKind::Text,
                        "{}: {value} refused",
                        spec.name
                    );
                    continue;
                }
                assert_eq!(config.get(spec.name).as_deref(), Some(value.as_str()));
                changed |= value != spec.default;
                let shown = config.get(spec.name).unwrap();
                let mut again = Config::default();
                again.set(spec.name, &shown).unwrap();
                assert_eq!(again.get(spec.name), Some(shown), "{}", spec.name);
            }
            assert!(
                changed,
                "{}: no value other than the default was set",
                spec.name
            );
        }
    }

    #[test]
    fn every_option_has_its_documented_default() {
        let config = Config::default();
        for spec in Config::OPTIONS {
            assert_eq!(config.get(spec.name).as_deref(), Some(spec.default));
            let mut set = Config::default();
            set.set(spec.name, spec.default).unwrap();
            assert_eq!(format!("{set:?}"), format!("{config:?}"), "{}", spec.name);
        }
    }

    #[test]
    fn options_are_exactly_the_fields_but_the_listener() {
        let shown = format!("{:?}", Config::default());
        let fields: Vec<&str> = shown
            .trim_start_matches("Config { ")
            .split(", ")
            .filter_map(|part| part.split_once(": ").map(|(name, _)| name))
            .collect();
        let mut names: Vec<&str> = Config::OPTIONS.iter().map(|o| o.name).collect();
        names.push("event_listener");
        assert_eq!(fields, names);
        let config = Config::default();
        for spec in Config::OPTIONS {
            assert!(config.get(spec.name).is_some(), "{}", spec.name);
            assert!(
                !spec.doc.is_empty() && !spec.doc.starts_with(' '),
                "{}",
                spec.name
            );
        }
        assert_eq!(config.get("event_listener"), None);
        assert_eq!(config.get("no_such_option"), None);
    }

    #[test]
    fn get_takes_camel_case_names() {
        let mut config = Config::default();
        config.set("maxBatchSize", "12").unwrap();
        assert_eq!(config.get("maxBatchSize").as_deref(), Some("12"));
        assert_eq!(config.get("max_batch_size").as_deref(), Some("12"));
        assert_eq!(config.max_batch_size, 12);
    }

    #[test]
    fn integer_ranges_are_reported_before_thresholds() {
        let config = Config {
            passive_threshold_mb: -1.0,
            statement_cache_capacity: 1_000_000,
            ..Config::default()
        };
        assert_eq!(
            config.validate().unwrap_err().to_string(),
            "invalid configuration: statement_cache_capacity: must be an integer from 0 to \
             100000, got 1000000"
        );
    }

    #[test]
    fn the_docs_are_the_field_docs_on_one_line() {
        let spec = Config::OPTIONS
            .iter()
            .find(|o| o.name == "read_connections")
            .unwrap();
        assert_eq!(
            spec.doc,
            "Read-only connections serving `query`. Default 4. From 1 to 256."
        );
        let spec = Config::OPTIONS
            .iter()
            .find(|o| o.name == "linger_ms")
            .unwrap();
        assert!(
            spec.doc.contains("wait this long for more. Default 0"),
            "{}",
            spec.doc
        );
    }
}
