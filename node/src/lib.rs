//! Node.js binding of litecommit: converts values, maps completions and errors. The engine
//! (batching, flushing, checkpoints) lives in the `litecommit` crate.
//!
//! Completions travel per batch: the core calls [`Sink::complete`] once per batch on its
//! writer thread, which makes ONE threadsafe-function call; the JavaScript side (index.js)
//! keeps the token -> promise map and settles every promise of that batch in that call.
//!
//! Submissions that find the queue full wait here, already converted, in [`Shared`]'s
//! waiting list, so that whatever ends the JavaScript side (close, garbage collection,
//! `process.exit()`, `worker.terminate()`) can still hand them to the core.
//!
//! Every export catches panics (`catch_unwind`): no panic unwinds into Node.

use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once, Weak};
use std::time::Instant;

use litecommit::{
    BatchSink, CheckpointMode, CheckpointResult, Committer, Config, Durability, Error as CoreError,
    FlushPolicy, Outcome, Params, Rows, Statement, Transaction, TransactionResult, Value,
};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{sys, Env, Property};
use napi_derive::napi;

/// Integers up to ±2^53 come back as JS numbers (they hold them exactly), others as BigInt.
const MAX_NUMBER_INTEGER: u64 = 1 << 53;

type Batch = Vec<(u64, Outcome)>;

type CoreResult<T> = std::result::Result<T, CoreError>;

/// Created weak (unreferenced): an idle committer does not keep the process alive. The JS
/// side references it while any promise is pending (see `ref`/`unref`).
type BatchFn = ThreadsafeFunction<Batch, Unknown<'static>, JsBatch, Status, false, true, 0>;

struct Sink {
    tsfn: BatchFn,
    /// Transactions and flush barriers handed to the core and not completed yet: never
    /// fewer than the messages this committer has in the core's queue.
    in_core: AtomicUsize,
}

impl Sink {
    /// Passes completions to JavaScript. Non-blocking on an unbounded queue: never stalls
    /// the writer. It fails only while the environment is being torn down, when there is
    /// nobody left to tell.
    fn deliver(&self, completions: Batch) {
        let _ = self
            .tsfn
            .call(completions, ThreadsafeFunctionCallMode::NonBlocking);
    }
}

impl BatchSink for Sink {
    fn complete(&self, completions: Batch) {
        self.in_core.fetch_sub(completions.len(), Ordering::AcqRel);
        self.deliver(completions);
    }
}

/// Submissions waiting for room in the core's queue, in submission order.
#[derive(Default)]
struct Waiting {
    list: VecDeque<(u64, Transaction)>,
    /// Set once [`Shared::hand_over`] started: it alone moves the list into the core.
    handing_over: bool,
}

/// What a committer's JavaScript object, its pool tasks and its exit hooks share.
struct Shared {
    core: Committer,
    sink: Arc<Sink>,
    dyn_sink: Arc<dyn BatchSink>,
    capacity: usize,
    waiting: Mutex<Waiting>,
}

impl Shared {
    fn waiting(&self) -> MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `tx` without blocking. `Ok(Some(tx))` gives it back when the queue is full
    /// and `keep` is set; other errors (closed, refused, full without `keep`) are final.
    fn offer(&self, token: u64, tx: Transaction, keep: bool) -> CoreResult<Option<Transaction>> {
        // Only this committer's own messages fill its queue, and `in_core` counts every one
        // of them: below the capacity there is room, and the copy kept for a full queue is
        // only needed at or above it.
        let before = self.sink.in_core.fetch_add(1, Ordering::AcqRel);
        let spare = (keep && before >= self.capacity).then(|| tx.clone());
        match self.core.submit_to_sink(tx, &self.dyn_sink, token, false) {
            Ok(()) => Ok(None),
            Err(e) => {
                self.sink.in_core.fetch_sub(1, Ordering::AcqRel);
                match (e, spare) {
                    (CoreError::QueueFull, Some(tx)) => Ok(Some(tx)),
                    (e, _) => Err(e),
                }
            }
        }
    }

    /// Accepts a submission from JavaScript: queued, or (with `wait`) waiting for room
    /// behind earlier waiting ones. `Err` means it was not accepted.
    fn accept(&self, token: u64, tx: Transaction, wait: bool) -> CoreResult<()> {
        let mut waiting = self.waiting();
        if waiting.handing_over {
            return Err(CoreError::Closed);
        }
        if !waiting.list.is_empty() {
            if !wait {
                return Err(CoreError::QueueFull);
            }
            waiting.list.push_back((token, tx));
            return Ok(());
        }
        if let Some(tx) = self.offer(token, tx, wait)? {
            waiting.list.push_back((token, tx));
        }
        Ok(())
    }

    /// Moves waiting submissions into the queue while it has room; one that cannot be
    /// queued at all (closed, refused) is rejected through the sink.
    fn drain(&self) {
        let mut waiting = self.waiting();
        if waiting.handing_over {
            return;
        }
        while let Some((token, tx)) = waiting.list.pop_front() {
            match self.offer(token, tx, true) {
                Ok(None) => {}
                Ok(Some(tx)) => {
                    waiting.list.push_front((token, tx));
                    break;
                }
                Err(e) => self.sink.deliver(vec![(token, Err(e))]),
            }
        }
    }

    /// The token of the first waiting submission.
    fn first_waiting(&self) -> Option<u64> {
        self.waiting().list.front().map(|(token, _)| *token)
    }

    /// Hands every waiting submission to the core with blocking submits, in order; one the
    /// core does not take (it was closed) is rejected through the sink. Never drops one.
    fn hand_over(&self) {
        self.waiting().handing_over = true;
        loop {
            let next = self.waiting().list.pop_front();
            let Some((token, tx)) = next else { break };
            self.sink.in_core.fetch_add(1, Ordering::AcqRel);
            if let Err(e) = self.core.submit_to_sink(tx, &self.dyn_sink, token, true) {
                self.sink.in_core.fetch_sub(1, Ordering::AcqRel);
                self.sink.deliver(vec![(token, Err(e))]);
            }
        }
    }

    /// Hands over what waits, then closes (committing everything queued).
    fn shutdown(&self) -> CoreResult<()> {
        self.hand_over();
        self.core.close()
    }
}

impl Drop for Shared {
    /// Garbage-collected unclosed: nothing accepted is dropped.
    fn drop(&mut self) {
        let _ = catch_unwind(AssertUnwindSafe(|| self.shutdown()));
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

/// Runs `f`, turning a panic into an error: for code that napi calls from C callbacks
/// (value conversions, cleanup hooks), where the exports' `catch_unwind` does not reach.
fn guard<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| Err(panic_to_error(p)))
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
        // Called by napi inside a C callback: a panic must not unwind out of it.
        guard(|| batch_to_js(env, batch))
    }
}

fn batch_to_js(env: sys::napi_env, batch: JsBatch) -> Result<sys::napi_value> {
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
        // Called by napi inside a C callback: a panic must not unwind out of it.
        guard(|| {
            let js_env = Env::from_raw(env);
            let mut list = js_env.create_array(2)?;
            set_outcome(env, &mut list, 0, envelope.0)?;
            to_js(env, list)
        })
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
        // A panic must not unwind into libuv; the promise rejects with LITECOMMIT_INTERNAL.
        Ok(catch_unwind(AssertUnwindSafe(f))
            .unwrap_or_else(|p| Err(CoreError::Internal(panic_to_error(p).reason))))
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

/// The effective configuration, as `config()` returns it (camelCase, like the options).
#[napi(object)]
pub struct EffectiveConfig {
    pub durability: String,
    pub flush_policy: String,
    pub max_batch_size: f64,
    pub max_wait_ms: f64,
    pub linger_ms: f64,
    pub queue_capacity: f64,
    pub busy_timeout_ms: f64,
    pub read_connections: f64,
    pub checkpoint: bool,
    pub passive_threshold_mb: f64,
    pub restart_threshold_mb: f64,
    pub checkpoint_busy_timeout_ms: f64,
    pub dynamic_batch_size: bool,
    pub truncate_when_idle: bool,
    pub idle_vacuum_pages: f64,
    pub idle_vacuum_budget_ms: f64,
    pub idle_ms: f64,
    pub cache_size_kib: f64,
    pub mmap_size: f64,
    /// -1 when the WAL file keeps its high-water mark.
    pub journal_size_limit: f64,
    pub foreign_keys: bool,
    pub statement_cache_capacity: f64,
}

impl From<&Config> for EffectiveConfig {
    fn from(c: &Config) -> EffectiveConfig {
        EffectiveConfig {
            durability: match c.durability {
                Durability::Full => "full",
                Durability::Normal => "normal",
                Durability::Off => "off",
            }
            .to_string(),
            flush_policy: match c.flush_policy {
                FlushPolicy::Adaptive => "adaptive",
                FlushPolicy::Ticker => "ticker",
            }
            .to_string(),
            max_batch_size: c.max_batch_size as f64,
            max_wait_ms: c.max_wait_ms as f64,
            linger_ms: c.linger_ms as f64,
            queue_capacity: c.queue_capacity as f64,
            busy_timeout_ms: c.busy_timeout_ms as f64,
            read_connections: c.read_connections as f64,
            checkpoint: c.checkpoint,
            passive_threshold_mb: c.passive_threshold_mb,
            restart_threshold_mb: c.restart_threshold_mb,
            checkpoint_busy_timeout_ms: c.checkpoint_busy_timeout_ms as f64,
            dynamic_batch_size: c.dynamic_batch_size,
            truncate_when_idle: c.truncate_when_idle,
            idle_vacuum_pages: f64::from(c.idle_vacuum_pages),
            idle_vacuum_budget_ms: c.idle_vacuum_budget_ms as f64,
            idle_ms: c.idle_ms as f64,
            cache_size_kib: c.cache_size_kib as f64,
            mmap_size: c.mmap_size as f64,
            journal_size_limit: c.journal_size_limit.map_or(-1.0, |l| l as f64),
            foreign_keys: c.foreign_keys,
            statement_cache_capacity: c.statement_cache_capacity as f64,
        }
    }
}

/// Every committer opened in this process, for [`close_all_at_exit`].
static OPEN: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());

extern "C" {
    fn atexit(callback: extern "C" fn()) -> std::os::raw::c_int;
}

/// `process.exit()` on the main thread ends the process through `exit()` without tearing
/// the environment down, so environment cleanup hooks do not run: this `atexit` handler
/// shuts down what is still open, committing every submission accepted, including those
/// still waiting for room in the queue.
extern "C" fn close_all_at_exit() {
    let _ = catch_unwind(|| {
        let open = std::mem::take(&mut *OPEN.lock().unwrap_or_else(|p| p.into_inner()));
        for shared in open.iter().filter_map(Weak::upgrade) {
            let _ = catch_unwind(AssertUnwindSafe(|| shared.shutdown()));
        }
    });
}

fn register_for_exit(shared: &Arc<Shared>) {
    static AT_EXIT: Once = Once::new();
    AT_EXIT.call_once(|| {
        // If registration fails, environment cleanup hooks still cover normal exits.
        let _ = unsafe { atexit(close_all_at_exit) };
    });
    let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
    open.retain(|w| w.strong_count() > 0);
    open.push(Arc::downgrade(shared));
}

/// The native half of `Committer` (index.js wraps it); made by [`open`].
#[napi]
pub struct NativeCommitter {
    shared: Arc<Shared>,
    cleanup: Mutex<Option<napi::CleanupEnvHook<Weak<Shared>>>>,
}

/// A configuration from camelCase option names and string values (in name order, so the
/// first invalid option reported is always the same one).
fn config(options: HashMap<String, String>) -> CoreResult<Config> {
    let mut options: Vec<(String, String)> = options.into_iter().collect();
    options.sort();
    let mut config = Config::default();
    for (name, value) in options {
        config.set(&name, &value)?;
    }
    Ok(config)
}

/// Errors thrown synchronously carry "CODE: message"; index.js turns them into
/// `LitecommitError`s with that code.
fn core_error(e: &CoreError) -> napi::Error {
    napi::Error::new(Status::GenericFailure, format!("{}: {e}", e.code_name()))
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
    let opened = config(options).and_then(|config| Committer::open(&path, config));
    let core = match opened {
        Ok(core) => core,
        Err(e) => return Ok(Either::B(ErrorInfo::from(&e))),
    };
    let tsfn = on_batch
        .build_threadsafe_function::<Batch>()
        .weak::<true>()
        .callee_handled::<false>()
        .build_callback(|ctx| Ok(JsBatch(ctx.value)))?;
    let sink = Arc::new(Sink {
        tsfn,
        in_core: AtomicUsize::new(0),
    });
    let shared = Arc::new(Shared {
        capacity: core.config().queue_capacity,
        core,
        dyn_sink: sink.clone(),
        sink,
        waiting: Mutex::new(Waiting::default()),
    });
    // At environment teardown (the end of the process, of a worker, worker.terminate())
    // and at exit() (process.exit), an unclosed committer still commits every submission
    // it accepted.
    register_for_exit(&shared);
    let cleanup = env.add_env_cleanup_hook(Arc::downgrade(&shared), |shared| {
        if let Some(shared) = shared.upgrade() {
            let _ = catch_unwind(AssertUnwindSafe(|| shared.shutdown()));
        }
    })?;
    Ok(Either::A(NativeCommitter {
        shared,
        cleanup: Mutex::new(Some(cleanup)),
    }))
}

#[napi]
impl NativeCommitter {
    /// Accepts a one-statement transaction under `token`: queued, or with `wait` waiting for
    /// room. Returns `null` once accepted, or the error (queue full, closed, refused).
    #[napi(catch_unwind)]
    pub fn submit(
        &self,
        token: f64,
        sql: String,
        values: Option<Array>,
        names: Option<Vec<String>>,
        wait: bool,
    ) -> Result<Option<ErrorInfo>> {
        let tx = Transaction::single(sql, params(values, names)?);
        Ok(self.accept(token, tx, wait))
    }

    /// Like `submit` for several statements, given flat as `[sql, values, names, ...]`.
    #[napi(catch_unwind)]
    pub fn submit_transaction(
        &self,
        token: f64,
        flat: Array,
        wait: bool,
    ) -> Result<Option<ErrorInfo>> {
        let mut statements = Vec::with_capacity(flat.len() as usize / 3);
        for i in (0..flat.len()).step_by(3) {
            let sql: String = flat.get(i)?.unwrap_or_default();
            let values: Option<Array> = flat.get(i + 1)?.flatten();
            let names: Option<Vec<String>> = flat.get(i + 2)?.flatten();
            statements.push(Statement::new(sql, params(values, names)?));
        }
        Ok(self.accept(token, Transaction::from(statements), wait))
    }

    fn accept(&self, token: f64, tx: Transaction, wait: bool) -> Option<ErrorInfo> {
        self.shared
            .accept(token as u64, tx, wait)
            .err()
            .map(|e| ErrorInfo::from(&e))
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

    #[napi(catch_unwind)]
    pub fn query(
        &self,
        sql: String,
        values: Option<Array>,
        names: Option<Vec<String>>,
    ) -> Result<AsyncTask<Blocking>> {
        let shared = Arc::clone(&self.shared);
        let params = params(values, names)?;
        Ok(blocking(move || {
            shared.core.query(&sql, params).map(Done::Rows)
        }))
    }

    #[napi(catch_unwind)]
    pub fn flush(&self) -> AsyncTask<Blocking> {
        let shared = Arc::clone(&self.shared);
        blocking(move || {
            // The barrier takes a queue slot too.
            shared.sink.in_core.fetch_add(1, Ordering::AcqRel);
            let flushed = shared.core.flush();
            shared.sink.in_core.fetch_sub(1, Ordering::AcqRel);
            flushed.map(|()| Done::Unit)
        })
    }

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
            .cleanup
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(hook) = hook {
            env.remove_env_cleanup_hook(hook)?;
        }
        let shared = Arc::clone(&self.shared);
        Ok(blocking(move || shared.shutdown().map(|()| Done::Unit)))
    }

    #[napi(catch_unwind)]
    pub fn metrics_text(&self) -> String {
        self.shared.core.metrics_text()
    }

    /// The configuration in effect (defaults filled in).
    #[napi(catch_unwind)]
    pub fn config(&self) -> EffectiveConfig {
        EffectiveConfig::from(self.shared.core.config())
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> JsStats {
        let s = self.shared.core.stats();
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

/// Test helper (not public API): panics inside an export, which must reach JavaScript as
/// an Error rather than abort the process.
#[napi(js_name = "__panic", catch_unwind)]
pub fn panic_for_tests(message: String) {
    panic!("{message}");
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
#[napi(js_name = "__benchCore", catch_unwind)]
pub fn bench_core(
    path: String,
    options: HashMap<String, String>,
    n: u32,
    in_flight: u32,
) -> Result<CoreBench> {
    let core = config(options)
        .and_then(|config| Committer::open(&path, config))
        .map_err(|e| core_error(&e))?;
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
