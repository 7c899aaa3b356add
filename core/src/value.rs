//! SQL values and statement parameters, and the conversions into them.

use std::borrow::Cow;
use std::num::TryFromIntError;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::ToSql;

/// One SQLite value, bound as a parameter or read back from a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// NULL.
    Null,
    /// A 64-bit signed integer.
    Integer(i64),
    /// A 64-bit float.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl Value {
    pub(crate) fn from_ref(value: ValueRef<'_>) -> Value {
        match value {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(f) => Value::Real(f),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        }
    }

    /// The value a rusqlite [`ToSql`] type binds (for types of other crates that implement
    /// it, such as dates or UUIDs with rusqlite's features). Fails with rusqlite's error when
    /// `to_sql` does, or when its output is not a plain value (a zero-filled blob, a
    /// pointer).
    pub fn from_to_sql(value: &(impl ToSql + ?Sized)) -> rusqlite::Result<Value> {
        Value::try_from(value.to_sql()?)
    }
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

macro_rules! value_from {
    ($($t:ty => |$v:ident| $e:expr),+ $(,)?) => {
        $(impl From<$t> for Value {
            fn from($v: $t) -> Value { $e }
        })+
    };
}

value_from! {
    i8 => |v| Value::Integer(v.into()),
    i16 => |v| Value::Integer(v.into()),
    i32 => |v| Value::Integer(v.into()),
    i64 => |v| Value::Integer(v),
    u8 => |v| Value::Integer(v.into()),
    u16 => |v| Value::Integer(v.into()),
    u32 => |v| Value::Integer(v.into()),
    bool => |v| Value::Integer(v.into()),
    f32 => |v| Value::Real(v.into()),
    f64 => |v| Value::Real(v),
    String => |v| Value::Text(v),
    &String => |v| Value::Text(v.clone()),
    &str => |v| Value::Text(v.to_owned()),
    Cow<'_, str> => |v| Value::Text(v.into_owned()),
    Vec<u8> => |v| Value::Blob(v),
    &Vec<u8> => |v| Value::Blob(v.clone()),
    &[u8] => |v| Value::Blob(v.to_vec()),
    &Value => |v| v.clone(),
    ValueRef<'_> => |v| Value::from_ref(v),
    rusqlite::types::Value => |v| match v {
        rusqlite::types::Value::Null => Value::Null,
        rusqlite::types::Value::Integer(i) => Value::Integer(i),
        rusqlite::types::Value::Real(f) => Value::Real(f),
        rusqlite::types::Value::Text(s) => Value::Text(s),
        rusqlite::types::Value::Blob(b) => Value::Blob(b),
    },
}

impl<const N: usize> From<[u8; N]> for Value {
    fn from(v: [u8; N]) -> Value {
        Value::Blob(v.to_vec())
    }
}

impl<const N: usize> From<&[u8; N]> for Value {
    fn from(v: &[u8; N]) -> Value {
        Value::Blob(v.to_vec())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// `u64` values up to `i64::MAX` become [`Value::Integer`]; larger ones do not fit SQLite's
/// 64-bit signed integers and fail instead of wrapping.
impl TryFrom<u64> for Value {
    type Error = TryFromIntError;

    fn try_from(v: u64) -> Result<Value, TryFromIntError> {
        i64::try_from(v).map(Value::Integer)
    }
}

/// `usize` values up to `i64::MAX` become [`Value::Integer`]; larger ones fail.
impl TryFrom<usize> for Value {
    type Error = TryFromIntError;

    fn try_from(v: usize) -> Result<Value, TryFromIntError> {
        i64::try_from(v).map(Value::Integer)
    }
}

/// The value of a rusqlite [`ToSqlOutput`]; fails for outputs that are not plain values
/// (a zero-filled blob, a pointer).
impl TryFrom<ToSqlOutput<'_>> for Value {
    type Error = rusqlite::Error;

    fn try_from(output: ToSqlOutput<'_>) -> rusqlite::Result<Value> {
        match output {
            ToSqlOutput::Borrowed(v) => Ok(Value::from_ref(v)),
            ToSqlOutput::Owned(v) => Ok(v.into()),
            other => Err(rusqlite::Error::ToSqlConversionFailure(
                format!("{other:?} is not a plain SQLite value").into(),
            )),
        }
    }
}

impl From<Value> for rusqlite::types::Value {
    fn from(v: Value) -> rusqlite::types::Value {
        match v {
            Value::Null => rusqlite::types::Value::Null,
            Value::Integer(i) => rusqlite::types::Value::Integer(i),
            Value::Real(f) => rusqlite::types::Value::Real(f),
            Value::Text(s) => rusqlite::types::Value::Text(s),
            Value::Blob(b) => rusqlite::types::Value::Blob(b),
        }
    }
}

/// Parameters of one statement: positional (`?`, `?NNN`) or named (`:name`, `@name`, `$name`).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Params {
    /// No parameters.
    #[default]
    None,
    /// Values for `?1`, `?2`, ... in order.
    Positional(Vec<Value>),
    /// Values by name. Names may be given with or without their prefix (`:id` or `id`).
    Named(Vec<(String, Value)>),
    /// A value [`params!`](crate::params) could not convert (an unsigned integer above
    /// `i64::MAX`), with what is wrong: submitting or querying with it fails at once with
    /// [`Error::Parameter`](crate::Error::Parameter), and nothing runs.
    Invalid(String),
}

impl From<Vec<Value>> for Params {
    fn from(v: Vec<Value>) -> Params {
        Params::Positional(v)
    }
}

impl From<()> for Params {
    fn from(_: ()) -> Params {
        Params::None
    }
}

/// A value the [`params!`](crate::params) macro accepts: anything that converts into a
/// [`Value`], plus `u64` and `usize`, which may not fit.
#[doc(hidden)]
pub trait IntoParam {
    /// The value, or what is wrong with it.
    fn into_param(self) -> Result<Value, String>;
}

impl<T: Into<Value>> IntoParam for T {
    fn into_param(self) -> Result<Value, String> {
        Ok(self.into())
    }
}

macro_rules! unsigned_param {
    ($($t:ty),+) => {
        $(impl IntoParam for $t {
            fn into_param(self) -> Result<Value, String> {
                Value::try_from(self).map_err(|_| {
                    format!(
                        "{self} ({}) does not fit in SQLite's 64-bit signed integer (at most {})",
                        stringify!($t),
                        i64::MAX
                    )
                })
            }
        }

        impl IntoParam for Option<$t> {
            fn into_param(self) -> Result<Value, String> {
                self.map_or(Ok(Value::Null), IntoParam::into_param)
            }
        })+
    };
}

unsigned_param!(u64, usize);

/// The positional [`Params`] of [`params!`](crate::params): [`Params::Invalid`] naming the
/// first value that did not convert, if any.
#[doc(hidden)]
pub fn positional<const N: usize>(values: [Result<Value, String>; N]) -> Params {
    let mut out = Vec::with_capacity(N);
    for (i, value) in values.into_iter().enumerate() {
        match value {
            Ok(v) => out.push(v),
            Err(why) => return Params::Invalid(format!("parameter {}: {why}", i + 1)),
        }
    }
    Params::Positional(out)
}

/// Builds positional [`Params`] from values of mixed types: `params![1, "a", None::<i64>]`.
///
/// Accepts every type that converts into a [`Value`]: `i8` to `i64`, `u8` to `u32`, `bool`
/// (0 or 1), `f32`, `f64`, `&str`, `String`, `&[u8]`, `Vec<u8>`, byte arrays, [`Value`],
/// `rusqlite::types::Value`, and `Option` of any of them (`None` is NULL); and `u64` and
/// `usize`. A `u64` or `usize` above `i64::MAX` does not wrap: the parameters become
/// [`Params::Invalid`], and the submit (or query) fails with
/// [`Error::Parameter`](crate::Error::Parameter) naming the value.
#[macro_export]
macro_rules! params {
    () => { $crate::Params::None };
    ($($v:expr),+ $(,)?) => {
        $crate::__private::positional([$($crate::__private::IntoParam::into_param($v)),+])
    };
}
