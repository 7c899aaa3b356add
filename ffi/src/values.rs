//! Statements and values: what a transaction is made of.
//!
//! A transaction is an array of `litecommit_statement`s, each one SQL statement with its
//! parameters. litecommit only reads them during the call that takes them and copies what
//! it keeps, so the caller may reuse or free them as soon as that call returns.

// Internals: copying C statements and values into the engine's types.

use std::ffi::{c_char, c_void, CStr};
use std::slice;

use engine::{Params, Statement, Transaction, Value};

use crate::error::{FfiError, FfiResult};

/// The type of a `litecommit_value`: one of the `LITECOMMIT_TYPE_*` constants.
#[allow(non_camel_case_types)]
pub type litecommit_value_type = u32;
/// `litecommit_value.type`: SQL NULL.
pub const LITECOMMIT_TYPE_NULL: litecommit_value_type = 0;
/// `litecommit_value.type`: a 64-bit integer in `i`.
pub const LITECOMMIT_TYPE_INTEGER: litecommit_value_type = 1;
/// `litecommit_value.type`: a double in `d`.
pub const LITECOMMIT_TYPE_REAL: litecommit_value_type = 2;
/// `litecommit_value.type`: UTF-8 text at `ptr`, `len` bytes (no NUL needed).
pub const LITECOMMIT_TYPE_TEXT: litecommit_value_type = 3;
/// `litecommit_value.type`: bytes at `ptr`, `len` bytes.
pub const LITECOMMIT_TYPE_BLOB: litecommit_value_type = 4;

/// One SQL value: a parameter going in, or a column value coming out. Only the fields of
/// its `type` are read. Text coming out of litecommit is also NUL-terminated (the NUL is
/// not counted in `len`).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct litecommit_value {
    /// `LITECOMMIT_TYPE_*`.
    pub r#type: litecommit_value_type,
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
