//! `litecommit-bench demo` (`make demo`): checkpoint strategies under sustained single-row
//! inserts, on an embedded temporary database. The same load of single-row insert
//! transactions runs against
//! (a) a plain group-commit writer with SQLite's inline autocheckpoint,
//! (b) the same writer with a stat trigger (stat the -wal file after every batch,
//!     background PASSIVE past 4 MB, RESTART past 16 MB: the design Marmot's published
//!     benchmark measured), and
//! (c) litecommit's `Committer` and its checkpoint scheduler,
//! then (a) and (c) again with a reader holding read transactions back to back (50 ms each
//! unless `--reader-ms` says otherwise).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use litecommit::{Committer, Config, Durability, Event, Params, Transaction, Value};

use crate::baseline::{self, Baseline, Strategy};
use crate::disk::Disk;
use crate::record::{Checkpoint, Recorded, Recorder};
use crate::report::{self, Section, Series, Span};
use crate::stats::{fmt_ratio, mb, ms, ratio, Samples, Summary};
use crate::table::Table;
use crate::verdict::{Judge, Verdict};
use crate::vfs;

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Transactions per configuration.
    #[arg(long, default_value_t = 200_000)]
    pub transactions: usize,
    /// A shorter run (20,000 transactions per configuration).
    #[arg(long)]
    pub short: bool,
    /// Submitting threads.
    #[arg(long, default_value_t = 32)]
    pub threads: usize,
    /// Transactions each submitting thread keeps in flight.
    #[arg(long, default_value_t = 8)]
    pub in_flight: usize,
    /// Payload bytes per row.
    #[arg(long, default_value_t = 200)]
    pub payload: usize,
    /// Max batch size of every configuration (Marmot's benchmark used 100).
    #[arg(long, default_value_t = 100)]
    pub max_batch_size: usize,
    /// Durability modes to run, comma-separated (full, normal).
    #[arg(long, value_delimiter = ',', default_value = "full,normal")]
    pub durability: Vec<String>,
    /// Disk models to run on, comma-separated: machine (this machine's disk as it is),
    /// cloud-ssd, cloud-ssd-serialized, hdd, hdd-serialized (see `disk::PRESETS`).
    #[arg(long, value_delimiter = ',', default_value = "machine,cloud-ssd")]
    pub disk: Vec<String>,
    /// How long each read transaction of the checkpoint-starvation scenario's reader lasts.
    #[arg(long, default_value_t = 50)]
    pub reader_ms: u64,
    /// Skip the checkpoint-starvation scenario.
    #[arg(long)]
    pub no_starvation: bool,
    /// Directory for the temporary databases on this machine's disk (must be a real disk so
    /// fsync is real).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Directory for the temporary databases on a modelled disk: memory-backed, so that only
    /// the model's costs count (this machine's own fsync stalls would add to every model).
    #[arg(long, default_value = "/dev/shm")]
    pub model_dir: PathBuf,
    /// Where to write the report (an HTML file with the latency and WAL plots).
    #[arg(long, default_value = "target/litecommit-demo-report.html")]
    pub report: PathBuf,
    /// A smoke run (`make test-bench`): the targets are printed as not judged.
    #[arg(long)]
    pub smoke: bool,
    /// Report a MISSED target without failing the run (it may be given more than once).
    #[arg(long, overrides_with = "no_fail")]
    pub no_fail: bool,
}

/// The configurations compared (see the module's documentation).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Inline,
    StatTrigger,
    Lite,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Inline => "(a) inline autocheckpoint",
            Kind::StatTrigger => "(b) stat trigger",
            Kind::Lite => "(c) litecommit",
        }
    }
}

enum Engine {
    Lite(Box<Committer>),
    Base(Baseline),
}

const INSERT: &str = "INSERT INTO events (payload) VALUES (?1)";

impl Engine {
    fn submit(&self, payload: Vec<u8>, done: Completion) {
        match self {
            Engine::Lite(db) => {
                let tx =
                    Transaction::single(INSERT, Params::Positional(vec![Value::Blob(payload)]));
                let on_done = done.clone();
                if db
                    .submit_with_callback(tx, move |o| on_done.complete(o.is_ok()))
                    .is_err()
                {
                    done.complete(false);
                }
            }
            Engine::Base(b) => b.submit(payload, Box::new(move |ok| done.complete(ok))),
        }
    }

    /// (un-checkpointed WAL frames, -wal file bytes).
    fn sample(&self) -> (u64, u64) {
        match self {
            Engine::Lite(db) => {
                let s = db.stats();
                (s.wal_backlog_frames, s.wal_file_bytes)
            }
            Engine::Base(b) => b.sample(),
        }
    }
}

/// Latencies and in-flight windows of the submitting threads.
struct Tracker {
    /// When the load started.
    origin: Instant,
    /// Submit-to-outcome time of every transaction.
    latencies: Samples,
    /// (seconds since `origin`, ms) of every transaction, at its outcome.
    over_time: Mutex<Vec<(f64, f64)>>,
    /// Transactions with an outcome.
    done: AtomicU64,
    /// Transactions that did not commit.
    failed: AtomicU64,
    /// Per submitting thread: its transactions in flight, and a signal when one ends.
    windows: Vec<(Mutex<usize>, Condvar)>,
}

/// What a transaction's outcome is reported to.
#[derive(Clone)]
struct Completion {
    tracker: Arc<Tracker>,
    /// The submitting thread, whose window the outcome frees.
    thread: usize,
    /// When the transaction was submitted.
    submitted: Instant,
}

impl Completion {
    fn complete(&self, ok: bool) {
        let t = &self.tracker;
        let latency = self.submitted.elapsed();
        t.latencies.push_duration(latency);
        t.over_time.lock().unwrap_or_else(|p| p.into_inner()).push((
            t.origin.elapsed().as_secs_f64(),
            latency.as_secs_f64() * 1000.0,
        ));
        if !ok {
            t.failed.fetch_add(1, Ordering::Relaxed);
        }
        t.done.fetch_add(1, Ordering::Relaxed);
        let (count, cv) = &t.windows[self.thread];
        *count.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
        cv.notify_one();
    }
}

/// Cheap, incompressible-looking bytes (xorshift), different for every transaction `n`.
fn payload(len: usize, n: u64) -> Vec<u8> {
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// What one configuration measured.
struct Run {
    kind: Kind,
    /// Transactions committed.
    committed: u64,
    /// Transactions that did not commit.
    failed: u64,
    /// Wall time of the load.
    seconds: f64,
    /// Submit-to-outcome latency, in ms.
    latency: Summary,
    /// Batches and checkpoints as recorded during the run.
    rec: Recorded,
    /// p50, p99, max of the flush duration; `exact` is false when read from histogram buckets.
    flush: Summary,
    /// Un-checkpointed WAL frames, sampled every 5 ms.
    backlog_sampled: Summary,
    /// What the report plots (taken when the report is written).
    series: Option<Series>,
    /// -wal file size in bytes, sampled every 5 ms.
    file_sampled: Summary,
    /// Bytes written and syncs per file, from the counting VFS.
    io: vfs::Counts,
    /// Bytes written to the device under the database from the load's start until the
    /// engine closed; `None` off a block device (the disk models' memory).
    device_write_bytes: Option<u64>,
    /// litecommit's longest writer stall; `None` for the baselines.
    writer_stall_ms: Option<f64>,
    /// Read transactions the reader held (starvation scenario).
    reads: u64,
    /// Bytes per WAL frame (page size + 24-byte header).
    frame_bytes: f64,
}

impl Run {
    fn tps(&self) -> f64 {
        self.committed as f64 / self.seconds
    }

    fn checkpoints(&self, mode: &str) -> usize {
        self.rec
            .checkpoints
            .iter()
            .filter(|c| c.mode == mode)
            .count()
    }

    fn checkpoint_ms(&self) -> Summary {
        Summary::of(self.rec.checkpoints.iter().map(|c| c.ms).collect())
    }

    /// checkpointed/log frames per checkpoint that reported counts.
    fn efficiency(&self) -> Summary {
        Summary::of(
            self.rec
                .checkpoints
                .iter()
                .filter(|c| c.log > 0 && c.done >= 0)
                .map(|c| c.done as f64 / c.log as f64)
                .collect(),
        )
    }

    fn frames_mb(&self, frames: f64) -> String {
        mb(frames * self.frame_bytes)
    }
}

pub fn run(args: Args) -> Result<(), String> {
    vfs::install()?;
    let mut args = args;
    if args.short {
        args.transactions = args.transactions.min(20_000);
    }
    if args.threads == 0
        || args.in_flight == 0
        || args.transactions == 0
        || args.max_batch_size == 0
    {
        return Err(
            "--threads, --in-flight, --transactions and --max-batch-size must be at least 1".into(),
        );
    }
    let durabilities = args
        .durability
        .iter()
        .map(|d| d.parse::<Durability>().map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let disks = args
        .disk
        .iter()
        .map(|d| Disk::named(d))
        .collect::<Result<Vec<_>, _>>()?;
    let base_dir = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    crate::warn_if_memory_backed(&base_dir);
    println!(
        "litecommit demo: checkpoint strategies under sustained single-row inserts, on an embedded temporary database (in {})",
        base_dir.display()
    );
    println!(
        "load: {} single-row INSERT transactions per configuration ({}-byte payload), {} submitting threads x {} in flight, max batch size {} (Marmot's benchmark used 100), SQLite {}",
        args.transactions,
        args.payload,
        args.threads,
        args.in_flight,
        args.max_batch_size,
        litecommit::sqlite_version()
    );
    println!("(a) one rusqlite writer doing the same group commit, SQLite's default autocheckpoint (PASSIVE inside COMMIT every 1000 frames)");
    println!("(b) the same writer, autocheckpoint off, stat trigger: stat the -wal file after every batch; PASSIVE past 4 MB, RESTART past 16 MB, on a background connection; batch x2 while it runs");
    println!("(c) litecommit Committer: default checkpoint scheduler (PASSIVE at 4 MB / RESTART at 16 MB of un-checkpointed WAL frames)\n");

    let started = Instant::now();
    let load_at_start = crate::stats::load_average();
    let dir_of = |disk: &Disk| {
        if disk.is_real() || !args.model_dir.is_dir() {
            base_dir.clone()
        } else {
            args.model_dir.clone()
        }
    };
    let mut summary = Vec::new();
    for disk in &disks {
        crate::disk::set(*disk);
        let dir = dir_of(disk);
        println!(
            "### disk: {} ({}; databases in {})\n",
            disk.name,
            disk.describe(),
            dir.display()
        );
        for durability in &durabilities {
            let mut runs = Vec::new();
            for kind in [Kind::Inline, Kind::StatTrigger, Kind::Lite] {
                runs.push(run_one(&args, &dir, kind, *durability, false)?);
            }
            print_main(&args, disk, *durability, &runs);
            summary.push((*disk, *durability, runs));
        }
    }
    print_notes();
    let mut starvation = None;
    if !args.no_starvation {
        let durability = durabilities.first().copied().unwrap_or_default();
        let disk = disks.last().copied().unwrap_or(crate::disk::PRESETS[0]);
        crate::disk::set(disk);
        let dir = dir_of(&disk);
        let inline = run_one(&args, &dir, Kind::Inline, durability, true)?;
        let lite = run_one(&args, &dir, Kind::Lite, durability, true)?;
        print_starvation(&args, &disk, durability, &inline, &lite);
        starvation = Some((disk, durability, vec![inline, lite]));
    }
    let mut judge = Judge::new(args.smoke);
    print_targets(&summary, &mut judge);
    let sections: Vec<Section> = summary
        .iter_mut()
        .map(|(disk, d, runs)| section(disk, *d, runs, ""))
        .chain(starvation.iter_mut().map(|(disk, d, runs)| {
            section(
                disk,
                *d,
                runs,
                &format!(
                    ", one reader holding {} ms read transactions",
                    args.reader_ms
                ),
            )
        }))
        .collect();
    println!(
        "demo finished in {:.0} s (load average now {}, {} at the start)",
        started.elapsed().as_secs_f64(),
        crate::stats::load_average(),
        load_at_start
    );
    if let Some(dir) = args.report.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    report::write(
        &args.report,
        "litecommit demo: checkpoint strategies under sustained inserts",
        &sections,
    )?;
    let report = args.report.display();
    judge
        .finish(args.no_fail)
        .map_err(|e| format!("{e}\nreport: {report}"))?;
    println!("report: {report}");
    Ok(())
}

/// The report's section for `runs`, taking their series.
fn section(disk: &Disk, durability: Durability, runs: &mut [Run], scenario: &str) -> Section {
    Section {
        title: format!(
            "disk {}, durability {}{scenario}",
            disk.name,
            durability_name(durability)
        ),
        note: format!("{}: {}", disk.describe(), disk.source),
        runs: runs.iter_mut().filter_map(|r| r.series.take()).collect(),
    }
}

fn durability_name(d: Durability) -> &'static str {
    match d {
        Durability::Full => "full",
        Durability::Normal => "normal",
        Durability::Off => "off",
    }
}

fn run_one(
    args: &Args,
    base_dir: &Path,
    kind: Kind,
    durability: Durability,
    reader: bool,
) -> Result<Run, String> {
    let dir = tempfile::Builder::new()
        .prefix("litecommit-demo-")
        .tempdir_in(base_dir)
        .map_err(|e| {
            format!(
                "cannot create a temporary directory in {}: {e}",
                base_dir.display()
            )
        })?;
    let path = dir.path().join("demo.db");
    let recorder = Arc::new(Recorder::default());
    let sync = crate::synchronous(durability);
    let engine = match kind {
        Kind::Lite => {
            let config = Config {
                durability,
                max_batch_size: args.max_batch_size,
                event_listener: Some(listener(Arc::clone(&recorder), crate::wal_path(&path))),
                ..Config::default()
            };
            let db = Committer::open(&path, config).map_err(|e| e.to_string())?;
            db.execute(
                "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)",
                (),
            )
            .map_err(|e| e.to_string())?;
            Engine::Lite(Box::new(db))
        }
        Kind::Inline | Kind::StatTrigger => {
            let strategy = if kind == Kind::Inline {
                Strategy::Inline
            } else {
                Strategy::StatTrigger
            };
            let b = Baseline::start(
                &path,
                sync,
                strategy,
                args.max_batch_size,
                10_000,
                Arc::clone(&recorder),
            )
            .map_err(|e| e.to_string())?;
            Engine::Base(b)
        }
    };
    let frame_bytes = page_size(&path)? + 24.0;

    let label = format!(
        "{} [{}{}]",
        kind.label(),
        durability_name(durability),
        if reader {
            format!(", {} ms reader", args.reader_ms)
        } else {
            String::new()
        }
    );
    let pb = ProgressBar::new(args.transactions as u64);
    pb.set_style(
        ProgressStyle::with_template("{msg:48} [{bar:30}] {pos}/{len} {per_sec:>12} eta {eta}")
            .map_err(|e| e.to_string())?
            .progress_chars("=> "),
    );
    pb.set_message(label);

    let io_start = vfs::Counts::now();
    let device_start = crate::stats::device_write_bytes(dir.path());
    let stop_reader = AtomicBool::new(false);
    let reads = AtomicU64::new(0);
    let (tracker, seconds, samples) = std::thread::scope(|s| {
        let reader_thread = reader
            .then(|| s.spawn(|| hold_reads(&path, sync, args.reader_ms, &stop_reader, &reads)));
        let out = drive(&engine, args, &pb);
        stop_reader.store(true, Ordering::Relaxed);
        if let Some(h) = reader_thread {
            let _ = h.join();
        }
        out
    });
    let io = vfs::Counts::now().since(io_start);
    pb.finish_and_clear();

    let writer_stall_ms = match engine {
        Engine::Lite(db) => {
            let stats = db.stats();
            db.close().map_err(|e| e.to_string())?;
            Some(stats.max_writer_stall_ms)
        }
        Engine::Base(mut b) => {
            b.close();
            None
        }
    };
    let device_write_bytes = device_start
        .zip(crate::stats::device_write_bytes(dir.path()))
        .map(|(start, end)| end.saturating_sub(start));
    let rec = recorder.take();
    let flush = Summary::of(rec.flush_ms.clone());
    let origin = tracker.origin;
    let at = |t: Instant| t.saturating_duration_since(origin).as_secs_f64();
    let series = Series {
        label: kind.label().to_string(),
        latency: std::mem::take(&mut *tracker.over_time.lock().unwrap_or_else(|p| p.into_inner())),
        wal_bytes: samples.iter().map(|s| (s.0, s.1 * frame_bytes)).collect(),
        wal_file_bytes: samples.iter().map(|s| (s.0, s.2)).collect(),
        checkpoints: rec
            .checkpoint_spans
            .iter()
            .map(|&(start, end, mode)| Span {
                start: at(start),
                end: at(end),
                label: mode.to_string(),
            })
            .collect(),
        pauses: rec
            .pauses
            .iter()
            .map(|&(start, end)| Span {
                start: at(start),
                end: at(end),
                label: "pause".into(),
            })
            .collect(),
    };
    let committed = tracker.done.load(Ordering::Relaxed) - tracker.failed.load(Ordering::Relaxed);
    Ok(Run {
        kind,
        committed,
        failed: tracker.failed.load(Ordering::Relaxed),
        seconds,
        latency: tracker.latencies.take(),
        rec,
        flush,
        backlog_sampled: Summary::of(samples.iter().map(|s| s.1).collect()),
        file_sampled: Summary::of(samples.iter().map(|s| s.2).collect()),
        series: Some(series),
        io,
        device_write_bytes,
        writer_stall_ms,
        reads: reads.load(Ordering::Relaxed),
        frame_bytes,
    })
}

fn page_size(path: &Path) -> Result<f64, String> {
    let conn = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
    conn.query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))
        .map(|p| p as f64)
        .map_err(|e| e.to_string())
}

/// Records litecommit's events the same way the baselines record theirs.
fn listener(recorder: Arc<Recorder>, wal: PathBuf) -> litecommit::EventListener {
    Arc::new(move |event: &Event| match event {
        Event::BatchCommitted {
            size,
            checkpoint_running,
            wal_frames,
            duration,
            paused,
            paced,
            ..
        } => {
            if !paced.is_zero() {
                recorder.pace_wait(paced.as_secs_f64() * 1000.0);
            }
            if !paused.is_zero() {
                // The batch started `duration` ago, after waiting `paused` at the gate.
                let began = Instant::now()
                    .checked_sub(*duration)
                    .unwrap_or_else(Instant::now);
                recorder.pause(began.checked_sub(*paused).unwrap_or(began), began);
            }
            recorder.batch(
                *size,
                *checkpoint_running,
                *wal_frames,
                Some(duration.as_secs_f64() * 1000.0),
            )
        }
        Event::CheckpointStarted { .. } => recorder.checkpoint_started(crate::file_len(&wal)),
        Event::CheckpointFinished {
            mode,
            log_frames,
            checkpointed_frames,
            busy,
            duration,
            ..
        } => recorder.checkpoint_finished(Checkpoint {
            mode: mode.as_str(),
            ms: duration.as_secs_f64() * 1000.0,
            log: *log_frames,
            done: *checkpointed_frames,
            busy: *busy,
        }),
        _ => {}
    })
}

/// A reader that keeps a snapshot open: read transactions of `ms` back to back.
fn hold_reads(path: &Path, sync: &str, ms: u64, stop: &AtomicBool, reads: &AtomicU64) {
    let Ok(conn) = baseline::open(path, sync) else {
        return;
    };
    while !stop.load(Ordering::Relaxed) {
        let held = conn.execute_batch("BEGIN").and_then(|_| {
            conn.query_row("SELECT max(id) FROM events", [], |r| {
                r.get::<_, Option<i64>>(0)
            })
        });
        if held.is_ok() {
            std::thread::sleep(Duration::from_millis(ms));
            reads.fetch_add(1, Ordering::Relaxed);
        }
        let _ = conn.execute_batch("COMMIT");
    }
}

/// One sample of the WAL: (seconds since the load started, un-checkpointed frames, -wal
/// file bytes).
type WalSample = (f64, f64, f64);

/// Submits the load and waits for every completion. Returns the tracker, the wall time
/// and the WAL sampled every 5 ms.
fn drive(engine: &Engine, args: &Args, pb: &ProgressBar) -> (Arc<Tracker>, f64, Vec<WalSample>) {
    let threads = args.threads;
    let start = Instant::now();
    let tracker = Arc::new(Tracker {
        origin: start,
        latencies: Samples::default(),
        over_time: Mutex::new(Vec::with_capacity(args.transactions)),
        done: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        windows: (0..threads)
            .map(|_| (Mutex::new(0), Condvar::new()))
            .collect(),
    });
    let finished = AtomicBool::new(false);
    let samples = std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut samples = Vec::new();
            let mut last_draw = Instant::now();
            while !finished.load(Ordering::Relaxed) {
                let (b, f) = engine.sample();
                samples.push((start.elapsed().as_secs_f64(), b as f64, f as f64));
                if last_draw.elapsed() >= Duration::from_millis(100) {
                    pb.set_position(tracker.done.load(Ordering::Relaxed));
                    last_draw = Instant::now();
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            samples
        });
        let submitters: Vec<_> = (0..threads)
            .map(|t| {
                let tracker = Arc::clone(&tracker);
                let count =
                    args.transactions / threads + usize::from(t < args.transactions % threads);
                s.spawn(move || {
                    for i in 0..count {
                        let (slots, cv) = &tracker.windows[t];
                        let mut used = slots.lock().unwrap_or_else(|p| p.into_inner());
                        while *used >= args.in_flight {
                            used = cv.wait(used).unwrap_or_else(|p| p.into_inner());
                        }
                        *used += 1;
                        drop(used);
                        let bytes = payload(args.payload, (t * count + i) as u64);
                        let done = Completion {
                            tracker: Arc::clone(&tracker),
                            thread: t,
                            submitted: Instant::now(),
                        };
                        engine.submit(bytes, done);
                    }
                    // Wait for this thread's last transactions.
                    let (slots, cv) = &tracker.windows[t];
                    let mut used = slots.lock().unwrap_or_else(|p| p.into_inner());
                    while *used > 0 {
                        used = cv.wait(used).unwrap_or_else(|p| p.into_inner());
                    }
                })
            })
            .collect();
        for h in submitters {
            let _ = h.join();
        }
        finished.store(true, Ordering::Relaxed);
        sampler.join().unwrap_or_default()
    });
    let seconds = start.elapsed().as_secs_f64();
    pb.set_position(tracker.done.load(Ordering::Relaxed));
    (tracker, seconds, samples)
}

fn triple(s: &Summary) -> String {
    format!("{} / {} / {}", ms(s.p50()), ms(s.p99()), ms(s.max()))
}

fn batch_cell(v: &[f64]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    let s = Summary::of(v.to_vec());
    format!(
        "{:.0} / {:.0} / {:.0} (n={})",
        s.p50(),
        s.p99(),
        s.max(),
        s.len()
    )
}

fn range_mb(run: &Run, frames: &Summary) -> String {
    if frames.len() == 0 {
        return "-".into();
    }
    format!(
        "{} - {}",
        run.frames_mb(frames.min()),
        run.frames_mb(frames.max())
    )
}

fn print_main(args: &Args, disk: &Disk, durability: Durability, runs: &[Run]) {
    let name = format!("{}, {}", disk.name, durability_name(durability));
    println!(
        "== {} transactions, disk {}, durability {} ({}) ==",
        args.transactions,
        disk.name,
        durability_name(durability),
        crate::synchronous(durability)
    );
    let header: Vec<&str> = std::iter::once("")
        .chain(runs.iter().map(|r| r.kind.label()))
        .collect();
    let mut t = Table::new(&header);
    let cells = |f: &dyn Fn(&Run) -> String| runs.iter().map(f).collect::<Vec<_>>();
    t.row(
        "transactions committed (failed)",
        cells(&|r| format!("{} ({})", r.committed, r.failed)),
    );
    t.row(
        "wall time s / throughput tx/s",
        cells(&|r| format!("{:.1} / {:.0}", r.seconds, r.tps())),
    );
    t.section("checkpoints");
    t.row(
        "PASSIVE / RESTART / other",
        cells(&|r| {
            let other =
                r.rec.checkpoints.len() - r.checkpoints("passive") - r.checkpoints("restart");
            format!(
                "{} / {} / {}",
                r.checkpoints("passive"),
                r.checkpoints("restart"),
                other
            )
        }),
    );
    t.row(
        "WAL wraps (restarts from frame 0)",
        cells(&|r| r.rec.wraps.to_string()),
    );
    t.row(
        "incomplete (busy or frames left)",
        cells(&|r| {
            r.rec
                .checkpoints
                .iter()
                .filter(|c| c.busy)
                .count()
                .to_string()
        }),
    );
    t.row(
        "duration ms p50 / p99 / max",
        cells(&|r| triple(&r.checkpoint_ms())),
    );
    t.row(
        "efficiency (checkpointed/log) mean",
        cells(&|r| {
            let e = r.efficiency();
            if e.len() == 0 {
                "-".into()
            } else {
                format!("{:.1}% (min {:.1}%)", e.mean() * 100.0, e.min() * 100.0)
            }
        }),
    );
    t.section("WAL size (MB)");
    t.row(
        "un-checkpointed at checkpoint start",
        cells(&|r| range_mb(r, &Summary::of(r.rec.backlog_at_start.clone()))),
    );
    t.row(
        "un-checkpointed as the engine reports it (5 ms)",
        cells(&|r| range_mb(r, &r.backlog_sampled)),
    );
    t.row(
        "un-checkpointed, max after any commit",
        cells(&|r| r.frames_mb(r.rec.max_backlog_frames as f64)),
    );
    t.row(
        "WAL log (frames since it last wrapped) max",
        cells(&|r| r.frames_mb(r.rec.max_frames as f64)),
    );
    t.row(
        "-wal file at checkpoint start",
        cells(&|r| {
            let f = Summary::of(r.rec.file_at_start.clone());
            if f.len() == 0 {
                "-".into()
            } else {
                format!("{} - {}", mb(f.min()), mb(f.max()))
            }
        }),
    );
    t.row(
        "-wal file, sampled min - max",
        cells(&|r| {
            format!(
                "{} - {}",
                mb(r.file_sampled.min()),
                mb(r.file_sampled.max())
            )
        }),
    );
    t.section("batches (transactions per batch p50 / p99 / max)");
    t.row(
        "no checkpoint running",
        cells(&|r| batch_cell(&r.rec.batches_quiet)),
    );
    t.row(
        "while a checkpoint runs",
        cells(&|r| batch_cell(&r.rec.batches_checkpointing)),
    );
    t.row(
        &format!("batches above max {}", args.max_batch_size),
        cells(&|r| {
            r.rec
                .batches_quiet
                .iter()
                .chain(&r.rec.batches_checkpointing)
                .filter(|&&b| b > args.max_batch_size as f64)
                .count()
                .to_string()
        }),
    );
    t.section("latency (ms)");
    t.row(
        "submit-to-durable p50 / p99 / max",
        cells(&|r| triple(&r.latency)),
    );
    t.row("submit-to-durable p99.9", cells(&|r| ms(r.latency.p999())));
    t.row(
        "flush duration p50 / p99 / max",
        cells(&|r| triple(&r.flush)),
    );
    t.row(
        "longest writer stall (gate)",
        cells(&|r| r.writer_stall_ms.map_or("-".into(), ms)),
    );
    t.row(
        "longest wait for the pace before a batch",
        cells(&|r| match r.kind {
            Kind::Lite => ms(r.rec.longest_pace_wait_ms),
            _ => "-".into(),
        }),
    );
    t.section("bytes written (counting VFS)");
    t.row(
        "database file MB (syncs)",
        cells(&|r| format!("{} ({})", mb(r.io.main_bytes as f64), r.io.main_syncs)),
    );
    t.row(
        "-wal file MB (syncs)",
        cells(&|r| format!("{} ({})", mb(r.io.wal_bytes as f64), r.io.wal_syncs)),
    );
    t.row(
        "device writes MB, until closed",
        cells(&|r| r.device_write_bytes.map_or("-".into(), |b| mb(b as f64))),
    );
    t.append_column("Marmot (reported)", marmot_figure);
    print!("{}", t.render());
    if let [a, b, c] = runs {
        println!("ratios ({name}):");
        let lat = |x: &Run, y: &Run, f: fn(&Summary) -> f64| {
            fmt_ratio(ratio(f(&x.latency), f(&y.latency)))
        };
        println!(
            "  p99 latency      (a)/(c) {}   (b)/(c) {}",
            lat(a, c, Summary::p99),
            lat(b, c, Summary::p99)
        );
        println!(
            "  p99.9 latency    (a)/(c) {}   (b)/(c) {}",
            lat(a, c, Summary::p999),
            lat(b, c, Summary::p999)
        );
        println!(
            "  max latency      (a)/(c) {}   (b)/(c) {}",
            lat(a, c, Summary::max),
            lat(b, c, Summary::max)
        );
        println!(
            "  throughput       (c)/(a) {}   (c)/(b) {}",
            fmt_ratio(ratio(c.tps(), a.tps())),
            fmt_ratio(ratio(c.tps(), b.tps()))
        );
        println!(
            "  checkpoints      (a)/(c) {}   (b)/(c) {}",
            fmt_ratio(ratio(
                a.rec.checkpoints.len() as f64,
                c.rec.checkpoints.len() as f64
            )),
            fmt_ratio(ratio(
                b.rec.checkpoints.len() as f64,
                c.rec.checkpoints.len() as f64
            ))
        );
        println!(
            "  database bytes   (a)/(c) {}   (b)/(c) {}",
            fmt_ratio(ratio(a.io.main_bytes as f64, c.io.main_bytes as f64)),
            fmt_ratio(ratio(b.io.main_bytes as f64, c.io.main_bytes as f64))
        );
    }
    println!();
}

fn print_notes() {
    println!("notes:");
    println!("  un-checkpointed = frames of the current WAL not yet copied into the database, from each commit's WAL-hook frame count and each checkpoint's result (the same bookkeeping for all three); 'as the engine reports it' is stats().wal_backlog_frames for litecommit");
    println!("  WAL wraps = commits that restarted the WAL from frame 0; SQLite wraps only when a write transaction begins with every frame checkpointed");
    println!("  bytes written = counted per file by a pass-through VFS registered as the process's default; device writes = sectors written to the disk under the database (sysfs), by every process, from the load's start until the engine closed, the file system's journal included; '-' on a disk model (memory)\n");
}

/// The figures Marmot published with its adaptive checkpoint design (its own machine and
/// load), by row label.
fn marmot_figure(label: &str) -> String {
    let figure = match label {
        "transactions committed (failed)" => "200000",
        "PASSIVE / RESTART / other" => "8132 / 0 / 0",
        "duration ms p50 / p99 / max" => "- / ~10 / -",
        "efficiency (checkpointed/log) mean" => "99%",
        "-wal file at checkpoint start" => "4 - 8",
        "while a checkpoint runs" => "max 200",
        "flush duration p50 / p99 / max" => "- / <=10 (target) / -",
        _ => "",
    };
    figure.to_string()
}

fn print_starvation(args: &Args, disk: &Disk, durability: Durability, a: &Run, c: &Run) {
    println!(
        "== checkpoint starvation: {} transactions, disk {}, durability {}, one reader holding {} ms read transactions back to back ==",
        args.transactions,
        disk.name,
        durability_name(durability),
        args.reader_ms
    );
    let mut t = Table::new(&["", a.kind.label(), c.kind.label()]);
    let runs = [a, c];
    let cells = |f: &dyn Fn(&Run) -> String| runs.iter().map(|r| f(r)).collect::<Vec<_>>();
    t.row("read transactions held", cells(&|r| r.reads.to_string()));
    t.row(
        "throughput tx/s (failed)",
        cells(&|r| format!("{:.0} ({})", r.tps(), r.failed)),
    );
    t.row("-wal file max MB", cells(&|r| mb(r.file_sampled.max())));
    t.row(
        "un-checkpointed WAL max MB",
        cells(&|r| r.frames_mb(r.rec.max_backlog_frames as f64)),
    );
    t.row(
        "WAL log max MB (frames since it last wrapped)",
        cells(&|r| r.frames_mb(r.rec.max_frames as f64)),
    );
    t.row("WAL wraps", cells(&|r| r.rec.wraps.to_string()));
    t.row(
        "checkpoints PASSIVE / RESTART",
        cells(&|r| {
            format!(
                "{} / {}",
                r.checkpoints("passive"),
                r.checkpoints("restart")
            )
        }),
    );
    t.row(
        "  of which incomplete",
        cells(&|r| {
            r.rec
                .checkpoints
                .iter()
                .filter(|x| x.busy)
                .count()
                .to_string()
        }),
    );
    t.row(
        "RESTART duration ms p50 / max",
        cells(&|r| {
            let s = Summary::of(
                r.rec
                    .checkpoints
                    .iter()
                    .filter(|x| x.mode == "restart")
                    .map(|x| x.ms)
                    .collect(),
            );
            if s.len() == 0 {
                "-".into()
            } else {
                format!("{} / {}", ms(s.p50()), ms(s.max()))
            }
        }),
    );
    t.row(
        "longest writer stall ms",
        cells(&|r| match r.writer_stall_ms {
            Some(v) => format!("{} (gate)", ms(v)),
            None => format!("{} (slowest COMMIT)", ms(r.flush.max())),
        }),
    );
    t.row(
        "submit-to-durable p99 / p99.9 / max",
        cells(&|r| {
            format!(
                "{} / {} / {}",
                ms(r.latency.p99()),
                ms(r.latency.p999()),
                ms(r.latency.max())
            )
        }),
    );
    t.row(
        "database / -wal MB written",
        cells(&|r| {
            format!(
                "{} / {}",
                mb(r.io.main_bytes as f64),
                mb(r.io.wal_bytes as f64)
            )
        }),
    );
    print!("{}", t.render());
    println!(
        "ratios: -wal file max (a)/(c) {}, max latency (a)/(c) {}\n",
        fmt_ratio(ratio(a.file_sampled.max(), c.file_sampled.max())),
        fmt_ratio(ratio(a.latency.max(), c.latency.max()))
    );
}

/// The restart threshold (`restart_threshold_mb`'s default) in bytes.
const RESTART_THRESHOLD_BYTES: f64 = 16.0 * 1024.0 * 1024.0;

fn print_targets(summary: &[(Disk, Durability, Vec<Run>)], judge: &mut Judge) {
    println!("targets against (a) and (b):");
    for (disk, d, runs) in summary {
        let [a, b, c] = runs.as_slice() else { continue };
        let name = format!("{}, {}", disk.name, durability_name(*d));
        let mut target = |text: &str, figures: String, verdict: Verdict| {
            let verdict = judge.judge(&format!("[{name}] {text}"), verdict);
            println!("  [{name}] {text}: {figures} -> {verdict}");
        };
        let p999 = ratio(a.latency.p999(), c.latency.p999());
        let max = ratio(a.latency.max(), c.latency.max());
        let latency = format!("p99.9 {}, max {}", fmt_ratio(p999), fmt_ratio(max));
        let inline_ran = !a.rec.checkpoints.is_empty();
        let latency_at_least = |at_least: f64| match (p999, max) {
            _ if !inline_ran => Verdict::NotReached("the inline autocheckpoint never ran".into()),
            (Some(p999), Some(max)) => Verdict::of(true, p999 >= at_least && max >= at_least, ""),
            _ => Verdict::NotReached("no latency recorded".into()),
        };
        match disk.name {
            "machine" => target(
                "p99.9 and max submit-to-durable no worse than inline autocheckpoint (>= 1.0x)",
                latency,
                latency_at_least(1.0),
            ),
            "cloud-ssd" => {
                target(
                    "p99.9 and max submit-to-durable >= 5x lower than inline autocheckpoint",
                    latency,
                    latency_at_least(5.0),
                );
                let slowest = Summary::of(a.rec.checkpointing_commits_ms.clone()).max();
                let stall = c.writer_stall_ms.unwrap_or(0.0);
                target(
                    "longest writer pause <= 1/5 of inline's slowest checkpointing commit",
                    format!(
                        "{} ms vs {} ms ({})",
                        ms(stall),
                        ms(slowest),
                        fmt_ratio(ratio(slowest, stall))
                    ),
                    Verdict::of(
                        inline_ran,
                        stall * 5.0 <= slowest,
                        "the inline autocheckpoint never ran",
                    ),
                );
            }
            _ => {
                println!("  [{name}] latency against inline autocheckpoint (no target): {latency}");
                continue;
            }
        }

        let (stat_count, lite_count) = (b.rec.checkpoints.len(), c.rec.checkpoints.len());
        target(
            ">= 10x fewer checkpoints than the stat trigger",
            format!(
                "{lite_count} vs {stat_count} ({})",
                fmt_ratio(ratio(stat_count as f64, lite_count as f64))
            ),
            Verdict::of(
                stat_count > 0,
                lite_count * 10 <= stat_count,
                "the stat trigger ran no checkpoint",
            ),
        );

        // Only a run that wrote more WAL than the threshold could have crossed it.
        let max_wal = c.rec.max_frames as f64 * c.frame_bytes;
        target(
            "WAL never above the restart threshold (16 MB) without readers",
            format!(
                "max {} MB, {} RESTART",
                mb(max_wal),
                c.checkpoints("restart")
            ),
            Verdict::of(
                c.io.wal_bytes as f64 > RESTART_THRESHOLD_BYTES,
                max_wal <= RESTART_THRESHOLD_BYTES,
                &format!("{} MB of WAL written in all", mb(c.io.wal_bytes as f64)),
            ),
        );

        let eff = c.efficiency();
        target(
            "checkpoint efficiency >= 95%",
            format!("mean {:.1}%", eff.mean() * 100.0),
            Verdict::of(
                eff.len() > 0,
                eff.mean() >= 0.95,
                "litecommit ran no checkpoint",
            ),
        );
    }
}
