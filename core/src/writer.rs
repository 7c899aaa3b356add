//! The writer thread: one connection, one SQLite transaction per batch (a few more when
//! statements roll back the whole SQLite transaction, see [`Writer::run_batch`]), one
//! savepoint per submitted transaction; and the order in which everything closes.

use std::os::raw::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use rusqlite::{ffi, Connection};

use crate::checkpoint::Scheduler;
use crate::completion::{Completions, Outcome, Reply};
use crate::config::{Config, Durability, FlushPolicy};
use crate::connection::synchronous_pragma;
use crate::error::{Error, Result};
use crate::event::{Event, FlushTrigger};
use crate::metrics::{Metrics, TxOutcome};
use crate::read_pool::ReadPool;
use crate::statement;
use crate::transaction::{Transaction, TransactionResult};

/// A message to the writer, in submission order.
pub(crate) enum Msg {
    /// A transaction to commit.
    Tx(Transaction, Reply),
    /// A barrier: answered once everything before it is committed.
    Flush(Sender<()>),
    /// Wakes the writer after [`Intake::close`]: it commits what is still queued or being
    /// handed over, then shuts down.
    Close,
    /// Makes the writer panic inside its next batch, between BEGIN and COMMIT.
    #[cfg(test)]
    Panic,
    /// Leaves the connection inside a transaction, as a ROLLBACK that failed would.
    #[cfg(test)]
    LeaveTransactionOpen,
    /// Makes the next `n` rollbacks of a transaction left open fail.
    #[cfg(test)]
    FailRollbacks(usize),
}

/// How callers hand work to the writer without holding a lock, so that nothing is held
/// while a submitter waits for room in a full queue.
///
/// A caller enters (`inflight` + 1) before it checks `closed`, and leaves once its send has
/// returned. `close` sets `closed`; a writer that has seen it stops only once the queue is
/// empty and nobody is inside. Both sides use SeqCst, so a caller that saw `closed == false`
/// is counted by the time the writer looks, or its message is already queued: nothing is
/// left in the queue, and nobody waits for a writer that has stopped.
#[derive(Default)]
pub(crate) struct Intake {
    closed: AtomicBool,
    inflight: AtomicUsize,
}

impl Intake {
    /// Enters, unless closing started. The caller stays inside (keeps the guard) until its
    /// send has returned.
    pub(crate) fn enter(&self) -> Option<Entered<'_>> {
        self.inflight.fetch_add(1, Ordering::SeqCst);
        if self.closed.load(Ordering::SeqCst) {
            self.inflight.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Entered(self))
    }

    /// Starts closing; `true` for the first caller only.
    pub(crate) fn close(&self) -> bool {
        !self.closed.swap(true, Ordering::SeqCst)
    }

    /// Whether closing started.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Callers inside now: with a full queue, the submitters waiting for room.
    pub(crate) fn inside(&self) -> usize {
        self.inflight.load(Ordering::SeqCst)
    }
}

/// A caller inside the [`Intake`]; dropping it leaves.
pub(crate) struct Entered<'a>(&'a Intake);

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, Ordering::SeqCst);
    }
}

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

/// Work that may be re-run within one SQLite transaction after whole-transaction rollbacks,
/// in statements (each transaction counting one more), before the transactions to re-run
/// are committed midway instead (see [`Writer::run_batch`]). Measured: a few times the cost
/// of one commit without a sync; from 16 to 64 the difference is within noise.
const RERUN_BUDGET: usize = 32;

/// Batches in a row that found a transaction left open and could not roll it back, after
/// which the connection is replaced.
const REOPEN_AFTER: u32 = 2;

pub(crate) struct Writer {
    conn: Connection,
    path: PathBuf,
    config: Config,
    metrics: Arc<Metrics>,
    scheduler: Arc<Scheduler>,
    intake: Arc<Intake>,
    /// WAL frames after the latest commit (the WAL hook's count).
    wal_frames: Arc<AtomicU64>,
    idle_vacuum_due: bool,
    /// Closing: take what is left without waiting for more, then stop.
    closing: bool,
    /// `PRAGMA synchronous` is NORMAL: from a batch's first commit midway to its final sync.
    sync_lowered: bool,
    /// Batches in a row that could not roll back a transaction left open.
    failed_recoveries: u32,
    #[cfg(test)]
    hooks: TestHooks,
}

/// Faults that unit tests inject through [`Msg`].
#[cfg(test)]
#[derive(Default)]
struct TestHooks {
    panic_in_batch: bool,
    failing_rollbacks: usize,
}

struct Job {
    tx: Transaction,
    reply: Reply,
}

/// A gathered batch: why it is flushed, whether it is the last one, and whether a
/// checkpoint ran at any point while it was gathered.
struct Gathered {
    trigger: FlushTrigger,
    last: bool,
    checkpoint_running: bool,
}

/// How running one transaction left the batch's SQLite transaction.
enum Ran {
    /// Committed within it, or rejected and rolled back to its savepoint: the batch goes on.
    Done(Outcome),
    /// Rejected, and the SQLite transaction can only be rolled back as a whole (SQLite did
    /// it already, or the transaction's changes cannot be undone alone).
    Spoiled(Error),
}

/// A batch that failed as a whole: BEGIN, COMMIT, or a ROLLBACK failed.
struct BatchFailure {
    error: Error,
    /// The first `unsynced` transactions were committed midway, without a sync, before it.
    unsynced: usize,
    /// Transactions already rejected by their own statements (they changed nothing, so
    /// that answer stands), by index.
    rejected: Vec<Option<Error>>,
}

impl BatchFailure {
    fn new(error: Error, unsynced: usize, p: &mut Progress) -> BatchFailure {
        let rejected = std::mem::take(&mut p.outcomes)
            .into_iter()
            .map(|o| o.and_then(Result::err))
            .collect();
        BatchFailure {
            error,
            unsynced,
            rejected,
        }
    }

    /// The answer of transaction `i`: its own rejection, or the batch's error (saying that
    /// the fate of a transaction committed midway is unknown).
    fn outcome(&self, i: usize) -> (Outcome, TxOutcome) {
        match self.rejected.get(i) {
            Some(Some(own)) => (Err(own.clone()), TxOutcome::Failed),
            _ if i < self.unsynced => (Err(self.fate_unknown()), TxOutcome::Aborted),
            _ => (Err(self.error.clone()), TxOutcome::Aborted),
        }
    }

    /// The error of a transaction committed midway: it was written to the WAL but never
    /// synced, so whether it survives is not known.
    fn fate_unknown(&self) -> Error {
        match &self.error {
            Error::Sqlite {
                code,
                extended_code,
                message,
                statement_index,
            } => Error::Sqlite {
                code: *code,
                extended_code: *extended_code,
                message: format!(
                    "{message}; this transaction was committed earlier in its batch without \
                     a sync, so whether it is in the database is unknown"
                ),
                statement_index: *statement_index,
            },
            other => other.clone(),
        }
    }
}

/// Progress through one batch.
struct Progress {
    outcomes: Vec<Option<Outcome>>,
    given_up: Vec<bool>,
    /// Every transaction runs under a savepoint (a bare statement failed).
    savepoints: bool,
    /// The first transaction of the open SQLite transaction.
    start: usize,
    /// Work re-run since `start`, in statements (each transaction counting one more).
    rerun: usize,
    /// A commit midway is due when the run reaches this transaction.
    commit_at: Option<usize>,
    /// The transactions before this one are running again.
    repeat_until: usize,
    /// The transactions before this one were committed midway.
    unsynced: usize,
    /// Whether commits midway are allowed, once decided.
    may_commit_midway: Option<bool>,
}

impl Writer {
    pub(crate) fn new(
        conn: Connection,
        path: &Path,
        config: Config,
        metrics: Arc<Metrics>,
        scheduler: Arc<Scheduler>,
        intake: Arc<Intake>,
    ) -> Result<Writer> {
        let mut writer = Writer {
            conn,
            path: path.to_path_buf(),
            config,
            metrics,
            scheduler,
            intake,
            wal_frames: Arc::default(),
            idle_vacuum_due: false,
            closing: false,
            sync_lowered: false,
            failed_recoveries: 0,
            #[cfg(test)]
            hooks: TestHooks::default(),
        };
        writer.install_wal_hook()?;
        Ok(writer)
    }

    /// Keeps each commit's WAL frame count. Registering a WAL hook also replaces SQLite's inline
    /// autocheckpoint.
    fn install_wal_hook(&mut self) -> Result<()> {
        let frames = Arc::clone(&self.wal_frames);
        self.conn
            .wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, n: i32| {
                frames.store(u64::try_from(n).unwrap_or(0), Ordering::Relaxed);
                Ok(())
            }))
            .map_err(|e| Error::Open(format!("cannot register the WAL hook: {e}")))
    }

    /// The writer thread's body: serves until closing and drained, then shuts down (see
    /// [`Shutdown`]). A panic fails every transaction in flight, queued, or submitted later
    /// until close, with an internal error.
    pub(crate) fn run(mut self, rx: Receiver<Msg>, shutdown: Shutdown) {
        let served = catch_unwind(AssertUnwindSafe(|| self.serve(&rx)));
        if let Err(panic) = served {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            let error = Error::Internal(format!("the writer thread panicked: {what}"));
            // The batch it was in is abandoned; rolling it back releases the write lock.
            if !self.conn.is_autocommit() {
                drop(self.exec("ROLLBACK"));
            }
            while let Some(msg) = self.next_message(&rx) {
                match msg {
                    Msg::Tx(_, mut reply) => {
                        let mut c = Completions::default();
                        c.push(&mut reply, Err(error.clone()));
                        c.deliver();
                    }
                    Msg::Flush(done) => drop(done.send(())),
                    Msg::Close => self.closing = true,
                    #[cfg(test)]
                    _ => {}
                }
            }
        }
        // From here on a send fails at once instead of queueing for nobody.
        drop(rx);
        self.shutdown(shutdown);
    }

    /// Stops the scheduler, closes the read connections, then this connection, the last one
    /// to the database in this process: SQLite then checkpoints the WAL and removes it.
    fn shutdown(mut self, shutdown: Shutdown) {
        self.scheduler.stop();
        if let Some(thread) = shutdown.scheduler_thread {
            drop(thread.join());
        }
        shutdown.readers.close();
        if self.sync_lowered {
            drop(self.set_synchronous(false));
        }
        drop(self);
        drop(shutdown.stopped);
    }

    fn serve(&mut self, rx: &Receiver<Msg>) {
        let mut batch: Vec<Job> = Vec::new();
        let mut barriers: Vec<Sender<()>> = Vec::new();
        loop {
            let gathered = self.collect(rx, &mut batch, &mut barriers);
            let effective_max = self.config.effective_max_batch(gathered.checkpoint_running);
            if !batch.is_empty() {
                self.metrics.queue_depth(rx.len());
                let jobs = std::mem::take(&mut batch);
                self.commit(
                    jobs,
                    gathered.trigger,
                    effective_max,
                    gathered.checkpoint_running,
                );
            }
            for done in barriers.drain(..) {
                let _ = done.send(());
            }
            if gathered.last {
                return;
            }
        }
    }

    /// The next message. Once closing it does not wait for new work: `None` when the queue
    /// is empty and no caller is still inside the intake (the message of one that is comes
    /// at once). `None` also when every sender is gone.
    fn next_message(&mut self, rx: &Receiver<Msg>) -> Option<Msg> {
        self.closing |= self.intake.is_closed();
        if !self.closing {
            return rx.recv().ok();
        }
        loop {
            match rx.try_recv() {
                Ok(msg) => return Some(msg),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => {}
            }
            if self.intake.inside() == 0 {
                // A caller leaves only after its send returned: its message is visible now.
                return rx.try_recv().ok();
            }
            // A caller is between its check of `closed` and its send, which does not block
            // on an empty queue.
            match rx.recv_timeout(Duration::from_millis(1)) {
                Ok(msg) => return Some(msg),
                Err(RecvTimeoutError::Disconnected) => return None,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// Gathers the next batch.
    fn collect(
        &mut self,
        rx: &Receiver<Msg>,
        batch: &mut Vec<Job>,
        barriers: &mut Vec<Sender<()>>,
    ) -> Gathered {
        let max_wait = Duration::from_millis(self.config.max_wait_ms);
        let linger = Duration::from_millis(self.config.linger_ms);
        let mut first_at = Instant::now();
        let mut seen = false;
        loop {
            let running = self.metrics.checkpoint_running.load(Ordering::Acquire);
            seen |= running;
            let flush = |trigger, last| Gathered {
                trigger,
                last,
                checkpoint_running: seen,
            };
            if batch.len() >= self.config.effective_max_batch(running) {
                return flush(FlushTrigger::Size, false);
            }
            self.closing |= self.intake.is_closed();
            let next = if self.closing {
                self.next_message(rx)
            } else if batch.is_empty() {
                self.wait_first(rx)
            } else {
                match self.config.flush_policy {
                    FlushPolicy::Adaptive => match rx.try_recv() {
                        Ok(msg) => Some(msg),
                        Err(TryRecvError::Disconnected) => None,
                        Err(TryRecvError::Empty) if linger.is_zero() => {
                            return flush(FlushTrigger::Adaptive, false)
                        }
                        Err(TryRecvError::Empty) => match rx.recv_deadline(first_at + linger) {
                            Ok(msg) => Some(msg),
                            Err(RecvTimeoutError::Disconnected) => None,
                            Err(RecvTimeoutError::Timeout) => {
                                return flush(FlushTrigger::Adaptive, false)
                            }
                        },
                    },
                    FlushPolicy::Ticker => match rx.recv_deadline(first_at + max_wait) {
                        Ok(msg) => Some(msg),
                        Err(RecvTimeoutError::Disconnected) => None,
                        Err(RecvTimeoutError::Timeout) => {
                            if !self.metrics.checkpoint_running.load(Ordering::Acquire) {
                                return flush(FlushTrigger::Timer, false);
                            }
                            // No timer flush while a checkpoint runs: the batch grows.
                            first_at = Instant::now();
                            self.emit(Event::TimerFlushSuppressed {
                                queued: batch.len(),
                            });
                            continue;
                        }
                    },
                }
            };
            let Some(msg) = next else {
                // Closing and drained, or every sender is gone.
                return flush(FlushTrigger::Close, true);
            };
            match msg {
                Msg::Tx(tx, reply) => {
                    if batch.is_empty() {
                        first_at = Instant::now();
                    }
                    batch.push(Job { tx, reply });
                }
                Msg::Flush(done) => {
                    barriers.push(done);
                    return flush(FlushTrigger::Flush, false);
                }
                Msg::Close => self.closing = true,
                #[cfg(test)]
                Msg::Panic => self.hooks.panic_in_batch = true,
                #[cfg(test)]
                Msg::LeaveTransactionOpen => drop(self.conn.execute_batch("BEGIN")),
                #[cfg(test)]
                Msg::FailRollbacks(n) => self.hooks.failing_rollbacks = n,
            }
        }
    }

    /// Waits for the first message of a batch, running idle work when there is time.
    fn wait_first(&mut self, rx: &Receiver<Msg>) -> Option<Msg> {
        if self.idle_vacuum_due && self.config.idle_vacuum_pages > 0 {
            match rx.recv_timeout(Duration::from_millis(self.config.idle_ms)) {
                Ok(msg) => return Some(msg),
                Err(RecvTimeoutError::Disconnected) => return None,
                Err(RecvTimeoutError::Timeout) => {
                    self.idle_vacuum_due = false;
                    self.idle_vacuum(rx);
                }
            }
        }
        self.next_message(rx)
    }

    /// Runs `PRAGMA incremental_vacuum` in small steps within the page and time budgets,
    /// stopping as soon as work arrives.
    fn idle_vacuum(&mut self, rx: &Receiver<Msg>) {
        let freelist = |conn: &Connection| -> i64 {
            conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))
                .unwrap_or(0)
        };
        let before = freelist(&self.conn);
        if before == 0 {
            return;
        }
        let deadline = Instant::now() + Duration::from_millis(self.config.idle_vacuum_budget_ms);
        let mut left = i64::from(self.config.idle_vacuum_pages);
        while left > 0 && Instant::now() < deadline && rx.is_empty() {
            let step = left.min(64);
            let ok = {
                let (_in_batch, _) = self.scheduler.enter_batch();
                self.conn
                    .execute_batch(&format!("PRAGMA incremental_vacuum({step})"))
                    .is_ok()
            };
            if !ok {
                break;
            }
            left -= step;
        }
        let after = freelist(&self.conn);
        self.emit(Event::IdleVacuum {
            freelist_before: before,
            freelist_after: after,
        });
    }

    fn emit(&self, event: Event) {
        if let Some(listener) = &self.config.event_listener {
            drop(catch_unwind(AssertUnwindSafe(|| listener(&event))));
        }
    }

    /// Runs one batch, then resolves every promise of it.
    fn commit(
        &mut self,
        mut jobs: Vec<Job>,
        trigger: FlushTrigger,
        effective_max: usize,
        running: bool,
    ) {
        let start = Instant::now();
        let scheduler = Arc::clone(&self.scheduler);
        let (in_batch, stall) = scheduler.enter_batch();
        self.metrics.writer_stall(stall.as_micros() as u64);
        let run = self.run_batch(&jobs);
        drop(in_batch);
        let size = jobs.len();
        let duration = start.elapsed();
        self.metrics
            .batch(size, trigger, duration.as_secs_f64() * 1000.0);
        let wal_frames = self.wal_frames.load(Ordering::Relaxed);
        self.idle_vacuum_due = true;
        if run.as_ref().map_or_else(|f| f.unsynced > 0, |_| true) {
            self.scheduler.after_commit(wal_frames);
        }
        let (outcomes, failed): (Vec<(Outcome, TxOutcome)>, Option<Error>) = match run {
            Ok(list) => {
                let labelled = list
                    .into_iter()
                    .map(|o| {
                        let label = if o.is_ok() {
                            TxOutcome::Committed
                        } else {
                            TxOutcome::Failed
                        };
                        (o, label)
                    })
                    .collect();
                (labelled, None)
            }
            Err(failure) => {
                let list = (0..size).map(|i| failure.outcome(i)).collect();
                (list, Some(failure.error))
            }
        };
        let mut completions = Completions::default();
        for (job, (outcome, label)) in jobs.iter_mut().zip(outcomes) {
            let latency = job.reply.submitted.elapsed().as_secs_f64() * 1000.0;
            self.metrics.transaction(label, latency);
            completions.push(&mut job.reply, outcome);
        }
        completions.deliver();
        self.emit(match failed {
            Some(error) => Event::BatchFailed { size, error },
            None => Event::BatchCommitted {
                size,
                trigger,
                effective_max,
                checkpoint_running: running,
                wal_frames,
                duration,
            },
        });
    }

    /// Executes the batch. `Err` means the batch as a whole failed.
    ///
    /// Multi-statement transactions run under their own SAVEPOINT. A single statement is
    /// atomic by itself unless it fails (`OR FAIL` keeps a failing statement's earlier rows;
    /// a deferred foreign-key violation outlives the statement), so single statements run
    /// bare, which saves two statements per transaction; once one fails, every transaction
    /// of the batch gets a savepoint.
    ///
    /// Some failures take more than their own transaction with them: a failing bare
    /// statement, and statements after which SQLite rolls back the whole SQLite transaction
    /// (`OR ROLLBACK`, `RAISE(ROLLBACK)`, SQLITE_FULL, some I/O errors). The failing
    /// transaction is rejected, everything is rolled back, the transactions since the SQLite
    /// transaction began run again (the results reported are those of this final run), and
    /// the batch goes on after the failing one. Re-running the same prefix after each of
    /// many such failures would take quadratic time, so once the statements re-run within
    /// one SQLite transaction would pass [`RERUN_BUDGET`], the prefix runs one last time and
    /// is committed at once ("midway"), and the batch goes on in a new SQLite transaction:
    /// each transaction runs a bounded number of extra times, and each commit midway is paid
    /// for by the re-runs it saves.
    ///
    /// With `durability=full`, from the first commit midway to the end of the batch
    /// `synchronous` is NORMAL: commits write their frames to the WAL without a sync. After
    /// the batch's final COMMIT the WAL file is synced once, which covers every frame written
    /// before (the WAL is written from its start again only after a checkpoint has copied
    /// all of it, and checkpoints sync it first), and only then do promises resolve: a
    /// resolved promise is as durable as ever. After a crash before that sync, WAL recovery
    /// keeps a prefix of the batch's commits, each whole or not at all (frame checksums and
    /// commit markers), and no promise of the batch had resolved. If the batch fails after a
    /// commit midway, the transactions committed midway are rejected with an error saying
    /// that whether they are in the database is unknown. Readers may see a commit midway
    /// before its promises resolve. A batch with a statement that mentions `synchronous` is
    /// never committed midway (that statement could read the lowered level), nor is one on a
    /// file system without power-safe overwrite (a commit with `synchronous=FULL` would pad
    /// its last frame to a sector there).
    fn run_batch(&mut self, jobs: &[Job]) -> Result<Vec<Outcome>, BatchFailure> {
        self.prepare_connection().map_err(|error| BatchFailure {
            error,
            unsynced: 0,
            rejected: Vec::new(),
        })?;
        let mut p = Progress {
            outcomes: vec![None; jobs.len()],
            given_up: vec![false; jobs.len()],
            savepoints: false,
            start: 0,
            rerun: 0,
            commit_at: None,
            repeat_until: 0,
            unsynced: 0,
            may_commit_midway: None,
        };
        self.exec("BEGIN IMMEDIATE")
            .map_err(|e| self.fail(e.with_context("BEGIN IMMEDIATE failed"), &mut p))?;
        let mut i = 0;
        loop {
            if p.commit_at == Some(i) {
                self.commit_midway(&mut p, i)?;
            }
            let Some(job) = jobs.get(i) else { break };
            if p.given_up[i] {
                i += 1;
                continue;
            }
            // A transaction that committed in the run being repeated needs no savepoint: if
            // it fails this time, the whole SQLite transaction is rolled back and run again.
            let repeat_ok = i < p.repeat_until && matches!(p.outcomes[i], Some(Ok(_)));
            let ran = if repeat_ok || (!p.savepoints && job.tx.statements.len() == 1) {
                match self.run_statements(&job.tx) {
                    Ok(result) => Ran::Done(Ok(result)),
                    Err(e) => Ran::Spoiled(e),
                }
            } else {
                self.run_transaction(&job.tx)
            };
            #[cfg(test)]
            if std::mem::take(&mut self.hooks.panic_in_batch) {
                panic!("injected by a test");
            }
            let error = match ran {
                Ran::Done(outcome) => {
                    p.outcomes[i] = Some(outcome);
                    i += 1;
                    continue;
                }
                Ran::Spoiled(error) => error,
            };
            // Reject this transaction, roll back, run the ones since `start` again.
            p.outcomes[i] = Some(Err(error));
            p.given_up[i] = true;
            p.savepoints = true;
            if !self.conn.is_autocommit() {
                self.exec("ROLLBACK")
                    .map_err(|e| self.fail(e.with_context("ROLLBACK failed"), &mut p))?;
            }
            let redo: usize = (p.start..i)
                .filter(|&j| !p.given_up[j])
                .map(|j| jobs[j].tx.statements.len() + 1)
                .sum();
            p.commit_at = None;
            if redo > 0 && p.rerun + redo > RERUN_BUDGET && self.may_commit_midway(&mut p, jobs) {
                p.commit_at = Some(i);
                if self.config.durability == Durability::Full && !self.sync_lowered {
                    self.set_synchronous(true)
                        .map_err(|e| self.fail(e, &mut p))?;
                }
            } else {
                p.rerun += redo;
            }
            self.exec("BEGIN IMMEDIATE")
                .map_err(|e| self.fail(e.with_context("BEGIN IMMEDIATE failed"), &mut p))?;
            p.repeat_until = i;
            i = p.start;
        }
        self.finish(p)
    }

    /// Commits the transactions since `p.start` midway, then begins a new SQLite
    /// transaction for the ones from `at` on.
    fn commit_midway(&mut self, p: &mut Progress, at: usize) -> Result<(), BatchFailure> {
        p.commit_at = None;
        self.exec("COMMIT")
            .map_err(|e| self.fail(e.with_context("COMMIT failed"), p))?;
        p.unsynced = at;
        p.start = at;
        p.rerun = 0;
        self.exec("BEGIN IMMEDIATE")
            .map_err(|e| self.fail(e.with_context("BEGIN IMMEDIATE failed"), p))
    }

    /// The batch's final COMMIT; after commits midway with `synchronous` lowered, the sync
    /// that makes all of them durable.
    fn finish(&mut self, mut p: Progress) -> Result<Vec<Outcome>, BatchFailure> {
        self.exec("COMMIT")
            .map_err(|e| self.fail(e.with_context("COMMIT failed"), &mut p))?;
        if self.sync_lowered {
            if let Err(e) = self.sync_wal() {
                let all = p.outcomes.len();
                return Err(BatchFailure::new(
                    e.with_context("COMMIT failed: syncing the WAL"),
                    all,
                    &mut p,
                ));
            }
            // If this fails, the next batch tries again before it begins.
            drop(self.set_synchronous(false));
        }
        Ok(p.outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| {
                    Err(Error::Internal(
                        "a transaction of the batch was never run".into(),
                    ))
                })
            })
            .collect())
    }

    /// Ends a failed batch: rolls back what is still open (if that fails too, the next
    /// batch tries again first) and returns the failure.
    fn fail(&mut self, error: Error, p: &mut Progress) -> BatchFailure {
        if !self.conn.is_autocommit() {
            drop(self.exec("ROLLBACK"));
        }
        let unsynced = p.unsynced;
        BatchFailure::new(error, unsynced, p)
    }

    /// Whether this batch may commit midway (decided once per batch): always with
    /// `durability` normal or off; with full, unless a statement mentions `synchronous`
    /// or the WAL's file system lacks power-safe overwrite.
    fn may_commit_midway(&self, p: &mut Progress, jobs: &[Job]) -> bool {
        if self.config.durability != Durability::Full {
            return true;
        }
        *p.may_commit_midway.get_or_insert_with(|| {
            self.wal_overwrites_safely()
                && !jobs
                    .iter()
                    .flat_map(|job| &job.tx.statements)
                    .any(|s| mentions_synchronous(&s.sql))
        })
    }

    /// Sets `PRAGMA synchronous` to NORMAL (`lowered`) or to the configured level. Only
    /// outside a transaction.
    fn set_synchronous(&mut self, lowered: bool) -> Result<()> {
        let level = if lowered {
            "NORMAL"
        } else {
            synchronous_pragma(self.config.durability)
        };
        // Not a cached statement: SQLite applies this pragma while it prepares it.
        self.conn
            .execute_batch(&format!("PRAGMA synchronous={level}"))
            .map_err(|e| Error::from_sqlite(e, None))?;
        self.sync_lowered = lowered;
        Ok(())
    }

    /// The WAL's open file object, if any.
    fn wal_file(&self) -> Option<*mut ffi::sqlite3_file> {
        let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
        // SAFETY: the handle is valid while `self.conn` lives and this thread owns it; the
        // call stores into `file` the WAL's file object, owned by SQLite and open while the
        // connection has the database open in WAL mode.
        let rc = unsafe {
            ffi::sqlite3_file_control(
                self.conn.handle(),
                c"main".as_ptr(),
                ffi::SQLITE_FCNTL_JOURNAL_POINTER,
                (&mut file as *mut *mut ffi::sqlite3_file).cast::<c_void>(),
            )
        };
        // SAFETY: `file` is null or points to SQLite's file object, whose methods are set
        // while it is open.
        let open =
            rc == ffi::SQLITE_OK && unsafe { file.as_ref() }.is_some_and(|f| !f.pMethods.is_null());
        open.then_some(file)
    }

    /// Whether the WAL's file system promises power-safe overwrite: a write never damages
    /// bytes outside the range written, even on power loss.
    fn wal_overwrites_safely(&self) -> bool {
        let Some(file) = self.wal_file() else {
            return false;
        };
        // SAFETY: `file` is open (see `wal_file`); its methods belong to it.
        let characteristics = unsafe { (*(*file).pMethods).xDeviceCharacteristics };
        // SAFETY: as above, called on the connection's thread as SQLite itself does.
        let flags = characteristics.map_or(0, |f| unsafe { f(file) });
        flags & ffi::SQLITE_IOCAP_POWERSAFE_OVERWRITE != 0
    }

    /// Syncs the WAL file, as a commit with `synchronous=FULL` does.
    fn sync_wal(&self) -> Result<()> {
        // SAFETY: `file` is open (see `wal_file`); its methods belong to it.
        let sync = self
            .wal_file()
            .and_then(|file| unsafe { (*(*file).pMethods).xSync }.map(|sync| (file, sync)));
        let rc = match sync {
            // SAFETY: as above; SQLite's own commit calls xSync so, on the connection's
            // thread.
            Some((file, sync)) => unsafe { sync(file, ffi::SQLITE_SYNC_NORMAL) },
            None => ffi::SQLITE_MISUSE,
        };
        if rc == ffi::SQLITE_OK {
            return Ok(());
        }
        Err(Error::Sqlite {
            code: rc & 0xff,
            extended_code: rc,
            message: ffi::code_to_str(rc).to_string(),
            statement_index: None,
        })
    }

    /// Before a batch: a transaction left open (a ROLLBACK that failed) is rolled back, and
    /// `synchronous` is back at its configured level. When that rollback keeps failing, the
    /// connection is replaced by a new one.
    fn prepare_connection(&mut self) -> Result<()> {
        if !self.conn.is_autocommit() {
            match self.roll_back_leftover() {
                Ok(()) => self.failed_recoveries = 0,
                Err(e) => {
                    self.failed_recoveries += 1;
                    if self.failed_recoveries < REOPEN_AFTER {
                        return Err(e.with_context(
                            "rolling back the transaction a previous batch left open failed",
                        ));
                    }
                    self.reopen()
                        .map_err(|e| e.with_context("reopening the write connection failed"))?;
                    self.failed_recoveries = 0;
                }
            }
        }
        if self.sync_lowered {
            self.set_synchronous(false)?;
        }
        Ok(())
    }

    fn roll_back_leftover(&mut self) -> Result<()> {
        #[cfg(test)]
        if self.hooks.failing_rollbacks > 0 {
            self.hooks.failing_rollbacks -= 1;
            return Err(Error::Sqlite {
                code: ffi::SQLITE_IOERR,
                extended_code: ffi::SQLITE_IOERR,
                message: "disk I/O error (injected by a test)".into(),
                statement_index: None,
            });
        }
        self.exec("ROLLBACK")
    }

    /// Replaces the connection by a new one; closing the old one rolls back what it holds.
    fn reopen(&mut self) -> Result<()> {
        let conn = crate::connection::open_writer(&self.path, &self.config)?;
        drop(std::mem::replace(&mut self.conn, conn));
        self.sync_lowered = false;
        self.install_wal_hook()
    }

    /// Runs a transaction under its own savepoint.
    fn run_transaction(&mut self, tx: &Transaction) -> Ran {
        if let Err(e) = self.exec("SAVEPOINT litecommit_tx") {
            return Ran::Spoiled(e);
        }
        match self.run_statements(tx) {
            Ok(result) => match self.exec("RELEASE litecommit_tx") {
                Ok(()) => Ran::Done(Ok(result)),
                Err(e) => Ran::Spoiled(e),
            },
            // SQLite rolled back the whole SQLite transaction.
            Err(e) if self.conn.is_autocommit() => Ran::Spoiled(e),
            Err(e) => {
                let undone = self
                    .exec("ROLLBACK TO litecommit_tx")
                    .and_then(|()| self.exec("RELEASE litecommit_tx"));
                match undone {
                    Ok(()) => Ran::Done(Err(e)),
                    // Its changes cannot be undone alone.
                    Err(_) => Ran::Spoiled(e),
                }
            }
        }
    }

    fn run_statements(&mut self, tx: &Transaction) -> Outcome {
        // last_insert_rowid(), changes() and total_changes() answer as on a fresh
        // connection, never with another transaction's figures (SQLite keeps one per
        // connection).
        crate::connection::start_transaction(&self.conn)?;
        let mut results = Vec::with_capacity(tx.statements.len());
        for (index, stmt) in tx.statements.iter().enumerate() {
            results.push(statement::run(&self.conn, stmt, index)?);
        }
        if self.deferred_fk_violations() > 0 {
            return Err(Error::Sqlite {
                code: ffi::SQLITE_CONSTRAINT,
                extended_code: ffi::SQLITE_CONSTRAINT_FOREIGNKEY,
                message: "FOREIGN KEY constraint failed (deferred constraint, checked at the \
                          end of the transaction)"
                    .into(),
                statement_index: None,
            });
        }
        Ok(TransactionResult {
            statements: results,
        })
    }

    /// SQLite's count of unresolved deferred foreign-key violations in the open transaction.
    fn deferred_fk_violations(&self) -> i32 {
        let (mut current, mut high) = (0, 0);
        // SAFETY: the handle is valid while `self.conn` lives; this thread owns the connection.
        let rc = unsafe {
            ffi::sqlite3_db_status(
                self.conn.handle(),
                ffi::SQLITE_DBSTATUS_DEFERRED_FKS,
                &mut current,
                &mut high,
                0,
            )
        };
        if rc == ffi::SQLITE_OK {
            current
        } else {
            0
        }
    }

    fn exec(&self, sql: &str) -> Result<()> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut s| s.raw_execute())
            .map(drop)
            .map_err(|e| Error::from_sqlite(e, None))
    }
}

/// Whether SQL text mentions `synchronous` (in any case).
fn mentions_synchronous(sql: &str) -> bool {
    sql.as_bytes()
        .windows(b"synchronous".len())
        .any(|w| w.eq_ignore_ascii_case(b"synchronous"))
}

#[cfg(test)]
mod tests {
    use std::sync::{Condvar, Mutex};

    use super::*;
    use crate::config::CheckpointMode;
    use crate::Committer;

    const PATIENCE: Duration = Duration::from_secs(60);

    /// Holds the writer inside the event of its next batch until released.
    #[derive(Default)]
    struct Hold {
        state: Mutex<(bool, bool)>, // (armed, held)
        changed: Condvar,
    }

    impl Hold {
        fn on_event(&self, event: &Event) {
            if !matches!(event, Event::BatchCommitted { .. }) {
                return;
            }
            let mut st = self.state.lock().unwrap();
            if !st.0 {
                return;
            }
            *st = (false, true);
            self.changed.notify_all();
            drop(self.changed.wait_timeout_while(st, PATIENCE, |st| st.1));
        }

        /// Returns once the writer is held in the event of a batch of its own.
        fn hold(&self, db: &Committer) {
            self.state.lock().unwrap().0 = true;
            db.execute("SELECT 1", ()).unwrap();
            let st = self.state.lock().unwrap();
            let (_st, waited) = self
                .changed
                .wait_timeout_while(st, PATIENCE, |st| !st.1)
                .unwrap();
            assert!(!waited.timed_out(), "the writer never got held");
        }

        fn release(&self) {
            self.state.lock().unwrap().1 = false;
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

    #[test]
    fn mentions_synchronous_in_any_case() {
        assert!(mentions_synchronous("PRAGMA synchronous"));
        assert!(mentions_synchronous("select * from pragma_SYNCHRONOUS"));
        assert!(!mentions_synchronous("INSERT INTO t VALUES ('synchron')"));
    }
}
