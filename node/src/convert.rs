//! JavaScript values in (parameters), SQLite values out (rows), and statement results.

use std::ptr;

use litecommit::{Params, Rows, TransactionResult, Value};
use napi::bindgen_prelude::*;
use napi::{sys, Env};

/// Integers up to ±2^53 come back as JS numbers (they hold them exactly), others as BigInt.
pub const MAX_NUMBER_INTEGER: u64 = 1 << 53;

/// 2^63: integral numbers in `-2^63..2^63` are exactly representable as i64.
const TWO_TO_THE_63: f64 = 9_223_372_036_854_775_808.0;

/// Converts any napi value to its raw JS handle.
pub fn to_js<T: ToNapiValue>(env: sys::napi_env, value: T) -> Result<sys::napi_value> {
    unsafe { T::to_napi_value(env, value) }
}

/// An SQLite integer: a number when it is exact as one, a BigInt otherwise.
fn int_to_js(env: sys::napi_env, i: i64) -> Result<sys::napi_value> {
    if i.unsigned_abs() <= MAX_NUMBER_INTEGER {
        to_js(env, i as f64)
    } else {
        to_js(env, i64n(i))
    }
}

fn value_to_js(env: sys::napi_env, value: Value) -> Result<sys::napi_value> {
    match value {
        Value::Null => to_js(env, Null),
        Value::Integer(i) => int_to_js(env, i),
        Value::Real(f) => to_js(env, f),
        Value::Text(s) => to_js(env, s),
        Value::Blob(b) => to_js(env, BufferSlice::copy_from(&Env::from_raw(env), b)?),
    }
}

/// Rows as `[columns, rows]`: the column names, and each row as an array of values in
/// column order. index.js builds the row objects (or keeps the arrays where asked to):
/// one JS string per column instead of one per cell, and duplicate column names survive.
pub fn rows_to_js(env: sys::napi_env, rows: Rows) -> Result<sys::napi_value> {
    let js_env = Env::from_raw(env);
    let mut columns = js_env.create_array(rows.columns.len() as u32)?;
    for (k, name) in rows.columns.iter().enumerate() {
        columns.set(k as u32, name.as_str())?;
    }
    let mut list = js_env.create_array(rows.rows.len() as u32)?;
    for (i, row) in rows.rows.into_iter().enumerate() {
        let mut values = js_env.create_array(row.len() as u32)?;
        for (k, value) in row.into_iter().enumerate() {
            values.set(k as u32, value_to_js(env, value)?)?;
        }
        list.set(i as u32, values)?;
    }
    let mut pair = js_env.create_array(2)?;
    pair.set(0, columns)?;
    pair.set(1, list)?;
    to_js(env, pair)
}

/// A transaction's result: one `{ changes, lastInsertRowid, rows }` per statement.
pub fn tx_to_js(env: sys::napi_env, result: TransactionResult) -> Result<sys::napi_value> {
    let js_env = Env::from_raw(env);
    let mut list = js_env.create_array(result.statements.len() as u32)?;
    for (i, stmt) in result.statements.into_iter().enumerate() {
        let mut object = Object::new(&js_env)?;
        object.set("changes", stmt.changes as f64)?;
        object.set("lastInsertRowid", int_to_js(env, stmt.last_insert_rowid)?)?;
        object.set("rows", rows_to_js(env, stmt.rows)?)?;
        list.set(i as u32, object)?;
    }
    to_js(env, list)
}

/// One JS value as an SQL value. index.js already checked the types and raises
/// TypeError/RangeError naming the parameter; this is the defensive second line.
fn js_to_value(value: Unknown, index: usize) -> Result<Value> {
    let bad = |what: &str| {
        napi::Error::new(
            Status::InvalidArg,
            format!("parameter {}: {what}", index + 1),
        )
    };
    Ok(match value.get_type()? {
        ValueType::Null | ValueType::Undefined => Value::Null,
        ValueType::Boolean => Value::Integer(i64::from(unsafe { value.cast::<bool>()? })),
        ValueType::Number => number(unsafe { value.cast()? }),
        ValueType::BigInt => {
            let big: BigInt = unsafe { value.cast()? };
            match big.get_i64() {
                (i, true) => Value::Integer(i),
                _ => return Err(bad("BigInt out of the 64-bit integer range")),
            }
        }
        ValueType::String => Value::Text(unsafe { value.cast()? }),
        ValueType::Object => {
            let bytes: &[u8] = unsafe { value.cast() }
                .map_err(|_| bad("unsupported object (expected Buffer or Uint8Array)"))?;
            Value::Blob(bytes.to_vec())
        }
        _ => return Err(bad("unsupported type")),
    })
}

/// Turns an N-API status into a `Result`.
pub fn check(status: sys::napi_status) -> Result<()> {
    match status {
        sys::Status::napi_ok => Ok(()),
        s => Err(napi::Error::new(Status::from(s), String::new())),
    }
}

/// Bytes of the stack buffer a string is first read into: one N-API call reads the short
/// strings (most SQL texts and values), a longer one takes two.
const STRING_BUFFER: usize = 256;

/// A JS string as UTF-8.
///
/// # Safety
/// `value` is a string of `env`, on its thread.
pub unsafe fn string(env: sys::napi_env, value: sys::napi_value) -> Result<String> {
    let mut buffer = [0u8; STRING_BUFFER];
    let mut len = 0;
    check(unsafe {
        sys::napi_get_value_string_utf8(
            env,
            value,
            buffer.as_mut_ptr().cast(),
            STRING_BUFFER,
            &mut len,
        )
    })?;
    // N-API writes at most STRING_BUFFER - 1 bytes, and a character takes at most 4: with
    // 4 of those to spare, nothing was left out.
    if len + 4 < STRING_BUFFER {
        return utf8(buffer[..len].to_vec());
    }
    check(unsafe { sys::napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut len) })?;
    let mut bytes = vec![0u8; len + 1];
    check(unsafe {
        sys::napi_get_value_string_utf8(env, value, bytes.as_mut_ptr().cast(), len + 1, &mut len)
    })?;
    bytes.truncate(len);
    utf8(bytes)
}

/// Bytes N-API wrote as a `String` (valid UTF-8: V8 replaces lone surrogates).
fn utf8(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| napi::Error::new(Status::StringExpected, e.to_string()))
}

/// The N-API type of `value`.
///
/// # Safety
/// `value` is a value of `env`, on its thread.
pub unsafe fn type_of(env: sys::napi_env, value: sys::napi_value) -> Result<sys::napi_valuetype> {
    let mut t = 0;
    check(unsafe { sys::napi_typeof(env, value, &mut t) })?;
    Ok(t)
}

/// Element `i` of a JS array.
///
/// # Safety
/// `array` is an object of `env`, on its thread.
pub unsafe fn element(
    env: sys::napi_env,
    array: sys::napi_value,
    i: u32,
) -> Result<sys::napi_value> {
    let mut value = ptr::null_mut();
    check(unsafe { sys::napi_get_element(env, array, i, &mut value) })?;
    Ok(value)
}

/// The length of a JS array.
///
/// # Safety
/// `array` is a value of `env`, on its thread.
pub unsafe fn length(env: sys::napi_env, array: sys::napi_value) -> Result<u32> {
    let mut len = 0;
    check(unsafe { sys::napi_get_array_length(env, array, &mut len) })?;
    Ok(len)
}

/// Whether `value` is `undefined` or `null` (an argument left out).
///
/// # Safety
/// `value` is a value of `env`, on its thread.
pub unsafe fn absent(env: sys::napi_env, value: sys::napi_value) -> Result<bool> {
    let t = unsafe { type_of(env, value) }?;
    Ok(t == sys::ValueType::napi_undefined || t == sys::ValueType::napi_null)
}

/// One parameter value: strings, numbers and null read directly, the rest by [`js_to_value`].
///
/// # Safety
/// `value` is a value of `env`, on its thread.
unsafe fn param(env: sys::napi_env, value: sys::napi_value, index: usize) -> Result<Value> {
    Ok(match unsafe { type_of(env, value) }? {
        sys::ValueType::napi_string => Value::Text(unsafe { string(env, value) }?),
        sys::ValueType::napi_number => {
            let mut f = 0.0;
            check(unsafe { sys::napi_get_value_double(env, value, &mut f) })?;
            number(f)
        }
        sys::ValueType::napi_null | sys::ValueType::napi_undefined => Value::Null,
        _ => js_to_value(unsafe { Unknown::from_raw_unchecked(env, value) }, index)?,
    })
}

/// A JS number as SQLite stores it: integral ones as integers when they fit.
fn number(f: f64) -> Value {
    if f.fract() == 0.0 && (-TWO_TO_THE_63..TWO_TO_THE_63).contains(&f) {
        Value::Integer(f as i64)
    } else {
        Value::Real(f)
    }
}

/// Parameters as index.js passes them: `values` (an array, or absent for none) positional,
/// or named when `names` (an array of strings as long as `values`) is given.
///
/// # Safety
/// `values` and `names` are values of `env`, on its thread.
pub unsafe fn params(
    env: sys::napi_env,
    values: sys::napi_value,
    names: sys::napi_value,
) -> Result<Params> {
    if unsafe { absent(env, values) }? {
        return Ok(Params::None);
    }
    let n = unsafe { length(env, values) }?;
    unsafe { params_with(env, n as usize, |i| element(env, values, i as u32), names) }
}

/// Parameters from their values, positional, or named when `names` (an array of strings as
/// long as `values`) is given.
///
/// # Safety
/// `values` and `names` are values of `env`, on its thread.
pub unsafe fn params_of(
    env: sys::napi_env,
    values: &[sys::napi_value],
    names: sys::napi_value,
) -> Result<Params> {
    unsafe { params_with(env, values.len(), |i| Ok(values[i]), names) }
}

/// Parameters from `n` values, value `i` given by `value(i)`, positional or named as
/// [`params_of`] takes them.
///
/// # Safety
/// The values and `names` are values of `env`, on its thread.
unsafe fn params_with(
    env: sys::napi_env,
    n: usize,
    value: impl Fn(usize) -> Result<sys::napi_value>,
    names: sys::napi_value,
) -> Result<Params> {
    let mut list = Vec::with_capacity(n);
    for i in 0..n {
        list.push(unsafe { param(env, value(i)?, i) }?);
    }
    if unsafe { absent(env, names) }? {
        return Ok(Params::Positional(list));
    }
    let mut named = Vec::with_capacity(list.len());
    for (i, value) in list.into_iter().enumerate() {
        named.push((
            unsafe { string(env, element(env, names, i as u32)?) }?,
            value,
        ));
    }
    Ok(Params::Named(named))
}

/// A core (snake_case) name as JavaScript spells it: `max_batch_size` becomes `maxBatchSize`.
pub fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}
