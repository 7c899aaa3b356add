//! `stats()`: the core's figures as a Python dict, one entry per `Stats::fields()`.

use litecommit::{StatValue, Stats};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Every figure under its core name: counts as `int`, means as `float`, states as `bool`,
/// counts by label as a `dict`.
pub fn to_dict<'py>(py: Python<'py>, stats: &Stats) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (name, value) in stats.fields() {
        match value {
            StatValue::Int(v) => dict.set_item(name, v)?,
            StatValue::Float(v) => dict.set_item(name, v)?,
            StatValue::Bool(v) => dict.set_item(name, v)?,
            StatValue::Counts(v) => dict.set_item(name, v)?,
        }
    }
    Ok(dict)
}
