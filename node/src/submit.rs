//! The submission calls of `execute` and `submitMany` as plain N-API functions bound to one
//! committer: its [`Shared`] is the function's data pointer, and the arguments are read
//! with N-API directly. That skips what a `#[napi]` class method costs on every call
//! (unwrapping and type-checking `this`, registering the borrow of the receiver).

use std::ffi::{c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::Arc;

use litecommit::Transaction;
use napi::bindgen_prelude::*;
use napi::{sys, Env, JsError};

use crate::convert::{absent, check, element, length, params, params_of, string, to_js, type_of};
use crate::errors::{guard, ErrorInfo};
use crate::shared::{Shared, WhenFull};

/// `[submit, submitMany]` bound to `shared`. Each function holds a reference on it, released
/// when the function is garbage-collected.
pub fn bind(env: sys::napi_env, shared: &Arc<Shared>) -> Result<sys::napi_value> {
    let js_env = Env::from_raw(env);
    let mut list = js_env.create_array(2)?;
    let calls: [(&CStr, Callback); 2] = [(c"submit", submit), (c"submitMany", submit_many)];
    for (i, (name, call)) in calls.into_iter().enumerate() {
        let f = bound_function(env, name, call, shared)?;
        list.set(i as u32, unsafe { Unknown::from_raw_unchecked(env, f) })?;
    }
    to_js(env, list)
}

/// A raw N-API callback.
type Callback = unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;

/// A JS function named `name` running `call` with a reference on `shared` as its data.
fn bound_function(
    env: sys::napi_env,
    name: &CStr,
    call: Callback,
    shared: &Arc<Shared>,
) -> Result<sys::napi_value> {
    let data = Arc::into_raw(Arc::clone(shared))
        .cast_mut()
        .cast::<c_void>();
    let mut f = ptr::null_mut();
    let len = name.to_bytes().len() as isize;
    let created = check(unsafe {
        sys::napi_create_function(env, name.as_ptr(), len, Some(call), data, &mut f)
    })
    .and_then(|()| {
        check(unsafe {
            sys::napi_add_finalizer(
                env,
                f,
                data,
                Some(release),
                ptr::null_mut(),
                ptr::null_mut(),
            )
        })
    });
    if let Err(e) = created {
        // Not handed out: a function created without its finalizer is never reachable.
        unsafe { release(env, data, ptr::null_mut()) };
        return Err(e);
    }
    Ok(f)
}

/// Drops the reference a bound function held on its committer.
unsafe extern "C" fn release(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // Dropping the last reference closes the committer: a panic must not unwind into Node.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        drop(unsafe { Arc::from_raw(data.cast_const().cast::<Shared>()) })
    }));
}

/// Runs `body` with the committer and the first `N` arguments of a bound function's call
/// (missing ones are `undefined`); an error or a panic becomes a thrown JS error.
///
/// # Safety
/// `env` and `info` are those of a call of a function made by [`bound_function`].
unsafe fn bound_call<const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    body: impl FnOnce(&Shared, [sys::napi_value; N]) -> Result<sys::napi_value>,
) -> sys::napi_value {
    let result = guard(|| {
        let mut argc = N;
        let mut argv = [ptr::null_mut(); N];
        let mut data = ptr::null_mut();
        check(unsafe {
            sys::napi_get_cb_info(
                env,
                info,
                &mut argc,
                argv.as_mut_ptr(),
                ptr::null_mut(),
                &mut data,
            )
        })?;
        // The reference `bound_function` took keeps it alive as long as the function.
        let shared = unsafe { &*data.cast_const().cast::<Shared>() };
        body(shared, argv)
    });
    result.unwrap_or_else(|e| {
        unsafe { JsError::from(e).throw_into(env) };
        ptr::null_mut()
    })
}

/// Parameter values `submit` takes as arguments of their own rather than in an array: an
/// array costs two N-API calls more per value.
const SPREAD_VALUES: usize = 8;

/// Arguments of `submit` before its values.
const SUBMIT_ARGS: usize = 5;

/// `submit(token, sql, names, wait, values, ...)`: accepts a one-statement transaction under
/// `token`, queued, or with `wait` waiting for room. `values` is `undefined` (no
/// parameters), an array (as `params` takes it), or a count `k` <= [`SPREAD_VALUES`]: the
/// `k` arguments after it are the values. Returns `null` once accepted, or the error info
/// (queue full, closed, refused).
unsafe extern "C" fn submit(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    unsafe {
        bound_call::<{ SUBMIT_ARGS + SPREAD_VALUES }>(env, info, |shared, args| {
            let [token, sql, names, wait, values] = [args[0], args[1], args[2], args[3], args[4]];
            let params = if type_of(env, values)? == sys::ValueType::napi_number {
                let spread = (number(env, values)? as usize).min(SPREAD_VALUES);
                params_of(env, &args[SUBMIT_ARGS..SUBMIT_ARGS + spread], names)?
            } else {
                params(env, values, names)?
            };
            let tx = Transaction::single(string(env, sql)?, params);
            match shared.accept(
                token_of(env, token)?,
                tx,
                WhenFull::from_wait(boolean(env, wait)?),
            ) {
                Ok(()) => to_js(env, Null),
                Err(e) => to_js(env, ErrorInfo::from(&e)),
            }
        })
    }
}

/// `submitMany(first, sql, valuesList, namesList, wait)`: one transaction of `sql` per
/// entry of `valuesList` (each as `submit` takes `values`; `namesList`, when given, holds
/// the matching `names`), under the tokens `first`, `first + 1`, ... Every set is
/// converted before any is accepted: a conversion error throws with nothing accepted.
/// Returns `null` once all are accepted, or `[n, error info]`: the first `n` were accepted
/// and the one after failed with that error, the rest were not tried.
unsafe extern "C" fn submit_many(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    unsafe {
        bound_call(
            env,
            info,
            |shared, [first, sql, values_list, names_list, wait]| {
                let first = token_of(env, first)?;
                let sql = string(env, sql)?;
                let named = !absent(env, names_list)?;
                let n = length(env, values_list)?;
                let mut txs = Vec::with_capacity(n as usize);
                for i in 0..n {
                    let values = element(env, values_list, i)?;
                    // Without a names list, the absent value itself says "positional".
                    let names = if named {
                        element(env, names_list, i)?
                    } else {
                        names_list
                    };
                    txs.push(Transaction::single(
                        sql.clone(),
                        params(env, values, names)?,
                    ));
                }
                match shared.accept_many(first, txs, WhenFull::from_wait(boolean(env, wait)?)) {
                    Ok(()) => to_js(env, Null),
                    Err((accepted, e)) => {
                        let js_env = Env::from_raw(env);
                        let mut pair = js_env.create_array(2)?;
                        pair.set(0, accepted as f64)?;
                        pair.set(1, ErrorInfo::from(&e))?;
                        to_js(env, pair)
                    }
                }
            },
        )
    }
}

/// A token: index.js counts them up from 1, as numbers.
///
/// # Safety
/// `value` is a value of `env`, on its thread.
unsafe fn token_of(env: sys::napi_env, value: sys::napi_value) -> Result<u64> {
    Ok(unsafe { number(env, value) }? as u64)
}

/// A JS number argument.
///
/// # Safety
/// `value` is a value of `env`, on its thread.
unsafe fn number(env: sys::napi_env, value: sys::napi_value) -> Result<f64> {
    let mut f = 0.0;
    check(unsafe { sys::napi_get_value_double(env, value, &mut f) })?;
    Ok(f)
}

/// A JS boolean argument.
///
/// # Safety
/// `value` is a value of `env`, on its thread.
unsafe fn boolean(env: sys::napi_env, value: sys::napi_value) -> Result<bool> {
    let mut b = false;
    check(unsafe { sys::napi_get_value_bool(env, value, &mut b) })?;
    Ok(b)
}
