//! Keyword options to a core `Config`: each value is converted by its Python type and
//! handed to `Config::set`, which knows every option, its kind and its range.

use litecommit::{Config, OptionKind};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString};

use crate::errors::raise;

/// The text `Config::set` reads as none for an [`OptionKind::OptionalInt`] option.
const NONE: &str = "-1";

/// A `Config` with every option of `options` set. Every value is converted first, so that
/// a value of the wrong type raises `TypeError` before any range is checked.
pub fn config(options: &Bound<'_, PyDict>) -> PyResult<Config> {
    let pairs = options
        .iter()
        .map(|(name, value)| {
            let name: String = name.extract()?;
            let text = text(&name, &value)?;
            Ok((name, text))
        })
        .collect::<PyResult<Vec<_>>>()?;
    let mut config = Config::default();
    for (name, value) in &pairs {
        config.set(name, value).map_err(raise(options.py()))?;
    }
    Ok(config)
}

/// A Python value as `Config::set` reads it: bools as `true`/`false`, numbers as their
/// `repr()`, `None` for an option that may be none.
fn text(name: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(flag) = value.cast::<PyBool>() {
        Ok(if flag.is_true() { "true" } else { "false" }.to_owned())
    } else if value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>() {
        Ok(value.repr()?.to_cow()?.into_owned())
    } else if let Ok(s) = value.cast::<PyString>() {
        Ok(s.to_cow()?.into_owned())
    } else if value.is_none() && may_be_none(name) {
        Ok(NONE.to_owned())
    } else {
        let type_name = value.get_type().name()?;
        Err(PyTypeError::new_err(format!(
            "{name}: expected bool, int, float or str, got '{type_name}'"
        )))
    }
}

/// Whether `name` is an option that `None` can be given to.
fn may_be_none(name: &str) -> bool {
    Config::OPTIONS
        .iter()
        .any(|option| option.name == name && option.kind == OptionKind::OptionalInt)
}
