//! The public handle: submit transactions, query, flush, checkpoint, close.

use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;

use crossbeam_channel::{Receiver, SendTimeoutError, Sender, TrySendError};
use rusqlite::ffi;

use crate::checkpoint::{CheckpointResult, Scheduler};
use crate::completion::{BatchSink, Outcome, Pending, Reply};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::files::{file_len, wal_path};
use crate::future::Room;
use crate::gate::Gate;
use crate::metrics::{Metrics, Stats};
use crate::modes::CheckpointMode;
use crate::read_pool::ReadPool;
use crate::snapshot::Snapshot;
use crate::statement;
use crate::transaction::{Rows, Statement, Transaction, TransactionResult};
use crate::value::Params;
use crate::writer::{Intake, Msg, Shared, Shutdown, Writer};

/// A group committer on one SQLite database. `Send + Sync`: share it (for example in an
/// `Arc`) between every thread that writes. Dropping it closes it (see [`Committer::close`]).
///
/// It belongs to the process that opened it: in a forked child the methods that need its
/// threads or connections (the submits, `execute`, `transaction`, `query`, `snapshot`,
/// `flush`, `checkpoint`, `close`) fail with [`Error::Forked`], while `path`, `config`, `stats`,
/// `metrics_text`, `registry` and `is_closed` still answer from this process's copy; dropping
/// it there releases nothing (the threads and the SQLite connections are the parent's).
///
/// Completion callbacks, batch sinks and event listeners run on the committer's own threads
/// (event listeners also inside an inline commit, see [`Committer::transaction`]): there,
/// the calls that would wait for that thread (`flush`, `execute`, `transaction`, submits
/// that wait for room, and `checkpoint` on the checkpoint thread) fail at once with
/// `SQLITE_MISUSE` instead of waiting forever; `try_submit` and `close` work.
pub struct Committer {
    /// Dropped by `Drop`, except in a forked child, where it is leaked.
    inner: ManuallyDrop<Inner>,
}

/// Everything a committer holds.
struct Inner {
    /// The writer's queue.
    queue: Sender<Msg>,
    /// Lets `close` wait for callers still handing work to the queue.
    intake: Arc<Intake>,
    /// Disconnects once the writer thread has shut everything down.
    stopped: Receiver<()>,
    /// What batches need, for the transactions committed on their caller's thread.
    shared: Arc<Shared>,
    /// The writer thread, joined by the first `close` that waits for it.
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    /// The writer thread's id: `close` called on it does not wait for itself.
    writer_id: ThreadId,
    /// The scheduler thread's id: `close` called on it does not wait for the writer.
    scheduler_id: ThreadId,
    /// Runs manual checkpoints.
    scheduler: Arc<Scheduler>,
    /// Serves `query`.
    readers: Arc<ReadPool>,
    /// The figures behind `stats`, `metrics_text` and `registry`.
    metrics: Arc<Metrics>,
    /// The database path it was opened with.
    path: PathBuf,
    /// The -wal file, whose size `stats` reports.
    wal_path: PathBuf,
    /// The configuration it was opened with.
    config: Config,
    /// The process that opened it.
    pid: u32,
}

/// How a submit waits when the queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Until there is room.
    Block,
    /// Up to this long, then [`Error::Timeout`].
    Timeout(Duration),
    /// Not at all: [`Error::QueueFull`] at once.
    Never,
}

impl Committer {
    /// Opens (creating if needed) the database at `path` in WAL mode and starts the writer
    /// and the checkpoint scheduler.
    pub fn open(path: impl AsRef<Path>, config: Config) -> Result<Committer> {
        config.validate()?;
        let path = path.as_ref().to_path_buf();
        let conn = crate::connection::open_writer(&path, &config)?;
        let wal_path = wal_path(&conn);
        let metrics = Arc::new(Metrics::new(&config, &wal_path));
        let readers = Arc::new(ReadPool::open(&path, &config)?);
        let gate = Arc::new(Gate::default());
        let (scheduler, scheduler_thread) =
            Scheduler::start(&path, &config, Arc::clone(&metrics), Arc::clone(&gate))?;
        let scheduler_id = scheduler_thread.thread().id();
        let intake = Arc::new(Intake::default());
        let shared = Shared::new(
            conn,
            &path,
            config.clone(),
            Arc::clone(&metrics),
            Arc::clone(&scheduler),
            gate,
            Arc::clone(&intake),
        )
        .map(Arc::new);
        let (queue, rx) = crossbeam_channel::bounded(config.queue_capacity);
        let (stopped_tx, stopped) = crossbeam_channel::bounded(0);
        let shutdown = Shutdown {
            scheduler_thread: Some(scheduler_thread),
            readers: Arc::clone(&readers),
            stopped: stopped_tx,
        };
        let (shared, writer_thread) = start_writer(shared, rx, shutdown, &scheduler)?;
        Ok(Committer {
            inner: ManuallyDrop::new(Inner {
                queue,
                shared,
                intake,
                stopped,
                writer_id: writer_thread.thread().id(),
                writer_thread: Mutex::new(Some(writer_thread)),
                scheduler_id,
                scheduler,
                readers,
                metrics,
                path,
                wal_path,
                config,
                pid: crate::process::id(),
            }),
        })
    }

    /// The database path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Queues a transaction, waiting while the queue is full; the handle resolves once it
    /// is durable.
    pub fn submit(&self, tx: impl Into<Transaction>) -> Result<Pending> {
        let (reply, pending) = Reply::handle();
        self.enqueue(tx.into(), reply, Wait::Block)?;
        Ok(pending)
    }

    /// Like [`Committer::submit`], failing with [`Error::Timeout`] if the queue stays full
    /// for `timeout`.
    pub fn submit_timeout(&self, tx: impl Into<Transaction>, timeout: Duration) -> Result<Pending> {
        let (reply, pending) = Reply::handle();
        self.enqueue(tx.into(), reply, Wait::Timeout(timeout))?;
        Ok(pending)
    }

    /// Like [`Committer::submit`], failing at once with [`Error::QueueFull`] when the queue
    /// is full.
    pub fn try_submit(&self, tx: impl Into<Transaction>) -> Result<Pending> {
        let (reply, pending) = Reply::handle();
        self.enqueue(tx.into(), reply, Wait::Never)?;
        Ok(pending)
    }

    /// Queues a transaction (waiting while the queue is full); `callback` runs on the
    /// writer thread with the outcome. It must not block; a panic in it is caught.
    pub fn submit_with_callback(
        &self,
        tx: impl Into<Transaction>,
        callback: impl FnOnce(Outcome) + Send + 'static,
    ) -> Result<()> {
        self.enqueue(tx.into(), Reply::callback(callback), Wait::Block)
    }

    /// Queues a transaction whose outcome goes to `sink` with `token`, together with every
    /// other completion of the same batch for that sink; `wait` says what a full queue does.
    pub fn submit_to_sink(
        &self,
        tx: impl Into<Transaction>,
        sink: Arc<dyn BatchSink>,
        token: u64,
        wait: Wait,
    ) -> Result<()> {
        self.enqueue(tx.into(), Reply::sink(sink, token), wait)
    }

    /// Runs one statement as a transaction and waits until it is durable.
    pub fn execute(&self, sql: &str, params: impl Into<Params>) -> Result<TransactionResult> {
        self.run(Transaction::single(sql.to_owned(), params), "execute()")
    }

    /// Runs a transaction and waits until it is durable. When the writer is idle (nothing
    /// queued, no batch running, and no other blocking call with `durability=full`; with
    /// `normal` or `off`, no more blocking calls than CPUs, at most 8), it commits on the
    /// calling thread, as a batch of one.
    pub fn transaction(&self, tx: impl Into<Transaction>) -> Result<TransactionResult> {
        self.run(tx.into(), "transaction()")
    }

    /// Commits `tx` and waits: on this thread when the writer is idle, otherwise through
    /// the queue. `what` names the call in the error of a call that would wait for itself.
    fn run(&self, tx: Transaction, what: &str) -> Result<TransactionResult> {
        let inner = self.live()?;
        inner.not_on_writer(what)?;
        check_statements(&tx)?;
        let _counted = inner.shared.blocking_call();
        match inner.shared.commit_inline(tx) {
            Ok(outcome) => outcome,
            Err(tx) => {
                let (reply, pending) = Reply::handle();
                inner.send(tx, reply, Wait::Block)?;
                pending.wait()
            }
        }
    }

    /// Runs a read-only statement on the read pool. It sees every transaction whose promise
    /// resolved before it started.
    pub fn query(&self, sql: &str, params: impl Into<Params>) -> Result<Rows> {
        let inner = self.live()?;
        if inner.intake.is_closed() {
            return Err(Error::Closed);
        }
        inner.readers.query(&Statement::new(sql.to_owned(), params))
    }

    /// Begins a read snapshot on a connection of the read pool (waiting while all are
    /// busy): its queries see every transaction whose promise resolved before this call,
    /// and nothing that commits later. `close` does not wait for it.
    pub fn snapshot(&self) -> Result<Snapshot> {
        let inner = self.live()?;
        if inner.intake.is_closed() {
            return Err(Error::Closed);
        }
        Snapshot::begin(&inner.readers)
    }

    /// A barrier: returns once every transaction submitted before it is committed.
    pub fn flush(&self) -> Result<()> {
        let inner = self.live()?;
        inner.not_on_writer("flush()")?;
        let (done, wait) = crossbeam_channel::bounded(1);
        {
            let Some(_inside) = inner.intake.enter() else {
                return Err(Error::Closed);
            };
            inner
                .queue
                .send(Msg::Flush(done))
                .map_err(|_| Error::Closed)?;
        }
        wait.recv().map_err(|_| Error::Closed)
    }

    /// Runs a checkpoint now, on the scheduler's connection (after any running one).
    pub fn checkpoint(&self, mode: CheckpointMode) -> Result<CheckpointResult> {
        let inner = self.live()?;
        if inner.intake.is_closed() {
            return Err(Error::Closed);
        }
        if std::thread::current().id() == inner.scheduler_id {
            return Err(waits_for_itself(
                "checkpoint() called on the checkpoint thread (in an event listener)",
            ));
        }
        inner.scheduler.checkpoint(mode)
    }

    /// The metrics in the Prometheus text exposition format.
    pub fn metrics_text(&self) -> String {
        self.inner.metrics.text()
    }

    /// This committer's Prometheus registry (to expose it next to an application's own).
    pub fn registry(&self) -> &prometheus::Registry {
        self.inner.metrics.registry()
    }

    /// Every metric of this committer as one collector, to register in a registry shared
    /// with other committers: their `db` labels (the `metrics_label` option) must differ,
    /// or the registry refuses the second one.
    pub fn collector(&self) -> Box<dyn prometheus::core::Collector> {
        self.inner.metrics.collector()
    }

    /// The same figures as the metrics, as a plain structure, plus the queue as it is now.
    pub fn stats(&self) -> Stats {
        let inner = &*self.inner;
        let mut stats = inner.metrics.stats();
        stats.wal_file_bytes = file_len(&inner.wal_path);
        stats.queue_length = inner.queue.len() as u64;
        stats.submitting = (inner.intake.inside() + inner.intake.room.waiting()) as u64;
        stats
    }

    /// Whether `close` has been called.
    pub fn is_closed(&self) -> bool {
        self.inner.intake.is_closed()
    }

    /// Stops accepting work; commits everything already queued, including what blocking
    /// submitters waiting for room in a full queue hand over meanwhile (async submit futures
    /// waiting for room fail with [`Error::Closed`] instead); resolves every promise; stops
    /// the scheduler; closes the read connections (those of open snapshots too, without
    /// waiting for them to be dropped: their later queries fail with [`Error::Closed`]),
    /// then the writer's, last, so that SQLite checkpoints the WAL and removes it: the
    /// database file alone then holds every committed row. Idempotent; afterwards every other method fails with
    /// [`Error::Closed`]. Called from a completion callback, a batch sink or an event
    /// listener, it returns at once and the writer finishes closing on its own.
    pub fn close(&self) -> Result<()> {
        let inner = self.live()?;
        let current = std::thread::current().id();
        if inner.intake.close() {
            // Wakes a writer that waits for work. On the writer thread a full queue cannot
            // drain while we wait; the writer sees the flag after its current batch.
            if current == inner.writer_id {
                drop(inner.queue.try_send(Msg::Close));
            } else {
                drop(inner.queue.send(Msg::Close));
            }
        }
        if current == inner.writer_id || current == inner.scheduler_id {
            // The writer waits for the scheduler thread when it shuts down, so neither of
            // them may wait for the writer.
            return Ok(());
        }
        // Fails (disconnected) once the writer has shut everything down.
        let _ = inner.stopped.recv();
        let handle = inner
            .writer_thread
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        match handle.map(JoinHandle::join) {
            Some(Err(_)) => Err(Error::Internal(
                "the writer thread panicked while closing".into(),
            )),
            _ => Ok(()),
        }
    }

    /// The state, or [`Error::Forked`] in a process other than the one that opened it.
    fn live(&self) -> Result<&Inner> {
        let inner = &*self.inner;
        if crate::process::id() == inner.pid {
            Ok(inner)
        } else {
            Err(Error::Forked {
                opened_by: inner.pid,
            })
        }
    }

    /// Checks a transaction and hands it to the writer's queue, waiting for room as `wait`
    /// says.
    fn enqueue(&self, tx: Transaction, mut reply: Reply, wait: Wait) -> Result<()> {
        // Errors returned here are the caller's answer: the reply must not get a second one.
        let inner = match self.live() {
            Ok(inner) => inner,
            Err(e) => {
                reply.disarm();
                return Err(e);
            }
        };
        if wait != Wait::Never {
            if let Err(e) = inner.not_on_writer("a submit that waits for room in the queue") {
                reply.disarm();
                return Err(e);
            }
        }
        if let Err(e) = check_statements(&tx) {
            reply.disarm();
            return Err(e);
        }
        inner.send(tx, reply, wait)
    }

    /// Checks a transaction before it is queued: in this process, refused statements,
    /// parameters that could not be converted.
    pub(crate) fn check(&self, tx: &Transaction) -> Result<()> {
        self.live()?;
        check_statements(tx)
    }

    /// Hands a message to the writer's queue without waiting; a full queue hands it back.
    pub(crate) fn hand_over(&self, msg: Msg) -> HandOver {
        let inner = match self.live() {
            Ok(inner) => inner,
            Err(e) => return HandOver::Failed(disarm(msg, e)),
        };
        // Inside the intake until the send returns: the writer does not stop before.
        let Some(_inside) = inner.intake.enter() else {
            return HandOver::Failed(disarm(msg, Error::Closed));
        };
        let is_tx = matches!(msg, Msg::Tx(..));
        if is_tx {
            inner.shared.queueing();
        }
        let handed = match inner.queue.try_send(msg) {
            Ok(()) => return HandOver::Queued,
            Err(TrySendError::Full(m)) => HandOver::Full(m),
            Err(TrySendError::Disconnected(m)) => HandOver::Failed(disarm(m, Error::Closed)),
        };
        if is_tx {
            inner.shared.unqueued();
        }
        handed
    }

    /// The async submitters waiting for room in the queue.
    pub(crate) fn room(&self) -> &Room {
        &self.inner.intake.room
    }

    /// What batches need, for unit tests of the inline path.
    #[cfg(test)]
    pub(crate) fn shared_for_tests(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// Hands a test-only message to the writer.
    #[cfg(test)]
    pub(crate) fn send_test_message(&self, msg: Msg) {
        // Counted like a transaction, so nothing commits inline before the writer took it.
        self.inner.shared.queueing();
        if self.inner.queue.send(msg).is_err() {
            panic!("the writer is gone");
        }
    }
}

impl Inner {
    /// Hands a checked transaction to the writer's queue, waiting for room as `wait` says.
    fn send(&self, tx: Transaction, mut reply: Reply, wait: Wait) -> Result<()> {
        // Inside the intake until the send returns: the writer does not stop before.
        let Some(_inside) = self.intake.enter() else {
            reply.disarm();
            return Err(Error::Closed);
        };
        let msg = Msg::Tx(tx, reply);
        self.shared.queueing();
        // A message handed back by a failed send is disarmed: the caller gets the error
        // from this call, not a second time through its callback or sink.
        let sent = match wait {
            Wait::Block => self.queue.send(msg).map_err(|e| disarm(e.0, Error::Closed)),
            Wait::Timeout(t) => self.queue.send_timeout(msg, t).map_err(|e| match e {
                SendTimeoutError::Timeout(m) => disarm(m, Error::Timeout),
                SendTimeoutError::Disconnected(m) => disarm(m, Error::Closed),
            }),
            Wait::Never => self.queue.try_send(msg).map_err(|e| match e {
                TrySendError::Full(m) => disarm(m, Error::QueueFull),
                TrySendError::Disconnected(m) => disarm(m, Error::Closed),
            }),
        };
        if sent.is_err() {
            self.shared.unqueued();
        }
        sent
    }

    /// Fails at once on the writer thread or inside an inline commit, where `what` would
    /// wait for that thread itself.
    fn not_on_writer(&self, what: &str) -> Result<()> {
        if self.shared.committing_here() {
            return Err(waits_for_itself(&format!(
                "{what} called on the writer thread (in a completion callback, a batch sink \
                 or an event listener)"
            )));
        }
        Ok(())
    }
}

/// What [`Committer::hand_over`] did with a message.
pub(crate) enum HandOver {
    /// It is in the queue.
    Queued,
    /// The queue is full: the message, back.
    Full(Msg),
    /// It cannot be queued (its reply is disarmed): the error.
    Failed(Error),
}

/// Refuses statements that would break the batch, and parameters that could not be
/// converted, before anything is queued.
fn check_statements(tx: &Transaction) -> Result<()> {
    tx.statements()
        .iter()
        .enumerate()
        .try_for_each(|(i, stmt)| {
            statement::check_allowed(&stmt.sql, i)?;
            match &stmt.params {
                Params::Invalid(message) => Err(Error::Parameter {
                    message: message.clone(),
                    statement_index: i,
                }),
                _ => Ok(()),
            }
        })
}

/// The error of a call made on one of the committer's threads that would wait for that
/// same thread, forever.
fn waits_for_itself(call: &str) -> Error {
    Error::from_code(
        ffi::SQLITE_MISUSE,
        format!(
            "{call} would wait for its own thread forever; call it from another thread \
             (try_submit and close work there)"
        ),
    )
}

/// Starts the writer thread. If the writer could not be set up or its thread cannot start,
/// stops the scheduler.
fn start_writer(
    shared: Result<Arc<Shared>>,
    rx: Receiver<Msg>,
    mut shutdown: Shutdown,
    scheduler: &Scheduler,
) -> Result<(Arc<Shared>, JoinHandle<()>)> {
    let shared = match shared {
        Ok(s) => s,
        Err(e) => {
            scheduler.stop();
            if let Some(thread) = shutdown.scheduler_thread.take() {
                drop(thread.join());
            }
            return Err(e);
        }
    };
    let writer = Writer::new(Arc::clone(&shared));
    std::thread::Builder::new()
        .name("litecommit-writer".into())
        .spawn(move || writer.run(rx, shutdown))
        .map(|thread| (shared, thread))
        .map_err(|e| {
            // The scheduler thread's handle went with the closure; it stops on its own.
            scheduler.stop();
            Error::Open(format!("cannot start the writer thread: {e}"))
        })
}

/// Disarms the reply of a message a failed send handed back, and returns the error the
/// caller gets instead.
fn disarm(msg: Msg, error: Error) -> Error {
    if let Msg::Tx(_, mut reply) = msg {
        reply.disarm();
    }
    error
}

impl Drop for Committer {
    fn drop(&mut self) {
        if crate::process::id() != self.inner.pid {
            // A forked child: the threads are not in this process and the connections are
            // the parent's (closing them could checkpoint or remove its WAL). Leak all.
            return;
        }
        drop(self.close());
        // SAFETY: `inner` is dropped once, here, and never used afterwards.
        unsafe { ManuallyDrop::drop(&mut self.inner) };
    }
}
