//! SQL values and statement parameters.

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
    i64 => |v| Value::Integer(v),
    i32 => |v| Value::Integer(v.into()),
    u32 => |v| Value::Integer(v.into()),
    bool => |v| Value::Integer(v.into()),
    f64 => |v| Value::Real(v),
    String => |v| Value::Text(v),
    &str => |v| Value::Text(v.to_owned()),
    Vec<u8> => |v| Value::Blob(v),
    &[u8] => |v| Value::Blob(v.to_vec()),
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
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

/// Builds positional [`Params`] from values of mixed types: `params![1, "a", None::<i64>]`.
#[macro_export]
macro_rules! params {
    () => { $crate::Params::None };
    ($($v:expr),+ $(,)?) => { $crate::Params::Positional(vec![$($crate::Value::from($v)),+]) };
}
