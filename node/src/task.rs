//! Blocking core calls (query, flush, checkpoint, close) run on the libuv thread pool, and
//! their outcome as the `[error, value]` pair the JS side unwraps.

use std::panic::{catch_unwind, AssertUnwindSafe};

use litecommit::{CheckpointResult, Error as CoreError, Rows};
use napi::bindgen_prelude::*;
use napi::{sys, Env};

use crate::convert::{rows_to_js, to_js};
use crate::errors::{guard, CoreResult, ErrorInfo};

/// What a call run on the libuv pool produced, before conversion to JS.
pub enum Done {
    Rows(Rows),
    Unit,
    Checkpoint(CheckpointResult),
}

fn done_to_js(env: sys::napi_env, done: Done) -> Result<sys::napi_value> {
    match done {
        Done::Rows(rows) => rows_to_js(env, rows),
        Done::Unit => to_js(env, ()),
        Done::Checkpoint(c) => {
            let mut object = Object::new(&Env::from_raw(env))?;
            object.set("mode", c.mode.as_str())?;
            object.set("logFrames", c.log_frames as f64)?;
            object.set("checkpointedFrames", c.checkpointed_frames as f64)?;
            object.set("busy", c.busy)?;
            to_js(env, object)
        }
    }
}

/// The outcome of a call run on the libuv pool: `[error, value]`.
pub struct Envelope(CoreResult<Done>);

impl TypeName for Envelope {
    fn type_name() -> &'static str {
        "Envelope"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for Envelope {
    unsafe fn to_napi_value(env: sys::napi_env, envelope: Envelope) -> Result<sys::napi_value> {
        // Called by napi inside a C callback: a panic must not unwind out of it.
        guard(|| {
            let js_env = Env::from_raw(env);
            let mut pair = js_env.create_array(2)?;
            match envelope.0 {
                Ok(done) => {
                    pair.set(0, ())?;
                    pair.set(1, done_to_js(env, done)?)?;
                }
                Err(e) => {
                    pair.set(0, ErrorInfo::from(&e))?;
                    pair.set(1, ())?;
                }
            }
            to_js(env, pair)
        })
    }
}

type Job = Box<dyn FnOnce() -> CoreResult<Done> + Send>;

/// A blocking core call run on the libuv thread pool.
pub struct Blocking(Option<Job>);

impl Task for Blocking {
    type Output = CoreResult<Done>;
    type JsValue = Envelope;

    fn compute(&mut self) -> Result<Self::Output> {
        let f = self.0.take().ok_or_else(|| {
            napi::Error::new(Status::GenericFailure, "task ran twice".to_string())
        })?;
        // A panic must not unwind into libuv; the promise rejects with LITECOMMIT_INTERNAL.
        Ok(catch_unwind(AssertUnwindSafe(f))
            .unwrap_or_else(|p| Err(CoreError::Internal(panic_to_error(p).reason))))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Envelope> {
        Ok(Envelope(output))
    }
}

/// `f` as a task for the libuv pool; its promise resolves to `[error, value]`.
pub fn blocking(f: impl FnOnce() -> CoreResult<Done> + Send + 'static) -> AsyncTask<Blocking> {
    AsyncTask::new(Blocking(Some(Box::new(f))))
}
