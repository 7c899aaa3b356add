//! Reading results and rows, and freeing them.

use std::ffi::c_char;
use std::ptr;

use crate::error::{guard, guard_void, litecommit_error_info, litecommit_status, FfiError};
use crate::take_box;
use crate::values::{
    litecommit_result, litecommit_rows, litecommit_statement_result, litecommit_value,
};

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

/// The status of a transaction's outcome: `LITECOMMIT_OK` if it committed, otherwise the
/// error's status (details with `litecommit_result_error`). Returns
/// `LITECOMMIT_INVALID_ARGUMENT` for a NULL result.
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

/// Fills `out` with the error of a failed transaction (strings valid as long as the
/// result). For a committed transaction `out->status` is `LITECOMMIT_OK`.
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

/// The number of statement results (0 for a failed transaction).
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

/// Fills `out` with the result of statement `index`; `out->rows` belongs to the result.
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
#[no_mangle]
pub unsafe extern "C" fn litecommit_result_free(result: *mut *mut litecommit_result) {
    // SAFETY: NULL or the caller's variable holding NULL or a live result.
    guard_void(|| drop(unsafe { take_box(result) }))
}

/// The number of columns and rows.
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

/// The name of column `column` (NUL-terminated, owned by the rows).
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

/// Fills `out` with the value at (`row`, `column`); text and blob pointers belong to the
/// rows.
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

/// Fills `out[0..n]` with the values of row `row`; `n` must be the column count.
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

/// Frees rows returned by `litecommit_query` and sets `*rows` to NULL (NULL is a no-op).
/// Never call it on the rows of a `litecommit_statement_result`: the result owns those.
#[no_mangle]
pub unsafe extern "C" fn litecommit_rows_free(rows: *mut *mut litecommit_rows) {
    // SAFETY: NULL or the caller's variable holding NULL or rows from litecommit_query.
    guard_void(|| drop(unsafe { take_box(rows) }))
}
