//! The public handle: submit transactions, query, flush, checkpoint, close.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;

use crossbeam_channel::{SendTimeoutError, Sender, TrySendError};

use crate::checkpoint::{CheckpointResult, Scheduler};
use crate::completion::{BatchSink, Outcome, Pending, Reply};
use crate::config::{CheckpointMode, Config};
use crate::error::{Error, Result};
use crate::metrics::{Metrics, Stats};
use crate::read_pool::ReadPool;
use crate::statement;
use crate::transaction::{Rows, Statement, Transaction, TransactionResult};
use crate::value::Params;
use crate::writer::{self, Msg, Writer};

/// A group committer on one SQLite database. `Send + Sync`: share it (for example in an
/// `Arc`) between every thread that writes. Dropping it closes it (see [`Committer::close`]).
pub struct Committer {
    queue: Sender<Msg>,
    /// `true` once closing started; submitters hold the read side while they enqueue, so
    /// nothing can slip into the queue behind the writer's final message.
    closed: RwLock<bool>,
    threads: Mutex<Threads>,
    scheduler: Arc<Scheduler>,
    readers: ReadPool,
    metrics: Arc<Metrics>,
    path: PathBuf,
    config: Config,
}

struct Threads {
    writer: Option<JoinHandle<()>>,
    scheduler: Option<JoinHandle<()>>,
    writer_id: ThreadId,
}

/// How `enqueue` waits when the queue is full.
enum Wait {
    Block,
    Timeout(Duration),
    Never,
}

impl Committer {
    /// Opens (creating if needed) the database at `path` in WAL mode and starts the writer
    /// and the checkpoint scheduler.
    pub fn open(path: impl AsRef<Path>, config: Config) -> Result<Committer> {
        config.validate()?;
        let path = path.as_ref().to_path_buf();
        let metrics = Arc::new(Metrics::new());
        let conn = writer::open_connection(&path, &config)?;
        let readers = ReadPool::open(&path, &config)?;
        let (scheduler, scheduler_thread) = Scheduler::start(&path, &config, Arc::clone(&metrics))?;
        let writer = Writer::new(
            conn,
            config.clone(),
            Arc::clone(&metrics),
            Arc::clone(&scheduler),
        );
        let writer = match writer {
            Ok(w) => w,
            Err(e) => {
                scheduler.stop();
                drop(scheduler_thread.join());
                return Err(e);
            }
        };
        let (queue, rx) = crossbeam_channel::bounded(config.queue_capacity);
        let spawned = std::thread::Builder::new()
            .name("litecommit-writer".into())
            .spawn(move || writer.run(rx));
        let writer_thread = match spawned {
            Ok(handle) => handle,
            Err(e) => {
                scheduler.stop();
                drop(scheduler_thread.join());
                return Err(Error::Open(format!("cannot start the writer thread: {e}")));
            }
        };
        Ok(Committer {
            queue,
            closed: RwLock::new(false),
            threads: Mutex::new(Threads {
                writer_id: writer_thread.thread().id(),
                writer: Some(writer_thread),
                scheduler: Some(scheduler_thread),
            }),
            scheduler,
            readers,
            metrics,
            path,
            config,
        })
    }

    /// The database path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &Config {
        &self.config
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
    /// other completion of the same batch for that sink. With `block == false` it fails
    /// with [`Error::QueueFull`] instead of waiting.
    pub fn submit_to_sink(
        &self,
        tx: impl Into<Transaction>,
        sink: &Arc<dyn BatchSink>,
        token: u64,
        block: bool,
    ) -> Result<()> {
        let wait = if block { Wait::Block } else { Wait::Never };
        self.enqueue(tx.into(), Reply::sink(Arc::clone(sink), token), wait)
    }

    /// Runs one statement as a transaction and waits until it is durable.
    pub fn execute(&self, sql: &str, params: impl Into<Params>) -> Result<TransactionResult> {
        self.submit(Transaction::single(sql.to_owned(), params))?
            .wait()
    }

    /// Runs a transaction and waits until it is durable.
    pub fn transaction(&self, tx: impl Into<Transaction>) -> Result<TransactionResult> {
        self.submit(tx)?.wait()
    }

    /// Runs a read-only statement on the read pool. It sees every transaction whose promise
    /// resolved before it started.
    pub fn query(&self, sql: &str, params: impl Into<Params>) -> Result<Rows> {
        if *self.closed_flag() {
            return Err(Error::Closed);
        }
        self.readers.query(&Statement::new(sql.to_owned(), params))
    }

    /// A barrier: returns once every transaction submitted before it is committed.
    pub fn flush(&self) -> Result<()> {
        let (done, wait) = crossbeam_channel::bounded(1);
        {
            let closed = self.closed_flag();
            if *closed {
                return Err(Error::Closed);
            }
            self.queue
                .send(Msg::Flush(done))
                .map_err(|_| Error::Closed)?;
        }
        wait.recv().map_err(|_| Error::Closed)
    }

    /// Runs a checkpoint now, on the scheduler's connection (after any running one).
    pub fn checkpoint(&self, mode: CheckpointMode) -> Result<CheckpointResult> {
        if *self.closed_flag() {
            return Err(Error::Closed);
        }
        self.scheduler.checkpoint(mode)
    }

    /// The metrics in the Prometheus text exposition format.
    pub fn metrics_text(&self) -> String {
        self.metrics.text()
    }

    /// This committer's Prometheus registry (to expose it next to an application's own).
    pub fn registry(&self) -> &prometheus::Registry {
        self.metrics.registry()
    }

    /// The same figures as the metrics, as a plain structure.
    pub fn stats(&self) -> Stats {
        let mut stats = self.metrics.stats();
        stats.wal_file_bytes =
            crate::checkpoint::file_len(&crate::checkpoint::wal_path(&self.path));
        stats
    }

    /// Whether `close` has been called.
    pub fn is_closed(&self) -> bool {
        *self.closed_flag()
    }

    /// Stops accepting work, commits everything already queued, resolves every promise,
    /// stops the scheduler and closes every connection. Idempotent; later calls of any
    /// other method fail with [`Error::Closed`]. Must not be called from a completion
    /// callback or batch sink (the writer would wait for itself).
    pub fn close(&self) -> Result<()> {
        let mut threads = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        let on_writer = threads.writer_id == std::thread::current().id();
        {
            let mut closed = self.closed.write().unwrap_or_else(|p| p.into_inner());
            if !*closed {
                *closed = true;
                // Fails only if the writer is gone, and then there is nothing to drain. On
                // the writer thread a full queue cannot drain while we wait; the writer then
                // stops when this committer is dropped and the queue disconnects.
                if on_writer {
                    let _ = self.queue.try_send(Msg::Close);
                } else {
                    let _ = self.queue.send(Msg::Close);
                }
            }
        }
        if let Some(handle) = threads.writer.take() {
            // Joining from the writer thread itself (the last handle dropped in a
            // callback) would deadlock; the writer stops on its own after the Close.
            if !on_writer && handle.join().is_err() {
                return Err(Error::Internal("the writer thread panicked".into()));
            }
        }
        if let Some(handle) = threads.scheduler.take() {
            self.scheduler.stop();
            if !on_writer {
                drop(handle.join());
            }
        }
        self.readers.close();
        Ok(())
    }

    fn closed_flag(&self) -> std::sync::RwLockReadGuard<'_, bool> {
        self.closed.read().unwrap_or_else(|p| p.into_inner())
    }

    fn enqueue(&self, tx: Transaction, mut reply: Reply, wait: Wait) -> Result<()> {
        // Errors returned here are the caller's answer: the reply must not get a second one.
        let allowed = tx
            .statements
            .iter()
            .enumerate()
            .try_for_each(|(i, stmt)| statement::check_allowed(&stmt.sql, i));
        if let Err(e) = allowed {
            reply.disarm();
            return Err(e);
        }
        let closed = self.closed_flag();
        if *closed {
            reply.disarm();
            return Err(Error::Closed);
        }
        let msg = Msg::Tx(tx, reply);
        // A message handed back by a failed send is disarmed: the caller gets the error
        // from this call, not a second time through its callback or sink.
        match wait {
            Wait::Block => self.queue.send(msg).map_err(|e| {
                disarm(e.0);
                Error::Closed
            }),
            Wait::Timeout(t) => self.queue.send_timeout(msg, t).map_err(|e| match e {
                SendTimeoutError::Timeout(m) => (disarm(m), Error::Timeout).1,
                SendTimeoutError::Disconnected(m) => (disarm(m), Error::Closed).1,
            }),
            Wait::Never => self.queue.try_send(msg).map_err(|e| match e {
                TrySendError::Full(m) => (disarm(m), Error::QueueFull).1,
                TrySendError::Disconnected(m) => (disarm(m), Error::Closed).1,
            }),
        }
    }
}

fn disarm(msg: Msg) {
    if let Msg::Tx(_, mut reply) = msg {
        reply.disarm();
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        drop(self.close());
    }
}
