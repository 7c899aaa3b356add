//! Prometheus metrics of one committer (its own registry) and the same figures as [`Stats`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

use crate::event::FlushTrigger;
use crate::modes::CheckpointMode;
use crate::schema::doc_text;

const MS_BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0,
];
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0,
];
const MB_BUCKETS: &[f64] = &[
    0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];
const FRAME_BUCKETS: &[f64] = &[
    100.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0, 32000.0, 64000.0, 128000.0,
];
const RATIO_BUCKETS: &[f64] = &[0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0];

/// Outcome label of `batch_committer_transactions_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TxOutcome {
    /// Committed.
    Committed = 0,
    /// Rejected by one of its own statements; the rest of the batch committed.
    Failed,
    /// The batch failed as a whole (BEGIN, COMMIT or a ROLLBACK).
    Aborted,
}

impl TxOutcome {
    fn as_str(self) -> &'static str {
        match self {
            TxOutcome::Committed => "committed",
            TxOutcome::Failed => "failed",
            TxOutcome::Aborted => "aborted",
        }
    }
}

/// Every metric of one committer.
pub(crate) struct Metrics {
    /// This committer's own registry, holding every metric below.
    registry: Registry,
    /// `batch_committer_flushes_total`, by trigger.
    flushes: IntCounterVec,
    /// `batch_committer_batch_size`.
    batch_size: Histogram,
    /// `batch_committer_flush_duration_ms`.
    flush_duration: Histogram,
    /// `batch_committer_checkpoint_total`, by mode.
    checkpoints: IntCounterVec,
    /// `batch_committer_checkpoint_duration_ms`, by mode.
    checkpoint_duration: HistogramVec,
    /// `batch_committer_wal_size_mb`.
    wal_size_mb: Histogram,
    /// `batch_committer_wal_frames_log`.
    wal_frames_log: Histogram,
    /// `batch_committer_wal_frames_checkpointed`.
    wal_frames_checkpointed: Histogram,
    /// `batch_committer_checkpoint_busy_total`, by whether SQLite reported busy.
    checkpoint_busy: IntCounterVec,
    /// `batch_committer_checkpoint_efficiency`.
    checkpoint_efficiency: Histogram,
    /// `batch_committer_commit_latency_ms`.
    commit_latency: Histogram,
    /// `batch_committer_queue_depth`.
    queue_depth: IntGauge,
    /// `batch_committer_transactions_total`, by outcome.
    transactions: IntCounterVec,
    /// Children of `transactions` by outcome, resolved once (they are hit per transaction).
    outcomes: [IntCounter; 3],
    /// WAL frames after the latest commit (the WAL hook's count).
    pub(crate) wal_frames: AtomicU64,
    /// WAL frames not yet checkpointed, as the scheduler reckons them.
    pub(crate) wal_backlog_frames: AtomicU64,
    /// Size of the -wal file at the latest reading.
    pub(crate) wal_file_bytes: AtomicU64,
    /// Largest batch committed so far.
    pub(crate) max_batch_size: AtomicU64,
    /// Longest time the writer waited for an exclusive checkpoint, in microseconds.
    pub(crate) max_writer_stall_us: AtomicU64,
    /// Whether a checkpoint runs right now.
    pub(crate) checkpoint_running: AtomicBool,
}

fn histogram(registry: &Registry, name: &str, help: &str, buckets: &[f64]) -> Histogram {
    let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    register(registry, h.clone());
    h
}

fn counter_vec(registry: &Registry, name: &str, help: &str, label: &str) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), &[label])
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    register(registry, c.clone());
    c
}

fn register<C: prometheus::core::Collector + 'static>(registry: &Registry, c: C) {
    // Names are fixed and distinct, so registration cannot fail on a fresh registry.
    registry
        .register(Box::new(c))
        .unwrap_or_else(|e| panic!("registering a metric: {e}"));
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let r = Registry::new();
        let checkpoint_duration = HistogramVec::new(
            HistogramOpts::new(
                "batch_committer_checkpoint_duration_ms",
                "Duration of WAL checkpoints in milliseconds",
            )
            .buckets(MS_BUCKETS.to_vec()),
            &["mode"],
        )
        .unwrap_or_else(|e| panic!("metric checkpoint_duration: {e}"));
        register(&r, checkpoint_duration.clone());
        let queue_depth = IntGauge::new(
            "batch_committer_queue_depth",
            "Transactions waiting in the queue when the latest batch was formed",
        )
        .unwrap_or_else(|e| panic!("metric queue_depth: {e}"));
        register(&r, queue_depth.clone());
        let transactions = counter_vec(
            &r,
            "batch_committer_transactions_total",
            "Transactions by outcome",
            "outcome",
        );
        Metrics {
            flushes: counter_vec(
                &r,
                "batch_committer_flushes_total",
                "Batches committed, by trigger",
                "trigger",
            ),
            batch_size: histogram(
                &r,
                "batch_committer_batch_size",
                "Transactions per batch",
                BATCH_BUCKETS,
            ),
            flush_duration: histogram(
                &r,
                "batch_committer_flush_duration_ms",
                "Time to run and commit one batch, in milliseconds",
                MS_BUCKETS,
            ),
            checkpoints: counter_vec(
                &r,
                "batch_committer_checkpoint_total",
                "WAL checkpoints run, by mode",
                "mode",
            ),
            checkpoint_duration,
            wal_size_mb: histogram(
                &r,
                "batch_committer_wal_size_mb",
                "Size of the -wal file when a checkpoint starts, in MB",
                MB_BUCKETS,
            ),
            wal_frames_log: histogram(
                &r,
                "batch_committer_wal_frames_log",
                "Frames in the WAL reported by each checkpoint",
                FRAME_BUCKETS,
            ),
            wal_frames_checkpointed: histogram(
                &r,
                "batch_committer_wal_frames_checkpointed",
                "Frames checkpointed reported by each checkpoint",
                FRAME_BUCKETS,
            ),
            checkpoint_busy: counter_vec(
                &r,
                "batch_committer_checkpoint_busy_total",
                "Checkpoints by whether SQLite reported busy",
                "busy",
            ),
            checkpoint_efficiency: histogram(
                &r,
                "batch_committer_checkpoint_efficiency",
                "Checkpointed frames / log frames per checkpoint",
                RATIO_BUCKETS,
            ),
            commit_latency: histogram(
                &r,
                "batch_committer_commit_latency_ms",
                "Time from submit to resolved promise, in milliseconds",
                MS_BUCKETS,
            ),
            queue_depth,
            outcomes: [TxOutcome::Committed, TxOutcome::Failed, TxOutcome::Aborted]
                .map(|o| transactions.with_label_values(&[o.as_str()])),
            transactions,
            registry: r,
            wal_frames: AtomicU64::new(0),
            wal_backlog_frames: AtomicU64::new(0),
            wal_file_bytes: AtomicU64::new(0),
            max_batch_size: AtomicU64::new(0),
            max_writer_stall_us: AtomicU64::new(0),
            checkpoint_running: AtomicBool::new(false),
        }
    }

    /// The registry holding every metric of this committer.
    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    pub(crate) fn text(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec only fails for malformed metric families, which we never build.
        drop(TextEncoder::new().encode(&self.registry.gather(), &mut buf));
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// Counts a batch of `size` transactions that took `duration` to run and commit.
    pub(crate) fn batch(&self, size: usize, trigger: FlushTrigger, duration: Duration) {
        self.flushes.with_label_values(&[trigger.as_str()]).inc();
        self.batch_size.observe(size as f64);
        self.flush_duration.observe(ms(duration));
        self.max_batch_size
            .fetch_max(size as u64, Ordering::Relaxed);
    }

    /// Counts a transaction answered `latency` after it was submitted.
    pub(crate) fn transaction(&self, outcome: TxOutcome, latency: Duration) {
        self.outcomes[outcome as usize].inc();
        self.commit_latency.observe(ms(latency));
    }

    /// Records the transactions queued when a batch was formed.
    pub(crate) fn queue_depth(&self, depth: usize) {
        self.queue_depth
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// Records a reading of the -wal file's size.
    pub(crate) fn wal_file(&self, bytes: u64) {
        self.wal_file_bytes.store(bytes, Ordering::Relaxed);
        self.wal_size_mb.observe(bytes as f64 / MB);
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
        self.checkpoints.with_label_values(&[mode.as_str()]).inc();
        self.checkpoint_duration
            .with_label_values(&[mode.as_str()])
            .observe(ms(duration));
        self.checkpoint_busy
            .with_label_values(&[if busy { "true" } else { "false" }])
            .inc();
        if log >= 0 && done >= 0 {
            self.wal_frames_log.observe(log as f64);
            self.wal_frames_checkpointed.observe(done as f64);
            let efficiency = if log == 0 {
                1.0
            } else {
                done as f64 / log as f64
            };
            self.checkpoint_efficiency.observe(efficiency);
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
        let labels = |vec: &IntCounterVec, names: &[&'static str]| -> BTreeMap<String, u64> {
            names
                .iter()
                .map(|n| (n.to_string(), vec.with_label_values(&[n]).get()))
                .filter(|(_, v)| *v > 0)
                .collect()
        };
        let tx = |o: TxOutcome| self.transactions.with_label_values(&[o.as_str()]).get();
        let modes = ["passive", "full", "restart", "truncate"];
        Stats {
            transactions_committed: tx(TxOutcome::Committed),
            transactions_failed: tx(TxOutcome::Failed),
            transactions_aborted: tx(TxOutcome::Aborted),
            batches: self.batch_size.get_sample_count(),
            flushes: labels(
                &self.flushes,
                &["adaptive", "size", "timer", "flush", "close"],
            ),
            max_batch_size: self.max_batch_size.load(Ordering::Relaxed),
            mean_batch_size: mean(&self.batch_size),
            mean_flush_ms: mean(&self.flush_duration),
            mean_commit_latency_ms: mean(&self.commit_latency),
            checkpoints: labels(&self.checkpoints, &modes),
            checkpoints_busy: self.checkpoint_busy.with_label_values(&["true"]).get(),
            checkpoint_running: self.checkpoint_running.load(Ordering::Relaxed),
            wal_frames: self.wal_frames.load(Ordering::Relaxed),
            wal_backlog_frames: self.wal_backlog_frames.load(Ordering::Relaxed),
            wal_file_bytes: self.wal_file_bytes.load(Ordering::Relaxed),
            queue_depth: u64::try_from(self.queue_depth.get()).unwrap_or(0),
            queue_length: 0,
            submitting: 0,
            max_writer_stall_ms: self.max_writer_stall_us.load(Ordering::Relaxed) as f64
                / MICROS_PER_MS,
        }
    }
}

/// Bytes in a MB, as `batch_committer_wal_size_mb` counts them.
const MB: f64 = 1024.0 * 1024.0;

/// Microseconds in a millisecond.
const MICROS_PER_MS: f64 = 1000.0;

/// A duration in (fractional) milliseconds, the unit of every duration metric.
fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

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
        let metrics = Metrics::new();
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
}
