//! Error details: why a call failed.
//!
//! A function that fails returns its status and stores the details (message, SQLite's
//! primary and extended code, the failing statement's index) in a per-thread slot that
//! `litecommit_last_error` reads. The outcome of a transaction delivered later (by a
//! callback or a completion queue) carries its own error: `litecommit_result_error`.

// Internals: the error type every export converts to, the per-thread last error, and
// `guard`, which runs an export's body under `catch_unwind`.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use crate::status::{litecommit_status, status_name, status_of};
use litecommit_status::*;

/// Details of an error. The strings belong to litecommit: for `litecommit_last_error` they
/// stay valid until the next failing call on the same thread; for `litecommit_result_error`
/// as long as the result.
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct litecommit_error_info {
    /// The status the call returned.
    pub status: litecommit_status,
    /// SQLite primary result code (19 = SQLITE_CONSTRAINT), 0 when not from SQLite.
    pub sqlite_code: i32,
    /// SQLite extended result code (2067 = SQLITE_CONSTRAINT_UNIQUE), 0 when not from SQLite.
    pub extended_code: i32,
    /// Index of the failing statement within its transaction, -1 when none applies.
    pub statement_index: i64,
    /// A human-readable message (UTF-8, NUL-terminated).
    pub message: *const c_char,
    /// A symbolic name: for `LITECOMMIT_SQLITE_ERROR` SQLite's name of the extended code
    /// ("SQLITE_CONSTRAINT_UNIQUE"), else `litecommit_status_name(status)` ("LITECOMMIT_CLOSED").
    pub code_name: *const c_char,
}

/// An error as the C side sees it: the owned strings behind a `litecommit_error_info`.
#[derive(Debug, Clone)]
pub(crate) struct FfiError {
    /// The status the failing call returns.
    pub status: litecommit_status,
    /// SQLite's primary result code, 0 when the error is not SQLite's.
    pub sqlite_code: i32,
    /// SQLite's extended result code, 0 when the error is not SQLite's.
    pub extended_code: i32,
    /// Index of the failing statement in its transaction, -1 when none applies.
    pub statement_index: i64,
    /// The human-readable message.
    pub message: CString,
    /// The symbolic name ("SQLITE_CONSTRAINT_UNIQUE", "LITECOMMIT_CLOSED", ...).
    pub code_name: CString,
}

pub(crate) type FfiResult<T> = Result<T, FfiError>;

/// A CString from any text; interior NULs (never expected) become spaces.
pub(crate) fn cstring(text: impl Into<Vec<u8>>) -> CString {
    let mut bytes = text.into();
    bytes
        .iter_mut()
        .filter(|b| **b == 0)
        .for_each(|b| *b = b' ');
    CString::new(bytes).unwrap_or_default()
}

impl FfiError {
    pub(crate) fn new(status: litecommit_status, message: impl Into<Vec<u8>>) -> FfiError {
        FfiError {
            status,
            sqlite_code: 0,
            extended_code: 0,
            statement_index: -1,
            message: cstring(message),
            code_name: reported_name(status).into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<Vec<u8>>) -> FfiError {
        FfiError::new(LITECOMMIT_INVALID_ARGUMENT, message)
    }

    pub(crate) fn at_statement(mut self, index: usize) -> FfiError {
        self.statement_index = i64::try_from(index).unwrap_or(-1);
        self
    }

    pub(crate) fn info(&self) -> litecommit_error_info {
        litecommit_error_info {
            status: self.status,
            sqlite_code: self.sqlite_code,
            extended_code: self.extended_code,
            statement_index: self.statement_index,
            message: self.message.as_ptr(),
            code_name: self.code_name.as_ptr(),
        }
    }
}

impl From<engine::Error> for FfiError {
    fn from(err: engine::Error) -> FfiError {
        use engine::Error as E;
        let status = match &err {
            E::Sqlite { .. } => LITECOMMIT_SQLITE_ERROR,
            E::Refused { .. } => LITECOMMIT_REFUSED,
            E::Parameter { .. } => LITECOMMIT_PARAMETER,
            E::InvalidConfig(_) => LITECOMMIT_INVALID_CONFIG,
            E::Closed => LITECOMMIT_CLOSED,
            E::QueueFull => LITECOMMIT_QUEUE_FULL,
            E::Timeout => LITECOMMIT_TIMEOUT,
            E::Open(_) => LITECOMMIT_OPEN_ERROR,
            E::Internal(_) => LITECOMMIT_INTERNAL,
            E::Forked { .. } => LITECOMMIT_FORKED,
        };
        let (sqlite_code, extended_code, index) = match &err {
            E::Sqlite {
                code,
                extended_code,
                statement_index,
                ..
            } => (*code, *extended_code, *statement_index),
            E::Refused {
                statement_index, ..
            }
            | E::Parameter {
                statement_index, ..
            } => (0, 0, Some(*statement_index)),
            _ => (0, 0, None),
        };
        FfiError {
            status,
            sqlite_code,
            extended_code,
            statement_index: index.and_then(|i| i64::try_from(i).ok()).unwrap_or(-1),
            message: cstring(err.to_string()),
            code_name: cstring(err.code_name()),
        }
    }
}

/// `Ok` in the process that created an object (`opened_by` is its pid), else
/// `LITECOMMIT_FORKED`: in a forked child the object's threads and locks are the parent's.
pub(crate) fn same_process(opened_by: u32) -> FfiResult<()> {
    if engine::__private::process_id() == opened_by {
        Ok(())
    } else {
        Err(engine::Error::Forked { opened_by }.into())
    }
}

thread_local! {
    static LAST_ERROR: RefCell<Option<FfiError>> = const { RefCell::new(None) };
}

fn set_last_error(err: FfiError) {
    // `try_with` fails only while the thread is being torn down; nothing to report to then.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = Some(err));
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Runs the body of an exported function: its error becomes the thread's last error and a
/// status code; a panic becomes `LITECOMMIT_INTERNAL` and never unwinds into C.
pub(crate) fn guard(name: &str, body: impl FnOnce() -> FfiResult<()>) -> litecommit_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => LITECOMMIT_OK,
        Ok(Err(err)) => {
            let status = err.status;
            set_last_error(err);
            status
        }
        Err(payload) => {
            let msg = format!("panic in {name}: {}", panic_message(&*payload));
            set_last_error(FfiError::new(LITECOMMIT_INTERNAL, msg));
            LITECOMMIT_INTERNAL
        }
    }
}

/// Like [`guard`] for functions that return nothing (the free functions): a panic is
/// swallowed.
pub(crate) fn guard_void(body: impl FnOnce()) {
    drop(catch_unwind(AssertUnwindSafe(body)));
}

/// Fills `out` with the details of the most recent failed call on this thread; when no
/// call has failed on this thread yet, `out->status` is `LITECOMMIT_OK` and the message is
/// empty.
///
/// Ownership: the strings in `*out` are borrowed from this thread's slot, valid until the
/// next failing call on this thread.
///
/// @param out filled on success.
/// @return `LITECOMMIT_OK`; `LITECOMMIT_INVALID_ARGUMENT` if `out` is NULL.
/// @see litecommit_result_error for the error of a delivered transaction.
#[no_mangle]
pub unsafe extern "C" fn litecommit_last_error(
    out: *mut litecommit_error_info,
) -> litecommit_status {
    if out.is_null() {
        return LITECOMMIT_INVALID_ARGUMENT;
    }
    let filled = catch_unwind(|| {
        LAST_ERROR
            .try_with(|slot| {
                let mut slot = slot.borrow_mut();
                let err = slot.get_or_insert_with(|| FfiError::new(LITECOMMIT_OK, ""));
                err.info()
            })
            .ok()
    });
    match filled {
        Ok(Some(info)) => {
            // SAFETY: `out` is non-NULL and points to caller-owned storage for one struct.
            unsafe { ptr::write(out, info) };
            LITECOMMIT_OK
        }
        _ => LITECOMMIT_INTERNAL,
    }
}

/// The name errors of `status` report as their `code_name`: the constant's name, except
/// that `LITECOMMIT_OPEN_ERROR` is named "LITECOMMIT_OPEN", as in every binding.
fn reported_name(status: litecommit_status) -> &'static CStr {
    match status {
        LITECOMMIT_OPEN_ERROR => c"LITECOMMIT_OPEN",
        other => status_name(other),
    }
}

/// The symbolic name of a status, the `code_name` its errors report: the constant's name
/// ("LITECOMMIT_CLOSED"), except "LITECOMMIT_OPEN" for `LITECOMMIT_OPEN_ERROR` (the name
/// every binding reports); "LITECOMMIT_UNKNOWN_STATUS" for a value that is no status.
///
/// Ownership: a static string, never NULL; do not free it.
#[no_mangle]
pub unsafe extern "C" fn litecommit_status_name(status: i32) -> *const c_char {
    let name = |status: i32| status_of(status).map_or(c"LITECOMMIT_UNKNOWN_STATUS", reported_name);
    catch_unwind(|| name(status))
        .unwrap_or(c"LITECOMMIT_INTERNAL")
        .as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::STATUSES;
    use std::ffi::CStr;

    fn last() -> (litecommit_status, String) {
        let mut info = std::mem::MaybeUninit::<litecommit_error_info>::uninit();
        // SAFETY: valid storage for one struct.
        let info = unsafe {
            assert_eq!(litecommit_last_error(info.as_mut_ptr()), LITECOMMIT_OK);
            info.assume_init()
        };
        // SAFETY: the message is NUL-terminated and lives until the next failing call.
        let msg = unsafe { CStr::from_ptr(info.message) };
        (info.status, msg.to_string_lossy().into_owned())
    }

    #[test]
    fn a_panic_becomes_an_internal_error() {
        let status = guard("test_fn", || panic!("boom"));
        assert_eq!(status, LITECOMMIT_INTERNAL);
        let (status, msg) = last();
        assert_eq!(status, LITECOMMIT_INTERNAL);
        assert!(msg.contains("test_fn") && msg.contains("boom"), "{msg}");
        guard_void(|| panic!("swallowed"));
    }

    #[test]
    fn engine_errors_keep_their_codes() {
        let err = FfiError::from(engine::Error::Sqlite {
            code: 19,
            extended_code: 2067,
            message: "UNIQUE constraint failed: t.k".into(),
            statement_index: Some(3),
        });
        assert_eq!(err.status, LITECOMMIT_SQLITE_ERROR);
        assert_eq!(
            (err.sqlite_code, err.extended_code, err.statement_index),
            (19, 2067, 3)
        );
        assert_eq!(
            err.code_name.to_str().ok(),
            Some("SQLITE_CONSTRAINT_UNIQUE")
        );
        assert_eq!(
            FfiError::from(engine::Error::Closed).status,
            LITECOMMIT_CLOSED
        );
        assert_eq!(cstring("a\0b").to_str().ok(), Some("a b"));
    }

    /// The name `litecommit_status_name` gives `status`.
    fn name_of(status: i32) -> String {
        // SAFETY: a static NUL-terminated string.
        let name = unsafe { CStr::from_ptr(litecommit_status_name(status)) };
        name.to_string_lossy().into_owned()
    }

    #[test]
    fn status_names_match() {
        for (i, status) in STATUSES.into_iter().enumerate() {
            assert_eq!(
                status as usize, i,
                "STATUSES is in numeric order without gaps"
            );
            // The constant's name, but for the one status whose errors every binding names
            // without the suffix.
            let want = match status {
                LITECOMMIT_OPEN_ERROR => "LITECOMMIT_OPEN".to_owned(),
                other => format!("{other:?}"),
            };
            assert_eq!(name_of(status as i32), want);
        }
        assert_eq!(name_of(STATUSES.len() as i32), "LITECOMMIT_UNKNOWN_STATUS");
    }

    /// One error of each engine variant, with the status and code name it must get.
    fn engine_errors() -> Vec<(engine::Error, litecommit_status, &'static str)> {
        use engine::Error as E;
        vec![
            (
                E::Sqlite {
                    code: 26,
                    extended_code: 26,
                    message: "cannot open database x.db: file is not a database".into(),
                    statement_index: None,
                },
                LITECOMMIT_SQLITE_ERROR,
                "SQLITE_NOTADB",
            ),
            (
                E::Refused {
                    reason: "BEGIN".into(),
                    statement_index: 2,
                },
                LITECOMMIT_REFUSED,
                "LITECOMMIT_REFUSED",
            ),
            (
                E::Parameter {
                    message: "missing".into(),
                    statement_index: 2,
                },
                LITECOMMIT_PARAMETER,
                "LITECOMMIT_PARAMETER",
            ),
            (
                E::InvalidConfig("x".into()),
                LITECOMMIT_INVALID_CONFIG,
                "LITECOMMIT_INVALID_CONFIG",
            ),
            (E::Closed, LITECOMMIT_CLOSED, "LITECOMMIT_CLOSED"),
            (E::QueueFull, LITECOMMIT_QUEUE_FULL, "LITECOMMIT_QUEUE_FULL"),
            (E::Timeout, LITECOMMIT_TIMEOUT, "LITECOMMIT_TIMEOUT"),
            (
                E::Open("x".into()),
                LITECOMMIT_OPEN_ERROR,
                "LITECOMMIT_OPEN",
            ),
            (
                E::Internal("x".into()),
                LITECOMMIT_INTERNAL,
                "LITECOMMIT_INTERNAL",
            ),
            (
                E::Forked { opened_by: 4242 },
                LITECOMMIT_FORKED,
                "LITECOMMIT_FORKED",
            ),
        ]
    }

    #[test]
    fn every_engine_error_has_its_own_status() {
        use engine::Error as E;
        let index = Some(2);
        for (err, status, code_name) in engine_errors() {
            let has_index = matches!(err, E::Refused { .. } | E::Parameter { .. });
            let message = err.to_string();
            assert_eq!(err.code_name(), code_name, "{message}");
            let ffi = FfiError::from(err);
            assert_eq!(ffi.status, status, "{message}");
            assert_eq!(ffi.code_name.to_str().ok(), Some(code_name));
            assert_eq!(ffi.message.to_str().ok(), Some(message.as_str()));
            let want_index = if has_index { index } else { None };
            assert_eq!(ffi.statement_index, want_index.map_or(-1, |i| i as i64));
        }
        let forked = FfiError::from(E::Forked { opened_by: 4242 });
        let message = forked.message.to_string_lossy();
        assert!(
            message.contains("4242") && message.contains("forked"),
            "{message}"
        );
        let notadb = FfiError::from(E::Sqlite {
            code: 26,
            extended_code: 26,
            message: "file is not a database".into(),
            statement_index: None,
        });
        assert_eq!((notadb.sqlite_code, notadb.extended_code), (26, 26));
    }

    #[test]
    fn every_status_is_named_as_its_errors_code_name() {
        // Every error as the library builds it: from each engine error, and directly for the
        // statuses the C layer reports itself (it never builds a SQLite error itself).
        let mut errors: Vec<FfiError> = engine_errors()
            .into_iter()
            .map(|(err, _, _)| FfiError::from(err))
            .collect();
        errors.extend(
            STATUSES
                .into_iter()
                .filter(|s| *s != LITECOMMIT_SQLITE_ERROR)
                .map(|s| FfiError::new(s, "x")),
        );
        errors.push(FfiError::invalid("x"));
        for status in STATUSES {
            let name = name_of(status as i32);
            let of_status: Vec<&FfiError> = errors.iter().filter(|e| e.status == status).collect();
            assert!(!of_status.is_empty(), "no error of {name}");
            for err in of_status {
                let code_name = err.code_name.to_string_lossy();
                if status == LITECOMMIT_SQLITE_ERROR {
                    // A SQLite error is named by SQLite's extended code instead.
                    assert!(code_name.starts_with("SQLITE_"), "{code_name}");
                } else {
                    assert_eq!(code_name, name, "status {}", status as i32);
                }
            }
        }
    }
}
