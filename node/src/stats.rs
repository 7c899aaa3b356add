//! The committer's figures as the plain object `stats()` returns: every entry of
//! `Stats::fields()` under its camelCase name.

use litecommit::{StatValue, Stats};
use napi::bindgen_prelude::*;
use napi::{sys, Env};

use crate::convert::{camel_case, to_js};
use crate::errors::guard;

/// Stats as a JS object: counts and means as numbers, states as booleans, counts by label
/// as an object of numbers.
pub struct JsStats(pub Stats);

impl ToNapiValue for JsStats {
    unsafe fn to_napi_value(env: sys::napi_env, stats: JsStats) -> Result<sys::napi_value> {
        // Called by napi inside a C callback: a panic must not unwind out of it.
        guard(|| stats_to_js(env, &stats.0))
    }
}

fn stats_to_js(env: sys::napi_env, stats: &Stats) -> Result<sys::napi_value> {
    let js_env = Env::from_raw(env);
    let mut object = Object::new(&js_env)?;
    for (name, value) in stats.fields() {
        let key = camel_case(name);
        match value {
            StatValue::Int(v) => object.set(key, v as f64)?,
            StatValue::Float(v) => object.set(key, v)?,
            StatValue::Bool(v) => object.set(key, v)?,
            StatValue::Counts(counts) => {
                let mut by_label = Object::new(&js_env)?;
                for (label, count) in counts {
                    by_label.set(label, count as f64)?;
                }
                object.set(key, by_label)?
            }
        }
    }
    to_js(env, object)
}
