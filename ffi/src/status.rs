//! Status codes: what every function except the free functions returns.
//!
//! `LITECOMMIT_OK` (0) is success. After a failure, `litecommit_last_error` describes it until
//! the next failing call on the same thread. NULL pointers, invalid UTF-8, unknown enum values
//! and out-of-range indexes are answered with `LITECOMMIT_INVALID_ARGUMENT`; a panic inside
//! the library is caught and answered with `LITECOMMIT_INTERNAL`: nothing unwinds into C.

use std::ffi::CStr;

/// What a call returned. `LITECOMMIT_OK` (0) is success; every other value is an error
/// whose details are in `litecommit_last_error` (or `litecommit_result_error` for results
/// delivered by a callback or a completion queue).
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum litecommit_status {
    /// Success.
    LITECOMMIT_OK = 0,
    /// SQLite refused a statement (or the batch's BEGIN/COMMIT failed): see `sqlite_code`,
    /// `extended_code` and `statement_index`.
    LITECOMMIT_SQLITE_ERROR = 1,
    /// A statement that would break the batch (BEGIN, COMMIT, VACUUM, ATTACH, ...) was
    /// refused before it reached SQLite.
    LITECOMMIT_REFUSED = 2,
    /// Wrong parameter count, unknown parameter name or a parameter of the wrong kind.
    LITECOMMIT_PARAMETER = 3,
    /// An option is invalid; the message names it.
    LITECOMMIT_INVALID_CONFIG = 4,
    /// The committer (or completion queue) is closed.
    LITECOMMIT_CLOSED = 5,
    /// A non-blocking submit found the queue full.
    LITECOMMIT_QUEUE_FULL = 6,
    /// A timed wait ran out (the transaction may still commit later).
    LITECOMMIT_TIMEOUT = 7,
    /// Opening the database failed for a reason other than SQLite's (a failure reported by
    /// SQLite, such as SQLITE_NOTADB or SQLITE_BUSY, is `LITECOMMIT_SQLITE_ERROR`).
    LITECOMMIT_OPEN_ERROR = 8,
    /// A bad argument: a NULL pointer, invalid UTF-8, an unknown value type or mode, an
    /// index out of range, a pending handle already waited on.
    LITECOMMIT_INVALID_ARGUMENT = 9,
    /// A bug inside litecommit (a caught panic); the message says where.
    LITECOMMIT_INTERNAL = 10,
    /// The committer was opened by another process: this is a forked child, where it
    /// cannot be used (its threads and connections belong to the parent). Freeing it in the
    /// child releases nothing of the parent's.
    LITECOMMIT_FORKED = 11,
}

use litecommit_status::*;

/// Every status, in numeric order.
pub(crate) const STATUSES: [litecommit_status; 12] = [
    LITECOMMIT_OK,
    LITECOMMIT_SQLITE_ERROR,
    LITECOMMIT_REFUSED,
    LITECOMMIT_PARAMETER,
    LITECOMMIT_INVALID_CONFIG,
    LITECOMMIT_CLOSED,
    LITECOMMIT_QUEUE_FULL,
    LITECOMMIT_TIMEOUT,
    LITECOMMIT_OPEN_ERROR,
    LITECOMMIT_INVALID_ARGUMENT,
    LITECOMMIT_INTERNAL,
    LITECOMMIT_FORKED,
];

/// The symbolic name of a status, as C spells the constant.
pub(crate) fn status_name(status: litecommit_status) -> &'static CStr {
    match status {
        LITECOMMIT_OK => c"LITECOMMIT_OK",
        LITECOMMIT_SQLITE_ERROR => c"LITECOMMIT_SQLITE_ERROR",
        LITECOMMIT_REFUSED => c"LITECOMMIT_REFUSED",
        LITECOMMIT_PARAMETER => c"LITECOMMIT_PARAMETER",
        LITECOMMIT_INVALID_CONFIG => c"LITECOMMIT_INVALID_CONFIG",
        LITECOMMIT_CLOSED => c"LITECOMMIT_CLOSED",
        LITECOMMIT_QUEUE_FULL => c"LITECOMMIT_QUEUE_FULL",
        LITECOMMIT_TIMEOUT => c"LITECOMMIT_TIMEOUT",
        LITECOMMIT_OPEN_ERROR => c"LITECOMMIT_OPEN_ERROR",
        LITECOMMIT_INVALID_ARGUMENT => c"LITECOMMIT_INVALID_ARGUMENT",
        LITECOMMIT_INTERNAL => c"LITECOMMIT_INTERNAL",
        LITECOMMIT_FORKED => c"LITECOMMIT_FORKED",
    }
}

/// The status whose numeric value is `code`, if there is one.
pub(crate) fn status_of(code: i32) -> Option<litecommit_status> {
    STATUSES.iter().copied().find(|s| *s as i32 == code)
}
