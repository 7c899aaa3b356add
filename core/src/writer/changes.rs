//! When the writer resets `changes()` before a transaction: only when something could read
//! it. Every transaction must see the `changes()` of a fresh connection, 0, and resetting
//! costs a statement per transaction; but the function is only reachable from the
//! transaction's own SQL text and from the schema (a column's `DEFAULT`, a view, a
//! trigger). So the reset is skipped when neither mentions `changes`: the schema's texts
//! are scanned once per schema version, and a transaction that may change the schema makes
//! every later one of the same SQLite transaction reset.

use crate::error::{Error, Result};
use crate::recent::Recent;
use crate::runner::Runner;
use crate::statement::mentions_word;
use crate::transaction::Transaction;

/// What the writer knows about the schema's use of `changes()`.
#[derive(Default)]
pub(super) struct ChangesWatch {
    /// The schema version last scanned, and whether any schema text mentions `changes`.
    scanned: Option<(i64, bool)>,
    /// A transaction since the scan may have changed the schema.
    schema_changed: bool,
    /// What recent statement texts mention.
    recent: Recent<Mentions>,
}

impl ChangesWatch {
    /// After BEGIN (the write lock held, so the schema stays as it is but for this
    /// connection's own statements): scans the schema again if its version changed.
    pub(super) fn begin(&mut self, conn: &mut Runner) -> Result<()> {
        let mut query = |sql: &'static str| -> Result<i64> {
            conn.exec_own(sql)
                .map(|first| first.unwrap_or(0))
                .map_err(|e| Error::from_sqlite(e, None).with_context("reading the schema"))
        };
        let version = query("PRAGMA schema_version")?;
        if self.scanned.map(|(v, _)| v) != Some(version) {
            let mentions =
                query("SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE sql LIKE '%changes%')")?;
            self.scanned = Some((version, mentions != 0));
        }
        self.schema_changed = false;
        Ok(())
    }

    /// Before `tx` runs: whether `changes()` must be reset for it. A transaction that may
    /// change the schema makes every later one reset until the next
    /// [`ChangesWatch::begin`] (whether it then commits or fails).
    pub(super) fn before(&mut self, tx: &Transaction) -> bool {
        let (mut changes, mut schema) = (false, false);
        for statement in tx.statements() {
            let m = self.recent.get_or_find(&statement.sql, mentions);
            changes |= m.changes;
            schema |= m.schema;
        }
        let reset =
            changes || self.schema_changed || self.scanned.map_or(true, |(_, mentions)| mentions);
        self.schema_changed |= schema;
        reset
    }
}

/// What an SQL text may do, judged from the words in it, case-insensitively (an
/// over-approximation: a word inside a string literal counts too).
#[derive(Clone, Copy)]
struct Mentions {
    /// It mentions `changes`.
    changes: bool,
    /// It mentions `create`, `alter` or `drop`.
    schema: bool,
}

fn mentions(sql: &str) -> Mentions {
    Mentions {
        changes: mentions_word(sql, "changes"),
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
