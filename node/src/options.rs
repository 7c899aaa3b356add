//! Options in (camelCase names with string values, each forwarded to `Config::set`) and the
//! configuration in effect out, both driven by the core's table `Config::OPTIONS`.

use std::collections::HashMap;

use litecommit::{Config, OptionKind};
use napi::bindgen_prelude::*;
use napi::{sys, Env};

use crate::convert::{camel_case, to_js};
use crate::errors::{guard, CoreResult};

/// A configuration from camelCase option names and string values (in name order, so the
/// first invalid option reported is always the same one). `Config::set` rejects unknown
/// names and values out of range with `LITECOMMIT_INVALID_CONFIG`.
pub fn config(options: HashMap<String, String>) -> CoreResult<Config> {
    let mut options: Vec<(String, String)> = options.into_iter().collect();
    options.sort();
    let mut config = Config::default();
    for (name, value) in options {
        config.set(&name, &value)?;
    }
    Ok(config)
}

/// The configuration in effect as a JS object: every option of `Config::OPTIONS` under its
/// camelCase name; booleans, numbers (-1 for an optional limit that is off) or strings.
pub struct EffectiveConfig(pub Config);

impl ToNapiValue for EffectiveConfig {
    unsafe fn to_napi_value(
        env: sys::napi_env,
        config: EffectiveConfig,
    ) -> Result<sys::napi_value> {
        // Called by napi inside a C callback: a panic must not unwind out of it.
        guard(|| config_to_js(env, &config.0))
    }
}

fn config_to_js(env: sys::napi_env, config: &Config) -> Result<sys::napi_value> {
    let mut object = Object::new(&Env::from_raw(env))?;
    for option in Config::OPTIONS {
        let text = config.get(option.name).ok_or_else(|| {
            napi::Error::new(
                Status::GenericFailure,
                format!("{}: listed but unknown to Config::get", option.name),
            )
        })?;
        let key = camel_case(option.name);
        let number = || {
            text.parse::<f64>().map_err(|_| {
                napi::Error::new(
                    Status::GenericFailure,
                    format!("{}: {text:?} is not a number", option.name),
                )
            })
        };
        match option.kind {
            OptionKind::Bool => object.set(key, text == "true")?,
            OptionKind::Int | OptionKind::Float | OptionKind::OptionalInt => {
                object.set(key, number()?)?
            }
            OptionKind::Text | OptionKind::Str => object.set(key, text)?,
        }
    }
    to_js(env, object)
}
