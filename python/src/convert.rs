//! Python values in (parameters), SQLite values out (rows), and results.

use std::collections::VecDeque;

use litecommit::{Params, Rows, Statement, StatementResult, Transaction, TransactionResult, Value};
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyUnicodeEncodeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMapping, PyMemoryView, PySequence,
    PyString, PyTuple,
};

const EXPECTED: &str = "None, int, float, str, bytes, bytearray or memoryview";

/// Where a parameter sits, for error messages: `statement 1, parameter 2` or `parameter 'id'`.
struct Place<'a> {
    statement: Option<usize>,
    key: Key<'a>,
}

enum Key<'a> {
    Position(usize),
    Name(&'a str),
}

impl std::fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(i) = self.statement {
            write!(f, "statement {i}, ")?;
        }
        match self.key {
            Key::Position(p) => write!(f, "parameter {p}"),
            Key::Name(n) => write!(f, "parameter '{n}'"),
        }
    }
}

fn value(obj: &Bound<'_, PyAny>, place: &Place<'_>) -> PyResult<Value> {
    if obj.is_none() {
        Ok(Value::Null)
    } else if obj.is_instance_of::<PyInt>() {
        // bool is an int subclass and binds as 0/1, as in the stdlib sqlite3 module.
        obj.extract::<i64>().map(Value::Integer).map_err(|_| {
            PyOverflowError::new_err(format!(
                "{place}: integer does not fit in 64 bits (SQLite integers are signed 64-bit)"
            ))
        })
    } else if let Ok(f) = obj.cast::<PyFloat>() {
        Ok(Value::Real(f.value()))
    } else if let Ok(s) = obj.cast::<PyString>() {
        let text = s.to_cow().map_err(|e| naming(obj.py(), e, place))?;
        Ok(Value::Text(text.into_owned()))
    } else if let Ok(b) = obj.cast::<PyBytes>() {
        Ok(Value::Blob(b.as_bytes().to_vec()))
    } else if let Ok(b) = obj.cast::<PyByteArray>() {
        Ok(Value::Blob(b.to_vec()))
    } else if obj.is_instance_of::<PyMemoryView>() {
        let bytes = obj.call_method0("tobytes")?;
        Ok(Value::Blob(bytes.cast::<PyBytes>()?.as_bytes().to_vec()))
    } else {
        Err(PyTypeError::new_err(format!(
            "{place}: unsupported type '{}' (expected {EXPECTED})",
            type_name(obj)
        )))
    }
}

/// A `str` that is not valid Unicode (lone surrogates): the same `UnicodeEncodeError`, its
/// reason naming the parameter.
fn naming(py: Python<'_>, err: PyErr, place: &Place<'_>) -> PyErr {
    let exc = err.value(py);
    let renamed = (|| {
        let reason = format!("{place}: {}", exc.getattr("reason")?);
        let args = (
            exc.getattr("encoding")?,
            exc.getattr("object")?,
            exc.getattr("start")?,
            exc.getattr("end")?,
            reason,
        );
        py.get_type::<PyUnicodeEncodeError>().call1(args)
    })();
    renamed.map_or(err, PyErr::from_value)
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "?".into(), |n| n.to_string())
}

/// A transaction of one statement with its parameters.
pub fn single(sql: &str, params: Option<&Bound<'_, PyAny>>) -> PyResult<Transaction> {
    Ok(Transaction::single(
        sql.to_owned(),
        self::params(params, None)?,
    ))
}

/// `sql` once per parameter set of `seq_of_params`, each its own transaction (a set's index
/// names it in conversion errors), with the parameter sets themselves, from which
/// [`one_of_many`] converts one again.
pub fn many(
    sql: &str,
    seq_of_params: &Bound<'_, PyAny>,
) -> PyResult<(VecDeque<Transaction>, Vec<Py<PyAny>>)> {
    let mut transactions = VecDeque::new();
    let mut sets = Vec::new();
    for (i, set) in seq_of_params.try_iter()?.enumerate() {
        let set = set?;
        transactions.push_back(one_of_many(sql, &set, i)?);
        sets.push(set.unbind());
    }
    Ok((transactions, sets))
}

/// The transaction of the parameter set at `index` of [`many`].
pub fn one_of_many(sql: &str, set: &Bound<'_, PyAny>, index: usize) -> PyResult<Transaction> {
    Ok(Transaction::single(
        sql.to_owned(),
        params(Some(set), Some(index))?,
    ))
}

/// Converts a parameter container: a sequence binds positionally, a mapping by name.
pub fn params(obj: Option<&Bound<'_, PyAny>>, statement: Option<usize>) -> PyResult<Params> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(Params::None);
    };
    // A plain loop into a vector of the right size: `collect` through `PyResult` costs
    // more than converting a short tuple does.
    let positional = |len: usize, items: &mut dyn Iterator<Item = PyResult<Bound<'_, PyAny>>>| {
        let mut values = Vec::with_capacity(len);
        for (i, item) in items.enumerate() {
            let place = Place {
                statement,
                key: Key::Position(i + 1),
            };
            values.push(value(&item?, &place)?);
        }
        Ok(Params::Positional(values))
    };
    if let Ok(t) = obj.cast::<PyTuple>() {
        return positional(t.len(), &mut t.iter().map(Ok));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return positional(l.len(), &mut l.iter().map(Ok));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        return named(d.iter().map(Ok), statement);
    }
    if obj.is_instance_of::<PyString>()
        || obj.is_instance_of::<PyBytes>()
        || obj.is_instance_of::<PyByteArray>()
    {
        return Err(container_error(obj, statement));
    }
    if let Ok(m) = obj.cast::<PyMapping>() {
        let items = m.items()?;
        return named(
            items
                .iter()
                .map(|pair| pair.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>()),
            statement,
        );
    }
    if let Ok(s) = obj.cast::<PySequence>() {
        return positional(s.len().unwrap_or(0), &mut s.try_iter()?);
    }
    Err(container_error(obj, statement))
}

fn named<'py>(
    items: impl Iterator<Item = PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)>>,
    statement: Option<usize>,
) -> PyResult<Params> {
    let mut out = Vec::new();
    for item in items {
        let (key, val) = item?;
        let name = key.cast::<PyString>().map_err(|_| {
            PyTypeError::new_err(format!(
                "{}parameter names must be str, got '{}'",
                statement.map_or(String::new(), |i| format!("statement {i}: ")),
                type_name(&key)
            ))
        })?;
        let name = name.to_cow()?.into_owned();
        let place = Place {
            statement,
            key: Key::Name(&name),
        };
        let v = value(&val, &place)?;
        out.push((name, v));
    }
    Ok(Params::Named(out))
}

fn container_error(obj: &Bound<'_, PyAny>, statement: Option<usize>) -> PyErr {
    PyTypeError::new_err(format!(
        "{}parameters must be a sequence (positional) or a dict (named), not '{}'",
        statement.map_or(String::new(), |i| format!("statement {i}: ")),
        type_name(obj)
    ))
}

/// Converts `[(sql, params), ...]` (a bare `sql` string counts as no parameters).
pub fn transaction(statements: &Bound<'_, PyAny>) -> PyResult<Transaction> {
    if statements.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "a transaction is a list of (sql, params) pairs, not a str",
        ));
    }
    let mut out = Vec::new();
    for (i, item) in statements.try_iter()?.enumerate() {
        let item = item?;
        if let Ok(sql) = item.cast::<PyString>() {
            out.push(Statement::new(sql.to_cow()?.into_owned(), Params::None));
            continue;
        }
        let pair = item
            .cast::<PySequence>()
            .ok()
            .filter(|s| matches!(s.len(), Ok(1 | 2)))
            .ok_or_else(|| {
                PyTypeError::new_err(format!(
                    "statement {i}: expected an (sql, params) pair, got '{}'",
                    type_name(&item)
                ))
            })?;
        let sql = pair.get_item(0)?;
        let sql = sql.cast::<PyString>().map_err(|_| {
            PyTypeError::new_err(format!(
                "statement {i}: SQL must be a str, got '{}'",
                type_name(&sql)
            ))
        })?;
        let p = if pair.len()? == 2 {
            params(Some(&pair.get_item(1)?), Some(i))?
        } else {
            Params::None
        };
        out.push(Statement::new(sql.to_cow()?.into_owned(), p));
    }
    Ok(Transaction::from(out))
}

pub fn value_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Integer(i) => i.into_pyobject(py)?.into_any(),
        Value::Real(f) => f.into_pyobject(py)?.into_any(),
        Value::Text(s) => PyString::new(py, s).into_any(),
        Value::Blob(b) => PyBytes::new(py, b).into_any(),
    })
}

/// `litecommit._row.row_class`: the `Row` subclass for a tuple of column names.
static ROW_CLASS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Rows as a list of `litecommit.Row` (tuples also readable by column name). Their class,
/// which holds the column-name index, is looked up once per result and shared by its rows.
pub fn rows_to_py<'py>(py: Python<'py>, rows: &Rows) -> PyResult<Bound<'py, PyList>> {
    if rows.rows.is_empty() {
        return Ok(PyList::empty(py));
    }
    let columns = PyTuple::new(py, rows.columns.iter())?;
    let class = ROW_CLASS
        .import(py, "litecommit._row", "row_class")?
        .call1((columns,))?;
    let items = rows
        .rows
        .iter()
        .map(|row| {
            let values = row
                .iter()
                .map(|v| value_to_py(py, v))
                .collect::<PyResult<Vec<_>>>()?;
            let row = class.call1((PyTuple::new(py, values)?,))?;
            // SAFETY: `row` is a live tuple subclass instance (a GC type) with no `__dict__`
            // (`__slots__ = ()`), holding only None, int, float, str and bytes: it cannot be
            // part of a reference cycle, so the collector need not track it. CPython untracks
            // plain tuples of such values the same way; without it, every full collection
            // would walk each row of a large result that is kept.
            unsafe { pyo3::ffi::PyObject_GC_UnTrack(row.as_ptr().cast()) };
            Ok(row)
        })
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

/// What a transaction resolves to in Python.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returns {
    /// The `Result` of its last statement (`execute`, `submit`).
    Last,
    /// A list with one `Result` per statement (`transaction`, `submit_transaction`).
    Each,
}

/// A committed transaction as a `Result` or a list of them, as `returns` says.
pub fn results_to_py(
    py: Python<'_>,
    result: TransactionResult,
    returns: Returns,
) -> PyResult<Bound<'_, PyAny>> {
    let mut statements = result.statements;
    match returns {
        Returns::Each => {
            let items = statements
                .into_iter()
                .map(|s| PyStatementResult::new(py, s))
                .collect::<PyResult<Vec<_>>>()?;
            Ok(PyList::new(py, items)?.into_any())
        }
        Returns::Last => {
            let last = statements.pop().unwrap_or_default();
            Ok(PyStatementResult::new(py, last)?.into_any())
        }
    }
}

/// What one statement did: `rowcount`, `lastrowid`, and the rows of a `RETURNING` clause.
#[pyclass(module = "litecommit", name = "Result", frozen)]
pub struct PyStatementResult {
    inner: StatementResult,
}

impl PyStatementResult {
    /// A `Result` the garbage collector does not track: it holds no Python object, so it
    /// cannot be part of a reference cycle, and every collection would otherwise walk each
    /// one still alive (one per transaction in flight).
    fn new(py: Python<'_>, inner: StatementResult) -> PyResult<Bound<'_, PyStatementResult>> {
        let result = Bound::new(py, PyStatementResult { inner })?;
        // SAFETY: `result` is a live instance of a GC type whose only field is Rust data.
        unsafe { pyo3::ffi::PyObject_GC_UnTrack(result.as_ptr().cast()) };
        Ok(result)
    }
}

#[pymethods]
impl PyStatementResult {
    /// Rows inserted, updated or deleted by the statement.
    #[getter]
    fn rowcount(&self) -> u64 {
        self.inner.changes
    }

    /// The connection's last insert rowid after the statement.
    #[getter]
    fn lastrowid(&self) -> i64 {
        self.inner.last_insert_rowid
    }

    /// Rows of a `RETURNING` clause, as `Row`s (empty otherwise).
    #[getter]
    fn rows<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        rows_to_py(py, &self.inner.rows)
    }

    /// Column names of `rows`.
    #[getter]
    fn columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.inner.rows.columns.iter())
    }

    fn __repr__(&self) -> String {
        format!(
            "Result(rowcount={}, lastrowid={}, rows=<{} row(s)>)",
            self.inner.changes,
            self.inner.last_insert_rowid,
            self.inner.rows.rows.len()
        )
    }
}
