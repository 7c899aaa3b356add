//! The one mapping from core errors to the exception classes of `litecommit._errors`.

use litecommit::Error;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// SQLite primary codes reported as `OperationalError`: the ones the stdlib `sqlite3` module
/// reports so, plus NOMEM. Constraint and type mismatch are `IntegrityError`; the rest (e.g.
/// CORRUPT, NOTADB, TOOBIG, MISUSE) plain `SqliteError`, the `DatabaseError` of the stdlib.
const OPERATIONAL: &[i32] = &[
    1,  // ERROR: syntax errors, missing tables
    3,  // PERM
    4,  // ABORT
    5,  // BUSY
    6,  // LOCKED
    7,  // NOMEM
    8,  // READONLY
    9,  // INTERRUPT
    10, // IOERR
    13, // FULL
    14, // CANTOPEN
    15, // PROTOCOL
    16, // EMPTY
    17, // SCHEMA
];
const SQLITE_CANTOPEN: i32 = 14;

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
            let name = if matches!(code, 19 | 20) {
                "IntegrityError"
            } else if OPERATIONAL.contains(code) {
                "OperationalError"
            } else {
                "SqliteError"
            };
            class(name)?.call1((*code, *extended_code, message, *statement_index))
        }
        Error::Open(message) => class("OperationalError")?.call1((
            SQLITE_CANTOPEN,
            SQLITE_CANTOPEN,
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
        Error::Timeout | Error::Internal(_) => class("Error")?.call1((err.to_string(),)),
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
