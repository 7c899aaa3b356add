//! The native half of `Committer` (index.js wraps it): opening, submitting, the pool
//! calls, and the event-loop reference of its completion callback.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use litecommit::{CheckpointMode, Committer, Statement, Transaction};
use napi::bindgen_prelude::*;
use napi::{sys, Env, JsValue};
use napi_derive::napi;

use crate::convert::{element, length, params, string};
use crate::errors::ErrorInfo;
use crate::exit::{close_when_stopping, TeardownHook};
use crate::options::{self, EffectiveConfig};
use crate::shared::{Shared, WhenFull};
use crate::sink::{Batch, JsBatch, Sink};
use crate::stats::JsStats;
use crate::submit;
use crate::task::{blocking, Blocking, Done};

/// Entries per statement in `submitTransaction`'s flat array: sql, values, names.
const STATEMENT_PARTS: u32 = 3;

/// The native half of `Committer` (index.js wraps it); made by [`open`].
#[napi]
pub struct NativeCommitter {
    shared: Arc<Shared>,
    /// Removed by `close()`, which shuts the committer down itself.
    teardown: Mutex<Option<TeardownHook>>,
}

/// Opens the database: the native committer, or the error (with SQLite's codes when SQLite
/// refused). `options` are camelCase names with string values, applied through
/// `Config::set`; `on_batch` receives every batch of completions.
#[napi(catch_unwind)]
pub fn open(
    env: Env,
    path: String,
    options: HashMap<String, String>,
    on_batch: Function<JsBatch, Unknown<'static>>,
) -> Result<Either<NativeCommitter, ErrorInfo>> {
    let opened = options::config(options).and_then(|config| Committer::open(&path, config));
    let core = match opened {
        Ok(core) => core,
        Err(e) => return Ok(Either::B(ErrorInfo::from(&e))),
    };
    let tsfn = on_batch
        .build_threadsafe_function::<Batch>()
        .weak::<true>()
        .callee_handled::<false>()
        .build_callback(|ctx| Ok(JsBatch(ctx.value)))?;
    let shared = Arc::new(Shared::new(core, Arc::new(Sink::new(tsfn))));
    let teardown = close_when_stopping(&env, &shared)?;
    Ok(Either::A(NativeCommitter {
        shared,
        teardown: Mutex::new(Some(teardown)),
    }))
}

#[napi]
impl NativeCommitter {
    /// `[submit, submitMany]`: the submission calls of `execute` and `submitMany`, as
    /// functions bound to this committer (see [`crate::submit`]).
    #[napi(catch_unwind)]
    pub fn submitters(&self, env: Env) -> Result<Unknown<'static>> {
        let list = submit::bind(env.raw(), &self.shared)?;
        Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), list) })
    }

    /// Accepts a transaction under `token`, given flat as `[sql, values, names, ...]` (each
    /// statement's `values` and `names` as `submit` takes them): queued, or with `wait`
    /// waiting for room. Returns `null` once accepted, or the error (queue full, closed,
    /// refused).
    #[napi(catch_unwind)]
    pub fn submit_transaction(
        &self,
        env: Env,
        token: f64,
        flat: Unknown,
        wait: bool,
    ) -> Result<Option<ErrorInfo>> {
        let (env, flat) = (env.raw(), flat.raw());
        let n = unsafe { length(env, flat) }?;
        let mut statements = Vec::with_capacity((n / STATEMENT_PARTS) as usize);
        for i in (0..n).step_by(STATEMENT_PARTS as usize) {
            let part = |k| unsafe { element(env, flat, i + k) };
            let sql = unsafe { string(env, part(0)?) }?;
            statements.push(Statement::new(sql, unsafe {
                params(env, part(1)?, part(2)?)
            }?));
        }
        let tx = Transaction::from(statements);
        Ok(self
            .shared
            .accept(token as u64, tx, WhenFull::from_wait(wait))
            .err()
            .map(|e| ErrorInfo::from(&e)))
    }

    /// Moves submissions waiting for room into the queue (called after every batch).
    #[napi(catch_unwind)]
    pub fn drain(&self) {
        self.shared.drain();
    }

    /// The token of the first submission still waiting for room, or `null`.
    #[napi(catch_unwind)]
    pub fn first_waiting(&self) -> Option<f64> {
        self.shared.first_waiting().map(|t| t as f64)
    }

    /// Runs a read-only statement on the read pool; resolves to `[error, rows]`.
    #[napi(catch_unwind)]
    pub fn query(
        &self,
        env: Env,
        sql: String,
        values: Unknown,
        names: Unknown,
    ) -> Result<AsyncTask<Blocking>> {
        let shared = Arc::clone(&self.shared);
        let params = unsafe { params(env.raw(), values.raw(), names.raw()) }?;
        Ok(blocking(move || {
            shared.core.query(&sql, params).map(Done::Rows)
        }))
    }

    /// Resolves to `[error]` once everything queued before it is committed.
    #[napi(catch_unwind)]
    pub fn flush(&self) -> AsyncTask<Blocking> {
        let shared = Arc::clone(&self.shared);
        blocking(move || shared.flush().map(|()| Done::Unit))
    }

    /// Runs a checkpoint in `mode`; resolves to `[error, result]`.
    #[napi(catch_unwind)]
    pub fn checkpoint(&self, mode: String) -> AsyncTask<Blocking> {
        let shared = Arc::clone(&self.shared);
        blocking(move || {
            let mode: CheckpointMode = mode.parse()?;
            shared.core.checkpoint(mode).map(Done::Checkpoint)
        })
    }

    /// Closes on the libuv pool: hands over what waits, commits what is queued, joins the
    /// writer.
    #[napi(catch_unwind)]
    pub fn close(&self, env: Env) -> Result<AsyncTask<Blocking>> {
        let hook = self
            .teardown
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(hook) = hook {
            env.remove_env_cleanup_hook(hook)?;
        }
        let shared = Arc::clone(&self.shared);
        Ok(blocking(move || shared.shutdown().map(|()| Done::Unit)))
    }

    /// The metrics in the Prometheus text exposition format.
    #[napi(catch_unwind)]
    pub fn metrics_text(&self) -> String {
        self.shared.core.metrics_text()
    }

    /// The configuration in effect (defaults filled in).
    #[napi(catch_unwind)]
    pub fn config(&self) -> EffectiveConfig {
        EffectiveConfig(self.shared.core.config().clone())
    }

    /// The committer's figures, as `stats()` returns them.
    #[napi(catch_unwind)]
    pub fn stats(&self) -> JsStats {
        JsStats(self.shared.core.stats())
    }

    /// Keeps the event loop alive (some promise is pending).
    #[napi(js_name = "ref", catch_unwind)]
    pub fn keep_alive(&self, env: Env) -> Result<()> {
        self.set_ref(env, true)
    }

    /// Lets the event loop exit (nothing is pending).
    #[napi(catch_unwind)]
    pub fn unref(&self, env: Env) -> Result<()> {
        self.set_ref(env, false)
    }

    fn set_ref(&self, env: Env, on: bool) -> Result<()> {
        let tsfn = &self.shared.sink.tsfn;
        if tsfn.aborted() {
            return Ok(());
        }
        let raw = tsfn.raw();
        let status = unsafe {
            if on {
                sys::napi_ref_threadsafe_function(env.raw(), raw)
            } else {
                sys::napi_unref_threadsafe_function(env.raw(), raw)
            }
        };
        match status {
            sys::Status::napi_ok => Ok(()),
            s => Err(napi::Error::new(
                Status::from(s),
                "cannot (un)reference the completion callback".to_string(),
            )),
        }
    }
}
