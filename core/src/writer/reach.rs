//! What a transaction can reach that the writer must prepare for or check, judged from the
//! words of its SQL text and of the schema, so that the work is skipped when nothing could
//! need it:
//! - `changes()` and `total_changes()`: every transaction must see the figures of a fresh
//!   connection, and resetting `changes()` costs a statement per transaction;
//! - deferred foreign keys (`DEFERRABLE INITIALLY DEFERRED`, the only way to defer one:
//!   `PRAGMA defer_foreign_keys` is refused): their violations are counted at the end of
//!   each transaction, a call per transaction.
//!
//! Both are reachable only from the transaction's own SQL text and from the schema (a
//! column's `DEFAULT`, a view, a trigger, a table's constraints). The schema's texts are
//! scanned once per schema version, and a transaction that may change the schema makes
//! every later one of the same SQLite transaction do both.

use crate::error::{Error, Result};
use crate::recent::Recent;
use crate::runner::Runner;
use crate::statement::mentions_word;
use crate::transaction::Transaction;

/// What the writer knows about the schema's words.
#[derive(Default)]
pub(super) struct SchemaWords {
    /// The schema version last scanned, and what its texts mention.
    scanned: Option<(i64, Reach)>,
    /// A transaction since the scan may have changed the schema.
    schema_changed: bool,
    /// What recent statement texts mention.
    recent: Recent<Mentions>,
}

/// What one transaction may reach.
#[derive(Clone, Copy, Debug)]
pub(super) struct Reach {
    /// `changes()` or `total_changes()`: reset them before it runs.
    pub(super) changes: bool,
    /// A deferred foreign key: count its violations after it ran.
    pub(super) deferred_fks: bool,
}

impl SchemaWords {
    /// After BEGIN (the write lock held, so the schema stays as it is but for this
    /// connection's own statements): scans the schema again if its version changed. The
    /// version is read only if another connection may have committed since the latest scan
    /// (`others_committed`) or a transaction since may have changed the schema: this
    /// connection changes it only through the statements that [`SchemaWords::before`] sees.
    /// After a failure the next call scans.
    pub(super) fn begin(&mut self, conn: &mut Runner, others_committed: bool) -> Result<()> {
        if !others_committed && !self.schema_changed && self.scanned.is_some() {
            return Ok(());
        }
        let scanned = self.scanned.take();
        let mut query = |sql: &'static str| -> Result<i64> {
            conn.exec_own(sql)
                .map(|first| first.unwrap_or(0))
                .map_err(|e| Error::from_sqlite(e, None).with_context("reading the schema"))
        };
        let version = query("PRAGMA schema_version")?;
        let reach = match scanned {
            Some((v, reach)) if v == version => reach,
            _ => {
                let found = query(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE sql LIKE '%changes%') \
                     + 2 * EXISTS (SELECT 1 FROM sqlite_schema WHERE sql LIKE '%deferred%')",
                )?;
                Reach {
                    changes: found & 1 != 0,
                    deferred_fks: found & 2 != 0,
                }
            }
        };
        self.scanned = Some((version, reach));
        self.schema_changed = false;
        Ok(())
    }

    /// Forgets the latest scan: the next [`SchemaWords::begin`] scans.
    pub(super) fn forget(&mut self) {
        self.scanned = None;
    }

    /// Before `tx` runs: what it may reach. A transaction that may change the schema makes
    /// every later one reach everything until the next [`SchemaWords::begin`] (whether it
    /// then commits or fails).
    pub(super) fn before(&mut self, tx: &Transaction) -> Reach {
        let mut own = Mentions::default();
        for statement in tx.statements() {
            let m = self.recent.get_or_find(&statement.sql, mentions);
            own.changes |= m.changes;
            own.deferred |= m.deferred;
            own.schema |= m.schema;
        }
        let schema = match self.scanned {
            Some((_, scanned)) if !self.schema_changed => scanned,
            _ => Reach {
                changes: true,
                deferred_fks: true,
            },
        };
        self.schema_changed |= own.schema;
        Reach {
            changes: own.changes || schema.changes,
            deferred_fks: own.deferred || schema.deferred_fks,
        }
    }
}

/// What an SQL text may do, judged from the words in it, case-insensitively (an
/// over-approximation: a word inside a string literal counts too).
#[derive(Clone, Copy, Default)]
struct Mentions {
    /// It mentions `changes`.
    changes: bool,
    /// It mentions `deferred`.
    deferred: bool,
    /// It mentions `create`, `alter` or `drop`.
    schema: bool,
}

fn mentions(sql: &str) -> Mentions {
    Mentions {
        changes: mentions_word(sql, "changes"),
        deferred: mentions_word(sql, "deferred"),
        schema: ["create", "alter", "drop"]
            .iter()
            .any(|word| mentions_word(sql, word)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_found_in_any_case_anywhere_in_the_text() {
        let m = |sql: &str| {
            let m = mentions(sql);
            (m.changes, m.schema)
        };
        assert!(mentions("CREATE TABLE c (p REFERENCES p DEFERRABLE INITIALLY Deferred)").deferred);
        assert!(!mentions("INSERT INTO c VALUES (1)").deferred);
        assert_eq!(m("INSERT INTO t VALUES (?1, ?2)"), (false, false));
        assert_eq!(m("SELECT CHANGES()"), (true, false));
        assert_eq!(m("insert into t select changes()"), (true, false));
        assert_eq!(m("create table x (a)"), (false, true));
        assert_eq!(m("ALTER TABLE x ADD b"), (false, true));
        assert_eq!(m("DROP VIEW v"), (false, true));
        assert_eq!(m("/* */ Create Trigger x ... changes() ..."), (true, true));
        assert_eq!(m("chang"), (false, false));
        assert_eq!(m(""), (false, false));
    }
}
