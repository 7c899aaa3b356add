//! # litecommit
//!
//! Group commit for SQLite. Many threads submit small write transactions; one writer thread
//! runs them together inside one SQLite transaction (one fsync per batch), each atomic on
//! its own (a failing one is rolled back alone), and resolves each submitter's promise once
//! its transaction is durable.
//! A background scheduler runs WAL checkpoints on its own connection, off the commit path.
//!
//! Async code awaits instead of blocking: [`Committer::execute_async`],
//! [`Committer::transaction_async`] and [`Committer::submit_async`] return `std` futures
//! that run on any executor and wait for room in a full queue as tasks, not threads.
//!
//! ```
//! use litecommit::{params, Committer, Config, Transaction};
//!
//! # fn main() -> Result<(), litecommit::Error> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("app.db");
//! let db = Committer::open(&path, Config::default())?;
//! db.execute("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v INTEGER)", ())?;
//!
//! // Blocks until the row is durable (fsynced with the default durability).
//! let r = db.execute("INSERT INTO kv VALUES (?, ?)", params!["a", 1])?;
//! assert_eq!(r.last().unwrap().changes, 1);
//!
//! // Several statements, atomically; RETURNING rows come back.
//! let r = db.transaction(
//!     Transaction::new()
//!         .push("INSERT INTO kv VALUES (?, ?)", params!["b", 2])
//!         .push("UPDATE kv SET v = v + 10 WHERE k = ? RETURNING v", params!["a"]),
//! )?;
//! assert_eq!(r.statements[1].rows.rows[0][0], litecommit::Value::Integer(11));
//!
//! // Many in flight at once: they share batches.
//! let pending: Vec<_> = (0..100)
//!     .map(|i| db.submit(Transaction::single("INSERT INTO kv VALUES (?, ?)", params![format!("k{i}"), i])))
//!     .collect::<Result<_, _>>()?;
//! for p in pending {
//!     p.wait()?;
//! }
//!
//! let rows = db.query("SELECT count(*) FROM kv", ())?;
//! assert_eq!(rows.rows[0][0], litecommit::Value::Integer(102));
//! db.close()?;
//! # Ok(())
//! # }
//! ```

mod checkpoint;
mod committer;
mod completion;
mod config;
mod connection;
mod cpu_wake;
mod error;
mod event;
mod files;
mod futex_hash;
mod future;
mod gate;
mod metrics;
mod modes;
mod process;
mod read_pool;
mod recent;
mod runner;
mod schema;
mod slot;
mod snapshot;
mod statement;
mod transaction;
mod value;
mod writer;

pub use checkpoint::CheckpointResult;
pub use committer::{Committer, Wait};
pub use completion::{BatchSink, Outcome, Pending};
pub use config::{Config, OptionKind, OptionSpec};
pub use error::{code_name, Error, Result};
pub use event::{CheckpointReason, Event, EventListener, FlushTrigger};
pub use future::{PendingFuture, SubmitFuture, TransactionFuture};
pub use metrics::{StatSpec, StatValue, Stats};
pub use modes::{CheckpointMode, Durability, FlushPolicy};
pub use snapshot::Snapshot;
pub use transaction::{
    Rows, SharedList, Statement, StatementResult, Transaction, TransactionResult,
};
pub use value::{Params, Value};

/// What the [`params!`] macro expands to and the bindings share; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::process::id as process_id;
    pub use crate::value::{positional, IntoParam};
}

/// Compiles and runs the README's Rust example as a doc test.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The version of the bundled SQLite library (never older than 3.51.3).
pub fn sqlite_version() -> &'static str {
    rusqlite::version()
}

#[cfg(test)]
mod tests {
    #[test]
    fn bundled_sqlite_has_the_wal_reset_fix() {
        let version: Vec<u32> = super::sqlite_version()
            .split('.')
            .map(|p| p.parse().unwrap())
            .collect();
        assert!(version >= vec![3, 51, 3], "SQLite {version:?} is too old");
    }
}
