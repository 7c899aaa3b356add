//! The one mapping from core errors to the exception classes of `litecommit._errors`.

use litecommit::Error;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// SQLite primary result codes that choose the exception class.
mod code {
    pub const ERROR: i32 = 1;
    pub const PERM: i32 = 3;
    pub const ABORT: i32 = 4;
    pub const BUSY: i32 = 5;
    pub const LOCKED: i32 = 6;
    pub const NOMEM: i32 = 7;
    pub const READONLY: i32 = 8;
    pub const INTERRUPT: i32 = 9;
    pub const IOERR: i32 = 10;
    pub const FULL: i32 = 13;
    pub const CANTOPEN: i32 = 14;
    pub const PROTOCOL: i32 = 15;
    pub const EMPTY: i32 = 16;
    pub const SCHEMA: i32 = 17;
    pub const TOOBIG: i32 = 18;
    pub const CONSTRAINT: i32 = 19;
    pub const MISMATCH: i32 = 20;
}

/// SQLite primary codes reported as `IntegrityError`: constraint violations and type
/// mismatches, as in the stdlib `sqlite3` module.
const INTEGRITY: &[i32] = &[code::CONSTRAINT, code::MISMATCH];

/// SQLite primary codes reported as `DataError` (a string or blob too big), as in the stdlib.
const DATA: &[i32] = &[code::TOOBIG];

/// SQLite primary codes reported as `OperationalError`: the ones the stdlib `sqlite3` module
/// reports so (`ERROR` covers syntax errors and missing tables), plus NOMEM. The rest (e.g.
/// CORRUPT, NOTADB, MISUSE) are plain `SqliteError`, the `DatabaseError` of the stdlib.
const OPERATIONAL: &[i32] = &[
    code::ERROR,
    code::PERM,
    code::ABORT,
    code::BUSY,
    code::LOCKED,
    code::NOMEM,
    code::READONLY,
    code::INTERRUPT,
    code::IOERR,
    code::FULL,
    code::CANTOPEN,
    code::PROTOCOL,
    code::EMPTY,
    code::SCHEMA,
];

/// The exception instance for a core error.
pub fn instance<'py>(py: Python<'py>, err: &Error) -> PyResult<Bound<'py, PyAny>> {
    let module = ERRORS.import(py, "litecommit", "_errors")?;
    let class = |name: &str| module.getattr(name);
    match err {
        Error::Sqlite {
            code,
            extended_code,
            message,
            statement_index,
        } => {
            let name = if INTEGRITY.contains(code) {
                "IntegrityError"
            } else if OPERATIONAL.contains(code) {
                "OperationalError"
            } else if DATA.contains(code) {
                "DataError"
            } else {
                "SqliteError"
            };
            class(name)?.call1((*code, *extended_code, message, *statement_index))
        }
        Error::Open(message) => class("OperationalError")?.call1((
            code::CANTOPEN,
            code::CANTOPEN,
            format!("cannot open database: {message}"),
            None::<usize>,
        )),
        Error::Refused {
            statement_index, ..
        }
        | Error::Parameter {
            statement_index, ..
        } => class("ProgrammingError")?.call1((err.to_string(), *statement_index)),
        Error::InvalidConfig(_) => class("ConfigError")?.call1((err.to_string(),)),
        Error::Closed => class("ClosedError")?.call1((err.to_string(),)),
        Error::QueueFull => class("QueueFullError")?.call1((err.to_string(),)),
        Error::Forked { opened_by } => class("ForkedError")?.call1((err.to_string(), *opened_by)),
        Error::Internal(_) => class("InternalError")?.call1((err.to_string(),)),
        Error::Timeout => class("Error")?.call1((err.to_string(),)),
    }
}

/// The exception to raise for a core error.
pub fn to_py(py: Python<'_>, err: &Error) -> PyErr {
    match instance(py, err) {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

/// `map_err` helper: `result.map_err(raise(py))`.
pub fn raise(py: Python<'_>) -> impl Fn(Error) -> PyErr + '_ {
    move |e| to_py(py, &e)
}
