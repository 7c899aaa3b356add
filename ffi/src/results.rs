//! Results and rows: the outcome of a transaction and the rows of a query.
//!
//! A `litecommit_result` is immutable: any thread may read it, and it is freed once, by
//! whoever owns it. Pointers into it (rows of a statement, column names, text and blob
//! values, error strings) stay valid as long as the result; the same holds for the rows
//! of `litecommit_query` and `litecommit_snapshot_query`.

// Internals: the engine's outcome converted once into C-ready memory (text with a trailing
// NUL, column names as C strings), and the accessors over it.

use std::ffi::{c_char, CString};
use std::ptr;

use engine::{Outcome, Rows, Value};

use crate::error::{cstring, guard, guard_void, litecommit_error_info, FfiError};
use crate::status::litecommit_status;
use crate::take_box;
use crate::values::{
    litecommit_value, LITECOMMIT_TYPE_BLOB, LITECOMMIT_TYPE_INTEGER, LITECOMMIT_TYPE_NULL,
    LITECOMMIT_TYPE_REAL, LITECOMMIT_TYPE_TEXT,
};

/// The outcome of one transaction: per-statement results, or an error. Opaque.
#[allow(non_camel_case_types)]
pub struct litecommit_result {
    /// One entry per statement when the transaction committed, else its error.
    pub(crate) outcome: Result<Vec<StatementOut>, FfiError>,
}

/// Rows of a query or a RETURNING clause: column names and typed values. Opaque.
#[allow(non_camel_case_types)]
pub struct litecommit_rows {
    /// Column names, NUL-terminated for C.
    pub(crate) columns: Vec<CString>,
    /// Each column's declared type, NUL-terminated for C; `None` for an expression.
    pub(crate) decl_types: Vec<Option<CString>>,
    /// One vector of values per row, each as long as `columns`.
    pub(crate) rows: Vec<Vec<OutValue>>,
}

/// One statement's result inside a `litecommit_result`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct litecommit_statement_result {
    /// Rows inserted, updated or deleted by the statement.
    pub changes: u64,
    /// The connection's last insert rowid after the statement.
    pub last_insert_rowid: i64,
    /// Rows of a RETURNING clause (zero rows otherwise); owned by the result.
    pub rows: *const litecommit_rows,
}

/// One statement's result, as kept inside a `litecommit_result`.
pub(crate) struct StatementOut {
    /// Rows inserted, updated or deleted by the statement.
    pub(crate) changes: u64,
    /// The connection's last insert rowid after the statement.
    pub(crate) last_insert_rowid: i64,
    /// Rows of a RETURNING clause (empty otherwise).
    pub(crate) rows: litecommit_rows,
}

/// A value as handed out: text keeps a trailing NUL for C's convenience.
pub(crate) enum OutValue {
    Null,
    Integer(i64),
    Real(f64),
    /// UTF-8 bytes followed by a NUL (not counted in the C value's `len`).
    Text(Vec<u8>),
    Blob(Vec<u8>),
}

impl OutValue {
    fn from_value(v: Value) -> OutValue {
        match v {
            Value::Null => OutValue::Null,
            Value::Integer(i) => OutValue::Integer(i),
            Value::Real(d) => OutValue::Real(d),
            Value::Text(s) => {
                let mut bytes = s.into_bytes();
                bytes.push(0);
                OutValue::Text(bytes)
            }
            Value::Blob(b) => OutValue::Blob(b),
        }
    }

    pub(crate) fn to_c(&self) -> litecommit_value {
        let mut out = litecommit_value {
            r#type: LITECOMMIT_TYPE_NULL,
            i: 0,
            d: 0.0,
            ptr: ptr::null(),
            len: 0,
        };
        match self {
            OutValue::Null => {}
            OutValue::Integer(i) => {
                out.r#type = LITECOMMIT_TYPE_INTEGER;
                out.i = *i;
            }
            OutValue::Real(d) => {
                out.r#type = LITECOMMIT_TYPE_REAL;
                out.d = *d;
            }
            OutValue::Text(bytes) => {
                out.r#type = LITECOMMIT_TYPE_TEXT;
                out.ptr = bytes.as_ptr().cast();
                out.len = bytes.len() - 1;
            }
            OutValue::Blob(bytes) => {
                out.r#type = LITECOMMIT_TYPE_BLOB;
                out.ptr = bytes.as_ptr().cast();
                out.len = bytes.len();
            }
        }
        out
    }
}

impl litecommit_rows {
    pub(crate) fn from_rows(rows: Rows) -> litecommit_rows {
        litecommit_rows {
            columns: rows.columns.iter().map(|c| cstring(c.as_str())).collect(),
            decl_types: rows
                .decl_types
                .iter()
                .map(|d| d.as_deref().map(cstring))
                .collect(),
            rows: rows
                .rows
                .into_iter()
                .map(|r| r.into_iter().map(OutValue::from_value).collect())
                .collect(),
        }
    }
}

impl litecommit_result {
    pub(crate) fn from_outcome(outcome: Outcome) -> litecommit_result {
        let outcome = outcome.map_err(FfiError::from).map(|r| {
            r.statements
                .into_iter()
                .map(|s| StatementOut {
                    changes: s.changes,
                    last_insert_rowid: s.last_insert_rowid,
                    rows: litecommit_rows::from_rows(s.rows),
                })
                .collect()
        });
        litecommit_result { outcome }
    }
}

/// # Safety
/// `p` is NULL or a live object handed out by this library.
unsafe fn obj<'a, T>(p: *const T, what: &str) -> Result<&'a T, FfiError> {
    // SAFETY: per the caller.
    unsafe { p.as_ref() }.ok_or_else(|| FfiError::invalid(format!("{what} is NULL")))
}

fn out_arg<T>(p: *mut T, what: &str) -> Result<*mut T, FfiError> {
    if p.is_null() {
        Err(FfiError::invalid(format!("{what} is NULL")))
    } else {
        Ok(p)
    }
}

/// The status of a transaction's outcome.
///
/// Ownership: borrows `result` for the call.
///
/// @return `LITECOMMIT_OK` if the transaction committed, otherwise its error's status
///         (details with `litecommit_result_error`); `LITECOMMIT_INVALID_ARGUMENT` for a
///         NULL result.
#[no_mangle]
pub unsafe extern "C" fn litecommit_result_status(
    result: *const litecommit_result,
) -> litecommit_status {
    let mut status = litecommit_status::LITECOMMIT_OK;
    let call = guard("litecommit_result_status", || {
        // SAFETY: NULL or a live result.
        let r = unsafe { obj(result, "result") }?;
        if let Err(e) = &r.outcome {
            status = e.status;
        }
        Ok(())
    });
    if call == litecommit_status::LITECOMMIT_OK {
        status
    } else {
        call
    }
}

/// Fills `out` with the error of a failed transaction. For a committed transaction
/// `out->status` is `LITECOMMIT_OK`.
///
/// Ownership: the strings in `*out` are borrowed from `result`, valid as long as it.
#[no_mangle]
pub unsafe extern "C" fn litecommit_result_error(
    result: *const litecommit_result,
    out: *mut litecommit_error_info,
) -> litecommit_status {
    guard("litecommit_result_error", || {
        // SAFETY: NULL or a live result.
        let r = unsafe { obj(result, "result") }?;
        let out = out_arg(out, "out")?;
        let info = match &r.outcome {
            Err(e) => e.info(),
            Ok(_) => litecommit_error_info {
                status: litecommit_status::LITECOMMIT_OK,
                sqlite_code: 0,
                extended_code: 0,
                statement_index: -1,
                message: c"".as_ptr(),
                code_name: c"LITECOMMIT_OK".as_ptr(),
            },
        };
        // SAFETY: non-NULL caller storage.
        unsafe { ptr::write(out, info) };
        Ok(())
    })
}

/// Stores in `*out` the number of statement results (0 for a failed transaction).
///
/// Ownership: borrows `result` for the call.
#[no_mangle]
pub unsafe extern "C" fn litecommit_result_statement_count(
    result: *const litecommit_result,
    out: *mut usize,
) -> litecommit_status {
    guard("litecommit_result_statement_count", || {
        // SAFETY: NULL or a live result.
        let r = unsafe { obj(result, "result") }?;
        let out = out_arg(out, "out")?;
        let n = r.outcome.as_ref().map_or(0, Vec::len);
        // SAFETY: non-NULL caller storage.
        unsafe { ptr::write(out, n) };
        Ok(())
    })
}

/// Fills `out` with the result of statement `index` (from 0).
///
/// Ownership: `out->rows` is borrowed from `result`, valid as long as it; never free it.
///
/// @return `LITECOMMIT_INVALID_ARGUMENT` for a failed transaction or an index out of range.
#[no_mangle]
pub unsafe extern "C" fn litecommit_result_statement(
    result: *const litecommit_result,
    index: usize,
    out: *mut litecommit_statement_result,
) -> litecommit_status {
    guard("litecommit_result_statement", || {
        // SAFETY: NULL or a live result.
        let r = unsafe { obj(result, "result") }?;
        let out = out_arg(out, "out")?;
        let stmts = r.outcome.as_ref().map_err(|e| {
            FfiError::invalid(format!(
                "the transaction failed: {}",
                e.message.to_string_lossy()
            ))
        })?;
        let s = stmts.get(index).ok_or_else(|| {
            FfiError::invalid(format!(
                "statement index {index} out of range ({})",
                stmts.len()
            ))
        })?;
        let view = litecommit_statement_result {
            changes: s.changes,
            last_insert_rowid: s.last_insert_rowid,
            rows: &s.rows,
        };
        // SAFETY: non-NULL caller storage.
        unsafe { ptr::write(out, view) };
        Ok(())
    })
}

/// Frees a result and sets `*result` to NULL. NULL or `*result == NULL` is a no-op, so a
/// second free through the same variable does nothing.
///
/// Ownership: takes the result; every pointer borrowed from it becomes invalid.
#[no_mangle]
pub unsafe extern "C" fn litecommit_result_free(result: *mut *mut litecommit_result) {
    // SAFETY: NULL or the caller's variable holding NULL or a live result.
    guard_void(|| drop(unsafe { take_box(result) }))
}

/// Stores the number of columns in `*n_columns` and of rows in `*n_rows`.
///
/// Ownership: borrows `rows` for the call.
#[no_mangle]
pub unsafe extern "C" fn litecommit_rows_size(
    rows: *const litecommit_rows,
    n_columns: *mut usize,
    n_rows: *mut usize,
) -> litecommit_status {
    guard("litecommit_rows_size", || {
        // SAFETY: NULL or live rows.
        let r = unsafe { obj(rows, "rows") }?;
        let n_columns = out_arg(n_columns, "n_columns")?;
        let n_rows = out_arg(n_rows, "n_rows")?;
        // SAFETY: non-NULL caller storage.
        unsafe {
            ptr::write(n_columns, r.columns.len());
            ptr::write(n_rows, r.rows.len());
        }
        Ok(())
    })
}

/// Stores in `*out` the name of column `column` (from 0), NUL-terminated.
///
/// Ownership: `*out` is borrowed from `rows`, valid as long as they are.
#[no_mangle]
pub unsafe extern "C" fn litecommit_rows_column_name(
    rows: *const litecommit_rows,
    column: usize,
    out: *mut *const c_char,
) -> litecommit_status {
    guard("litecommit_rows_column_name", || {
        // SAFETY: NULL or live rows.
        let r = unsafe { obj(rows, "rows") }?;
        let out = out_arg(out, "out")?;
        let name = r.columns.get(column).ok_or_else(|| {
            FfiError::invalid(format!(
                "column {column} out of range ({})",
                r.columns.len()
            ))
        })?;
        // SAFETY: non-NULL caller storage.
        unsafe { ptr::write(out, name.as_ptr()) };
        Ok(())
    })
}

/// Stores in `*out` the declared type of column `column` (from 0) as written in its
/// table's definition ("DATETIME", "VARCHAR(10)"), NUL-terminated; NULL for a column that
/// is an expression (`1 + 1`, `count(*)`) or was declared without a type.
///
/// Ownership: `*out` is borrowed from `rows`, valid as long as they are.
#[no_mangle]
pub unsafe extern "C" fn litecommit_rows_column_decltype(
    rows: *const litecommit_rows,
    column: usize,
    out: *mut *const c_char,
) -> litecommit_status {
    guard("litecommit_rows_column_decltype", || {
        // SAFETY: NULL or live rows.
        let r = unsafe { obj(rows, "rows") }?;
        let out = out_arg(out, "out")?;
        if column >= r.columns.len() {
            return Err(FfiError::invalid(format!(
                "column {column} out of range ({})",
                r.columns.len()
            )));
        }
        let decl_type = r
            .decl_types
            .get(column)
            .and_then(Option::as_ref)
            .map_or(ptr::null(), |d| d.as_ptr());
        // SAFETY: non-NULL caller storage.
        unsafe { ptr::write(out, decl_type) };
        Ok(())
    })
}

/// Fills `out` with the value at (`row`, `column`), both from 0.
///
/// Ownership: text and blob pointers in `*out` are borrowed from `rows`, valid as long as
/// they are.
#[no_mangle]
pub unsafe extern "C" fn litecommit_rows_value(
    rows: *const litecommit_rows,
    row: usize,
    column: usize,
    out: *mut litecommit_value,
) -> litecommit_status {
    guard("litecommit_rows_value", || {
        // SAFETY: NULL or live rows.
        let r = unsafe { obj(rows, "rows") }?;
        let out = out_arg(out, "out")?;
        let v = r
            .rows
            .get(row)
            .and_then(|values| values.get(column))
            .ok_or_else(|| FfiError::invalid(format!("no value at row {row}, column {column}")))?;
        // SAFETY: non-NULL caller storage.
        unsafe { ptr::write(out, v.to_c()) };
        Ok(())
    })
}

/// Fills `out[0..n]` with the values of row `row` (from 0); `n` must be the column count.
///
/// Ownership: text and blob pointers in `out` are borrowed from `rows`, valid as long as
/// they are.
#[no_mangle]
pub unsafe extern "C" fn litecommit_rows_row(
    rows: *const litecommit_rows,
    row: usize,
    out: *mut litecommit_value,
    n: usize,
) -> litecommit_status {
    guard("litecommit_rows_row", || {
        // SAFETY: NULL or live rows.
        let r = unsafe { obj(rows, "rows") }?;
        let out = out_arg(out, "out")?;
        let values = r.rows.get(row).ok_or_else(|| {
            FfiError::invalid(format!("row {row} out of range ({})", r.rows.len()))
        })?;
        if n != values.len() {
            return Err(FfiError::invalid(format!(
                "n is {n} but the rows have {} columns",
                values.len()
            )));
        }
        for (i, v) in values.iter().enumerate() {
            // SAFETY: `out` has room for `n` values per the caller.
            unsafe { ptr::write(out.add(i), v.to_c()) };
        }
        Ok(())
    })
}

/// Frees rows returned by `litecommit_query` or `litecommit_snapshot_query` and sets
/// `*rows` to NULL (NULL is a no-op).
///
/// Ownership: takes the rows of `litecommit_query` or `litecommit_snapshot_query`. Never
/// pass the rows of a `litecommit_statement_result`: the result owns those.
#[no_mangle]
pub unsafe extern "C" fn litecommit_rows_free(rows: *mut *mut litecommit_rows) {
    // SAFETY: NULL or the caller's variable holding NULL or rows from litecommit_query.
    guard_void(|| drop(unsafe { take_box(rows) }))
}
