//! The named choices of the configuration (durability, flush policy, checkpoint mode), each
//! read from and shown as a lower-case name.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

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

/// Gives an enum its lower-case names: `as_str`, `Display` and a case-insensitive
/// `FromStr` whose error names `$field` and the accepted values.
macro_rules! string_enum {
    ($ty:ident, $field:literal, $($name:literal => $variant:ident),+) => {
        impl $ty {
            /// The lower-case name used in metrics labels and configuration strings.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name,)+
                }
            }
        }

        impl FromStr for $ty {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                match s.to_ascii_lowercase().as_str() {
                    $($name => Ok($ty::$variant),)+
                    _ => Err(Error::InvalidConfig(format!(
                        "{}: unknown value {:?} (expected one of: {})",
                        $field, s, [$($name),+].join(", ")
                    ))),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(Durability, "durability", "full" => Full, "normal" => Normal, "off" => Off);
string_enum!(FlushPolicy, "flush_policy", "adaptive" => Adaptive, "ticker" => Ticker);
string_enum!(
    CheckpointMode,
    "checkpoint mode",
    "passive" => Passive,
    "full" => Full,
    "restart" => Restart,
    "truncate" => Truncate
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_any_case() {
        for mode in [
            CheckpointMode::Passive,
            CheckpointMode::Full,
            CheckpointMode::Restart,
            CheckpointMode::Truncate,
        ] {
            assert_eq!(mode.to_string(), mode.as_str());
            assert_eq!(
                mode.as_str().to_uppercase().parse::<CheckpointMode>(),
                Ok(mode)
            );
        }
        for durability in [Durability::Full, Durability::Normal, Durability::Off] {
            assert_eq!(durability.as_str().parse::<Durability>(), Ok(durability));
        }
        assert_eq!("Ticker".parse::<FlushPolicy>(), Ok(FlushPolicy::Ticker));
        assert_eq!(
            "sometimes".parse::<FlushPolicy>().unwrap_err().to_string(),
            "invalid configuration: flush_policy: unknown value \"sometimes\" (expected one \
             of: adaptive, ticker)"
        );
    }
}
