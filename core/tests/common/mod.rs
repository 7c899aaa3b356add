//! Helpers shared by the writer integration tests.
//!
//! Nothing here sleeps to synchronise: tests wait on outcomes and on the committer's
//! events. `PATIENCE` only bounds those waits so that a bug fails a test instead of
//! hanging it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use litecommit::{
    BatchSink, Committer, Config, Error, Event, FlushTrigger, Outcome, Pending, Rows, Transaction,
    TransactionResult, Value,
};

/// Upper bound of every wait in these tests (a hang guard, never a performance claim).
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A fresh temporary directory and a database path inside it.
pub fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("test.db");
    (dir, path)
}

/// Opens a committer or fails the test with the error.
pub fn open(path: &Path, config: Config) -> Committer {
    Committer::open(path, config).unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

/// Runs one statement through the committer and fails the test if it is rejected.
pub fn exec(db: &Committer, sql: &str, params: impl Into<litecommit::Params>) -> TransactionResult {
    db.execute(sql, params)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The outcome of a submitted transaction, waiting at most `PATIENCE`.
pub fn outcome(pending: &Pending) -> Outcome {
    match pending.wait_timeout(PATIENCE) {
        Err(Error::Timeout) => panic!("no outcome within {PATIENCE:?}"),
        other => other,
    }
}

/// The result of a transaction that must commit.
pub fn committed(pending: &Pending) -> TransactionResult {
    outcome(pending).unwrap_or_else(|e| panic!("transaction rejected: {e}"))
}

/// The error of a transaction that must be rejected.
pub fn rejected(pending: &Pending) -> Error {
    match outcome(pending) {
        Ok(r) => panic!("transaction committed, expected an error: {r:?}"),
        Err(e) => e,
    }
}

/// Runs a query that must succeed.
pub fn query(db: &Committer, sql: &str, params: impl Into<litecommit::Params>) -> Rows {
    db.query(sql, params)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The single integer a query returns (`SELECT count(*) ...`).
pub fn query_int(db: &Committer, sql: &str, params: impl Into<litecommit::Params>) -> i64 {
    int(&query(db, sql, params).rows[0][0])
}

/// The byte just past the WAL's last frame, from the committer's frame count (the writer
/// keeps zeros beyond it).
pub fn wal_end(db: &Committer) -> u64 {
    let page = query_int(db, "PRAGMA page_size", ()) as u64;
    32 + db.stats().wal_frames * (page + 24)
}

/// An integer value, or a test failure.
pub fn int(value: &Value) -> i64 {
    match value {
        Value::Integer(i) => *i,
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// Waits until `condition` holds (polling an observable state), failing after `PATIENCE`.
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits for a child process and returns its exit status; kills it and fails the test if
/// it does not exit within `PATIENCE`.
pub fn wait_for_child(pid: libc::pid_t) -> i32 {
    let deadline = Instant::now() + PATIENCE;
    let mut status = 0;
    loop {
        // SAFETY: plain system call on our own child and a local status word.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(done >= 0, "waitpid failed");
        if done == pid {
            assert!(libc::WIFEXITED(status), "the child did not exit: {status}");
            return libc::WEXITSTATUS(status);
        }
        if Instant::now() > deadline {
            // SAFETY: as above.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("the forked child hung");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A batch as the committer reported it through its event listener.
#[derive(Clone, Debug, PartialEq)]
pub enum Batch {
    /// `Event::BatchCommitted`.
    Committed {
        /// Transactions in the batch.
        size: usize,
        /// Why it was flushed.
        trigger: FlushTrigger,
    },
    /// `Event::BatchFailed`.
    Failed {
        /// Transactions in the batch.
        size: usize,
        /// The error they were rejected with.
        error: Error,
    },
}

/// Records every batch event and, on request, holds the writer thread inside the next one.
///
/// Holding the writer is how tests make a batch deterministically busy: while the writer is
/// stuck in the listener, everything submitted waits in the queue, and on `release` the
/// (adaptive) writer takes all of it as one batch.
#[derive(Default)]
pub struct Gate {
    /// The batches seen and whether the writer is held.
    state: Mutex<GateState>,
    /// Signalled at every batch and on release.
    changed: Condvar,
}

/// What a [`Gate`]'s lock guards.
#[derive(Default)]
struct GateState {
    /// The writer is held at its next batch event.
    armed: bool,
    /// The writer is held now.
    held: bool,
    /// Every batch event so far.
    batches: Vec<Batch>,
    /// `duration` of each committed batch, in the order of `batches`' committed ones.
    durations: Vec<Duration>,
}

impl Gate {
    pub fn new() -> Arc<Gate> {
        Arc::new(Gate::default())
    }

    /// `config` with this gate as its event listener.
    pub fn config(self: &Arc<Self>, mut config: Config) -> Config {
        let gate = Arc::clone(self);
        config.event_listener = Some(Arc::new(move |event: &Event| gate.on_event(event)));
        config
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn on_event(&self, event: &Event) {
        let mut st = self.lock();
        let batch = match event {
            Event::BatchCommitted {
                size,
                trigger,
                duration,
                ..
            } => {
                st.durations.push(*duration);
                Batch::Committed {
                    size: *size,
                    trigger: *trigger,
                }
            }
            Event::BatchFailed { size, error } => Batch::Failed {
                size: *size,
                error: error.clone(),
            },
            _ => return,
        };
        st.batches.push(batch);
        if st.armed {
            st.armed = false;
            st.held = true;
            self.changed.notify_all();
            // Bounded, so that a failing test cannot keep the writer (and its Drop) forever.
            let (mut st, _) = self
                .changed
                .wait_timeout_while(st, PATIENCE, |st| st.held)
                .unwrap_or_else(|p| p.into_inner());
            st.held = false;
        } else {
            self.changed.notify_all();
        }
    }

    /// Makes the writer stop in the event of a batch of its own and waits until it is
    /// stopped there. Call it while no other thread submits. Returns how many batches were
    /// reported so far (the held one included), so that the first batch after `release` is
    /// `batches()[returned value]`.
    pub fn hold_writer(&self, db: &Committer) -> usize {
        // Earlier work must not be the batch that gets held.
        db.flush()
            .unwrap_or_else(|e| panic!("flush before holding: {e}"));
        self.lock().armed = true;
        // Through the queue: an `execute` at idle would commit on this thread.
        db.submit(Transaction::single("SELECT 1", ()))
            .unwrap_or_else(|e| panic!("holding batch: {e}"));
        let st = self.lock();
        let (st, timeout) = self
            .changed
            .wait_timeout_while(st, PATIENCE, |st| !st.held)
            .unwrap_or_else(|p| p.into_inner());
        assert!(!timeout.timed_out(), "the writer never reached the gate");
        st.batches.len()
    }

    /// Lets a held writer go on.
    pub fn release(&self) {
        self.lock().held = false;
        self.changed.notify_all();
    }

    /// How long each committed batch took (BEGIN to COMMIT), in order.
    pub fn durations(&self) -> Vec<Duration> {
        self.lock().durations.clone()
    }

    /// Every batch reported so far.
    pub fn batches(&self) -> Vec<Batch> {
        self.lock().batches.clone()
    }

    /// Waits until at least `n` batches were reported and returns them all.
    pub fn wait_batches(&self, n: usize) -> Vec<Batch> {
        let st = self.lock();
        let (st, timeout) = self
            .changed
            .wait_timeout_while(st, PATIENCE, |st| st.batches.len() < n)
            .unwrap_or_else(|p| p.into_inner());
        assert!(!timeout.timed_out(), "fewer than {n} batches were reported");
        st.batches.clone()
    }
}

/// A batch sink that records each call.
#[derive(Default)]
pub struct RecordingSink {
    /// The completions of each call, in call order.
    calls: Mutex<Vec<Vec<(u64, Outcome)>>>,
}

impl RecordingSink {
    pub fn new() -> Arc<RecordingSink> {
        Arc::new(RecordingSink::default())
    }

    /// Every call so far, each with its completions.
    pub fn calls(&self) -> Vec<Vec<(u64, Outcome)>> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl BatchSink for RecordingSink {
    fn complete(&self, completions: Vec<(u64, Outcome)>) {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(completions);
    }
}
