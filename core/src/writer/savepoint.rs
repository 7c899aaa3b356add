//! Running one submitted transaction on the write connection: bare or under its own
//! savepoint, with connection state reset so that it answers as if it ran alone.

use rusqlite::ffi;
use smallvec::SmallVec;

use crate::completion::Outcome;
use crate::error::Error;
use crate::transaction::{Transaction, TransactionResult};

use super::conn::WriteConn;

/// How running one transaction left the batch's SQLite transaction.
pub(super) enum Ran {
    /// Committed within it, or rejected and rolled back to its savepoint: the batch goes on.
    Done(Outcome),
    /// Rejected, and the SQLite transaction can only be rolled back as a whole (SQLite did
    /// it already, or the transaction's changes cannot be undone alone).
    Spoiled(Error),
}

impl WriteConn {
    /// Runs a transaction without a savepoint: a failure spoils the SQLite transaction.
    pub(super) fn run_bare(&mut self, tx: &Transaction) -> Ran {
        match self.run_statements(tx) {
            Ok(result) => Ran::Done(Ok(result)),
            Err(e) => Ran::Spoiled(e),
        }
    }

    /// Runs a transaction under its own savepoint.
    pub(super) fn run_under_savepoint(&mut self, tx: &Transaction) -> Ran {
        if let Err(e) = self.exec("SAVEPOINT litecommit_tx") {
            return Ran::Spoiled(e);
        }
        match self.run_statements(tx) {
            Ok(result) => match self.exec("RELEASE litecommit_tx") {
                Ok(()) => Ran::Done(Ok(result)),
                Err(e) => Ran::Spoiled(e),
            },
            // SQLite rolled back the whole SQLite transaction.
            Err(e) if !self.in_transaction() => Ran::Spoiled(e),
            Err(e) => {
                let undone = self
                    .exec("ROLLBACK TO litecommit_tx")
                    .and_then(|()| self.exec("RELEASE litecommit_tx"));
                match undone {
                    Ok(()) => Ran::Done(Err(e)),
                    // Its changes cannot be undone alone.
                    Err(_) => Ran::Spoiled(e),
                }
            }
        }
    }

    /// Runs the statements of a transaction, then checks its deferred foreign keys (if it
    /// may have any, see `reach`).
    fn run_statements(&mut self, tx: &Transaction) -> Outcome {
        // last_insert_rowid(), changes() and total_changes() answer as on a fresh
        // connection, never with another transaction's figures (SQLite keeps one per
        // connection).
        let reach = self.words.before(tx);
        crate::connection::start_transaction(self.conn(), reach.changes)?;
        let mut results = SmallVec::with_capacity(tx.statements().len());
        for (index, stmt) in tx.statements().iter().enumerate() {
            results.push(self.run(stmt, index)?);
        }
        if reach.deferred_fks && self.deferred_fk_violations() > 0 {
            return Err(Error::Sqlite {
                code: ffi::SQLITE_CONSTRAINT,
                extended_code: ffi::SQLITE_CONSTRAINT_FOREIGNKEY,
                message: "FOREIGN KEY constraint failed (deferred constraint, checked at the \
                          end of the transaction)"
                    .into(),
                statement_index: None,
            });
        }
        Ok(TransactionResult {
            statements: results,
        })
    }

    /// SQLite's count of unresolved deferred foreign-key violations in the open transaction.
    fn deferred_fk_violations(&self) -> i32 {
        let (mut current, mut high) = (0, 0);
        // SAFETY: the handle is valid while the connection lives; this thread owns it.
        let rc = unsafe {
            ffi::sqlite3_db_status(
                self.conn().handle(),
                ffi::SQLITE_DBSTATUS_DEFERRED_FKS,
                &mut current,
                &mut high,
                0,
            )
        };
        if rc == ffi::SQLITE_OK {
            current
        } else {
            0
        }
    }
}
