//! The writer thread: one connection, one SQLite transaction per batch, one savepoint per
//! submitted transaction.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use rusqlite::{ffi, Connection, OpenFlags};

use crate::checkpoint::Scheduler;
use crate::completion::{Completions, Outcome, Reply};
use crate::config::{Config, Durability, FlushPolicy};
use crate::error::{Error, Result};
use crate::event::{Event, FlushTrigger};
use crate::metrics::{Metrics, TxOutcome};
use crate::statement;
use crate::transaction::{Transaction, TransactionResult};

/// A message to the writer, in submission order.
pub(crate) enum Msg {
    /// A transaction to commit.
    Tx(Transaction, Reply),
    /// A barrier: answered once everything before it is committed.
    Flush(Sender<()>),
    /// Commit everything before it, then stop.
    Close,
    /// Makes the writer panic, to test that no promise is left hanging.
    #[cfg(test)]
    Panic,
}

pub(crate) fn synchronous_pragma(durability: Durability) -> &'static str {
    match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
        Durability::Off => "OFF",
    }
}

/// Opens and configures the write connection (WAL mode, no inline autocheckpoint).
pub(crate) fn open_connection(path: &Path, config: &Config) -> Result<Connection> {
    let open_err = |e: rusqlite::Error| Error::Open(e.to_string());
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
    conn.busy_timeout(Duration::from_millis(config.busy_timeout_ms))
        .map_err(open_err)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(open_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Open(format!(
            "{}: cannot switch to WAL mode (journal_mode is {mode}); litecommit needs a file \
             database",
            path.display()
        )));
    }
    let mut pragmas = format!(
        "PRAGMA synchronous={}; PRAGMA cache_size=-{}; PRAGMA mmap_size={}; \
         PRAGMA foreign_keys={}; PRAGMA wal_autocheckpoint=0;",
        synchronous_pragma(config.durability),
        config.cache_size_kib,
        config.mmap_size,
        if config.foreign_keys { "ON" } else { "OFF" },
    );
    if let Some(limit) = config.journal_size_limit {
        pragmas.push_str(&format!(" PRAGMA journal_size_limit={limit};"));
    }
    conn.execute_batch(&pragmas).map_err(open_err)?;
    conn.set_prepared_statement_cache_capacity(config.statement_cache_capacity);
    Ok(conn)
}

pub(crate) struct Writer {
    conn: Connection,
    config: Config,
    metrics: Arc<Metrics>,
    scheduler: Arc<Scheduler>,
    wal_frames: Arc<AtomicU64>,
    idle_vacuum_due: bool,
}

struct Job {
    tx: Transaction,
    reply: Reply,
}

impl Writer {
    pub(crate) fn new(
        mut conn: Connection,
        config: Config,
        metrics: Arc<Metrics>,
        scheduler: Arc<Scheduler>,
    ) -> Result<Writer> {
        let wal_frames = Arc::new(AtomicU64::new(0));
        let hook_frames = Arc::clone(&wal_frames);
        // Registering a WAL hook also replaces SQLite's inline autocheckpoint.
        conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, frames: i32| {
            hook_frames.store(u64::try_from(frames).unwrap_or(0), Ordering::Relaxed);
            Ok(())
        }))
        .map_err(|e| Error::Open(e.to_string()))?;
        Ok(Writer {
            conn,
            config,
            metrics,
            scheduler,
            wal_frames,
            idle_vacuum_due: false,
        })
    }

    /// The writer thread's body. A panic fails every transaction still in flight or queued,
    /// and every later one, with an internal error, until close.
    pub(crate) fn run(self, rx: Receiver<Msg>) {
        let mut writer = Some(self);
        let panic = catch_unwind(AssertUnwindSafe(|| {
            if let Some(w) = writer.as_mut() {
                w.serve(&rx);
            }
        }));
        let Err(panic) = panic else { return };
        drop(writer);
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let error = Error::Internal(format!("the writer thread panicked: {what}"));
        while let Ok(msg) = rx.recv() {
            match msg {
                Msg::Tx(_, mut reply) => {
                    let mut c = Completions::default();
                    c.push(&mut reply, Err(error.clone()));
                    c.deliver();
                }
                Msg::Flush(done) => {
                    let _ = done.send(());
                }
                Msg::Close => return,
                #[cfg(test)]
                Msg::Panic => {}
            }
        }
    }

    fn serve(&mut self, rx: &Receiver<Msg>) {
        let mut batch: Vec<Job> = Vec::new();
        let mut barriers: Vec<Sender<()>> = Vec::new();
        loop {
            let (trigger, closing, checkpoint_running) =
                self.collect(rx, &mut batch, &mut barriers);
            let effective_max = self.config.effective_max_batch(checkpoint_running);
            if !batch.is_empty() {
                self.metrics.queue_depth(rx.len());
                let jobs = std::mem::take(&mut batch);
                self.commit(jobs, trigger, effective_max, checkpoint_running);
            }
            for done in barriers.drain(..) {
                let _ = done.send(());
            }
            if closing {
                return;
            }
        }
    }

    /// Gathers the next batch; returns why it should be flushed, whether to stop after, and
    /// whether a checkpoint ran at any point while it was gathered.
    fn collect(
        &mut self,
        rx: &Receiver<Msg>,
        batch: &mut Vec<Job>,
        barriers: &mut Vec<Sender<()>>,
    ) -> (FlushTrigger, bool, bool) {
        let max_wait = Duration::from_millis(self.config.max_wait_ms);
        let linger = Duration::from_millis(self.config.linger_ms);
        let mut first_at = Instant::now();
        let mut seen = false;
        loop {
            let running = self.metrics.checkpoint_running.load(Ordering::Acquire);
            seen |= running;
            if batch.len() >= self.config.effective_max_batch(running) {
                return (FlushTrigger::Size, false, seen);
            }
            let msg = if batch.is_empty() {
                match self.wait_first(rx) {
                    Some(msg) => msg,
                    None => return (FlushTrigger::Close, true, seen),
                }
            } else {
                match self.config.flush_policy {
                    FlushPolicy::Adaptive => match rx.try_recv() {
                        Ok(msg) => msg,
                        Err(TryRecvError::Disconnected) => {
                            return (FlushTrigger::Close, true, seen)
                        }
                        Err(TryRecvError::Empty) => {
                            match (!linger.is_zero()).then(|| rx.recv_deadline(first_at + linger)) {
                                Some(Ok(msg)) => msg,
                                Some(Err(RecvTimeoutError::Disconnected)) => {
                                    return (FlushTrigger::Close, true, seen)
                                }
                                _ => return (FlushTrigger::Adaptive, false, seen),
                            }
                        }
                    },
                    FlushPolicy::Ticker => match rx.recv_deadline(first_at + max_wait) {
                        Ok(msg) => msg,
                        Err(RecvTimeoutError::Disconnected) => {
                            return (FlushTrigger::Close, true, seen)
                        }
                        Err(RecvTimeoutError::Timeout) => {
                            if !self.metrics.checkpoint_running.load(Ordering::Acquire) {
                                return (FlushTrigger::Timer, false, seen);
                            }
                            // The seed's rule: no timer flush while a checkpoint runs.
                            first_at = Instant::now();
                            self.emit(Event::TimerFlushSuppressed {
                                queued: batch.len(),
                            });
                            continue;
                        }
                    },
                }
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
                    return (FlushTrigger::Flush, false, seen);
                }
                Msg::Close => return (FlushTrigger::Close, true, seen),
                #[cfg(test)]
                Msg::Panic => panic!("injected by a test"),
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
        rx.recv().ok()
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
            self.scheduler.enter_batch();
            let ok = self
                .conn
                .execute_batch(&format!("PRAGMA incremental_vacuum({step})"))
                .is_ok();
            self.scheduler.leave_batch();
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

    /// Runs one batch in one SQLite transaction, then resolves every promise of it.
    fn commit(
        &mut self,
        mut jobs: Vec<Job>,
        trigger: FlushTrigger,
        effective_max: usize,
        running: bool,
    ) {
        let start = Instant::now();
        let stall = self.scheduler.enter_batch();
        self.metrics.writer_stall(stall.as_micros() as u64);
        let outcomes = self.run_batch(&jobs);
        self.scheduler.leave_batch();
        let size = jobs.len();
        let duration = start.elapsed();
        self.metrics
            .batch(size, trigger, duration.as_secs_f64() * 1000.0);
        let wal_frames = self.wal_frames.load(Ordering::Relaxed);
        self.idle_vacuum_due = true;
        if outcomes.is_ok() {
            self.scheduler.after_commit(wal_frames);
        }
        let failed = outcomes.as_ref().err().cloned();
        let mut completions = Completions::default();
        let outcomes: Vec<Outcome> = match outcomes {
            Ok(list) => list,
            Err(e) => vec![Err(e); size],
        };
        for (job, outcome) in jobs.iter_mut().zip(outcomes) {
            let label = match (&outcome, &failed) {
                (Ok(_), _) => TxOutcome::Committed,
                (Err(_), Some(_)) => TxOutcome::Aborted,
                (Err(_), None) => TxOutcome::Failed,
            };
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

    /// Executes the batch. `Err` means the batch as a whole failed (BEGIN or COMMIT).
    ///
    /// Multi-statement transactions run under their own SAVEPOINT. A single statement is
    /// atomic by itself unless it fails (`OR FAIL` keeps a failing statement's earlier rows;
    /// a deferred foreign-key violation outlives the statement), so single statements run
    /// bare, which saves two statements per transaction; if one fails, the batch is rolled
    /// back and run again without it, this time with a savepoint for every transaction.
    fn run_batch(&mut self, jobs: &[Job]) -> Result<Vec<Outcome>> {
        let mut given_up: Vec<Option<Error>> = vec![None; jobs.len()];
        let mut savepoints_only = false;
        'attempt: loop {
            self.exec("BEGIN IMMEDIATE")
                .map_err(|e| e.with_context("BEGIN IMMEDIATE failed"))?;
            let mut outcomes = Vec::with_capacity(jobs.len());
            for (i, job) in jobs.iter().enumerate() {
                if let Some(e) = &given_up[i] {
                    outcomes.push(Err(e.clone()));
                    continue;
                }
                let bare = !savepoints_only && job.tx.statements.len() == 1;
                let outcome = if bare {
                    self.run_statements(&job.tx)
                } else {
                    self.run_transaction(&job.tx)
                };
                if let Err(e) = &outcome {
                    if bare || self.conn.is_autocommit() {
                        // Either the bare statement may have left changes behind, or SQLite
                        // rolled back the whole batch (I/O error, disk full, ...): reject this
                        // transaction and run the others again.
                        given_up[i] = Some(e.clone());
                        savepoints_only = true;
                        if !self.conn.is_autocommit() {
                            self.exec("ROLLBACK")?;
                        }
                        continue 'attempt;
                    }
                }
                outcomes.push(outcome);
            }
            if let Err(e) = self.exec("COMMIT") {
                if !self.conn.is_autocommit() {
                    drop(self.exec("ROLLBACK"));
                }
                return Err(e.with_context("COMMIT failed"));
            }
            return Ok(outcomes);
        }
    }

    fn run_transaction(&mut self, tx: &Transaction) -> Outcome {
        self.exec("SAVEPOINT litecommit_tx")?;
        let result = self.run_statements(tx);
        if result.is_ok() {
            self.exec("RELEASE litecommit_tx")?;
        } else if !self.conn.is_autocommit() {
            self.exec("ROLLBACK TO litecommit_tx")?;
            self.exec("RELEASE litecommit_tx")?;
        }
        result
    }

    fn run_statements(&mut self, tx: &Transaction) -> Outcome {
        // The rowid reported is this transaction's own last insert, never another
        // transaction's of the same batch (SQLite keeps one per connection).
        // SAFETY: the handle is valid while `self.conn` lives; this thread owns the connection.
        unsafe { ffi::sqlite3_set_last_insert_rowid(self.conn.handle(), 0) };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Scheduler;

    #[test]
    fn a_panic_in_the_writer_answers_every_promise_with_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("panic.db");
        let config = Config::default();
        let metrics = Arc::new(Metrics::new());
        let conn = open_connection(&path, &config).unwrap();
        let (scheduler, scheduler_thread) =
            Scheduler::start(&path, &config, Arc::clone(&metrics)).unwrap();
        let writer = Writer::new(conn, config, metrics, Arc::clone(&scheduler)).unwrap();
        let (tx, rx) = crossbeam_channel::unbounded();
        let insert = || Transaction::single("CREATE TABLE IF NOT EXISTS t (a)", ());
        let (reply_a, in_batch) = Reply::handle();
        let (reply_b, queued_after) = Reply::handle();
        let (flushed, flush_done) = crossbeam_channel::bounded(1);
        tx.send(Msg::Tx(insert(), reply_a)).unwrap();
        tx.send(Msg::Panic).unwrap();
        tx.send(Msg::Tx(insert(), reply_b)).unwrap();
        tx.send(Msg::Flush(flushed)).unwrap();
        tx.send(Msg::Close).unwrap();
        let thread = std::thread::spawn(move || writer.run(rx));
        for pending in [in_batch, queued_after] {
            match pending.wait() {
                Err(Error::Internal(msg)) => assert!(!msg.is_empty()),
                other => panic!("expected an internal error, got {other:?}"),
            }
        }
        flush_done.recv().unwrap();
        thread.join().unwrap();
        scheduler.stop();
        scheduler_thread.join().unwrap();
    }
}
