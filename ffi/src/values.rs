//! Statements and values coming in from C, results and rows going out.

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;
use std::slice;

use engine::{Outcome, Params, Rows, Statement, Transaction, Value};

use crate::error::{cstring, FfiError, FfiResult};

/// `litecommit_value.type`: SQL NULL.
pub const LITECOMMIT_TYPE_NULL: u32 = 0;
/// `litecommit_value.type`: a 64-bit integer in `i`.
pub const LITECOMMIT_TYPE_INTEGER: u32 = 1;
/// `litecommit_value.type`: a double in `d`.
pub const LITECOMMIT_TYPE_REAL: u32 = 2;
/// `litecommit_value.type`: UTF-8 text at `ptr`, `len` bytes (no NUL needed).
pub const LITECOMMIT_TYPE_TEXT: u32 = 3;
/// `litecommit_value.type`: bytes at `ptr`, `len` bytes.
pub const LITECOMMIT_TYPE_BLOB: u32 = 4;

/// One SQL value: a parameter going in, or a column value coming out. Only the fields of
/// its `type` are read. Text coming out of litecommit is also NUL-terminated (the NUL is
/// not counted in `len`).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct litecommit_value {
    /// `LITECOMMIT_TYPE_*`.
    pub r#type: u32,
    /// The value of an INTEGER.
    pub i: i64,
    /// The value of a REAL.
    pub d: f64,
    /// The bytes of a TEXT or BLOB (may be NULL when `len` is 0).
    pub ptr: *const c_void,
    /// The length of a TEXT or BLOB in bytes.
    pub len: usize,
}

/// One statement of a transaction: SQL text and its parameters.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct litecommit_statement {
    /// Exactly one SQL statement, UTF-8, NUL-terminated.
    pub sql: *const c_char,
    /// `n_params` values (may be NULL when `n_params` is 0).
    pub params: *const litecommit_value,
    /// Number of parameters.
    pub n_params: usize,
    /// NULL for positional parameters (`?`, `?NNN`, in order); otherwise `n_params`
    /// NUL-terminated names (`":id"` or `"id"`) matching `params` one to one.
    pub param_names: *const *const c_char,
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

/// Rows of a query or a RETURNING clause: column names and typed values. Opaque.
#[allow(non_camel_case_types)]
pub struct litecommit_rows {
    pub(crate) columns: Vec<CString>,
    pub(crate) rows: Vec<Vec<OutValue>>,
}

/// The outcome of one transaction: per-statement results, or an error. Opaque.
#[allow(non_camel_case_types)]
pub struct litecommit_result {
    pub(crate) outcome: Result<Vec<StatementOut>, FfiError>,
}

pub(crate) struct StatementOut {
    pub(crate) changes: u64,
    pub(crate) last_insert_rowid: i64,
    pub(crate) rows: litecommit_rows,
}

/// A value as handed out: text keeps a trailing NUL for C's convenience.
pub(crate) enum OutValue {
    Null,
    Integer(i64),
    Real(f64),
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

/// A slice from a C pointer and length; NULL is accepted for an empty slice.
///
/// # Safety
/// Unless NULL, `p` must point to `n` readable `T`s that outlive the returned slice.
pub(crate) unsafe fn slice_arg<'a, T>(p: *const T, n: usize, what: &str) -> FfiResult<&'a [T]> {
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(FfiError::invalid(format!(
            "{what} is NULL but its length is {n}"
        )));
    }
    // SAFETY: guaranteed by the caller.
    Ok(unsafe { slice::from_raw_parts(p, n) })
}

/// A copy of a NUL-terminated C string. Owned on purpose: a borrowed `&str` of unbounded
/// lifetime passes for `&'static str` (which `Statement` keeps without copying) and would
/// outlive the caller's buffer.
///
/// # Safety
/// Unless NULL, `p` must point to a NUL-terminated string.
pub(crate) unsafe fn string_arg(p: *const c_char, what: &str) -> FfiResult<String> {
    if p.is_null() {
        return Err(FfiError::invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map(str::to_owned)
        .map_err(|e| FfiError::invalid(format!("{what} is not valid UTF-8: {e}")))
}

/// # Safety
/// The pointers inside `v` must be valid as documented on `litecommit_value`.
unsafe fn value_in(v: &litecommit_value, what: &str) -> FfiResult<Value> {
    Ok(match v.r#type {
        LITECOMMIT_TYPE_NULL => Value::Null,
        LITECOMMIT_TYPE_INTEGER => Value::Integer(v.i),
        LITECOMMIT_TYPE_REAL => Value::Real(v.d),
        LITECOMMIT_TYPE_TEXT => {
            // SAFETY: per the caller.
            let bytes = unsafe { slice_arg(v.ptr.cast::<u8>(), v.len, what) }?;
            let text = std::str::from_utf8(bytes)
                .map_err(|e| FfiError::invalid(format!("{what}: text is not valid UTF-8: {e}")))?;
            Value::Text(text.to_owned())
        }
        LITECOMMIT_TYPE_BLOB => {
            // SAFETY: per the caller.
            let bytes = unsafe { slice_arg(v.ptr.cast::<u8>(), v.len, what) }?;
            Value::Blob(bytes.to_vec())
        }
        other => {
            return Err(FfiError::invalid(format!(
                "{what}: unknown value type {other}"
            )))
        }
    })
}

/// Copies one C statement into an engine statement.
///
/// # Safety
/// The pointers inside `s` must be valid as documented on `litecommit_statement`.
pub(crate) unsafe fn statement_in(s: &litecommit_statement) -> FfiResult<Statement> {
    // SAFETY (all blocks below): the pointers are valid per the caller.
    let sql = unsafe { string_arg(s.sql, "sql") }?;
    let values = unsafe { slice_arg(s.params, s.n_params, "params") }?;
    let params = if values.is_empty() {
        Params::None
    } else if s.param_names.is_null() {
        let mut out = Vec::with_capacity(values.len());
        for (i, v) in values.iter().enumerate() {
            out.push(unsafe { value_in(v, &format!("parameter {}", i + 1)) }?);
        }
        Params::Positional(out)
    } else {
        let names = unsafe { slice_arg(s.param_names, values.len(), "param_names") }?;
        let mut out = Vec::with_capacity(values.len());
        for (i, (v, name)) in values.iter().zip(names).enumerate() {
            let name = unsafe { string_arg(*name, &format!("param_names[{i}]")) }?;
            let value = unsafe { value_in(v, &name) }?;
            out.push((name, value));
        }
        Params::Named(out)
    };
    Ok(Statement::new(sql, params))
}

/// Copies a C array of statements into a transaction.
///
/// # Safety
/// `stmts` must point to `n` valid statements (see `litecommit_statement`).
pub(crate) unsafe fn transaction_in(
    stmts: *const litecommit_statement,
    n: usize,
) -> FfiResult<Transaction> {
    if n == 0 {
        return Err(FfiError::invalid(
            "a transaction needs at least one statement",
        ));
    }
    // SAFETY: per the caller.
    let stmts = unsafe { slice_arg(stmts, n, "stmts") }?;
    let mut out = Vec::with_capacity(n);
    for (i, s) in stmts.iter().enumerate() {
        out.push(unsafe { statement_in(s) }.map_err(|e| e.at_statement(i))?);
    }
    Ok(Transaction::from(out))
}
