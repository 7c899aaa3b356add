//! Transactions as submitted, and what comes back when they are durable.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use smallvec::{smallvec, SmallVec};

use crate::value::{Params, Value};

/// One SQL statement and its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    /// The SQL text: exactly one statement. A `&'static str` is used without copying.
    pub sql: Cow<'static, str>,
    /// Its bound parameters.
    pub params: Params,
}

impl Statement {
    /// A statement with parameters.
    pub fn new(sql: impl Into<Cow<'static, str>>, params: impl Into<Params>) -> Statement {
        Statement {
            sql: sql.into(),
            params: params.into(),
        }
    }
}

/// An ordered list of statements that apply atomically: all or none.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Transaction {
    /// The statements, run in order. Most transactions have one, kept without an
    /// allocation of its own: the writer frees what submitters allocated, at a cost.
    statements: SmallVec<[Statement; 1]>,
}

impl Transaction {
    /// An empty transaction; add statements with [`Transaction::push`].
    pub fn new() -> Transaction {
        Transaction::default()
    }

    /// A transaction of one statement.
    pub fn single(sql: impl Into<Cow<'static, str>>, params: impl Into<Params>) -> Transaction {
        Transaction {
            statements: smallvec![Statement::new(sql, params)],
        }
    }

    /// Appends a statement.
    pub fn push(
        mut self,
        sql: impl Into<Cow<'static, str>>,
        params: impl Into<Params>,
    ) -> Transaction {
        self.statements.push(Statement::new(sql, params));
        self
    }

    /// The statements, in the order they run.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }
}

impl From<Vec<Statement>> for Transaction {
    fn from(statements: Vec<Statement>) -> Transaction {
        if statements.len() <= 1 {
            return statements.into_iter().collect();
        }
        Transaction {
            statements: SmallVec::from_vec(statements),
        }
    }
}

impl FromIterator<Statement> for Transaction {
    fn from_iter<I: IntoIterator<Item = Statement>>(statements: I) -> Transaction {
        Transaction {
            statements: statements.into_iter().collect(),
        }
    }
}

/// Rows returned by a query or a `RETURNING` clause.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
    /// Column names, shared by every row.
    pub columns: SharedList<String>,
    /// Each row's values, in column order.
    pub rows: Vec<Vec<Value>>,
    /// Each column's declared type as written in its table's definition (`"DATETIME"`),
    /// `None` for an expression; as long as `columns`, or empty where none were read.
    pub decl_types: SharedList<Option<String>>,
}

/// A read-only list that clones without copying (it derefs to a slice). An empty one holds
/// nothing: a statement that returns no rows gets its result without an allocation or a
/// reference count that the threads building and dropping results would share.
#[derive(PartialEq, Eq)]
pub struct SharedList<T>(Option<Arc<[T]>>);

impl<T> Clone for SharedList<T> {
    fn clone(&self) -> SharedList<T> {
        SharedList(self.0.clone())
    }
}

impl<T> Default for SharedList<T> {
    fn default() -> SharedList<T> {
        SharedList(None)
    }
}

impl<T> Deref for SharedList<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        self.0.as_deref().unwrap_or(&[])
    }
}

impl<T> From<Vec<T>> for SharedList<T> {
    fn from(items: Vec<T>) -> SharedList<T> {
        SharedList((!items.is_empty()).then(|| items.into()))
    }
}

impl<T> FromIterator<T> for SharedList<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> SharedList<T> {
        items.into_iter().collect::<Vec<T>>().into()
    }
}

impl<T: fmt::Debug> fmt::Debug for SharedList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// What one statement did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatementResult {
    /// Rows inserted, updated or deleted by this statement (0 for other statements).
    pub changes: u64,
    /// The rowid of the last row this transaction inserted, up to and including this
    /// statement (0 if it inserted none).
    pub last_insert_rowid: i64,
    /// Rows of a `RETURNING` clause or a SELECT (empty otherwise).
    pub rows: Rows,
}

/// What a committed transaction did: one result per statement, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TransactionResult {
    /// Per-statement results. A `smallvec::SmallVec` (built from a `Vec` with `into()`):
    /// the result of a transaction of one statement needs no allocation of its own.
    pub statements: SmallVec<[StatementResult; 1]>,
}

impl TransactionResult {
    /// The last statement's result (the only one for single-statement transactions).
    pub fn last(&self) -> Option<&StatementResult> {
        self.statements.last()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_shared_list_holds_nothing_and_a_full_one_shares_its_items() {
        for empty in [
            SharedList::<String>::default(),
            SharedList::from(Vec::new()),
            std::iter::empty().collect(),
        ] {
            assert!(empty.0.is_none());
            assert!(empty.is_empty());
            assert_eq!(format!("{empty:?}"), "[]");
        }
        let names: SharedList<String> = vec!["id".to_owned(), "v".to_owned()].into();
        let copy = names.clone();
        assert_eq!(&*copy, ["id", "v"]);
        assert_eq!(format!("{copy:?}"), r#"["id", "v"]"#);
        let (a, b) = (names.0.as_ref().unwrap(), copy.0.as_ref().unwrap());
        assert!(Arc::ptr_eq(a, b));
    }

    #[test]
    fn a_statement_that_returns_no_rows_gets_a_result_without_shared_lists() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::Committer::open(dir.path().join("t.db"), crate::Config::default()).unwrap();
        db.execute("CREATE TABLE t (v INTEGER)", ()).unwrap();
        let insert = db.execute("INSERT INTO t VALUES (1)", ()).unwrap();
        let rows = &insert.last().unwrap().rows;
        assert!(rows.columns.0.is_none() && rows.decl_types.0.is_none());
        let returning = db
            .execute("INSERT INTO t VALUES (2) RETURNING v", ())
            .unwrap();
        assert_eq!(&*returning.last().unwrap().rows.columns, ["v"]);
        db.close().unwrap();
    }

    #[test]
    fn one_statement_is_kept_inline_however_the_transaction_is_built() {
        let st = |i: i64| Statement::new("INSERT INTO t VALUES (?1)", vec![Value::Integer(i)]);
        // As bindings build it: pushed into a vector with room to spare.
        let mut pushed = Vec::with_capacity(4);
        pushed.push(st(1));
        for tx in [
            Transaction::single("INSERT INTO t VALUES (?1)", vec![Value::Integer(1)]),
            Transaction::new().push("INSERT INTO t VALUES (?1)", vec![Value::Integer(1)]),
            Transaction::from(pushed),
            [st(1)].into_iter().collect(),
        ] {
            assert!(!tx.statements.spilled());
            assert_eq!(tx.statements(), [st(1)]);
        }
        let several = Transaction::from(vec![st(1), st(2), st(3)]);
        assert_eq!(several.statements(), [st(1), st(2), st(3)]);
        assert_eq!(several, (1..=3).map(st).collect());
        assert_eq!(
            several,
            Transaction::single("INSERT INTO t VALUES (?1)", vec![Value::Integer(1)])
                .push("INSERT INTO t VALUES (?1)", vec![Value::Integer(2)])
                .push("INSERT INTO t VALUES (?1)", vec![Value::Integer(3)])
        );
    }
}
