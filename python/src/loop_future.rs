//! `LoopFuture`: what `AsyncCommitter.execute` and `transaction` await. It speaks the
//! protocol asyncio's tasks use for any future (`_asyncio_future_blocking`, `get_loop`,
//! `add_done_callback`, `result`, `cancel`), and differs from `asyncio.Future` in one
//! respect: when the loop's inbox resolves it, its callbacks (the awaiting task's wake-up)
//! run right there, in their contexts, instead of each being scheduled with `call_soon`.
//! The inbox itself runs as a callback of the loop, outside any task, so this is where
//! `call_soon` would have run them a moment later; per transaction it saves the handle,
//! the scheduling and `asyncio.Future`'s set-up: a quarter of the instructions the loop
//! spends on a transaction.
//!
//! A task woken with a value is handed a stand-in: a future of the loop that is done with
//! `None` (`Inbox`'s). asyncio's C task reads the outcome of any other future by calling
//! its `result()` method, looked up by name on every wake-up (a tenth of the loop's
//! instructions per transaction), but reads an `asyncio.Future`'s directly; it only reads
//! it to resume its coroutine, which then takes the value from this future.
//!
//! Everything else goes as with `asyncio.Future`: callbacks added to a finished future,
//! and those of a future cancelled or resolved by Python code, are scheduled with
//! `call_soon`.

use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::exceptions::{PyKeyboardInterrupt, PySystemExit};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyCFunction, PyDict};
use pyo3::{ffi, intern, PyTraverseError, PyVisit};

pyo3::import_exception!(asyncio, CancelledError);
pyo3::import_exception!(asyncio, InvalidStateError);

/// A future of one event loop, resolved by that loop's inbox.
#[pyclass(module = "litecommit._litecommit")]
pub struct LoopFuture {
    event_loop: Py<PyAny>,
    state: State,
    /// Callbacks and the contexts they run in, until it is done.
    callbacks: Callbacks,
    /// Set while a task awaits it (asyncio's marker of a future-like object).
    #[pyo3(get, set, name = "_asyncio_future_blocking")]
    blocking: bool,
}

/// Callbacks, each with the context it runs in.
type Callbacks = Vec<(Py<PyAny>, Option<Py<PyAny>>)>;

enum State {
    Pending,
    Result(Py<PyAny>),
    Exception(Py<PyAny>),
    Cancelled(Option<Py<PyAny>>),
}

impl LoopFuture {
    pub fn new(event_loop: Py<PyAny>) -> LoopFuture {
        LoopFuture {
            event_loop,
            state: State::Pending,
            callbacks: Vec::new(),
            blocking: false,
        }
    }

    /// Moves a pending future to `state` and hands back its callbacks; `None` if it was
    /// done already.
    fn settle(&mut self, state: State) -> Option<Callbacks> {
        if self.done() {
            return None;
        }
        self.state = state;
        Some(std::mem::take(&mut self.callbacks))
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
        (this.event_loop.clone_ref(py), callbacks)
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
            report(event_loop.bind(py), future, &callback, e);
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
    event_loop: &Bound<'_, PyAny>,
    future: &Bound<'_, LoopFuture>,
    callback: &Py<PyAny>,
    e: PyErr,
) {
    let py = event_loop.py();
    let reported = (|| {
        let context = PyDict::new(py);
        context.set_item(
            "message",
            format!("Exception in callback {}", callback.bind(py)),
        )?;
        context.set_item("exception", e.value(py))?;
        context.set_item("future", future)?;
        event_loop.call_method1(intern!(py, "call_exception_handler"), (context,))
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
    fn get_loop(&self, py: Python<'_>) -> Py<PyAny> {
        self.event_loop.clone_ref(py)
    }

    fn done(&self) -> bool {
        !matches!(self.state, State::Pending)
    }

    fn cancelled(&self) -> bool {
        matches!(self.state, State::Cancelled(_))
    }

    /// The value; raises the exception, `CancelledError`, or `InvalidStateError` while
    /// pending.
    fn result(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match &self.state {
            State::Result(value) => Ok(value.clone_ref(py)),
            State::Exception(exc) => Err(PyErr::from_value(exc.bind(py).clone())),
            State::Cancelled(msg) => Err(cancelled_error(py, msg)),
            State::Pending => Err(InvalidStateError::new_err("Result is not set.")),
        }
    }

    /// The exception (`None` after a value); raises `CancelledError`, or
    /// `InvalidStateError` while pending.
    fn exception(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match &self.state {
            State::Result(_) => Ok(None),
            State::Exception(exc) => Ok(Some(exc.clone_ref(py))),
            State::Cancelled(msg) => Err(cancelled_error(py, msg)),
            State::Pending => Err(InvalidStateError::new_err("Exception is not set.")),
        }
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
        schedule(slf, vec![(callback, context)])
    }

    /// Removes every registration of `callback`; returns how many there were.
    fn remove_done_callback(&mut self, py: Python<'_>, callback: Bound<'_, PyAny>) -> usize {
        let before = self.callbacks.len();
        self.callbacks
            .retain(|(c, _)| !c.bind(py).eq(&callback).unwrap_or(false));
        before - self.callbacks.len()
    }

    /// Cancels it unless it is done; its callbacks are scheduled. Its transaction is not
    /// withdrawn: it may still commit.
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
        let exception = match exception.cast::<pyo3::types::PyType>() {
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

    /// Yields itself to the awaiting task until done. `await` on it raises its exception
    /// but returns `None` after a value: read `result()` then (a value carried by
    /// `StopIteration` would cost an exception object per transaction).
    fn __next__(slf: &Bound<'_, Self>) -> PyResult<Option<Py<PyAny>>> {
        let mut this = slf.borrow_mut();
        match &this.state {
            State::Pending => {
                this.blocking = true;
                Ok(Some(slf.clone().into_any().unbind()))
            }
            State::Result(_) => Ok(None),
            State::Exception(_) | State::Cancelled(_) => this.result(slf.py()).map(|_| None),
        }
    }

    fn __repr__(&self) -> &'static str {
        match self.state {
            State::Pending => "<LoopFuture pending>",
            State::Cancelled(_) => "<LoopFuture cancelled>",
            State::Result(_) | State::Exception(_) => "<LoopFuture finished>",
        }
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.event_loop)?;
        match &self.state {
            State::Result(v) | State::Exception(v) | State::Cancelled(Some(v)) => visit.call(v)?,
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

fn cancelled_error(py: Python<'_>, msg: &Option<Py<PyAny>>) -> PyErr {
    match msg {
        Some(msg) => CancelledError::new_err((msg.clone_ref(py),)),
        None => CancelledError::new_err(()),
    }
}

/// Moves a pending future to `state` and schedules its callbacks; `false` if it was done.
fn finish(slf: &Bound<'_, LoopFuture>, state: State) -> PyResult<bool> {
    let Some(callbacks) = slf.borrow_mut().settle(state) else {
        return Ok(false);
    };
    schedule(slf, callbacks)?;
    Ok(true)
}

/// Schedules `callbacks(future)` on the future's loop with `call_soon`.
fn schedule(future: &Bound<'_, LoopFuture>, callbacks: Callbacks) -> PyResult<()> {
    let py = future.py();
    let event_loop = future.borrow().event_loop.clone_ref(py);
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
