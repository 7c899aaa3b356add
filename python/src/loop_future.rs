//! `LoopFuture`: what `AsyncCommitter.execute` and `transaction` return. Until first
//! awaited it is a coroutine that has not started: asyncio treats it as one (`create_task`,
//! `gather`, `asyncio.run` accept it), and nothing is queued. The first step queues its
//! transaction and, from then on, it is a future of the running loop that the awaiting task
//! waits on. `await` on it returns the transaction's value.
//!
//! As a future it speaks the protocol asyncio's tasks use for any future
//! (`_asyncio_future_blocking`, `get_loop`, `add_done_callback`, `result`, `cancel`), and
//! differs from `asyncio.Future` in one respect: when the loop's inbox resolves it, its
//! callbacks (the awaiting task's wake-up) run right there, in their contexts, instead of
//! each being scheduled with `call_soon`. The inbox itself runs as a callback of the loop,
//! outside any task, so this is where `call_soon` would have run them a moment later; per
//! transaction it saves the handle, the scheduling and `asyncio.Future`'s set-up.
//! Being its own coroutine saves a Python coroutine and its frame per transaction as well.
//!
//! A task woken with a value is handed a stand-in: a future of the loop that is done with
//! `None` (`Inbox`'s). asyncio's C task reads the outcome of any other future by calling
//! its `result()` method, looked up by name on every wake-up (a tenth of the loop's
//! instructions per transaction), but reads an `asyncio.Future`'s directly; it only reads
//! it to resume its coroutine, which then takes the value from this future.
//!
//! A first step that meets a full queue, or submissions of the loop waiting for room, hands
//! the transaction to the `AsyncCommitter`'s overflow instead and awaits the asyncio future
//! that gives.
//!
//! Everything else goes as with `asyncio.Future`: callbacks added to a finished future,
//! and those of a future cancelled or resolved by Python code, are scheduled with
//! `call_soon`.

use std::ffi::CString;
use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeWarning, PyStopIteration, PySystemExit};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyCFunction, PyDict, PySet, PyString, PyTuple, PyType};
use pyo3::{ffi, intern, PyTraverseError, PyVisit};
use smallvec::{smallvec, SmallVec};

use crate::committer::NativeCommitter;

pyo3::import_exception!(asyncio, CancelledError);
pyo3::import_exception!(asyncio, InvalidStateError);

/// A transaction queued when first awaited, then a future of the running loop resolved by
/// that loop's inbox.
#[pyclass(module = "litecommit._litecommit")]
pub struct LoopFuture {
    /// The loop that awaited it first; `None` until then.
    event_loop: Option<Py<PyAny>>,
    state: State,
    /// Callbacks and the contexts they run in, until it is done.
    callbacks: Callbacks,
    /// Set while a task awaits it (asyncio's marker of a future-like object).
    blocking: bool,
}

/// Callbacks, each with the context it runs in; the one of the awaiting task inline.
type Callbacks = SmallVec<[(Py<PyAny>, Option<Py<PyAny>>); 1]>;

enum State {
    /// Not awaited yet: nothing is queued.
    Unsent(Start),
    /// Handed to the `AsyncCommitter`'s overflow: awaits this iterator of an asyncio future.
    Queued(Py<PyAny>),
    Pending,
    Result(Py<PyAny>),
    Exception(Py<PyAny>),
    Cancelled(Option<Py<PyAny>>),
}

/// What an unsent `LoopFuture` queues, and for whom.
pub struct Start {
    /// The `AsyncCommitter`: its `_queue_execute` and `_queue_transaction` for a
    /// transaction that cannot be queued at once.
    owner: Py<PyAny>,
    /// Its `_draining`: while not empty, submissions of some loop wait for room.
    draining: Py<PySet>,
    committer: Py<NativeCommitter>,
    work: Work,
}

/// The transaction to queue, as the Python call gave it (converted when queued).
pub enum Work {
    Execute {
        sql: Py<PyString>,
        params: Option<Py<PyAny>>,
    },
    Transaction(Py<PyAny>),
}

impl LoopFuture {
    /// A future that queues `work` on `committer` when first awaited.
    pub fn unsent(
        owner: Py<PyAny>,
        draining: Py<PySet>,
        committer: Py<NativeCommitter>,
        work: Work,
    ) -> LoopFuture {
        LoopFuture {
            event_loop: None,
            state: State::Unsent(Start {
                owner,
                draining,
                committer,
                work,
            }),
            callbacks: SmallVec::new(),
            blocking: false,
        }
    }

    /// Ties it to `event_loop`, where its first step is queueing its transaction.
    pub fn set_loop(&mut self, event_loop: Py<PyAny>) {
        self.event_loop = Some(event_loop);
    }

    /// Moves a future that is not done to `state` and hands back its callbacks; `None` if
    /// it was done already.
    fn settle(&mut self, state: State) -> Option<Callbacks> {
        if self.done() {
            return None;
        }
        self.state = state;
        Some(std::mem::take(&mut self.callbacks))
    }

    /// The iterator it awaits after a full queue, if it does.
    fn queued(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        match &self.state {
            State::Queued(queued) => Some(queued.clone_ref(py)),
            _ => None,
        }
    }

    fn event_loop(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match &self.event_loop {
            Some(event_loop) => Ok(event_loop.clone_ref(py)),
            None => Err(InvalidStateError::new_err("not awaited yet")),
        }
    }
}

impl Drop for LoopFuture {
    /// Warns, as a coroutine does, when one is dropped never awaited (nothing was queued).
    fn drop(&mut self) {
        let State::Unsent(start) = &self.state else {
            return;
        };
        Python::attach(|py| {
            let what = match start.work {
                Work::Execute { .. } => "execute",
                Work::Transaction(_) => "transaction",
            };
            let message = format!("AsyncCommitter.{what}() was never awaited: nothing was queued");
            let category = py.get_type::<PyRuntimeWarning>();
            // It may be dropped while an exception propagates (the one that dropped it):
            // that exception is set aside for the warning and put back afterwards.
            let (mut kind, mut value, mut traceback) = (
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
            // SAFETY: the GIL is held; the three references taken are handed back below.
            unsafe { ffi::PyErr_Fetch(&mut kind, &mut value, &mut traceback) };
            if let Err(e) =
                PyErr::warn(py, &category, &CString::new(message).unwrap_or_default(), 1)
            {
                e.write_unraisable(py, None);
            }
            // SAFETY: as above; restoring consumes the references fetched.
            unsafe { ffi::PyErr_Restore(kind, value, traceback) };
        });
    }
}

/// Queues the transaction of an unsent future on the running loop, or, if the queue is
/// full or the owner's submissions wait for room, hands it to the owner's overflow and
/// returns the iterator of the asyncio future that gives.
fn start<'py>(
    future: &Bound<'py, LoopFuture>,
    unsent: Start,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = future.py();
    let owner = unsent.owner.bind(py);
    if unsent.draining.bind(py).is_empty()
        && unsent.committer.get().start(py, future, &unsent.work)?
    {
        return Ok(None);
    }
    let queued = match unsent.work {
        Work::Execute { sql, params } => {
            owner.call_method1(intern!(py, "_queue_execute"), (sql, params))
        }
        Work::Transaction(statements) => {
            owner.call_method1(intern!(py, "_queue_transaction"), (statements,))
        }
    }?;
    Ok(Some(queued.call_method0(intern!(py, "__await__"))?))
}

/// The exception `throw(typ, val)` raises: `typ` itself (an exception or a class called
/// without arguments), or class `typ` with `val`.
fn thrown(typ: Bound<'_, PyAny>, val: Option<Bound<'_, PyAny>>) -> PyErr {
    match (typ.cast::<PyType>(), val.filter(|v| !v.is_none())) {
        (Ok(class), Some(val)) if val.is_instance(class).unwrap_or(false) => PyErr::from_value(val),
        (Ok(class), Some(val)) => match class.call1((val,)) {
            Ok(exc) => PyErr::from_value(exc),
            Err(e) => e,
        },
        _ => PyErr::from_value(typ),
    }
}

/// Resolves `future` on its loop (from the loop's inbox, outside any task) with a value
/// (`Ok`) or an exception (`Err`) and runs its callbacks here, as the loop runs a handle:
/// an exception a callback raises goes to the loop's exception handler, except
/// `KeyboardInterrupt` and `SystemExit`, which are returned (to stop the loop once the
/// inbox is done). A future that is done already (its task was cancelled) ignores it.
/// `stand_in`, a future of the loop done with `None`, is what a task's wake-up is handed
/// after a value.
pub fn resolve_here(
    future: &Bound<'_, LoopFuture>,
    ending: Result<Bound<'_, PyAny>, Bound<'_, PyAny>>,
    stand_in: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let py = future.py();
    let valued = ending.is_ok();
    let (event_loop, callbacks) = {
        let Ok(mut this) = future.try_borrow_mut() else {
            return Ok(());
        };
        let state = match ending {
            Ok(value) => State::Result(value.unbind()),
            Err(exc) => State::Exception(exc.unbind()),
        };
        let Some(callbacks) = this.settle(state) else {
            return Ok(());
        };
        (this.event_loop(py), callbacks)
    };
    let mut exit = None;
    for (callback, context) in callbacks {
        let argument = if valued && is_task_wakeup(callback.bind(py)) {
            stand_in
        } else {
            future.as_any()
        };
        let ran = match context {
            Some(context) => context_run(py)
                .and_then(|run| run.call1(py, (context, &callback, argument)).map(drop)),
            None => callback.call1(py, (argument,)).map(drop),
        };
        let Err(e) = ran else {
            continue;
        };
        if e.is_instance_of::<PyKeyboardInterrupt>(py) || e.is_instance_of::<PySystemExit>(py) {
            exit.get_or_insert(e);
        } else {
            report(&event_loop, future, &callback, e);
        }
    }
    exit.map_or(Ok(()), Err)
}

/// Whether `callback` is the wake-up of asyncio's C task (the C function `task_wakeup`,
/// bound to a task), which only reads its argument's outcome to step the task. Its
/// function is learnt from the first one seen and compared from then on.
fn is_task_wakeup(callback: &Bound<'_, PyAny>) -> bool {
    static TASK_WAKEUP: AtomicUsize = AtomicUsize::new(0);
    let Ok(function) = callback.cast::<PyCFunction>() else {
        return false;
    };
    // SAFETY: `function` is a live builtin function object (checked by the cast).
    let Some(address) = (unsafe { ffi::PyCFunction_GetFunction(function.as_ptr()) }) else {
        return false;
    };
    let address = address as usize;
    match TASK_WAKEUP.load(Ordering::Relaxed) {
        0 => {}
        known => return known == address,
    }
    let py = callback.py();
    // SAFETY: as above; the result is a borrowed reference (null if it has none).
    let bound_to = unsafe { ffi::PyCFunction_GetSelf(function.as_ptr()) };
    if bound_to.is_null() {
        return false;
    }
    // SAFETY: non-null and borrowed from `function`, which outlives this use.
    let bound_to = unsafe { Bound::from_borrowed_ptr(py, bound_to) };
    static TASK: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let task = TASK.import(py, "asyncio", "Task");
    let is_wakeup = task.is_ok_and(|task| bound_to.is_instance(task).unwrap_or(false))
        && function
            .getattr(intern!(py, "__name__"))
            .is_ok_and(|name| name.eq("task_wakeup").unwrap_or(false));
    if is_wakeup {
        TASK_WAKEUP.store(address, Ordering::Relaxed);
    }
    is_wakeup
}

/// Hands an exception raised by `callback` to the loop's exception handler.
fn report(
    event_loop: &PyResult<Py<PyAny>>,
    future: &Bound<'_, LoopFuture>,
    callback: &Py<PyAny>,
    e: PyErr,
) {
    let py = future.py();
    let reported = (|| {
        let event_loop = event_loop.as_ref().map_err(|e| e.clone_ref(py))?;
        let context = PyDict::new(py);
        context.set_item(
            "message",
            format!("Exception in callback {}", callback.bind(py)),
        )?;
        context.set_item("exception", e.value(py))?;
        context.set_item("future", future)?;
        event_loop.call_method1(py, intern!(py, "call_exception_handler"), (context,))
    })();
    if let Err(unreported) = reported {
        unreported.write_unraisable(py, Some(future.as_any()));
    }
}

/// `contextvars.Context.run`, looked up once.
fn context_run(py: Python<'_>) -> PyResult<&Py<PyAny>> {
    static RUN: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    RUN.get_or_try_init(py, || {
        Ok(py
            .import("contextvars")?
            .getattr("Context")?
            .getattr("run")?
            .unbind())
    })
}

#[pymethods]
impl LoopFuture {
    fn get_loop(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.event_loop(py)
    }

    fn done(&self) -> bool {
        matches!(
            self.state,
            State::Result(_) | State::Exception(_) | State::Cancelled(_)
        )
    }

    fn cancelled(&self) -> bool {
        matches!(self.state, State::Cancelled(_))
    }

    /// The value; raises the exception, `CancelledError`, or `InvalidStateError` until
    /// done.
    fn result(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match &self.state {
            State::Result(value) => Ok(value.clone_ref(py)),
            State::Exception(exc) => Err(PyErr::from_value(exc.bind(py).clone())),
            State::Cancelled(msg) => Err(cancelled_error(py, msg)),
            _ => Err(InvalidStateError::new_err("Result is not set.")),
        }
    }

    /// The exception (`None` after a value); raises `CancelledError`, or
    /// `InvalidStateError` until done.
    fn exception(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match &self.state {
            State::Result(_) => Ok(None),
            State::Exception(exc) => Ok(Some(exc.clone_ref(py))),
            State::Cancelled(msg) => Err(cancelled_error(py, msg)),
            _ => Err(InvalidStateError::new_err("Exception is not set.")),
        }
    }

    /// `None` until first awaited (so asyncio takes it for a coroutine, not a future).
    #[getter(_asyncio_future_blocking)]
    fn get_blocking(&self) -> Option<bool> {
        match self.state {
            State::Unsent(_) | State::Queued(_) => None,
            _ => Some(self.blocking),
        }
    }

    #[setter(_asyncio_future_blocking)]
    fn set_blocking(&mut self, blocking: bool) {
        self.blocking = blocking;
    }

    #[pyo3(signature = (callback, *, context=None))]
    fn add_done_callback(
        slf: &Bound<'_, Self>,
        callback: Py<PyAny>,
        context: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        {
            let mut this = slf.borrow_mut();
            if !this.done() {
                this.callbacks.push((callback, context));
                return Ok(());
            }
        }
        schedule(slf, smallvec![(callback, context)])
    }

    /// Removes every registration of `callback`; returns how many there were.
    fn remove_done_callback(&mut self, py: Python<'_>, callback: Bound<'_, PyAny>) -> usize {
        let before = self.callbacks.len();
        self.callbacks
            .retain(|(c, _)| !c.bind(py).eq(&callback).unwrap_or(false));
        before - self.callbacks.len()
    }

    /// Cancels it unless it is done; its callbacks are scheduled. Its transaction is not
    /// withdrawn once queued: it may still commit. One never awaited is never queued.
    #[pyo3(signature = (msg=None))]
    fn cancel(slf: &Bound<'_, Self>, msg: Option<Py<PyAny>>) -> PyResult<bool> {
        finish(slf, State::Cancelled(msg))
    }

    fn set_result(slf: &Bound<'_, Self>, value: Py<PyAny>) -> PyResult<()> {
        if !finish(slf, State::Result(value))? {
            return Err(InvalidStateError::new_err("invalid state"));
        }
        Ok(())
    }

    fn set_exception(slf: &Bound<'_, Self>, exception: Bound<'_, PyAny>) -> PyResult<()> {
        let exception = match exception.cast::<PyType>() {
            Ok(class) => class.call0()?,
            Err(_) => exception,
        };
        if !finish(slf, State::Exception(exception.unbind()))? {
            return Err(InvalidStateError::new_err("invalid state"));
        }
        Ok(())
    }

    fn __await__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// One step of the awaiting coroutine: the first queues the transaction; while it is
    /// pending, yields itself to the awaiting task; once done, returns the value (raises
    /// `StopIteration` with it) or raises the exception.
    fn __next__(slf: &Bound<'_, Self>) -> PyResult<Option<Py<PyAny>>> {
        match step(slf)? {
            Step::Yield(future) => Ok(Some(future)),
            Step::Return(value) => {
                // Set directly rather than through a `PyErr`, which would make the exception
                // object: Python 3.10 and 3.11 hand the value over without one.
                let value = stop_iteration_value(value.into_bound(slf.py()))?;
                // SAFETY: both are live objects; a NULL return with this set is how
                // `tp_iternext` returns a value.
                unsafe { ffi::PyErr_SetObject(ffi::PyExc_StopIteration, value.as_ptr()) };
                Ok(None)
            }
        }
    }

    /// As `__next__`; `value` is ignored (as `asyncio.Future`'s iterator does), except by
    /// the asyncio future awaited after a full queue.
    fn send(slf: &Bound<'_, Self>, value: Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let queued = slf.borrow().queued(py);
        if let Some(queued) = queued {
            return queued.call_method1(py, intern!(py, "send"), (value,));
        }
        match step(slf)? {
            Step::Yield(future) => Ok(future),
            Step::Return(value) => Err(PyStopIteration::new_err(
                stop_iteration_value(value.into_bound(py))?.unbind(),
            )),
        }
    }

    /// Raises the exception in the awaiting coroutine (the transaction, if queued, is not
    /// withdrawn); one never awaited is never queued. `tb` is ignored.
    #[pyo3(signature = (typ, val=None, tb=None))]
    fn throw(
        slf: &Bound<'_, Self>,
        typ: Bound<'_, PyAny>,
        val: Option<Bound<'_, PyAny>>,
        tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let _ = tb;
        let py = slf.py();
        let queued = slf.borrow().queued(py);
        if let Some(queued) = queued {
            return queued.call_method1(py, intern!(py, "throw"), (typ, val));
        }
        slf.borrow_mut().close();
        Err(thrown(typ, val))
    }

    /// Closes it: one never awaited is never queued.
    fn close(&mut self) {
        if let State::Unsent(_) = self.state {
            self.state = State::Cancelled(None);
        }
    }

    fn __repr__(&self) -> &'static str {
        match self.state {
            State::Unsent(_) => "<LoopFuture not awaited>",
            State::Queued(_) | State::Pending => "<LoopFuture pending>",
            State::Cancelled(_) => "<LoopFuture cancelled>",
            State::Result(_) | State::Exception(_) => "<LoopFuture finished>",
        }
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(event_loop) = &self.event_loop {
            visit.call(event_loop)?;
        }
        match &self.state {
            State::Unsent(start) => {
                visit.call(&start.owner)?;
                visit.call(&start.draining)?;
                visit.call(&start.committer)?;
                match &start.work {
                    Work::Execute { sql, params } => {
                        visit.call(sql)?;
                        if let Some(params) = params {
                            visit.call(params)?;
                        }
                    }
                    Work::Transaction(statements) => visit.call(statements)?,
                }
            }
            State::Queued(v)
            | State::Result(v)
            | State::Exception(v)
            | State::Cancelled(Some(v)) => visit.call(v)?,
            State::Pending | State::Cancelled(None) => {}
        }
        for (callback, context) in &self.callbacks {
            visit.call(callback)?;
            if let Some(context) = context {
                visit.call(context)?;
            }
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.callbacks.clear();
        self.state = State::Cancelled(None);
    }
}

/// What a step of the awaiting coroutine gives.
enum Step {
    /// The future the awaiting task waits on.
    Yield(Py<PyAny>),
    /// The value `await` returns.
    Return(Py<PyAny>),
}

/// One step of the awaiting coroutine (see `__next__`).
fn step(slf: &Bound<'_, LoopFuture>) -> PyResult<Step> {
    let py = slf.py();
    let mut this = slf.borrow_mut();
    match &this.state {
        State::Unsent(_) => {
            let State::Unsent(unsent) = std::mem::replace(&mut this.state, State::Pending) else {
                unreachable!("matched above")
            };
            drop(this);
            match start(slf, unsent) {
                Ok(None) => {
                    slf.borrow_mut().blocking = true;
                    Ok(Step::Yield(slf.clone().into_any().unbind()))
                }
                Ok(Some(queued)) => {
                    slf.borrow_mut().state = State::Queued(queued.clone().unbind());
                    Ok(Step::Yield(
                        queued.call_method0(intern!(py, "__next__"))?.unbind(),
                    ))
                }
                Err(e) => {
                    slf.borrow_mut().state =
                        State::Exception(e.value(py).clone().into_any().unbind());
                    Err(e)
                }
            }
        }
        State::Queued(queued) => {
            let queued = queued.clone_ref(py);
            drop(this);
            Ok(Step::Yield(
                queued.call_method0(py, intern!(py, "__next__"))?,
            ))
        }
        State::Pending => {
            this.blocking = true;
            Ok(Step::Yield(slf.clone().into_any().unbind()))
        }
        State::Result(value) => Ok(Step::Return(value.clone_ref(py))),
        State::Exception(_) | State::Cancelled(_) => Err(this
            .result(py)
            .err()
            .unwrap_or_else(|| InvalidStateError::new_err("invalid state"))),
    }
}

/// The argument of `StopIteration` that carries `value`: itself, or a tuple wrapped in one
/// (a tuple would be taken for the arguments).
fn stop_iteration_value(value: Bound<'_, PyAny>) -> PyResult<Bound<'_, PyAny>> {
    if value.is_instance_of::<PyTuple>() {
        return Ok(PyTuple::new(value.py(), [value])?.into_any());
    }
    Ok(value)
}

fn cancelled_error(py: Python<'_>, msg: &Option<Py<PyAny>>) -> PyErr {
    match msg {
        Some(msg) => CancelledError::new_err((msg.clone_ref(py),)),
        None => CancelledError::new_err(()),
    }
}

/// Moves a future that is not done to `state` and schedules its callbacks; `false` if it
/// was done.
fn finish(slf: &Bound<'_, LoopFuture>, state: State) -> PyResult<bool> {
    let Some(callbacks) = slf.borrow_mut().settle(state) else {
        return Ok(false);
    };
    schedule(slf, callbacks)?;
    Ok(true)
}

/// Schedules `callbacks(future)` on the future's loop with `call_soon`.
fn schedule(future: &Bound<'_, LoopFuture>, callbacks: Callbacks) -> PyResult<()> {
    if callbacks.is_empty() {
        return Ok(());
    }
    let py = future.py();
    let event_loop = future.borrow().event_loop(py)?;
    for (callback, context) in callbacks {
        let kwargs = PyDict::new(py);
        if let Some(context) = context {
            kwargs.set_item(intern!(py, "context"), context)?;
        }
        event_loop.call_method(
            py,
            intern!(py, "call_soon"),
            (callback, future),
            Some(&kwargs),
        )?;
    }
    Ok(())
}
