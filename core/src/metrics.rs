//! Prometheus metrics of one committer (its own registry) and the same figures as [`Stats`].
//!
//! Every metric is named `litecommit_*` in base units (seconds, bytes), counters end in
//! `_total`, every label value exists (at 0) from the start, and every sample carries the
//! constant label `db` (the `metrics_label` option), so that the metrics of several
//! committers can be gathered into one registry.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

use crate::config::Config;
use crate::event::FlushTrigger;
use crate::files::file_len;
use crate::modes::CheckpointMode;
use crate::schema::doc_text;

/// The name of the constant label that tells committers apart.
pub(crate) const DB_LABEL: &str = "db";

/// Durations (flush, commit latency, checkpoint), in seconds: 100 µs to 10 s.
const SECONDS_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
/// Transactions per batch, up to twice the default `max_batch_size`.
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0, 20000.0,
];
/// WAL file sizes in MiB (converted to bytes): 512 KiB to 1 GiB.
const WAL_MIB_BUCKETS: [f64; 12] = [
    0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];
/// WAL frames (pages) reported by a checkpoint.
const FRAME_BUCKETS: &[f64] = &[
    100.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0, 32000.0, 64000.0, 128000.0,
];
/// Checkpointed frames / log frames.
const RATIO_BUCKETS: &[f64] = &[0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0];

/// Bytes in a MiB.
const MIB: f64 = 1024.0 * 1024.0;

/// Every flush trigger, in the order of [`trigger_index`].
const TRIGGERS: [FlushTrigger; 5] = [
    FlushTrigger::Adaptive,
    FlushTrigger::Size,
    FlushTrigger::Timer,
    FlushTrigger::Flush,
    FlushTrigger::Close,
];

/// The position of `trigger` in [`TRIGGERS`].
fn trigger_index(trigger: FlushTrigger) -> usize {
    match trigger {
        FlushTrigger::Adaptive => 0,
        FlushTrigger::Size => 1,
        FlushTrigger::Timer => 2,
        FlushTrigger::Flush => 3,
        FlushTrigger::Close => 4,
    }
}

/// Every checkpoint mode, in the order of [`mode_index`].
const MODES: [CheckpointMode; 4] = [
    CheckpointMode::Passive,
    CheckpointMode::Full,
    CheckpointMode::Restart,
    CheckpointMode::Truncate,
];

/// The position of `mode` in [`MODES`].
fn mode_index(mode: CheckpointMode) -> usize {
    match mode {
        CheckpointMode::Passive => 0,
        CheckpointMode::Full => 1,
        CheckpointMode::Restart => 2,
        CheckpointMode::Truncate => 3,
    }
}

/// Values of the `busy` label of `litecommit_checkpoint_busy_total`, by `busy as usize`.
const BUSY: [&str; 2] = ["false", "true"];

/// Outcome label of `litecommit_transactions_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TxOutcome {
    /// Committed.
    Committed = 0,
    /// Rejected by one of its own statements; the rest of the batch committed.
    Failed,
    /// The batch failed as a whole (BEGIN, COMMIT or a ROLLBACK).
    Aborted,
}

/// The transactions of one batch, counted by [`Metrics::batch_transactions`].
pub(crate) struct BatchTransactions<'m> {
    /// Where they are added when this is dropped.
    metrics: &'m Metrics,
    /// How many got each outcome.
    outcomes: [u64; OUTCOMES.len()],
    /// Their commit latencies, flushed to the histogram when dropped; `None` for a batch of
    /// one, whose latency goes to the histogram at once (a local one allocates its buckets).
    latency: Option<prometheus::local::LocalHistogram>,
}

impl BatchTransactions<'_> {
    /// Counts a transaction answered `latency` after it was submitted.
    pub(crate) fn transaction(&mut self, outcome: TxOutcome, latency: Duration) {
        self.outcomes[outcome as usize] += 1;
        match &self.latency {
            Some(local) => local.observe(latency.as_secs_f64()),
            None => self
                .metrics
                .families
                .commit_latency
                .observe(latency.as_secs_f64()),
        }
    }
}

impl Drop for BatchTransactions<'_> {
    fn drop(&mut self) {
        for (counter, n) in self.metrics.outcomes.iter().zip(self.outcomes) {
            if n > 0 {
                counter.inc_by(n);
            }
        }
    }
}

/// Every outcome, in the order of their discriminants.
const OUTCOMES: [TxOutcome; 3] = [TxOutcome::Committed, TxOutcome::Failed, TxOutcome::Aborted];

impl TxOutcome {
    fn as_str(self) -> &'static str {
        match self {
            TxOutcome::Committed => "committed",
            TxOutcome::Failed => "failed",
            TxOutcome::Aborted => "aborted",
        }
    }
}

/// The metric families of one committer, as one collector: the committer's own registry
/// holds one, and [`Metrics::collector`] hands out more (clones share the figures).
#[derive(Clone)]
struct Families {
    /// `litecommit_flushes_total`, by trigger.
    flushes: IntCounterVec,
    /// `litecommit_batch_size`.
    batch_size: Histogram,
    /// `litecommit_flush_duration_seconds`.
    flush_duration: Histogram,
    /// `litecommit_checkpoints_total`, by mode.
    checkpoints: IntCounterVec,
    /// `litecommit_checkpoint_duration_seconds`, by mode.
    checkpoint_duration: HistogramVec,
    /// `litecommit_checkpoint_wal_size_bytes`.
    checkpoint_wal_size: Histogram,
    /// `litecommit_checkpoint_log_frames`.
    log_frames: Histogram,
    /// `litecommit_checkpoint_checkpointed_frames`.
    checkpointed_frames: Histogram,
    /// `litecommit_checkpoint_busy_total`, by whether SQLite reported busy.
    checkpoint_busy: IntCounterVec,
    /// `litecommit_checkpoint_efficiency_ratio`.
    checkpoint_efficiency: Histogram,
    /// `litecommit_commit_latency_seconds`.
    commit_latency: Histogram,
    /// `litecommit_queue_depth`.
    queue_depth: IntGauge,
    /// `litecommit_transactions_total`, by outcome.
    transactions: IntCounterVec,
    /// `litecommit_wal_size_bytes`, read from the file at each collection.
    wal_size: IntGauge,
    /// `litecommit_wal_backlog_frames`, read from `backlog` at each collection.
    wal_backlog: IntGauge,
    /// The -wal file whose size `wal_size` reports.
    wal_path: Arc<PathBuf>,
    /// WAL frames not yet checkpointed, as the scheduler reckons them.
    backlog: Arc<AtomicU64>,
}

impl Families {
    /// Every metric, as collectors.
    fn all(&self) -> [&dyn Collector; 15] {
        [
            &self.flushes,
            &self.batch_size,
            &self.flush_duration,
            &self.checkpoints,
            &self.checkpoint_duration,
            &self.checkpoint_wal_size,
            &self.log_frames,
            &self.checkpointed_frames,
            &self.checkpoint_busy,
            &self.checkpoint_efficiency,
            &self.commit_latency,
            &self.queue_depth,
            &self.transactions,
            &self.wal_size,
            &self.wal_backlog,
        ]
    }
}

impl Collector for Families {
    fn desc(&self) -> Vec<&Desc> {
        self.all().into_iter().flat_map(|c| c.desc()).collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.wal_size.set(gauge_value(file_len(&self.wal_path)));
        self.wal_backlog
            .set(gauge_value(self.backlog.load(Ordering::Relaxed)));
        self.all().into_iter().flat_map(|c| c.collect()).collect()
    }
}

/// A count as an `IntGauge` value.
fn gauge_value(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Builds the metrics of one committer, each with the constant label `db`.
struct Builder {
    /// The constant labels of every metric.
    labels: HashMap<String, String>,
}

impl Builder {
    fn opts(&self, name: &str, help: &str) -> Opts {
        Opts::new(name, help).const_labels(self.labels.clone())
    }

    fn histogram_opts(&self, name: &str, help: &str, buckets: &[f64]) -> HistogramOpts {
        HistogramOpts::new(name, help)
            .const_labels(self.labels.clone())
            .buckets(buckets.to_vec())
    }

    // Names, help texts and buckets are fixed and valid, so building cannot fail.

    fn histogram(&self, name: &str, help: &str, buckets: &[f64]) -> Histogram {
        Histogram::with_opts(self.histogram_opts(name, help, buckets))
            .unwrap_or_else(|e| panic!("metric {name}: {e}"))
    }

    fn histogram_vec(&self, name: &str, help: &str, buckets: &[f64], label: &str) -> HistogramVec {
        HistogramVec::new(self.histogram_opts(name, help, buckets), &[label])
            .unwrap_or_else(|e| panic!("metric {name}: {e}"))
    }

    fn counter_vec(&self, name: &str, help: &str, label: &str) -> IntCounterVec {
        IntCounterVec::new(self.opts(name, help), &[label])
            .unwrap_or_else(|e| panic!("metric {name}: {e}"))
    }

    fn gauge(&self, name: &str, help: &str) -> IntGauge {
        IntGauge::with_opts(self.opts(name, help)).unwrap_or_else(|e| panic!("metric {name}: {e}"))
    }
}

/// The `db` label of a committer: the `metrics_label` option, or else the database file's
/// name (the name of its -wal file without `-wal`).
fn db_label(config: &Config, wal_path: &Path) -> String {
    if !config.metrics_label.is_empty() {
        return config.metrics_label.clone();
    }
    let file = wal_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match file.strip_suffix("-wal") {
        Some(db) => db.to_owned(),
        None => file,
    }
}

/// Every metric of one committer.
pub(crate) struct Metrics {
    /// This committer's own registry, holding `families`.
    registry: Registry,
    /// Every metric family.
    families: Families,
    /// Children of `families.flushes`, in the order of [`TRIGGERS`].
    flushes: [IntCounter; 5],
    /// Children of `families.checkpoints`, in the order of [`MODES`].
    checkpoints: [IntCounter; 4],
    /// Children of `families.checkpoint_duration`, in the order of [`MODES`].
    checkpoint_durations: [Histogram; 4],
    /// Children of `families.checkpoint_busy`, in the order of [`BUSY`].
    checkpoint_busy: [IntCounter; 2],
    /// Children of `families.transactions`, in the order of [`OUTCOMES`].
    outcomes: [IntCounter; 3],
    /// WAL frames after the latest commit (the WAL hook's count).
    pub(crate) wal_frames: AtomicU64,
    /// WAL frames not yet checkpointed, as the scheduler reckons them.
    pub(crate) wal_backlog_frames: Arc<AtomicU64>,
    /// Size of the -wal file at the latest reading.
    pub(crate) wal_file_bytes: AtomicU64,
    /// Largest batch committed so far.
    pub(crate) max_batch_size: AtomicU64,
    /// Longest time the writer waited for an exclusive checkpoint, in microseconds.
    pub(crate) max_writer_stall_us: AtomicU64,
    /// Whether a checkpoint runs right now.
    pub(crate) checkpoint_running: AtomicBool,
}

impl Metrics {
    /// The metrics of a committer opened with `config` whose WAL is the file `wal_path`.
    pub(crate) fn new(config: &Config, wal_path: &Path) -> Metrics {
        let b = Builder {
            labels: HashMap::from([(DB_LABEL.to_owned(), db_label(config, wal_path))]),
        };
        let backlog = Arc::new(AtomicU64::new(0));
        let families = Families {
            flushes: b.counter_vec(
                "litecommit_flushes_total",
                "Batches committed (or attempted), by what triggered the flush",
                "trigger",
            ),
            batch_size: b.histogram(
                "litecommit_batch_size",
                "Transactions per batch",
                BATCH_BUCKETS,
            ),
            flush_duration: b.histogram(
                "litecommit_flush_duration_seconds",
                "Time to run and commit one batch, in seconds",
                SECONDS_BUCKETS,
            ),
            checkpoints: b.counter_vec(
                "litecommit_checkpoints_total",
                "WAL checkpoints run, by mode",
                "mode",
            ),
            checkpoint_duration: b.histogram_vec(
                "litecommit_checkpoint_duration_seconds",
                "Duration of WAL checkpoints, in seconds, by mode",
                SECONDS_BUCKETS,
                "mode",
            ),
            checkpoint_wal_size: b.histogram(
                "litecommit_checkpoint_wal_size_bytes",
                "Size of the -wal file in bytes, read when each checkpoint starts and after \
                 each FULL, RESTART or TRUNCATE one",
                &WAL_MIB_BUCKETS.map(|mib| mib * MIB),
            ),
            log_frames: b.histogram(
                "litecommit_checkpoint_log_frames",
                "Frames in the WAL as each checkpoint reported them",
                FRAME_BUCKETS,
            ),
            checkpointed_frames: b.histogram(
                "litecommit_checkpoint_checkpointed_frames",
                "Frames checkpointed as each checkpoint reported them",
                FRAME_BUCKETS,
            ),
            checkpoint_busy: b.counter_vec(
                "litecommit_checkpoint_busy_total",
                "Checkpoints, by whether SQLite reported busy (readers or the writer kept it \
                 from finishing)",
                "busy",
            ),
            checkpoint_efficiency: b.histogram(
                "litecommit_checkpoint_efficiency_ratio",
                "Checkpointed frames / frames in the WAL, per checkpoint (1 when the WAL was \
                 empty)",
                RATIO_BUCKETS,
            ),
            commit_latency: b.histogram(
                "litecommit_commit_latency_seconds",
                "Time from submit to resolved, per transaction, in seconds",
                SECONDS_BUCKETS,
            ),
            queue_depth: b.gauge(
                "litecommit_queue_depth",
                "Transactions waiting in the queue when the latest batch was formed",
            ),
            transactions: b.counter_vec(
                "litecommit_transactions_total",
                "Transactions answered, by outcome (committed; failed: rejected by one of its \
                 statements; aborted: its batch failed as a whole)",
                "outcome",
            ),
            wal_size: b.gauge(
                "litecommit_wal_size_bytes",
                "Size of the -wal file now, in bytes",
            ),
            wal_backlog: b.gauge(
                "litecommit_wal_backlog_frames",
                "WAL frames (pages) not yet checkpointed, in frames",
            ),
            wal_path: Arc::new(wal_path.to_path_buf()),
            backlog: Arc::clone(&backlog),
        };
        let f = &families;
        let metrics = Metrics {
            flushes: TRIGGERS.map(|t| f.flushes.with_label_values(&[t.as_str()])),
            checkpoints: MODES.map(|m| f.checkpoints.with_label_values(&[m.as_str()])),
            checkpoint_durations: MODES
                .map(|m| f.checkpoint_duration.with_label_values(&[m.as_str()])),
            checkpoint_busy: BUSY.map(|busy| f.checkpoint_busy.with_label_values(&[busy])),
            outcomes: OUTCOMES.map(|o| f.transactions.with_label_values(&[o.as_str()])),
            registry: Registry::new(),
            families: families.clone(),
            wal_frames: AtomicU64::new(0),
            wal_backlog_frames: backlog,
            wal_file_bytes: AtomicU64::new(0),
            max_batch_size: AtomicU64::new(0),
            max_writer_stall_us: AtomicU64::new(0),
            checkpoint_running: AtomicBool::new(false),
        };
        // Every name is distinct, so registering into a fresh registry cannot fail.
        metrics
            .registry
            .register(metrics.collector())
            .unwrap_or_else(|e| panic!("registering the metrics: {e}"));
        metrics
    }

    /// The registry holding every metric of this committer.
    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Every metric of this committer as one collector, to register in another registry.
    pub(crate) fn collector(&self) -> Box<dyn Collector> {
        Box::new(self.families.clone())
    }

    pub(crate) fn text(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec only fails for malformed metric families, which we never build.
        drop(TextEncoder::new().encode(&self.registry.gather(), &mut buf));
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// Counts a batch of `size` transactions that took `duration` to run and commit.
    pub(crate) fn batch(&self, size: usize, trigger: FlushTrigger, duration: Duration) {
        self.flushes[trigger_index(trigger)].inc();
        self.families.batch_size.observe(size as f64);
        self.families.flush_duration.observe(duration.as_secs_f64());
        self.max_batch_size
            .fetch_max(size as u64, Ordering::Relaxed);
    }

    /// Where the `size` transactions of one batch are counted: added to the metrics at once,
    /// when it is dropped, instead of a few atomic operations per transaction.
    pub(crate) fn batch_transactions(&self, size: usize) -> BatchTransactions<'_> {
        BatchTransactions {
            metrics: self,
            outcomes: [0; OUTCOMES.len()],
            latency: (size > 1).then(|| self.families.commit_latency.local()),
        }
    }

    /// Records the transactions queued when a batch was formed.
    pub(crate) fn queue_depth(&self, depth: usize) {
        self.families
            .queue_depth
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// Records a reading of the -wal file's size.
    pub(crate) fn wal_file(&self, bytes: u64) {
        self.wal_file_bytes.store(bytes, Ordering::Relaxed);
        self.families.checkpoint_wal_size.observe(bytes as f64);
    }

    /// Counts a checkpoint and the frame counts it reported.
    pub(crate) fn checkpoint(
        &self,
        mode: CheckpointMode,
        duration: Duration,
        log: i64,
        done: i64,
        busy: bool,
    ) {
        self.checkpoints[mode_index(mode)].inc();
        self.checkpoint_durations[mode_index(mode)].observe(duration.as_secs_f64());
        self.checkpoint_busy[usize::from(busy)].inc();
        if log >= 0 && done >= 0 {
            self.families.log_frames.observe(log as f64);
            self.families.checkpointed_frames.observe(done as f64);
            let efficiency = if log == 0 {
                1.0
            } else {
                done as f64 / log as f64
            };
            self.families.checkpoint_efficiency.observe(efficiency);
        }
    }

    /// Records how long the writer waited for a checkpoint before a batch.
    pub(crate) fn writer_stall(&self, waited: Duration) {
        let micros = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
        self.max_writer_stall_us
            .fetch_max(micros, Ordering::Relaxed);
    }

    /// The figures as [`Stats`] (without the queue's, which the committer fills in).
    pub(crate) fn stats(&self) -> Stats {
        fn seen<T: Copy>(
            keys: &[T],
            name: fn(T) -> &'static str,
            counters: &[IntCounter],
        ) -> BTreeMap<String, u64> {
            keys.iter()
                .zip(counters)
                .map(|(k, c)| (name(*k).to_owned(), c.get()))
                .filter(|(_, v)| *v > 0)
                .collect()
        }
        let f = &self.families;
        let tx = |o: TxOutcome| self.outcomes[o as usize].get();
        Stats {
            transactions_committed: tx(TxOutcome::Committed),
            transactions_failed: tx(TxOutcome::Failed),
            transactions_aborted: tx(TxOutcome::Aborted),
            batches: f.batch_size.get_sample_count(),
            flushes: seen(&TRIGGERS, FlushTrigger::as_str, &self.flushes),
            max_batch_size: self.max_batch_size.load(Ordering::Relaxed),
            mean_batch_size: mean(&f.batch_size),
            mean_flush_ms: mean(&f.flush_duration) * MS_PER_SECOND,
            mean_commit_latency_ms: mean(&f.commit_latency) * MS_PER_SECOND,
            checkpoints: seen(&MODES, CheckpointMode::as_str, &self.checkpoints),
            checkpoints_busy: self.checkpoint_busy[usize::from(true)].get(),
            checkpoint_running: self.checkpoint_running.load(Ordering::Relaxed),
            wal_frames: self.wal_frames.load(Ordering::Relaxed),
            wal_backlog_frames: self.wal_backlog_frames.load(Ordering::Relaxed),
            wal_file_bytes: self.wal_file_bytes.load(Ordering::Relaxed),
            queue_depth: u64::try_from(f.queue_depth.get()).unwrap_or(0),
            queue_length: 0,
            submitting: 0,
            max_writer_stall_ms: self.max_writer_stall_us.load(Ordering::Relaxed) as f64
                / MICROS_PER_MS,
        }
    }
}

/// Milliseconds in a second.
const MS_PER_SECOND: f64 = 1000.0;

/// Microseconds in a millisecond.
const MICROS_PER_MS: f64 = 1000.0;

fn mean(h: &Histogram) -> f64 {
    let n = h.get_sample_count();
    if n == 0 {
        0.0
    } else {
        h.get_sample_sum() / n as f64
    }
}

/// One figure of [`Stats`], for bindings that list or document them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatSpec {
    /// The snake_case name: the `Stats` field.
    pub name: &'static str,
    /// The field's documentation, on one line.
    pub doc: &'static str,
}

/// The value of one figure of [`Stats`].
#[derive(Clone, Debug, PartialEq)]
pub enum StatValue {
    /// A count or a size.
    Int(u64),
    /// A mean or a duration.
    Float(f64),
    /// A yes/no state.
    Bool(bool),
    /// Counts by label (flush trigger, checkpoint mode); labels never seen are left out.
    Counts(BTreeMap<String, u64>),
}

impl From<u64> for StatValue {
    fn from(value: u64) -> StatValue {
        StatValue::Int(value)
    }
}

impl From<f64> for StatValue {
    fn from(value: f64) -> StatValue {
        StatValue::Float(value)
    }
}

impl From<bool> for StatValue {
    fn from(value: bool) -> StatValue {
        StatValue::Bool(value)
    }
}

impl From<BTreeMap<String, u64>> for StatValue {
    fn from(value: BTreeMap<String, u64>) -> StatValue {
        StatValue::Counts(value)
    }
}

/// Generates `Stats`, [`Stats::FIELDS`] and [`Stats::fields`] from one list of documented
/// fields; each field's type must convert into a [`StatValue`].
macro_rules! stats {
    ($($(#[doc = $doc:literal])+ $name:ident: $ty:ty,)+) => {
        /// A snapshot of a committer's figures (the same as its Prometheus metrics).
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct Stats {
            $($(#[doc = $doc])+ pub $name: $ty,)+
        }

        impl Stats {
            /// Every figure, in field order.
            pub const FIELDS: &'static [StatSpec] = &[$(StatSpec {
                name: stringify!($name),
                doc: doc_text(concat!($($doc),+)),
            },)+];

            /// Every figure with its value, in the order of [`Stats::FIELDS`].
            pub fn fields(&self) -> Vec<(&'static str, StatValue)> {
                vec![$((stringify!($name), StatValue::from(self.$name.clone())),)+]
            }
        }
    };
}

stats! {
    /// Transactions committed.
    transactions_committed: u64,
    /// Transactions rejected by one of their own statements.
    transactions_failed: u64,
    /// Transactions rejected because their batch failed as a whole (BEGIN, COMMIT or a
    /// ROLLBACK failed).
    transactions_aborted: u64,
    /// Batches committed (or attempted).
    batches: u64,
    /// Batches by flush trigger (`adaptive`, `size`, `timer`, `flush`, `close`).
    flushes: BTreeMap<String, u64>,
    /// Largest batch so far.
    max_batch_size: u64,
    /// Mean transactions per batch.
    mean_batch_size: f64,
    /// Mean time to run and commit a batch, in ms.
    mean_flush_ms: f64,
    /// Mean time from submit to resolved, in ms.
    mean_commit_latency_ms: f64,
    /// Checkpoints by mode (`passive`, `full`, `restart`, `truncate`).
    checkpoints: BTreeMap<String, u64>,
    /// Checkpoints for which SQLite reported busy.
    checkpoints_busy: u64,
    /// Whether a checkpoint is running now.
    checkpoint_running: bool,
    /// Frames in the WAL after the latest commit.
    wal_frames: u64,
    /// Frames not yet checkpointed.
    wal_backlog_frames: u64,
    /// Size of the -wal file at the latest reading, in bytes.
    wal_file_bytes: u64,
    /// Transactions queued when the latest batch was formed.
    queue_depth: u64,
    /// Messages (transactions and flush barriers) in the queue right now.
    queue_length: u64,
    /// Calls handing work to the queue right now: while the queue is full, the submitters
    /// waiting for room.
    submitting: u64,
    /// Longest time the writer paused for a checkpoint (RESTART/TRUNCATE, or a PASSIVE
    /// catch-up), in ms.
    max_writer_stall_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_lists_every_figure_of_fields_in_order() {
        let stats = Stats::default();
        let names: Vec<&str> = stats.fields().iter().map(|(name, _)| *name).collect();
        let specs: Vec<&str> = Stats::FIELDS.iter().map(|f| f.name).collect();
        assert_eq!(names, specs);
        let shown = format!("{stats:?}");
        for spec in Stats::FIELDS {
            assert!(
                shown.contains(&format!(" {}: ", spec.name)),
                "{}",
                spec.name
            );
            assert!(
                !spec.doc.is_empty() && !spec.doc.starts_with(' '),
                "{}",
                spec.name
            );
        }
        assert_eq!(shown.matches(": ").count(), Stats::FIELDS.len());
    }

    #[test]
    fn fields_carry_the_values() {
        let metrics = Metrics::new(&Config::default(), Path::new("t.db-wal"));
        metrics.batch(3, FlushTrigger::Size, Duration::from_millis(2));
        let stats = metrics.stats();
        let value = |name: &str| {
            stats
                .fields()
                .into_iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v)
        };
        assert_eq!(value("batches"), Some(StatValue::Int(1)));
        assert_eq!(value("max_batch_size"), Some(StatValue::Int(3)));
        assert_eq!(value("mean_batch_size"), Some(StatValue::Float(3.0)));
        assert_eq!(value("checkpoint_running"), Some(StatValue::Bool(false)));
        let flushes = BTreeMap::from([("size".to_string(), 1)]);
        assert_eq!(value("flushes"), Some(StatValue::Counts(flushes)));
        let doc = |name: &str| Stats::FIELDS.iter().find(|f| f.name == name).unwrap().doc;
        assert_eq!(
            doc("submitting"),
            "Calls handing work to the queue right now: while the queue is full, the \
             submitters waiting for room."
        );
    }

    #[test]
    fn the_label_lists_follow_their_index_functions() {
        for (i, t) in TRIGGERS.into_iter().enumerate() {
            assert_eq!(trigger_index(t), i, "{t:?}");
        }
        for (i, m) in MODES.into_iter().enumerate() {
            assert_eq!(mode_index(m), i, "{m:?}");
        }
        for (i, o) in OUTCOMES.into_iter().enumerate() {
            assert_eq!(o as usize, i, "{o:?}");
        }
        assert_eq!(BUSY[usize::from(true)], "true");
    }

    #[test]
    fn the_db_label_defaults_to_the_database_file_name() {
        let mut config = Config::default();
        let wal = Path::new("/data/app.db-wal");
        assert_eq!(db_label(&config, wal), "app.db");
        assert_eq!(db_label(&config, Path::new("x")), "x");
        config.metrics_label = "orders".into();
        assert_eq!(db_label(&config, wal), "orders");
    }

    #[test]
    fn the_gauges_read_their_sources_at_each_collection() {
        let dir = std::env::temp_dir().join(format!("litecommit-metrics-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let wal = dir.join("g.db-wal");
        std::fs::write(&wal, [0u8; 1234]).unwrap();
        let metrics = Metrics::new(&Config::default(), &wal);
        metrics.wal_backlog_frames.store(7, Ordering::Relaxed);
        let text = metrics.text();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            text.contains("\nlitecommit_wal_size_bytes{db=\"g.db\"} 1234\n"),
            "{text}"
        );
        assert!(
            text.contains("\nlitecommit_wal_backlog_frames{db=\"g.db\"} 7\n"),
            "{text}"
        );
        assert!(metrics
            .text()
            .contains("litecommit_wal_size_bytes{db=\"g.db\"} 0\n"));
    }
}
