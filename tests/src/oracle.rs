//! Runs each transaction alone on a fresh plain rusqlite connection: the reference outcome.
//!
//! PRODUCT.md defines a transaction's outcome as what it gives when it runs alone, on a
//! fresh connection opened with the committer's settings, right after every transaction
//! committed before it. [`Oracle::run`] does exactly that (`BEGIN IMMEDIATE`, the
//! statements, `COMMIT`; `ROLLBACK` on the first error), and [`observe`] reduces the
//! committer's outcome to the same comparable form.

use std::path::{Path, PathBuf};

use litecommit::{
    Config, Durability, Error, Outcome, Params, Rows, Statement, StatementResult, Transaction,
    TransactionResult, Value,
};
use rusqlite::types::ValueRef;
use rusqlite::Connection;

/// Why a transaction failed, as far as batched and alone must agree.
#[derive(Clone, Debug)]
pub enum Failure {
    /// An SQLite error: codes and statement (`None`: at COMMIT, a deferred constraint).
    Sqlite {
        /// Primary result code.
        code: i32,
        /// Extended result code.
        extended_code: i32,
        /// SQLite's message (compared by prefix: the committer may add context).
        message: String,
        /// The failing statement.
        statement_index: Option<usize>,
    },
    /// Wrong parameters for the statement.
    Parameter {
        /// The statement.
        statement_index: usize,
    },
    /// The statement was refused (not exactly one statement, or one that breaks a batch).
    Refused {
        /// The statement.
        statement_index: usize,
    },
    /// Anything else (closed, internal, ...): never an outcome of running alone.
    Other(String),
}

impl Failure {
    /// Whether the committer's failure `self` matches the reference failure `alone`.
    pub fn matches(&self, alone: &Failure) -> bool {
        match (self, alone) {
            (
                Failure::Sqlite {
                    code: c1,
                    extended_code: e1,
                    message: m1,
                    statement_index: i1,
                },
                Failure::Sqlite {
                    code: c2,
                    extended_code: e2,
                    message: m2,
                    statement_index: i2,
                },
            ) => c1 == c2 && e1 == e2 && i1 == i2 && (i1.is_none() || m1.starts_with(m2.as_str())),
            (
                Failure::Parameter { statement_index: a },
                Failure::Parameter { statement_index: b },
            ) => a == b,
            (Failure::Refused { statement_index: a }, Failure::Refused { statement_index: b }) => {
                a == b
            }
            _ => false,
        }
    }
}

/// A transaction's outcome in comparable form.
pub type Observed = Result<TransactionResult, Failure>;

/// Whether the committer's outcome equals the reference outcome.
pub fn same(batched: &Observed, alone: &Observed) -> bool {
    match (batched, alone) {
        (Ok(a), Ok(b)) => a == b,
        (Err(a), Err(b)) => a.matches(b),
        _ => false,
    }
}

/// Reduces a committer outcome to its comparable form.
pub fn observe(outcome: &Outcome) -> Observed {
    outcome.clone().map_err(|e| failure_of(&e))
}

/// The comparable form of a committer error.
pub fn failure_of(error: &Error) -> Failure {
    match error {
        Error::Sqlite {
            code,
            extended_code,
            message,
            statement_index,
        } => Failure::Sqlite {
            code: *code,
            extended_code: *extended_code,
            message: message.clone(),
            statement_index: *statement_index,
        },
        Error::Parameter {
            statement_index, ..
        } => Failure::Parameter {
            statement_index: *statement_index,
        },
        Error::Refused {
            statement_index, ..
        } => Failure::Refused {
            statement_index: *statement_index,
        },
        other => Failure::Other(format!("{other:?}")),
    }
}

/// The committer settings that a fresh connection must share to give the same answers
/// (a transaction may read any of them with a PRAGMA).
#[derive(Clone, Debug)]
pub struct Settings {
    /// `PRAGMA synchronous`: OFF, NORMAL or FULL.
    pub synchronous: &'static str,
    /// `PRAGMA journal_size_limit` (-1: none).
    pub journal_size_limit: i64,
    /// `PRAGMA foreign_keys`.
    pub foreign_keys: bool,
    /// `PRAGMA cache_size` in KiB.
    pub cache_size_kib: u64,
    /// `PRAGMA busy_timeout` in milliseconds.
    pub busy_timeout_ms: u64,
}

impl Settings {
    /// The settings of a committer opened with `config`.
    pub fn of(config: &Config) -> Settings {
        Settings {
            synchronous: match config.durability {
                Durability::Full => "FULL",
                Durability::Normal => "NORMAL",
                Durability::Off => "OFF",
            },
            journal_size_limit: config
                .journal_size_limit
                .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX)),
            foreign_keys: config.foreign_keys,
            cache_size_kib: config.cache_size_kib,
            busy_timeout_ms: config.busy_timeout_ms,
        }
    }
}

/// The reference database: every transaction runs alone on a fresh connection.
pub struct Oracle {
    path: PathBuf,
    settings: Settings,
    /// Kept open so that closing each fresh connection does not checkpoint the WAL.
    _anchor: Connection,
}

impl Oracle {
    /// Creates the reference database at `path` (a new file) with `schema`.
    pub fn create(path: &Path, settings: Settings, schema: &[&str]) -> Oracle {
        let anchor = open(path, &settings);
        let oracle = Oracle {
            path: path.to_path_buf(),
            settings,
            _anchor: anchor,
        };
        for sql in schema {
            let tx = Transaction::single(sql.to_string(), ());
            if let Err(e) = oracle.run(&tx) {
                panic!("oracle schema: {sql}: {e:?}");
            }
        }
        oracle
    }

    /// Runs `tx` alone on a fresh connection and commits it, or rolls it back on the first
    /// error and returns that error.
    pub fn run(&self, tx: &Transaction) -> Observed {
        let conn = open(&self.path, &self.settings);
        conn.execute_batch("BEGIN IMMEDIATE")
            .unwrap_or_else(|e| panic!("oracle BEGIN: {e}"));
        let mut results = Vec::with_capacity(tx.statements().len());
        for (index, stmt) in tx.statements().iter().enumerate() {
            match run_statement(&conn, stmt, index) {
                Ok(result) => results.push(result),
                Err(failure) => {
                    rollback(&conn);
                    return Err(failure);
                }
            }
        }
        match conn.execute_batch("COMMIT") {
            Ok(()) => Ok(TransactionResult {
                statements: results.into(),
            }),
            Err(e) => {
                rollback(&conn);
                Err(failure_from_sqlite(e, None))
            }
        }
    }

    /// The reference database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A fresh connection with the committer's settings.
fn open(path: &Path, settings: &Settings) -> Connection {
    let conn = Connection::open(path).unwrap_or_else(|e| panic!("oracle open: {e}"));
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("oracle WAL: {e}"));
    assert_eq!(mode, "wal", "oracle journal mode");
    conn.execute_batch(&format!(
        "PRAGMA synchronous={}; PRAGMA journal_size_limit={}; PRAGMA foreign_keys={}; \
         PRAGMA cache_size=-{}; PRAGMA busy_timeout={};",
        settings.synchronous,
        settings.journal_size_limit,
        if settings.foreign_keys { "ON" } else { "OFF" },
        settings.cache_size_kib,
        settings.busy_timeout_ms,
    ))
    .unwrap_or_else(|e| panic!("oracle pragmas: {e}"));
    conn
}

fn rollback(conn: &Connection) {
    // OR ROLLBACK and RAISE(ROLLBACK) have already ended the transaction.
    if !conn.is_autocommit() {
        conn.execute_batch("ROLLBACK")
            .unwrap_or_else(|e| panic!("oracle ROLLBACK: {e}"));
    }
}

/// Runs one statement: prepare (an SQL text must be exactly one statement), bind (the
/// parameters must match the statement's), step to the end collecting rows.
fn run_statement(
    conn: &Connection,
    stmt: &Statement,
    index: usize,
) -> Result<StatementResult, Failure> {
    let mut prepared = conn.prepare(&stmt.sql).map_err(|e| match e {
        rusqlite::Error::MultipleStatement | rusqlite::Error::Empty => Failure::Refused {
            statement_index: index,
        },
        other => failure_from_sqlite(other, Some(index)),
    })?;
    bind(&mut prepared, &stmt.params).map_err(|()| Failure::Parameter {
        statement_index: index,
    })?;
    let columns: Vec<String> = prepared.column_names().map(String::from).collect();
    let decl_types: Vec<Option<String>> = prepared
        .columns()
        .map(|c| c.decl_type().map(String::from))
        .collect();
    let total_before = conn.total_changes();
    let mut rows = Vec::new();
    let mut cursor = prepared.raw_query();
    while let Some(row) = cursor
        .next()
        .map_err(|e| failure_from_sqlite(e, Some(index)))?
    {
        let values = (0..columns.len())
            .map(|i| row.get_ref(i).map(value))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| failure_from_sqlite(e, Some(index)))?;
        rows.push(values);
    }
    drop(cursor);
    // `changes()` keeps the count of the last INSERT/UPDATE/DELETE; a statement that
    // changed no row (a SELECT, a PRAGMA, DDL) reports 0 rather than that stale count.
    let changes = if conn.total_changes() != total_before {
        conn.changes()
    } else {
        0
    };
    Ok(StatementResult {
        changes,
        last_insert_rowid: conn.last_insert_rowid(),
        rows: Rows {
            columns: columns.into(),
            rows,
            decl_types: decl_types.into(),
        },
    })
}

/// Binds `params` by the committer's rules: positional values must match the parameter
/// count; named values (with or without their `:`/`@`/`$` prefix) must each name a
/// parameter, once, and leave none unbound.
fn bind(prepared: &mut rusqlite::Statement<'_>, params: &Params) -> Result<(), ()> {
    let expected = prepared.parameter_count();
    match params {
        Params::None => (expected == 0).then_some(()).ok_or(()),
        Params::Invalid(_) => Err(()),
        Params::Positional(values) => {
            if values.len() != expected {
                return Err(());
            }
            for (i, v) in values.iter().enumerate() {
                prepared.raw_bind_parameter(i + 1, v).map_err(drop)?;
            }
            Ok(())
        }
        Params::Named(values) => {
            let mut bound = vec![false; expected];
            for (name, v) in values {
                let candidates = if name.starts_with([':', '@', '$']) {
                    vec![name.clone()]
                } else {
                    vec![format!(":{name}"), format!("@{name}"), format!("${name}")]
                };
                let position = candidates
                    .iter()
                    .find_map(|n| prepared.parameter_index(n).ok().flatten())
                    .ok_or(())?;
                if std::mem::replace(&mut bound[position - 1], true) {
                    return Err(());
                }
                prepared.raw_bind_parameter(position, v).map_err(drop)?;
            }
            bound.iter().all(|b| *b).then_some(()).ok_or(())
        }
    }
}

fn value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// SQLite's codes of a rusqlite error (the primary code is the low byte of the extended one).
fn failure_from_sqlite(e: rusqlite::Error, statement_index: Option<usize>) -> Failure {
    match e {
        rusqlite::Error::SqliteFailure(err, msg) => Failure::Sqlite {
            code: err.extended_code & 0xff,
            extended_code: err.extended_code,
            message: msg.unwrap_or_else(|| err.to_string()),
            statement_index,
        },
        rusqlite::Error::SqlInputError { error, msg, .. } => Failure::Sqlite {
            code: error.extended_code & 0xff,
            extended_code: error.extended_code,
            message: msg,
            statement_index,
        },
        other => Failure::Other(format!("rusqlite: {other}")),
    }
}

/// Everything a database holds that transactions can change.
#[derive(Debug, PartialEq)]
pub struct Dump {
    /// `PRAGMA user_version`.
    pub user_version: i64,
    /// `PRAGMA application_id`.
    pub application_id: i64,
    /// `sqlite_schema` rows (type, name, table, SQL), ordered.
    pub schema: Vec<Vec<Value>>,
    /// Every table's rows in rowid (or primary key) order, rowid included.
    pub tables: Vec<(String, Vec<Vec<Value>>)>,
}

/// Reads the whole content of the database at `path`.
pub fn dump(path: &Path) -> Dump {
    let conn = Connection::open(path).unwrap_or_else(|e| panic!("dump open: {e}"));
    let int = |sql: &str| -> i64 {
        conn.query_row(sql, [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("dump {sql}: {e}"))
    };
    let user_version = int("PRAGMA user_version");
    let application_id = int("PRAGMA application_id");
    let schema = select(
        &conn,
        "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name",
    )
    .unwrap_or_else(|e| panic!("dump schema: {e}"));
    let names: Vec<String> = schema
        .iter()
        .filter(|row| row[0] == Value::Text("table".into()))
        .filter_map(|row| match &row[1] {
            Value::Text(name) => Some(name.clone()),
            _ => None,
        })
        .collect();
    let tables = names
        .into_iter()
        .map(|name| {
            let rows = select(
                &conn,
                &format!("SELECT rowid, * FROM \"{name}\" ORDER BY rowid"),
            )
            // WITHOUT ROWID tables: in primary key order.
            .or_else(|_| select(&conn, &format!("SELECT * FROM \"{name}\" ORDER BY 1")))
            .unwrap_or_else(|e| panic!("dump {name}: {e}"));
            (name, rows)
        })
        .collect();
    Dump {
        user_version,
        application_id,
        schema,
        tables,
    }
}

/// `PRAGMA integrity_check` and `PRAGMA foreign_key_check` of the database at `path`:
/// `(["ok"], [])` for a healthy one.
pub fn health(path: &Path) -> (Vec<Vec<Value>>, Vec<Vec<Value>>) {
    let conn = Connection::open(path).unwrap_or_else(|e| panic!("health open: {e}"));
    let integrity =
        select(&conn, "PRAGMA integrity_check").unwrap_or_else(|e| panic!("integrity_check: {e}"));
    let foreign = select(&conn, "PRAGMA foreign_key_check")
        .unwrap_or_else(|e| panic!("foreign_key_check: {e}"));
    (integrity, foreign)
}

fn select(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<Vec<Value>>> {
    let mut stmt = conn.prepare(sql)?;
    let n = stmt.column_count();
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(
            (0..n)
                .map(|i| row.get_ref(i).map(value))
                .collect::<rusqlite::Result<_>>()?,
        );
    }
    Ok(out)
}
