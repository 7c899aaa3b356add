//! Transactions as submitted, and what comes back when they are durable.

use std::borrow::Cow;
use std::sync::Arc;

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
    /// The statements, run in order.
    pub statements: Vec<Statement>,
}

impl Transaction {
    /// An empty transaction; add statements with [`Transaction::push`].
    pub fn new() -> Transaction {
        Transaction::default()
    }

    /// A transaction of one statement.
    pub fn single(sql: impl Into<Cow<'static, str>>, params: impl Into<Params>) -> Transaction {
        Transaction {
            statements: vec![Statement::new(sql, params)],
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
}

impl From<Vec<Statement>> for Transaction {
    fn from(statements: Vec<Statement>) -> Transaction {
        Transaction { statements }
    }
}

/// Rows returned by a query or a `RETURNING` clause.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
    /// Column names, shared by every row.
    pub columns: Arc<[String]>,
    /// Each row's values, in column order.
    pub rows: Vec<Vec<Value>>,
    /// Each column's declared type as written in its table's definition (`"DATETIME"`),
    /// `None` for an expression; as long as `columns`, or empty where none were read.
    pub decl_types: Arc<[Option<String>]>,
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
    /// Per-statement results.
    pub statements: Vec<StatementResult>,
}

impl TransactionResult {
    /// The last statement's result (the only one for single-statement transactions).
    pub fn last(&self) -> Option<&StatementResult> {
        self.statements.last()
    }
}
