//! Node.js binding of litecommit: converts values, maps completions and errors. The engine
//! (batching, flushing, checkpoints) lives in the `litecommit` crate.
//!
//! Completions travel per batch: the core calls [`Sink::complete`] once per batch on its
//! writer thread, which makes ONE threadsafe-function call; the JavaScript side (index.js)
//! keeps the token -> promise map and settles every promise of that batch in that call.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, Once, Weak};
use std::time::Instant;

use litecommit::{
    BatchSink, CheckpointMode, CheckpointResult, Committer, Config, Error as CoreError, Outcome,
    Params, Rows, Statement, Transaction, TransactionResult, Value,
};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{sys, Env, Property};
use napi_derive::napi;

/// Integers up to ±2^53 come back as JS numbers (they hold them exactly), others as BigInt.
const MAX_NUMBER_INTEGER: u64 = 1 << 53;

type Batch = Vec<(u64, Outcome)>;

/// Created weak (unreferenced): an idle committer does not keep the process alive. The JS
/// side references it while any promise is pending (see `ref`/`unref`).
type BatchFn = ThreadsafeFunction<Batch, Unknown<'static>, JsBatch, Status, false, true, 0>;

struct Sink {
    tsfn: BatchFn,
}

impl BatchSink for Sink {
    fn complete(&self, completions: Batch) {
        // Non-blocking on an unbounded queue: never stalls the writer. It fails only while
        // the environment is being torn down, when there is nobody left to tell.
        let _ = self
            .tsfn
            .call(completions, ThreadsafeFunctionCallMode::NonBlocking);
    }
}

/// What a call run on the libuv pool produced, before conversion to JS.
pub enum Done {
    Rows(Rows),
    Unit,
    Checkpoint(CheckpointResult),
}

/// An error as the JS side receives it; index.js turns it into a `LitecommitError`.
#[napi(object)]
pub struct ErrorInfo {
    pub code: String,
    pub message: String,
    pub statement_index: Option<u32>,
    /// SQLite primary result code.
    pub errno: Option<i32>,
    /// SQLite extended result code.
    pub extended_code: Option<i32>,
}

impl From<&CoreError> for ErrorInfo {
    fn from(e: &CoreError) -> ErrorInfo {
        let (index, errno, extended) = match e {
            CoreError::Sqlite {
                code,
                extended_code,
                statement_index,
                ..
            } => (*statement_index, Some(*code), Some(*extended_code)),
            CoreError::Refused {
                statement_index, ..
            }
            | CoreError::Parameter {
                statement_index, ..
            } => (Some(*statement_index), None, None),
            _ => (None, None, None),
        };
        let message = match e {
            CoreError::Sqlite { message, .. } => message.clone(),
            other => other.to_string(),
        };
        ErrorInfo {
            code: e.code_name().to_string(),
            message,
            statement_index: index.and_then(|i| u32::try_from(i).ok()),
            errno,
            extended_code: extended,
        }
    }
}

fn to_js<T: ToNapiValue>(env: sys::napi_env, value: T) -> Result<sys::napi_value> {
    unsafe { T::to_napi_value(env, value) }
}

fn int_to_js(env: sys::napi_env, i: i64) -> Result<sys::napi_value> {
    if i.unsigned_abs() <= MAX_NUMBER_INTEGER {
        to_js(env, i as f64)
    } else {
        to_js(env, i64n(i))
    }
}

fn value_to_js(env: sys::napi_env, value: Value) -> Result<sys::napi_value> {
    match value {
        Value::Null => to_js(env, Null),
        Value::Integer(i) => int_to_js(env, i),
        Value::Real(f) => to_js(env, f),
        Value::Text(s) => to_js(env, s),
        Value::Blob(b) => to_js(env, BufferSlice::copy_from(&Env::from_raw(env), b)?),
    }
}

/// Rows as an array of objects keyed by column name.
fn rows_to_js(env: sys::napi_env, rows: Rows) -> Result<sys::napi_value> {
    let js_env = Env::from_raw(env);
    let mut list = js_env.create_array(rows.rows.len() as u32)?;
    for (i, row) in rows.rows.into_iter().enumerate() {
        let mut object = Object::new(&js_env)?;
        for (name, value) in rows.columns.iter().zip(row) {
            let value = value_to_js(env, value)?;
            if name == "__proto__" {
                // Assigning would replace the row's prototype instead of adding a column.
                let column = Property::new()
                    .with_utf8_name(name)?
                    .with_napi_value(&js_env, value)?;
                object.define_properties(&[column])?;
            } else {
                object.set(name, value)?;
            }
        }
        list.set(i as u32, object)?;
    }
    to_js(env, list)
}

/// A transaction's result: one `{ changes, lastInsertRowid, rows }` per statement.
fn tx_to_js(env: sys::napi_env, result: TransactionResult) -> Result<sys::napi_value> {
    let js_env = Env::from_raw(env);
    let mut list = js_env.create_array(result.statements.len() as u32)?;
    for (i, stmt) in result.statements.into_iter().enumerate() {
        let mut object = Object::new(&js_env)?;
        object.set("changes", stmt.changes as f64)?;
        object.set("lastInsertRowid", int_to_js(env, stmt.last_insert_rowid)?)?;
        object.set("rows", rows_to_js(env, stmt.rows)?)?;
        list.set(i as u32, object)?;
    }
    to_js(env, list)
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

/// Writes `(error, value)` of one outcome at `at` and `at + 1` of `list`.
fn set_outcome(
    env: sys::napi_env,
    list: &mut Array,
    at: u32,
    outcome: std::result::Result<Done, CoreError>,
) -> Result<()> {
    match outcome {
        Ok(done) => {
            list.set(at, ())?;
            list.set(at + 1, done_to_js(env, done)?)
        }
        Err(e) => {
            list.set(at, ErrorInfo::from(&e))?;
            list.set(at + 1, ())
        }
    }
}

/// Status of one completion in [`JsBatch`]'s numbers.
const DONE_SIMPLE: f64 = 0.0;
const DONE_FULL: f64 = 1.0;
const DONE_ERROR: f64 = 2.0;

/// One batch of completions, converted on the JS thread to `[numbers, extras]`:
/// `numbers` is a Float64Array of `token, status, changes, lastInsertRowid` per completion.
/// The common case (one statement, no rows, a rowid within ±2^53) needs nothing else, so a
/// batch costs a handful of N-API calls whatever its size; otherwise `extras[i]` holds the
/// full result (status 1) or the error (status 2) of completion `i`.
pub struct JsBatch(Batch);

impl ToNapiValue for JsBatch {
    unsafe fn to_napi_value(env: sys::napi_env, batch: JsBatch) -> Result<sys::napi_value> {
        let js_env = Env::from_raw(env);
        let mut numbers = Vec::with_capacity(batch.0.len() * 4);
        let mut extras: Option<Array> = None;
        for (i, (token, outcome)) in batch.0.into_iter().enumerate() {
            let simple = match &outcome {
                Ok(r) => match r.statements.as_slice() {
                    [s] if s.rows.columns.is_empty()
                        && s.last_insert_rowid.unsigned_abs() <= MAX_NUMBER_INTEGER =>
                    {
                        Some((s.changes as f64, s.last_insert_rowid as f64))
                    }
                    _ => None,
                },
                Err(_) => None,
            };
            if let Some((changes, rowid)) = simple {
                numbers.extend_from_slice(&[token as f64, DONE_SIMPLE, changes, rowid]);
                continue;
            }
            let extras = match &mut extras {
                Some(list) => list,
                None => extras.insert(js_env.create_array(0)?),
            };
            match outcome {
                Ok(result) => {
                    numbers.extend_from_slice(&[token as f64, DONE_FULL, 0.0, 0.0]);
                    extras.set(i as u32, tx_to_js(env, result)?)?;
                }
                Err(e) => {
                    numbers.extend_from_slice(&[token as f64, DONE_ERROR, 0.0, 0.0]);
                    extras.set(i as u32, ErrorInfo::from(&e))?;
                }
            }
        }
        let mut pair = js_env.create_array(2)?;
        // Copied into V8's heap: external memory would make V8 run full GCs far more often.
        pair.set(0, Float64ArraySlice::copy_from(&js_env, &numbers)?)?;
        pair.set(1, extras)?;
        to_js(env, pair)
    }
}

/// The outcome of a call run on the libuv pool: `[error, value]`.
pub struct Envelope(std::result::Result<Done, CoreError>);

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
        let js_env = Env::from_raw(env);
        let mut list = js_env.create_array(2)?;
        set_outcome(env, &mut list, 0, envelope.0)?;
        to_js(env, list)
    }
}

type Job = Box<dyn FnOnce() -> std::result::Result<Done, CoreError> + Send>;

/// A blocking core call run on the libuv thread pool.
pub struct Blocking(Option<Job>);

impl Task for Blocking {
    type Output = std::result::Result<Done, CoreError>;
    type JsValue = Envelope;

    fn compute(&mut self) -> Result<Self::Output> {
        let f = self.0.take().ok_or_else(|| {
            napi::Error::new(Status::GenericFailure, "task ran twice".to_string())
        })?;
        // A panic must not unwind into libuv.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
            .map_err(|_| napi::Error::new(Status::GenericFailure, "litecommit panicked"))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Envelope> {
        Ok(Envelope(output))
    }
}

fn blocking(
    f: impl FnOnce() -> std::result::Result<Done, CoreError> + Send + 'static,
) -> AsyncTask<Blocking> {
    AsyncTask::new(Blocking(Some(Box::new(f))))
}

/// One JS value as an SQL value. index.js already checked the types and raises
/// TypeError/RangeError naming the parameter; this is the defensive second line.
fn js_to_value(value: Unknown, index: usize) -> Result<Value> {
    let bad = |what: &str| {
        napi::Error::new(
            Status::InvalidArg,
            format!("parameter {}: {what}", index + 1),
        )
    };
    Ok(match value.get_type()? {
        ValueType::Null | ValueType::Undefined => Value::Null,
        ValueType::Boolean => Value::Integer(i64::from(unsafe { value.cast::<bool>()? })),
        ValueType::Number => {
            let f: f64 = unsafe { value.cast()? };
            // Integral and exactly representable as i64 (2^63 itself is not).
            const TWO_63: f64 = 9_223_372_036_854_775_808.0;
            if f.fract() == 0.0 && (-TWO_63..TWO_63).contains(&f) {
                Value::Integer(f as i64)
            } else {
                Value::Real(f)
            }
        }
        ValueType::BigInt => {
            let big: BigInt = unsafe { value.cast()? };
            match big.get_i64() {
                (i, true) => Value::Integer(i),
                _ => return Err(bad("BigInt out of the 64-bit integer range")),
            }
        }
        ValueType::String => Value::Text(unsafe { value.cast()? }),
        ValueType::Object => {
            let bytes: &[u8] = unsafe { value.cast() }
                .map_err(|_| bad("unsupported object (expected Buffer or Uint8Array)"))?;
            Value::Blob(bytes.to_vec())
        }
        _ => return Err(bad("unsupported type")),
    })
}

/// Parameters as index.js passes them: `values` positional, or named when `names` is given.
fn params(values: Option<Array>, names: Option<Vec<String>>) -> Result<Params> {
    let Some(values) = values else {
        return Ok(Params::None);
    };
    let mut list = Vec::with_capacity(values.len() as usize);
    for i in 0..values.len() {
        list.push(match values.get::<Unknown>(i)? {
            Some(value) => js_to_value(value, i as usize)?,
            None => Value::Null,
        });
    }
    Ok(match names {
        Some(names) => Params::Named(names.into_iter().zip(list).collect()),
        None => Params::Positional(list),
    })
}

/// Committer figures, as `stats()` returns them.
#[napi(object)]
pub struct JsStats {
    pub transactions_committed: f64,
    pub transactions_failed: f64,
    pub transactions_aborted: f64,
    pub batches: f64,
    pub flushes: HashMap<String, f64>,
    pub max_batch_size: f64,
    pub mean_batch_size: f64,
    pub mean_flush_ms: f64,
    pub mean_commit_latency_ms: f64,
    pub checkpoints: HashMap<String, f64>,
    pub checkpoints_busy: f64,
    pub checkpoint_running: bool,
    pub wal_frames: f64,
    pub wal_backlog_frames: f64,
    pub wal_file_bytes: f64,
    pub queue_depth: f64,
    pub max_writer_stall_ms: f64,
}

/// Every committer opened in this process, for [`close_all_at_exit`].
static OPEN: Mutex<Vec<Weak<Committer>>> = Mutex::new(Vec::new());

extern "C" {
    fn atexit(callback: extern "C" fn()) -> std::os::raw::c_int;
}

/// `process.exit()` on the main thread ends the process through `exit()` without tearing
/// the environment down, so environment cleanup hooks do not run: this `atexit` handler
/// closes what is still open, committing everything already queued.
extern "C" fn close_all_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        let open = std::mem::take(&mut *OPEN.lock().unwrap_or_else(|p| p.into_inner()));
        for core in open.iter().filter_map(Weak::upgrade) {
            let _ = core.close();
        }
    });
}

fn register_for_exit(core: &Arc<Committer>) {
    static AT_EXIT: Once = Once::new();
    AT_EXIT.call_once(|| {
        // If registration fails, environment cleanup hooks still cover normal exits.
        let _ = unsafe { atexit(close_all_at_exit) };
    });
    let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
    open.retain(|w| w.strong_count() > 0);
    open.push(Arc::downgrade(core));
}

/// The native half of `Committer` (index.js wraps it).
#[napi]
pub struct NativeCommitter {
    core: Arc<Committer>,
    sink: Arc<Sink>,
    dyn_sink: Arc<dyn BatchSink>,
    cleanup: Mutex<Option<napi::CleanupEnvHook<Weak<Committer>>>>,
}

/// A configuration from camelCase option names and string values (in name order, so the
/// first invalid option reported is always the same one).
fn config(options: HashMap<String, String>) -> Result<Config> {
    let mut options: Vec<(String, String)> = options.into_iter().collect();
    options.sort();
    let mut config = Config::default();
    for (name, value) in options {
        config.set(&name, &value).map_err(|e| core_error(&e))?;
    }
    Ok(config)
}

/// Errors thrown synchronously carry "CODE: message"; index.js turns them into
/// `LitecommitError`s with that code.
fn core_error(e: &CoreError) -> napi::Error {
    napi::Error::new(Status::GenericFailure, format!("{}: {e}", e.code_name()))
}

#[napi]
impl NativeCommitter {
    /// Opens the database. `options` are camelCase names with string values, applied
    /// through `Config::set`; `on_batch` receives every batch of completions.
    #[napi(constructor)]
    pub fn new(
        env: Env,
        path: String,
        options: HashMap<String, String>,
        on_batch: Function<JsBatch, Unknown<'static>>,
    ) -> Result<Self> {
        let core = Arc::new(Committer::open(&path, config(options)?).map_err(|e| core_error(&e))?);
        let tsfn = on_batch
            .build_threadsafe_function::<Batch>()
            .weak::<true>()
            .callee_handled::<false>()
            .build_callback(|ctx| Ok(JsBatch(ctx.value)))?;
        let sink = Arc::new(Sink { tsfn });
        let dyn_sink: Arc<dyn BatchSink> = sink.clone();
        // At environment teardown (the end of the process or of a worker) and at exit()
        // (process.exit), an unclosed committer still commits everything queued.
        register_for_exit(&core);
        let cleanup = env.add_env_cleanup_hook(Arc::downgrade(&core), |core| {
            if let Some(core) = core.upgrade() {
                let _ = core.close();
            }
        })?;
        Ok(NativeCommitter {
            core,
            sink,
            dyn_sink,
            cleanup: Mutex::new(Some(cleanup)),
        })
    }

    /// Queues a one-statement transaction under `token`. Returns `null` once queued, or the
    /// error (queue full, closed, refused statement) without queuing anything.
    #[napi]
    pub fn submit(
        &self,
        token: f64,
        sql: String,
        values: Option<Array>,
        names: Option<Vec<String>>,
    ) -> Result<Option<ErrorInfo>> {
        let tx = Transaction::single(sql, params(values, names)?);
        Ok(self.enqueue(token, tx))
    }

    /// Like `submit` for several statements, given flat as `[sql, values, names, ...]`.
    #[napi]
    pub fn submit_transaction(&self, token: f64, flat: Array) -> Result<Option<ErrorInfo>> {
        let mut statements = Vec::with_capacity(flat.len() as usize / 3);
        for i in (0..flat.len()).step_by(3) {
            let sql: String = flat.get(i)?.unwrap_or_default();
            let values: Option<Array> = flat.get(i + 1)?.flatten();
            let names: Option<Vec<String>> = flat.get(i + 2)?.flatten();
            statements.push(Statement::new(sql, params(values, names)?));
        }
        Ok(self.enqueue(token, Transaction::from(statements)))
    }

    fn enqueue(&self, token: f64, tx: Transaction) -> Option<ErrorInfo> {
        self.core
            .submit_to_sink(tx, &self.dyn_sink, token as u64, false)
            .err()
            .map(|e| ErrorInfo::from(&e))
    }

    #[napi]
    pub fn query(
        &self,
        sql: String,
        values: Option<Array>,
        names: Option<Vec<String>>,
    ) -> Result<AsyncTask<Blocking>> {
        let core = Arc::clone(&self.core);
        let params = params(values, names)?;
        Ok(blocking(move || core.query(&sql, params).map(Done::Rows)))
    }

    #[napi]
    pub fn flush(&self) -> AsyncTask<Blocking> {
        let core = Arc::clone(&self.core);
        blocking(move || core.flush().map(|()| Done::Unit))
    }

    #[napi]
    pub fn checkpoint(&self, mode: String) -> AsyncTask<Blocking> {
        let core = Arc::clone(&self.core);
        blocking(move || {
            let mode: CheckpointMode = mode.parse()?;
            core.checkpoint(mode).map(Done::Checkpoint)
        })
    }

    /// Closes on the libuv pool (it commits what is queued and joins the writer).
    #[napi]
    pub fn close(&self, env: Env) -> Result<AsyncTask<Blocking>> {
        let hook = self
            .cleanup
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(hook) = hook {
            env.remove_env_cleanup_hook(hook)?;
        }
        let core = Arc::clone(&self.core);
        Ok(blocking(move || core.close().map(|()| Done::Unit)))
    }

    #[napi]
    pub fn metrics_text(&self) -> String {
        self.core.metrics_text()
    }

    #[napi]
    pub fn stats(&self) -> JsStats {
        let s = self.core.stats();
        let counts = |m: std::collections::BTreeMap<String, u64>| {
            m.into_iter().map(|(k, v)| (k, v as f64)).collect()
        };
        JsStats {
            transactions_committed: s.transactions_committed as f64,
            transactions_failed: s.transactions_failed as f64,
            transactions_aborted: s.transactions_aborted as f64,
            batches: s.batches as f64,
            flushes: counts(s.flushes),
            max_batch_size: s.max_batch_size as f64,
            mean_batch_size: s.mean_batch_size,
            mean_flush_ms: s.mean_flush_ms,
            mean_commit_latency_ms: s.mean_commit_latency_ms,
            checkpoints: counts(s.checkpoints),
            checkpoints_busy: s.checkpoints_busy as f64,
            checkpoint_running: s.checkpoint_running,
            wal_frames: s.wal_frames as f64,
            wal_backlog_frames: s.wal_backlog_frames as f64,
            wal_file_bytes: s.wal_file_bytes as f64,
            queue_depth: s.queue_depth as f64,
            max_writer_stall_ms: s.max_writer_stall_ms,
        }
    }

    /// Keeps the event loop alive (some promise is pending).
    #[napi(js_name = "ref")]
    pub fn keep_alive(&self, env: Env) -> Result<()> {
        self.set_ref(env, true)
    }

    /// Lets the event loop exit (nothing is pending).
    #[napi]
    pub fn unref(&self, env: Env) -> Result<()> {
        self.set_ref(env, false)
    }

    fn set_ref(&self, env: Env, on: bool) -> Result<()> {
        if self.sink.tsfn.aborted() {
            return Ok(());
        }
        let raw = self.sink.tsfn.raw();
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

/// What `benchCore` measured.
#[napi(object)]
pub struct CoreBench {
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Benchmark helper (not public API): `n` single-row inserts into `bench(id, payload)` with
/// `in_flight` submitted at once, through the Rust core alone, on this thread.
#[napi(js_name = "__benchCore")]
pub fn bench_core(
    path: String,
    options: HashMap<String, String>,
    n: u32,
    in_flight: u32,
) -> Result<CoreBench> {
    let core = Committer::open(&path, config(options)?).map_err(|e| core_error(&e))?;
    core.execute(
        "CREATE TABLE IF NOT EXISTS bench (id INTEGER PRIMARY KEY, payload TEXT)",
        (),
    )
    .map_err(|e| core_error(&e))?;
    let state = Arc::new((Mutex::new((0u32, Vec::new())), Condvar::new()));
    let start = Instant::now();
    for i in 0..n {
        {
            let (lock, cv) = &*state;
            let mut guard = lock.lock().unwrap_or_else(|p| p.into_inner());
            while guard.0 >= in_flight {
                guard = cv.wait(guard).unwrap_or_else(|p| p.into_inner());
            }
            guard.0 += 1;
        }
        let done = Arc::clone(&state);
        let submitted = Instant::now();
        core.submit_with_callback(
            Transaction::single(
                "INSERT INTO bench (payload) VALUES (?)",
                litecommit::params![format!("payload-{i}")],
            ),
            move |_| {
                let (lock, cv) = &*done;
                let mut guard = lock.lock().unwrap_or_else(|p| p.into_inner());
                guard.0 -= 1;
                guard.1.push(submitted.elapsed().as_secs_f64() * 1000.0);
                cv.notify_one();
            },
        )
        .map_err(|e| core_error(&e))?;
    }
    let (lock, cv) = &*state;
    let mut guard = lock.lock().unwrap_or_else(|p| p.into_inner());
    while guard.0 > 0 {
        guard = cv.wait(guard).unwrap_or_else(|p| p.into_inner());
    }
    let seconds = start.elapsed().as_secs_f64();
    let latencies = &mut guard.1;
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    let result = CoreBench {
        seconds,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
    };
    drop(guard);
    core.close().map_err(|e| core_error(&e))?;
    Ok(result)
}
