//! The writer thread: one connection, one SQLite transaction per batch (a few more when
//! statements roll back the whole SQLite transaction, see `batch`), one savepoint per
//! submitted transaction; and the order in which everything closes. The connection sits
//! behind a lock ([`Shared`]), so that a blocking caller who finds the writer idle commits
//! its own transaction as a batch of one, without the hand-off.
//!
//! - `intake`: the queue's messages, and how closing waits for callers handing work over.
//! - `gather`: collecting the next batch from the queue under the flush policy.
//! - `idle`: the incremental vacuum run between batches.
//! - `commit`: one batch from the checkpoint gate to resolved promises.
//! - `batch`: running a batch's transactions, re-runs and commits midway included.
//! - `conn`, `savepoint`, `sync`: the write connection, one transaction under its
//!   savepoint, and the `synchronous` level with the WAL sync it defers.
//! - `reach`: what a transaction may reach (`changes()`, deferred foreign keys), so that
//!   the writer prepares for it or checks it only then.
//! - `retire`: a big batch's transactions freed on a thread of their own while it commits.
//! - `wal_room`: zeros written past the WAL's last frame, so that commits overwrite.

mod batch;
mod commit;
mod conn;
mod gather;
mod idle;
mod intake;
mod reach;
mod retire;
mod savepoint;
mod sync;
mod wal_room;

use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use rusqlite::Connection;

use crate::checkpoint::Scheduler;
use crate::completion::{Completions, Outcome, Reply};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::event::FlushTrigger;
use crate::gate::Gate;
use crate::metrics::Metrics;
use crate::modes::{Durability, FlushPolicy};
use crate::read_pool::ReadPool;
use crate::transaction::Transaction;

pub(crate) use intake::{Intake, Msg};

use conn::WriteConn;
use gather::Gathered;

/// What the writer releases when it stops, after its last batch, in this order: the
/// checkpoint scheduler, the read connections, its own connection (the last one to close,
/// so SQLite checkpoints the WAL and removes it), then `stopped`.
pub(crate) struct Shutdown {
    /// The checkpoint scheduler's thread, joined once it is asked to stop.
    pub(crate) scheduler_thread: Option<JoinHandle<()>>,
    /// The `query` pool.
    pub(crate) readers: Arc<ReadPool>,
    /// Dropped last: `close` returns once its channel disconnects.
    pub(crate) stopped: Sender<()>,
}

/// What every batch needs, shared by the writer thread and the callers that commit their
/// own transaction when the writer is idle (see [`Shared::commit_inline`]).
pub(crate) struct Shared {
    /// The write connection, locked for each batch.
    batch: Mutex<BatchState>,
    /// The committer's settings.
    config: Config,
    /// Where batches, transactions and stalls are counted.
    metrics: Arc<Metrics>,
    /// Told the WAL's frame count after each commit; stopped at shutdown.
    scheduler: Arc<Scheduler>,
    /// Entered around each batch, so that exclusive checkpoints run between batches.
    gate: Arc<Gate>,
    /// Tells the writer when closing started and whether callers are still handing work over.
    intake: Arc<Intake>,
    /// Transactions queued or in a batch of the writer thread. A caller commits inline only
    /// when there are none, so transactions from one thread keep their order.
    queued: AtomicUsize,
    /// Callers inside a blocking `execute`/`transaction`. A caller commits inline only when
    /// there are at most `inline_callers`.
    blocking: AtomicUsize,
    /// See [`inline_callers`].
    inline_callers: usize,
}

/// The most blocking callers, the one asking included, among which one commits its own
/// transaction when it finds the writer idle.
///
/// With `durability=full`, one: several would each wait for a sync that one batch of the
/// writer's shares. With normal or off a commit waits for no sync, and handing it to the
/// writer thread costs two thread wake-ups, so as many as there are CPUs, each of which can
/// then run its own, up to [`MAX_UNSYNCED_INLINE_CALLERS`]. Measured on 2 CPUs, threads of
/// blocking single-row inserts: 2 threads 29k tx/s through the writer against 103-110k
/// inline (p99 0.13 ms against 0.08); 3 to 8 threads inline went 1.3-2.2 times as fast as
/// through the writer, but their p99.9 went from 0.6 ms to 2.3-4 ms: the thread committing
/// was preempted while the others waited for the connection.
fn inline_callers(durability: Durability) -> usize {
    match durability {
        Durability::Full => 1,
        Durability::Normal | Durability::Off => {
            crate::slot::cpus().min(MAX_UNSYNCED_INLINE_CALLERS)
        }
    }
}

/// The most blocking callers among which one commits inline with `durability` normal or
/// off, however many CPUs there are: one commit at a time costs about 7 µs, and from about
/// a dozen callers the writer's batches commit more per second (on 2 CPUs: 12 threads 174k
/// tx/s through the writer against 152k inline).
const MAX_UNSYNCED_INLINE_CALLERS: usize = 8;

/// What a batch changes, behind [`Shared`]'s lock.
struct BatchState {
    /// The write connection; `None` once the writer shut down.
    db: Option<WriteConn>,
    /// A batch committed since the latest idle vacuum.
    idle_vacuum_due: bool,
    /// Set when a batch panicked: every later transaction is refused with it.
    broken: Option<Error>,
    /// Frees big batches' transactions off the batch's thread.
    retire: retire::Retire,
}

impl BatchState {
    /// Rolls back the SQLite transaction a panic left open, releasing the write lock.
    fn roll_back_if_open(&mut self) {
        if let Some(db) = &mut self.db {
            db.roll_back_if_open();
        }
    }
}

/// The writer thread's state.
pub(crate) struct Writer {
    /// The connection and everything a batch needs.
    shared: Arc<Shared>,
    /// Closing: take what is left without waiting for more, then stop.
    closing: bool,
    /// Messages taken off the queue since the room they made was announced (see `gather`).
    taken: usize,
}

/// One submitted transaction inside a batch.
struct Job {
    /// The transaction.
    tx: Transaction,
    /// Where its outcome goes.
    reply: Reply,
}

thread_local! {
    /// The [`Shared`] (its address) whose batches this thread runs: on the writer thread
    /// for its whole life, on a caller's thread during an inline batch.
    static COMMITTING: Cell<usize> = const { Cell::new(0) };
}

impl Shared {
    /// Takes over an opened write connection.
    pub(crate) fn new(
        conn: Connection,
        path: &Path,
        config: Config,
        metrics: Arc<Metrics>,
        scheduler: Arc<Scheduler>,
        gate: Arc<Gate>,
        intake: Arc<Intake>,
    ) -> Result<Shared> {
        let inline_callers = inline_callers(config.durability);
        Ok(Shared {
            batch: Mutex::new(BatchState {
                db: Some(WriteConn::new(conn, path, config.clone())?),
                idle_vacuum_due: false,
                broken: None,
                retire: retire::Retire::default(),
            }),
            config,
            metrics,
            scheduler,
            gate,
            intake,
            queued: AtomicUsize::new(0),
            blocking: AtomicUsize::new(0),
            inline_callers,
        })
    }

    /// Locks the batch state (a panic while it was held does not poison it: the batch it
    /// was in is rolled back before the state is used again).
    fn lock(&self) -> MutexGuard<'_, BatchState> {
        self.batch.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a transaction about to be queued; [`Shared::unqueued`] undoes it when it
    /// could not be.
    pub(crate) fn queueing(&self) {
        self.queued.fetch_add(1, Ordering::SeqCst);
    }

    /// Undoes [`Shared::queueing`] for a transaction that was not queued.
    pub(crate) fn unqueued(&self) {
        self.queued.fetch_sub(1, Ordering::SeqCst);
    }

    /// Whether this thread is this committer's writer thread, or is running an inline
    /// batch of it (in its event listener): waiting for the writer would wait forever.
    pub(crate) fn committing_here(&self) -> bool {
        // Gone while the thread exits: no inline batch runs there any more.
        COMMITTING
            .try_with(|c| c.get() == self as *const Shared as usize)
            .unwrap_or(false)
    }

    /// Counts a caller inside a blocking call until the guard is dropped.
    pub(crate) fn blocking_call(&self) -> BlockingCall<'_> {
        self.blocking.fetch_add(1, Ordering::SeqCst);
        BlockingCall(self)
    }

    /// Commits `tx` on the calling thread (inside a [`Shared::blocking_call`]) when the
    /// writer is idle and nobody else is committing (nothing queued, no batch running, at
    /// most [`inline_callers`] blocking callers, the adaptive policy without linger): the
    /// writer thread's hand-off and wake-ups are what the transaction would wait for. Hands
    /// `tx` back otherwise.
    pub(crate) fn commit_inline(
        &self,
        tx: Transaction,
    ) -> std::result::Result<Outcome, Transaction> {
        if self.config.flush_policy != FlushPolicy::Adaptive
            || self.config.linger_ms > 0
            || self.blocking.load(Ordering::SeqCst) > self.inline_callers
            // A thread that is exiting may have lost its thread-locals: it uses the queue.
            || COMMITTING.try_with(|_| ()).is_err()
        {
            return Err(tx);
        }
        // Inside the intake while it commits: closing waits for it.
        let Some(_inside) = self.intake.enter() else {
            return Err(tx);
        };
        if self.queued.load(Ordering::SeqCst) != 0 {
            return Err(tx);
        }
        let mut state = match self.batch.try_lock() {
            Ok(state) => state,
            Err(_) => return Err(tx),
        };
        if state.broken.is_some() || self.queued.load(Ordering::SeqCst) != 0 {
            return Err(tx);
        }
        let (reply, pending) = Reply::handle();
        let mut jobs = vec![Job { tx, reply }];
        let gathered = Gathered {
            trigger: FlushTrigger::Adaptive,
            checkpoint_running: self.metrics.checkpoint_running.load(Ordering::Acquire),
        };
        COMMITTING.with(|c| c.set(self as *const Shared as usize));
        let ran = catch_unwind(AssertUnwindSafe(|| {
            self.commit(&mut state, &mut jobs, &gathered)
        }));
        COMMITTING.with(|c| c.set(0));
        if let Err(panic) = ran {
            let error = Error::Internal(format!("a batch panicked: {}", panic_message(&*panic)));
            state.roll_back_if_open();
            state.broken = Some(error.clone());
            return Ok(Err(error));
        }
        drop(state);
        Ok(pending
            .try_get()
            .unwrap_or_else(|| Err(Error::Internal("an inline batch gave no outcome".into()))))
    }
}

/// A caller inside a blocking call, counted until dropped.
pub(crate) struct BlockingCall<'a>(&'a Shared);

impl Drop for BlockingCall<'_> {
    fn drop(&mut self) {
        self.0.blocking.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What a caught panic says.
fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

impl Writer {
    /// The writer of `shared`; `run` it on its own thread.
    pub(crate) fn new(shared: Arc<Shared>) -> Writer {
        Writer {
            shared,
            closing: false,
            taken: 0,
        }
    }

    /// The writer thread's body: serves until closing and drained, then shuts down (see
    /// [`Shutdown`]). A panic fails every transaction in flight, queued, or submitted later
    /// until close, with an internal error.
    pub(crate) fn run(mut self, rx: Receiver<Msg>, shutdown: Shutdown) {
        COMMITTING.with(|c| c.set(Arc::as_ptr(&self.shared) as usize));
        let served = catch_unwind(AssertUnwindSafe(|| self.serve(&rx)));
        if let Err(panic) = served {
            let error = Error::Internal(format!(
                "the writer thread panicked: {}",
                panic_message(&*panic)
            ));
            {
                // The batch it was in is abandoned; rolling it back releases the write lock.
                let mut state = self.shared.lock();
                state.roll_back_if_open();
                state.broken = Some(error.clone());
            }
            self.refuse_remaining(&rx, error);
        }
        // From here on a send fails at once instead of queueing for nobody.
        drop(rx);
        self.shutdown(shutdown);
    }

    /// Answers every message until closing and drained: transactions with `error`.
    fn refuse_remaining(&mut self, rx: &Receiver<Msg>, error: Error) {
        self.announce_room();
        while let Some(msg) = self.next_message(rx) {
            self.shared.intake.room.freed(1);
            match msg {
                Msg::Tx(_, mut reply) => {
                    let mut c = Completions::default();
                    c.push(&mut reply, Err(error.clone()));
                    c.deliver();
                    self.shared.unqueued();
                }
                Msg::Flush(done) => drop(done.send(())),
                Msg::Close => self.closing = true,
                #[cfg(test)]
                _ => self.shared.unqueued(),
            }
        }
    }

    /// Stops the scheduler, closes the read connections, then this connection, the last one
    /// to the database in this process: SQLite then checkpoints the WAL and removes it.
    fn shutdown(self, shutdown: Shutdown) {
        self.shared.scheduler.stop();
        if let Some(thread) = shutdown.scheduler_thread {
            drop(thread.join());
        }
        shutdown.readers.close();
        let db = {
            let mut state = self.shared.lock();
            state.retire.stop();
            state.db.take()
        };
        if let Some(mut db) = db {
            drop(db.restore_synchronous());
        }
        drop(shutdown.stopped);
    }

    /// Gathers and commits batches until the last one.
    fn serve(&mut self, rx: &Receiver<Msg>) {
        let mut batch: Vec<Job> = Vec::new();
        let mut barriers: Vec<Sender<()>> = Vec::new();
        loop {
            let gathered = self.collect(rx, &mut batch, &mut barriers);
            if !batch.is_empty() {
                self.shared.metrics.queue_depth(rx.len());
                let size = batch.len();
                let mut state = self.shared.lock();
                self.shared.commit(&mut state, &mut batch, &gathered);
                self.shared.queued.fetch_sub(size, Ordering::SeqCst);
            }
            for done in barriers.drain(..) {
                let _ = done.send(());
            }
            if gathered.is_last() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Condvar, Mutex};
    use std::time::Duration;

    use super::*;
    use crate::event::Event;
    use crate::modes::CheckpointMode;
    use crate::Committer;

    const PATIENCE: Duration = Duration::from_secs(60);

    /// Holds the writer inside the event of its next batch until released.
    #[derive(Default)]
    struct Hold {
        /// Whether it is armed and whether the writer is held.
        state: Mutex<HoldState>,
        /// Signalled when the writer gets held and on release.
        changed: Condvar,
    }

    /// What a [`Hold`]'s lock guards.
    #[derive(Default)]
    struct HoldState {
        /// The writer is held at its next batch event.
        armed: bool,
        /// The writer is held now.
        held: bool,
    }

    impl Hold {
        fn on_event(&self, event: &Event) {
            if !matches!(event, Event::BatchCommitted { .. }) {
                return;
            }
            let mut st = self.state.lock().unwrap();
            if !st.armed {
                return;
            }
            st.armed = false;
            st.held = true;
            self.changed.notify_all();
            drop(self.changed.wait_timeout_while(st, PATIENCE, |st| st.held));
        }

        /// Returns once the writer thread is held in the event of a batch of its own.
        fn hold(&self, db: &Committer) {
            self.state.lock().unwrap().armed = true;
            // Through the queue: an `execute` at idle would commit on this thread.
            db.submit(Transaction::single("SELECT 1", ())).unwrap();
            let st = self.state.lock().unwrap();
            let (_st, waited) = self
                .changed
                .wait_timeout_while(st, PATIENCE, |st| !st.held)
                .unwrap();
            assert!(!waited.timed_out(), "the writer never got held");
        }

        fn release(&self) {
            self.state.lock().unwrap().held = false;
            self.changed.notify_all();
        }
    }

    fn open_held() -> (tempfile::TempDir, Committer, Arc<Hold>) {
        let dir = tempfile::tempdir().unwrap();
        let hold = Arc::new(Hold::default());
        let listener = Arc::clone(&hold);
        let config = Config {
            event_listener: Some(Arc::new(move |e: &Event| listener.on_event(e))),
            ..Config::default()
        };
        let db = Committer::open(dir.path().join("w.db"), config).unwrap();
        db.execute("CREATE TABLE t (v INTEGER)", ()).unwrap();
        (dir, db, hold)
    }

    /// Runs `f` on another thread; fails the test if it does not return within `PATIENCE`
    /// (a hang then leaves that thread behind instead of hanging the test).
    fn within_patience<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = crossbeam_channel::bounded(1);
        std::thread::spawn(move || drop(tx.send(f())));
        rx.recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("{what} did not return"))
    }

    fn insert(v: i64) -> Transaction {
        Transaction::single("INSERT INTO t VALUES (?)", crate::params![v])
    }

    #[test]
    fn a_panic_inside_a_batch_fails_its_promises_and_leaves_nothing_stuck() {
        let (_dir, db, hold) = open_held();
        let db = Arc::new(db);
        hold.hold(&db);
        // One batch: the writer panics after running its first transaction, between BEGIN
        // and COMMIT, with the checkpoint gate closed.
        let first = db.submit(insert(1)).unwrap();
        db.send_test_message(Msg::Panic);
        let second = db.submit(insert(2)).unwrap();
        hold.release();
        for pending in [first, second] {
            match pending.wait_timeout(PATIENCE) {
                Err(Error::Internal(msg)) => assert!(!msg.is_empty()),
                other => panic!("expected an internal error, got {other:?}"),
            }
        }
        // Later work is refused with the panic's error, and flush still answers.
        let later = db.submit(insert(3)).unwrap();
        match later.wait_timeout(PATIENCE) {
            Err(Error::Internal(msg)) => assert!(msg.contains("injected by a test"), "{msg}"),
            other => panic!("expected an internal error, got {other:?}"),
        }
        db.flush().unwrap();
        // A checkpoint that pauses the writer (TRUNCATE) gets through the gate.
        let cp = Arc::clone(&db);
        within_patience("an exclusive checkpoint", move || {
            cp.checkpoint(CheckpointMode::Truncate)
        })
        .unwrap();
        let closing = Arc::clone(&db);
        within_patience("close", move || closing.close()).unwrap();
        assert_eq!(db.submit(insert(4)).unwrap_err(), Error::Closed);
        assert!(!db.stats().checkpoint_running);
    }

    #[test]
    fn a_failing_sync_after_a_batch_failed_past_commits_midway_leaves_their_fate_unknown() {
        let (_dir, db, hold) = open_held();
        db.execute("CREATE TABLE u (k INTEGER PRIMARY KEY, v INTEGER)", ())
            .unwrap();
        db.execute("INSERT INTO u VALUES (0, -1)", ()).unwrap();
        hold.hold(&db);
        // One batch: enough `OR ROLLBACK` failures to commit midway, then its final COMMIT
        // fails, and so does the WAL sync that would have made the commits midway durable.
        // Big enough for its transactions to be handed to the freeing thread before COMMIT.
        db.send_test_message(Msg::FailFinalCommit);
        db.send_test_message(Msg::FailSync);
        let pending: Vec<_> = (1..=retire::MIN_BATCH as i64)
            .flat_map(|i| {
                [
                    Transaction::single("INSERT INTO u (v) VALUES (?)", crate::params![i]),
                    Transaction::single(
                        "INSERT OR ROLLBACK INTO u VALUES (0, ?)",
                        crate::params![-i],
                    ),
                ]
            })
            .map(|tx| db.submit(tx).unwrap())
            .collect();
        hold.release();
        let (mut unknown, mut failed) = (Vec::new(), Vec::new());
        for (i, p) in pending.iter().enumerate() {
            let err = match p.wait_timeout(PATIENCE) {
                Err(Error::Timeout) | Ok(_) => panic!("transaction {i} was not rejected"),
                Err(e) => e,
            };
            let message = err.to_string();
            if i % 2 == 1 {
                assert_eq!(err.code_name(), "SQLITE_CONSTRAINT_PRIMARYKEY", "{err:?}");
            } else if message.contains("whether it is in the database is unknown") {
                assert_eq!(err.code_name(), "SQLITE_IOERR_FSYNC", "{err:?}");
                assert!(
                    message.starts_with("syncing the WAL after the batch failed: disk I/O error"),
                    "{message}"
                );
                assert!(failed.is_empty(), "{i} is unknown after a plain failure");
                unknown.push(i as i64 / 2 + 1);
            } else {
                assert_eq!(
                    message,
                    "COMMIT failed: disk I/O error (injected by a test)"
                );
                failed.push(i as i64 / 2 + 1);
            }
        }
        assert!(!unknown.is_empty(), "nothing was committed midway");
        assert!(!failed.is_empty(), "everything was committed midway");
        // The next batch commits; none of the plainly failed transactions is there.
        db.execute("INSERT INTO u (v) VALUES (0)", ()).unwrap();
        let rows = db.query("SELECT v FROM u WHERE v > 0", ()).unwrap();
        let present: Vec<i64> = rows
            .rows
            .iter()
            .map(|r| match r[0] {
                crate::Value::Integer(v) => v,
                ref other => panic!("{other:?}"),
            })
            .collect();
        assert!(present.iter().all(|v| !failed.contains(v)), "{present:?}");
        db.close().unwrap();
    }

    #[test]
    fn a_caller_commits_inline_only_when_nothing_is_queued_or_running_and_it_is_alone() {
        let (_dir, db, hold) = open_held();
        let shared = Arc::clone(db.shared_for_tests());
        // A transaction counted as queued (as one submitted earlier from this thread would
        // be) keeps later ones off the inline path, so they cannot overtake it.
        shared.queueing();
        assert!(shared.commit_inline(insert(1)).is_err());
        shared.unqueued();
        // Another caller inside a blocking call: with durability full (the default), the
        // writer batches the two instead.
        {
            let _me = shared.blocking_call();
            let _other = shared.blocking_call();
            assert!(shared.commit_inline(insert(1)).is_err());
        }
        let _me = shared.blocking_call();
        assert!(shared.commit_inline(insert(2)).unwrap().is_ok());
        // A batch running on the writer thread holds the connection.
        hold.hold(&db);
        assert!(shared.commit_inline(insert(3)).is_err());
        hold.release();
        db.flush().unwrap();
        let rows = db.query("SELECT v FROM t", ()).unwrap();
        assert_eq!(rows.rows, vec![vec![crate::Value::Integer(2)]]);
        db.close().unwrap();
        // After close nothing commits inline.
        assert!(shared.commit_inline(insert(4)).is_err());
    }

    #[test]
    fn without_a_sync_a_caller_commits_inline_beside_other_blocking_callers_up_to_the_cpus() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            durability: Durability::Normal,
            ..Config::default()
        };
        let db = Committer::open(dir.path().join("w.db"), config).unwrap();
        db.execute("CREATE TABLE t (v INTEGER)", ()).unwrap();
        let shared = Arc::clone(db.shared_for_tests());
        assert_eq!(
            shared.inline_callers,
            crate::slot::cpus().min(MAX_UNSYNCED_INLINE_CALLERS)
        );
        let mut callers: Vec<_> = (0..shared.inline_callers)
            .map(|_| shared.blocking_call())
            .collect();
        assert!(shared.commit_inline(insert(1)).unwrap().is_ok());
        // One more: the writer batches them instead.
        callers.push(shared.blocking_call());
        assert!(shared.commit_inline(insert(2)).is_err());
        drop(callers);
        let rows = db.query("SELECT v FROM t", ()).unwrap();
        assert_eq!(rows.rows, vec![vec![crate::Value::Integer(1)]]);
        db.close().unwrap();
    }

    #[test]
    fn a_big_batch_starts_the_freeing_thread_and_close_stops_it() {
        let (_dir, db, hold) = open_held();
        let shared = Arc::clone(db.shared_for_tests());
        db.execute("INSERT INTO t VALUES (0)", ()).unwrap();
        assert!(
            !shared.lock().retire.running(),
            "started for a batch of one"
        );
        hold.hold(&db);
        let pending: Vec<_> = (1..=retire::MIN_BATCH as i64)
            .map(|i| db.submit(insert(i)).unwrap())
            .collect();
        hold.release();
        for p in &pending {
            p.wait_timeout(PATIENCE).unwrap();
        }
        assert!(shared.lock().retire.running());
        let rows = db.query("SELECT count(*), sum(v) FROM t", ()).unwrap();
        let n = retire::MIN_BATCH as i64;
        assert_eq!(
            rows.rows,
            vec![vec![
                crate::Value::Integer(n + 1),
                crate::Value::Integer(n * (n + 1) / 2)
            ]]
        );
        db.close().unwrap();
        assert!(!shared.lock().retire.running(), "still running after close");
    }

    #[test]
    fn a_transaction_left_open_is_rolled_back_before_the_next_batch() {
        let (_dir, db, _hold) = open_held();
        db.execute("INSERT INTO t VALUES (1)", ()).unwrap();
        db.send_test_message(Msg::LeaveTransactionOpen);
        // BEGIN IMMEDIATE would fail inside the open transaction.
        db.execute("INSERT INTO t VALUES (2)", ()).unwrap();
        db.execute("INSERT INTO t VALUES (3)", ()).unwrap();
        let rows = db.query("SELECT sum(v) FROM t", ()).unwrap();
        assert_eq!(rows.rows[0][0], crate::Value::Integer(6));
        db.close().unwrap();
    }

    #[test]
    fn a_failing_rollback_fails_that_batch_and_the_next_one_recovers() {
        let (_dir, db, _hold) = open_held();
        db.send_test_message(Msg::LeaveTransactionOpen);
        db.send_test_message(Msg::FailRollbacks(1));
        let err = db.execute("INSERT INTO t VALUES (1)", ()).unwrap_err();
        assert!(
            err.to_string()
                .contains("rolling back the transaction a previous batch left open failed"),
            "{err}"
        );
        // The next batch rolls it back and commits.
        db.execute("INSERT INTO t VALUES (2)", ()).unwrap();
        let rows = db.query("SELECT v FROM t", ()).unwrap();
        assert_eq!(rows.rows, vec![vec![crate::Value::Integer(2)]]);
        db.close().unwrap();
    }

    #[test]
    fn a_rollback_that_keeps_failing_gets_the_connection_replaced() {
        let (_dir, db, _hold) = open_held();
        db.execute("INSERT INTO t VALUES (1)", ()).unwrap();
        db.send_test_message(Msg::LeaveTransactionOpen);
        db.send_test_message(Msg::FailRollbacks(usize::MAX));
        assert!(db.execute("INSERT INTO t VALUES (2)", ()).is_err());
        // The rollback fails again: the connection is reopened and the batch commits.
        db.execute("INSERT INTO t VALUES (3)", ()).unwrap();
        db.execute("INSERT INTO t VALUES (4)", ()).unwrap();
        let rows = db.query("SELECT sum(v) FROM t", ()).unwrap();
        assert_eq!(rows.rows[0][0], crate::Value::Integer(8));
        // The new connection has the committer's settings.
        let sync = db.execute("PRAGMA synchronous", ()).unwrap();
        assert_eq!(sync.statements[0].rows.rows[0][0], crate::Value::Integer(2));
        db.close().unwrap();
    }
}
