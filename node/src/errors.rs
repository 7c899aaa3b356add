//! The one mapping from core errors to what JavaScript receives, and the panic guard for
//! code napi calls from C callbacks.

use std::panic::{catch_unwind, AssertUnwindSafe};

use litecommit::Error as CoreError;
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// A core result.
pub type CoreResult<T> = std::result::Result<T, CoreError>;

/// An error as the JS side receives it; index.js turns it into a `LitecommitError`.
#[napi(object)]
pub struct ErrorInfo {
    pub code: String,
    pub message: String,
    pub statement_index: Option<u32>,
    /// SQLite primary result code.
    pub errno: Option<i32>,
    /// SQLite extended result code.
    pub extended_code: Option<i32>,
}

impl From<&CoreError> for ErrorInfo {
    fn from(e: &CoreError) -> ErrorInfo {
        let (index, errno, extended) = match e {
            CoreError::Sqlite {
                code,
                extended_code,
                statement_index,
                ..
            } => (*statement_index, Some(*code), Some(*extended_code)),
            CoreError::Refused {
                statement_index, ..
            }
            | CoreError::Parameter {
                statement_index, ..
            } => (Some(*statement_index), None, None),
            _ => (None, None, None),
        };
        let message = match e {
            CoreError::Sqlite { message, .. } => message.clone(),
            other => other.to_string(),
        };
        ErrorInfo {
            code: e.code_name().to_string(),
            message,
            statement_index: index.and_then(|i| u32::try_from(i).ok()),
            errno,
            extended_code: extended,
        }
    }
}

/// Runs `f`, turning a panic into an error: for code that napi calls from C callbacks
/// (value conversions, cleanup hooks), where the exports' `catch_unwind` does not reach.
pub fn guard<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| Err(panic_to_error(p)))
}
