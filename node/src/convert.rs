//! JavaScript values in (parameters), SQLite values out (rows), and statement results.

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
        ValueType::Number => {
            let f: f64 = unsafe { value.cast()? };
            if f.fract() == 0.0 && (-TWO_TO_THE_63..TWO_TO_THE_63).contains(&f) {
                Value::Integer(f as i64)
            } else {
                Value::Real(f)
            }
        }
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

/// Parameters as index.js passes them: `values` positional, or named when `names` is given.
pub fn params(values: Option<Array>, names: Option<Vec<String>>) -> Result<Params> {
    let Some(values) = values else {
        return Ok(Params::None);
    };
    let mut list = Vec::with_capacity(values.len() as usize);
    for i in 0..values.len() {
        list.push(match values.get::<Unknown>(i)? {
            Some(value) => js_to_value(value, i as usize)?,
            None => Value::Null,
        });
    }
    Ok(match names {
        Some(names) => Params::Named(names.into_iter().zip(list).collect()),
        None => Params::Positional(list),
    })
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
