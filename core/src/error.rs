//! The one error type of litecommit; every binding maps it once into its own idiom.

use rusqlite::ffi;

/// Everything that can go wrong in litecommit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// SQLite refused a statement, or the batch's BEGIN/COMMIT failed
    /// (`statement_index` is `None` then).
    #[error("{message}{}", fmt_index(.statement_index))]
    Sqlite {
        /// Primary result code (`SQLITE_CONSTRAINT` = 19, ...).
        code: i32,
        /// Extended result code (`SQLITE_CONSTRAINT_UNIQUE` = 2067, ...).
        extended_code: i32,
        /// SQLite's message.
        message: String,
        /// Index of the failing statement within its transaction.
        statement_index: Option<usize>,
    },
    /// A statement that would break the batch (BEGIN, COMMIT, VACUUM, ...), refused before
    /// it reached SQLite.
    #[error("statement {statement_index}: {reason}")]
    Refused {
        /// Why it was refused.
        reason: String,
        /// Index of the refused statement within its transaction.
        statement_index: usize,
    },
    /// Wrong parameter count, unknown parameter name, or a parameter of the wrong kind.
    #[error("statement {statement_index}: {message}")]
    Parameter {
        /// What is wrong.
        message: String,
        /// Index of the statement within its transaction.
        statement_index: usize,
    },
    /// The configuration is invalid; the message names the field.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// The committer is closed (or was never fully opened).
    #[error("committer is closed")]
    Closed,
    /// `try_submit` found the queue full.
    #[error("queue is full")]
    QueueFull,
    /// A timed submit or wait ran out of time.
    #[error("timed out")]
    Timeout,
    /// The committer was opened by another process: this is a forked child, where a
    /// committer cannot be used (its threads and SQLite connections belong to the parent).
    #[error("the committer was opened by process {opened_by}; it cannot be used in a forked child process")]
    Forked {
        /// The process id of the process that opened it.
        opened_by: u32,
    },
    /// Opening the database or its connections failed (for reasons other than SQLite's).
    #[error("cannot open database: {0}")]
    Open(String),
    /// A bug or a panic inside litecommit; the message says where.
    #[error("internal error: {0}")]
    Internal(String),
}

fn fmt_index(index: &Option<usize>) -> String {
    index.map_or(String::new(), |i| format!(" (statement {i})"))
}

impl Error {
    /// The SQLite extended result code, when the error came from SQLite.
    pub fn extended_code(&self) -> Option<i32> {
        match self {
            Error::Sqlite { extended_code, .. } => Some(*extended_code),
            _ => None,
        }
    }

    /// Whether this is a constraint violation (UNIQUE, NOT NULL, FOREIGN KEY, CHECK, ...).
    pub fn is_constraint(&self) -> bool {
        matches!(self, Error::Sqlite { code, .. } if *code == ffi::SQLITE_CONSTRAINT)
    }

    /// The symbolic name of an SQLite (extended) result code, e.g. `SQLITE_CONSTRAINT_UNIQUE`.
    pub fn code_name(&self) -> &'static str {
        match self {
            Error::Sqlite { extended_code, .. } => code_name(*extended_code),
            Error::Refused { .. } => "LITECOMMIT_REFUSED",
            Error::Parameter { .. } => "LITECOMMIT_PARAMETER",
            Error::InvalidConfig(_) => "LITECOMMIT_INVALID_CONFIG",
            Error::Closed => "LITECOMMIT_CLOSED",
            Error::QueueFull => "LITECOMMIT_QUEUE_FULL",
            Error::Timeout => "LITECOMMIT_TIMEOUT",
            Error::Forked { .. } => "LITECOMMIT_FORKED",
            Error::Open(_) => "LITECOMMIT_OPEN",
            Error::Internal(_) => "LITECOMMIT_INTERNAL",
        }
    }

    /// Builds an [`Error::Sqlite`] from an (extended) result code a raw SQLite call returned.
    pub(crate) fn from_code(extended_code: i32, message: String) -> Error {
        Error::Sqlite {
            code: primary_code(extended_code),
            extended_code,
            message,
            statement_index: None,
        }
    }

    /// Builds an [`Error::Sqlite`] from a rusqlite error, tagged with a statement index.
    pub(crate) fn from_sqlite(err: rusqlite::Error, statement_index: Option<usize>) -> Error {
        match err {
            rusqlite::Error::SqliteFailure(e, msg) => Error::Sqlite {
                code: primary_code(e.extended_code),
                extended_code: e.extended_code,
                message: msg.unwrap_or_else(|| e.to_string()),
                statement_index,
            },
            // Prepare errors pointing at a token (syntax errors): keep SQLite's own code.
            rusqlite::Error::SqlInputError {
                error, msg, offset, ..
            } => Error::Sqlite {
                code: primary_code(error.extended_code),
                extended_code: error.extended_code,
                message: format!("{msg} (at offset {offset})"),
                statement_index,
            },
            other => Error::Sqlite {
                code: ffi::SQLITE_MISUSE,
                extended_code: ffi::SQLITE_MISUSE,
                message: other.to_string(),
                statement_index,
            },
        }
    }

    /// Adds context to the message of an SQLite error (used for BEGIN/COMMIT failures).
    pub(crate) fn with_context(self, context: &str) -> Error {
        match self {
            Error::Sqlite {
                code,
                extended_code,
                message,
                statement_index,
            } => Error::Sqlite {
                code,
                extended_code,
                message: format!("{context}: {message}"),
                statement_index,
            },
            other => other,
        }
    }
}

/// The primary result code within an extended one (its low byte, as SQLite defines them).
pub(crate) fn primary_code(extended_code: i32) -> i32 {
    extended_code & 0xff
}

/// Symbolic name of an SQLite primary or extended result code.
pub fn code_name(code: i32) -> &'static str {
    match code {
        0 => "SQLITE_OK",
        1 => "SQLITE_ERROR",
        2 => "SQLITE_INTERNAL",
        3 => "SQLITE_PERM",
        4 => "SQLITE_ABORT",
        5 => "SQLITE_BUSY",
        6 => "SQLITE_LOCKED",
        7 => "SQLITE_NOMEM",
        8 => "SQLITE_READONLY",
        9 => "SQLITE_INTERRUPT",
        10 => "SQLITE_IOERR",
        11 => "SQLITE_CORRUPT",
        12 => "SQLITE_NOTFOUND",
        13 => "SQLITE_FULL",
        14 => "SQLITE_CANTOPEN",
        15 => "SQLITE_PROTOCOL",
        16 => "SQLITE_EMPTY",
        17 => "SQLITE_SCHEMA",
        18 => "SQLITE_TOOBIG",
        19 => "SQLITE_CONSTRAINT",
        20 => "SQLITE_MISMATCH",
        21 => "SQLITE_MISUSE",
        22 => "SQLITE_NOLFS",
        23 => "SQLITE_AUTH",
        24 => "SQLITE_FORMAT",
        25 => "SQLITE_RANGE",
        26 => "SQLITE_NOTADB",
        27 => "SQLITE_NOTICE",
        28 => "SQLITE_WARNING",
        261 => "SQLITE_BUSY_RECOVERY",
        517 => "SQLITE_BUSY_SNAPSHOT",
        773 => "SQLITE_BUSY_TIMEOUT",
        262 => "SQLITE_LOCKED_SHAREDCACHE",
        1034 => "SQLITE_IOERR_FSYNC",
        3338 => "SQLITE_IOERR_SHORT_READ",
        778 => "SQLITE_IOERR_WRITE",
        266 => "SQLITE_IOERR_READ",
        1546 => "SQLITE_IOERR_TRUNCATE",
        1032 => "SQLITE_READONLY_DBMOVED",
        264 => "SQLITE_READONLY_RECOVERY",
        520 => "SQLITE_READONLY_CANTLOCK",
        776 => "SQLITE_READONLY_ROLLBACK",
        267 => "SQLITE_CORRUPT_VTAB",
        275 => "SQLITE_CONSTRAINT_CHECK",
        531 => "SQLITE_CONSTRAINT_COMMITHOOK",
        787 => "SQLITE_CONSTRAINT_FOREIGNKEY",
        1043 => "SQLITE_CONSTRAINT_FUNCTION",
        1299 => "SQLITE_CONSTRAINT_NOTNULL",
        1555 => "SQLITE_CONSTRAINT_PRIMARYKEY",
        1811 => "SQLITE_CONSTRAINT_TRIGGER",
        2067 => "SQLITE_CONSTRAINT_UNIQUE",
        2323 => "SQLITE_CONSTRAINT_VTAB",
        2579 => "SQLITE_CONSTRAINT_ROWID",
        3091 => "SQLITE_CONSTRAINT_DATATYPE",
        other if primary_code(other) != other => code_name(primary_code(other)),
        _ => "SQLITE_UNKNOWN",
    }
}

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
