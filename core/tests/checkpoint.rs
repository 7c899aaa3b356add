//! The checkpoint scheduler: thresholds, batches growing while a checkpoint runs, the
//! ticker held back meanwhile, metrics and events, and its guarantees (the WAL wraps under a
//! continuous reader, idle TRUNCATE, idle vacuum; beside readers that keep old snapshots,
//! RESTARTs that cannot succeed never pause the writer, past the hard WAL limit a RESTART
//! waits longer and wraps the WAL; the backlog counts a restarted WAL that grew at once).
//! Every wait is on an observable event or counter with a generous timeout; nothing sleeps.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use litecommit::{
    params, CheckpointMode, CheckpointReason, Committer, Config, Event, FlushPolicy, FlushTrigger,
    Pending, Transaction, Value,
};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Holds the thread that reaches it while armed, until released. Arming is one-shot.
#[derive(Default)]
struct Latch {
    /// Whether it is armed and whether it was released.
    state: Mutex<LatchState>,
    /// Signalled on release.
    changed: Condvar,
}

/// What a [`Latch`]'s lock guards.
#[derive(Default)]
struct LatchState {
    /// The next thread to pass is held.
    armed: bool,
    /// The held thread may go on.
    released: bool,
}

impl Latch {
    fn arm(&self) {
        *self.state.lock().unwrap() = LatchState {
            armed: true,
            released: false,
        };
    }

    fn pass(&self) {
        let mut st = self.state.lock().unwrap();
        if !st.armed {
            return;
        }
        st.armed = false;
        while !st.released {
            st = self.changed.wait(st).unwrap();
        }
    }

    fn release(&self) {
        self.state.lock().unwrap().released = true;
        self.changed.notify_all();
    }
}

/// Every event of a committer, with a way to wait for one, and latches that hold the
/// scheduler (at `CheckpointStarted`) or the writer (at `BatchCommitted`).
#[derive(Default)]
struct Events {
    /// Every event so far, in order.
    log: Mutex<Vec<Event>>,
    /// Signalled at every event.
    changed: Condvar,
    /// Holds the scheduler at `CheckpointStarted`.
    checkpoint: Latch,
    /// Holds the writer at `BatchCommitted`.
    batch: Latch,
}

impl Events {
    fn listener(self: &Arc<Self>) -> litecommit::EventListener {
        let events = Arc::clone(self);
        Arc::new(move |event: &Event| events.record(event))
    }

    fn record(&self, event: &Event) {
        self.log.lock().unwrap().push(event.clone());
        self.changed.notify_all();
        match event {
            Event::CheckpointStarted { .. } => self.checkpoint.pass(),
            Event::BatchCommitted { .. } => self.batch.pass(),
            _ => {}
        }
    }

    /// Waits until an event matching `pred` has been recorded at or after index `from`.
    fn wait_for(&self, from: usize, pred: impl Fn(&Event) -> bool) -> Event {
        let deadline = Instant::now() + TIMEOUT;
        let mut log = self.log.lock().unwrap();
        loop {
            if let Some(e) = log[from.min(log.len())..].iter().find(|e| pred(e)) {
                return e.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for an event; saw {log:#?}"
            );
            log = self.changed.wait_timeout(log, left).unwrap().0;
        }
    }

    fn len(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    fn since(&self, from: usize) -> Vec<Event> {
        self.log.lock().unwrap()[from..].to_vec()
    }
}

/// A committer on a fresh database, with its events recorded.
struct Fixture {
    /// Removed when the test ends.
    _dir: tempfile::TempDir,
    /// The database file.
    path: std::path::PathBuf,
    /// The committer.
    db: Committer,
    /// Its events.
    events: Arc<Events>,
}

fn open(configure: impl FnOnce(&mut Config)) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let events = Arc::new(Events::default());
    let mut config = Config {
        durability: litecommit::Durability::Normal,
        event_listener: Some(events.listener()),
        ..Config::default()
    };
    configure(&mut config);
    let db = Committer::open(&path, config).unwrap();
    db.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)",
        (),
    )
    .unwrap();
    // A batch's event comes after its promises resolve; the barrier waits for it too.
    db.flush().unwrap();
    Fixture {
        _dir: dir,
        path,
        db,
        events,
    }
}

fn insert(n: usize, payload: usize) -> Transaction {
    Transaction::single(
        "INSERT INTO t (payload) VALUES (?)",
        params![vec![n as u8; payload]],
    )
}

fn insert_many(db: &Committer, count: usize, payload: usize) {
    let pending: Vec<Pending> = (0..count)
        .map(|i| db.submit(insert(i, payload)).unwrap())
        .collect();
    for p in pending {
        p.wait().unwrap();
    }
}

fn checkpoints(db: &Committer, mode: &str) -> u64 {
    db.stats().checkpoints.get(mode).copied().unwrap_or(0)
}

/// Reads one sample (`name{labels} value`) from the metrics text.
/// The value of `sample` (its name and labels but the constant `db="test.db"`) in `text`.
fn metric(text: &str, sample: &str) -> f64 {
    let db = "db=\"test.db\"";
    text.lines()
        .map(|l| {
            l.replace(&format!("{{{db}}}"), "")
                .replace(&format!("{db},"), "")
                .replace(&format!(",{db}"), "")
        })
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {sample} in:\n{text}"))
}

#[test]
fn no_checkpoint_below_threshold() {
    let f = open(|_| {});
    insert_many(&f.db, 200, 100);
    f.db.flush().unwrap();
    let stats = f.db.stats();
    // The trigger is decided before a batch's promises resolve: nothing was requested.
    assert!(stats.checkpoints.is_empty(), "{stats:?}");
    assert!(!stats.checkpoint_running);
    assert!(stats.wal_backlog_frames > 0, "the WAL hook saw no frames");
    assert!(!f
        .events
        .since(0)
        .iter()
        .any(|e| matches!(e, Event::CheckpointStarted { .. })));
}

#[test]
fn passive_checkpoint_triggered() {
    let f = open(|c| {
        c.passive_threshold_mb = 0.1;
        c.restart_threshold_mb = 100.0;
    });
    insert_many(&f.db, 100, 2000);
    let e = f.events.wait_for(0, |e| {
        matches!(
            e,
            Event::CheckpointFinished {
                mode: CheckpointMode::Passive,
                reason: CheckpointReason::Passive,
                ..
            }
        )
    });
    let Event::CheckpointFinished {
        log_frames,
        checkpointed_frames,
        ..
    } = e
    else {
        unreachable!()
    };
    assert!(log_frames > 0 && checkpointed_frames > 0);
    assert!(checkpoints(&f.db, "passive") >= 1);
    assert_eq!(checkpoints(&f.db, "restart"), 0);
}

#[test]
fn restart_checkpoint_triggered_when_a_reader_pins_the_wal() {
    let f = open(|c| {
        c.passive_threshold_mb = 0.05;
        c.restart_threshold_mb = 0.25;
        c.checkpoint_busy_timeout_ms = 20;
    });
    // A reader holding a snapshot stops PASSIVE from letting the WAL wrap.
    let reader = rusqlite::Connection::open(&f.path).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let n: i64 = reader
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0);
    let start = f.events.len();
    while !f.events.since(start).iter().any(|e| {
        matches!(
            e,
            Event::CheckpointFinished {
                mode: CheckpointMode::Restart,
                busy: true,
                ..
            }
        )
    }) {
        insert_many(&f.db, 20, 4000);
    }
    // The reader gives up its snapshot: the next checkpoint completes and the WAL wraps.
    reader.execute_batch("COMMIT").unwrap();
    let start = f.events.len();
    let deadline = Instant::now() + TIMEOUT;
    while !wrapped(&f.events.since(start)) {
        assert!(Instant::now() < deadline, "the WAL never wrapped");
        insert_many(&f.db, 20, 4000);
    }
    assert!(checkpoints(&f.db, "restart") >= 1);
    assert!(f.db.stats().checkpoints_busy >= 1);
}

#[test]
fn dynamic_batch_sizing_doubles_the_batch_while_a_checkpoint_runs() {
    let f = open(|c| {
        c.max_batch_size = 10;
        c.checkpoint = false; // only the manual checkpoint below runs
    });
    let db = Arc::new(f.db);
    let events = &f.events;

    // Phase 1: no checkpoint running, batches are capped at 10.
    let mark = events.len();
    events.batch.arm();
    let first = db.submit(insert(0, 10)).unwrap();
    events.wait_for(mark, |e| matches!(e, Event::BatchCommitted { .. }));
    let queued: Vec<Pending> = (0..35).map(|i| db.submit(insert(i, 10)).unwrap()).collect();
    events.batch.release();
    first.wait().unwrap();
    queued.into_iter().for_each(|p| drop(p.wait().unwrap()));
    // A promise resolves before its batch's event is emitted; the flush barrier is answered
    // after it, so every batch of phase 1 is reported before phase 2 starts counting.
    db.flush().unwrap();
    let sizes = batch_sizes(&events.since(mark));
    assert_eq!(sizes.iter().skip(1).max(), Some(&10), "{sizes:?}");

    // Phase 2: hold a checkpoint open, queue 50 while the writer is held, then let it go.
    events.checkpoint.arm();
    let cp_db = Arc::clone(&db);
    let checkpoint = thread::spawn(move || cp_db.checkpoint(CheckpointMode::Passive));
    events.wait_for(mark, |e| matches!(e, Event::CheckpointStarted { .. }));
    assert!(db.stats().checkpoint_running);
    let mark = events.len();
    events.batch.arm();
    let first = db.submit(insert(0, 10)).unwrap();
    events.wait_for(mark, |e| matches!(e, Event::BatchCommitted { .. }));
    let queued: Vec<Pending> = (0..50).map(|i| db.submit(insert(i, 10)).unwrap()).collect();
    events.batch.release();
    first.wait().unwrap();
    queued.into_iter().for_each(|p| drop(p.wait().unwrap()));
    let during: Vec<Event> = events.since(mark);
    let sizes = batch_sizes(&during);
    assert!(sizes.iter().any(|&s| s > 10), "no batch grew: {sizes:?}");
    assert!(
        sizes.iter().all(|&s| s <= 20),
        "a batch exceeded 2x: {sizes:?}"
    );
    assert!(during.iter().all(|e| !matches!(
        e,
        Event::BatchCommitted {
            checkpoint_running: false,
            ..
        }
    )));
    events.checkpoint.release();
    let result = checkpoint.join().unwrap().unwrap();
    assert!(!result.busy);
    assert!(db.stats().max_batch_size > 10);
}

/// Whether the WAL hook's frame count went down between two batches: the WAL restarted.
fn wrapped(events: &[Event]) -> bool {
    let frames: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::BatchCommitted { wal_frames, .. } => Some(*wal_frames),
            _ => None,
        })
        .collect();
    frames.windows(2).any(|w| w[1] < w[0])
}

fn batch_sizes(events: &[Event]) -> Vec<usize> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::BatchCommitted { size, .. } => Some(*size),
            _ => None,
        })
        .collect()
}

#[test]
fn timer_flush_disabled_during_checkpoint() {
    let f = open(|c| {
        c.flush_policy = FlushPolicy::Ticker;
        c.max_wait_ms = 5;
        c.max_batch_size = 5;
        c.dynamic_batch_size = false;
        c.checkpoint = false;
    });
    let db = Arc::new(f.db);
    let events = &f.events;
    events.checkpoint.arm();
    let cp_db = Arc::clone(&db);
    let checkpoint = thread::spawn(move || cp_db.checkpoint(CheckpointMode::Passive));
    events.wait_for(0, |e| matches!(e, Event::CheckpointStarted { .. }));

    let mark = events.len();
    let lone = db.submit(insert(1, 10)).unwrap();
    events.wait_for(mark, |e| matches!(e, Event::TimerFlushSuppressed { .. }));
    // The checkpoint is still held, so the timer cannot have flushed it.
    assert!(lone.try_get().is_none());
    assert!(batch_sizes(&events.since(mark)).is_empty());

    // A size-triggered flush still happens during the checkpoint.
    let more: Vec<Pending> = (0..4).map(|i| db.submit(insert(i, 10)).unwrap()).collect();
    lone.wait().unwrap();
    more.into_iter().for_each(|p| drop(p.wait().unwrap()));
    let e = events.wait_for(mark, |e| matches!(e, Event::BatchCommitted { .. }));
    assert!(matches!(
        e,
        Event::BatchCommitted {
            size: 5,
            trigger: FlushTrigger::Size,
            ..
        }
    ));

    // So does an explicit flush.
    let mark = events.len();
    let one = db.submit(insert(9, 10)).unwrap();
    db.flush().unwrap();
    one.wait().unwrap();
    let e = events.wait_for(mark, |e| matches!(e, Event::BatchCommitted { .. }));
    assert!(matches!(
        e,
        Event::BatchCommitted {
            trigger: FlushTrigger::Flush,
            ..
        }
    ));

    // Once the checkpoint ends, the timer flushes again.
    events.checkpoint.release();
    checkpoint.join().unwrap().unwrap();
    let mark = events.len();
    let after = db.submit(insert(2, 10)).unwrap();
    after.wait().unwrap();
    let e = events.wait_for(mark, |e| matches!(e, Event::BatchCommitted { .. }));
    assert!(
        matches!(
            e,
            Event::BatchCommitted {
                trigger: FlushTrigger::Timer,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn concurrent_operations_with_checkpoints() {
    let f = open(|c| {
        c.passive_threshold_mb = 0.25;
        c.restart_threshold_mb = 1.0;
        c.max_batch_size = 50;
    });
    let db = Arc::new(f.db);
    let threads = 128;
    let per_thread = 40;
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (db, done) = (Arc::clone(&db), Arc::clone(&done));
        thread::spawn(move || {
            let mut reads = 0u64;
            while !done.load(Ordering::SeqCst) {
                db.query("SELECT count(*) FROM t", ()).unwrap();
                reads += 1;
            }
            reads
        })
    };
    let writers: Vec<_> = (0..threads)
        .map(|t| {
            let db = Arc::clone(&db);
            thread::spawn(move || {
                for i in 0..per_thread {
                    let id = (t * per_thread + i) as i64;
                    db.execute(
                        "INSERT INTO t (id, payload) VALUES (?, ?)",
                        params![id, vec![7u8; 600]],
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    writers.into_iter().for_each(|w| w.join().unwrap());
    done.store(true, Ordering::SeqCst);
    assert!(reader.join().unwrap() > 0);

    let total = (threads * per_thread) as i64;
    let rows = db
        .query(
            "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM t",
            (),
        )
        .unwrap();
    assert_eq!(
        rows.rows[0],
        vec![
            Value::Integer(total),
            Value::Integer(total),
            Value::Integer(0),
            Value::Integer(total - 1)
        ]
    );
    // The scheduler's thread may finish its checkpoint after the writers on a busy machine.
    common::wait_until("a checkpoint", || {
        checkpoints(&db, "passive") + checkpoints(&db, "restart") > 0
    });
    let ok = db.query("PRAGMA integrity_check", ()).unwrap();
    assert_eq!(ok.rows[0][0], Value::Text("ok".into()));
}

#[test]
fn checkpoint_metrics_move_with_the_events() {
    let f = open(|c| c.checkpoint = false);
    let before = f.db.metrics_text();
    assert_eq!(
        metric(
            &before,
            "litecommit_transactions_total{outcome=\"committed\"}"
        ),
        1.0
    );
    insert_many(&f.db, 30, 1000);
    let err =
        f.db.execute("INSERT INTO t (id, payload) VALUES (1, NULL)", ())
            .unwrap_err();
    assert!(err.is_constraint());
    let result = f.db.checkpoint(CheckpointMode::Passive).unwrap();
    assert!(result.log_frames > 0);
    assert_eq!(result.log_frames, result.checkpointed_frames);
    assert!(!result.busy);

    let text = f.db.metrics_text();
    let m = |s: &str| metric(&text, s);
    assert_eq!(
        m("litecommit_transactions_total{outcome=\"committed\"}"),
        31.0
    );
    assert_eq!(m("litecommit_transactions_total{outcome=\"failed\"}"), 1.0);
    assert_eq!(m("litecommit_commit_latency_seconds_count"), 32.0);
    assert_eq!(m("litecommit_checkpoints_total{mode=\"passive\"}"), 1.0);
    assert_eq!(m("litecommit_checkpoint_busy_total{busy=\"false\"}"), 1.0);
    assert_eq!(
        m("litecommit_checkpoint_duration_seconds_count{mode=\"passive\"}"),
        1.0
    );
    assert_eq!(
        m("litecommit_checkpoint_log_frames_sum"),
        result.log_frames as f64
    );
    assert_eq!(
        m("litecommit_checkpoint_checkpointed_frames_sum"),
        result.checkpointed_frames as f64
    );
    assert_eq!(m("litecommit_checkpoint_efficiency_ratio_sum"), 1.0);
    assert_eq!(m("litecommit_checkpoint_wal_size_bytes_count"), 1.0);
    assert!(m("litecommit_checkpoint_wal_size_bytes_sum") > 0.0);
    let batches = m("litecommit_batch_size_count");
    assert_eq!(batches, f.db.stats().batches as f64);
    assert_eq!(m("litecommit_batch_size_sum"), 32.0);
    assert_eq!(m("litecommit_flush_duration_seconds_count"), batches);
    let by_trigger: f64 = ["adaptive", "size", "timer", "flush", "close"]
        .iter()
        .map(|t| m(&format!("litecommit_flushes_total{{trigger=\"{t}\"}}")))
        .sum();
    assert_eq!(by_trigger, batches);
    assert!(text.contains("litecommit_queue_depth"));
    assert_eq!(m("litecommit_checkpoints_total{mode=\"restart\"}"), 0.0);
    assert_eq!(m("litecommit_checkpoint_busy_total{busy=\"true\"}"), 0.0);
    assert_eq!(m("litecommit_wal_backlog_frames"), 0.0);
    assert_eq!(
        m("litecommit_wal_size_bytes"),
        f.db.stats().wal_file_bytes as f64
    );
}

#[test]
fn wal_wraps_under_a_continuous_reader() {
    let f = open(|c| {
        c.passive_threshold_mb = 0.1;
        c.restart_threshold_mb = 0.5;
        // Longer than one of the reader's transactions takes even on a loaded machine: the
        // test is about winning against back-to-back readers, not about how fast they are.
        c.checkpoint_busy_timeout_ms = 2000;
    });
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (path, stop) = (f.path.clone(), Arc::clone(&stop));
        thread::spawn(move || {
            let conn = rusqlite::Connection::open(path).unwrap();
            let mut snapshots = 0u64;
            // Back-to-back read transactions: a snapshot is open nearly all the time. Each
            // read costs the same however large the table grows.
            while !stop.load(Ordering::SeqCst) {
                conn.execute_batch("BEGIN").unwrap();
                for _ in 0..20 {
                    let _: Option<i64> = conn
                        .query_row("SELECT max(rowid) FROM t", [], |r| r.get(0))
                        .unwrap();
                }
                conn.execute_batch("COMMIT").unwrap();
                snapshots += 1;
            }
            snapshots
        })
    };
    let mark = f.events.len();
    let deadline = Instant::now() + TIMEOUT;
    while !wrapped(&f.events.since(mark)) {
        if Instant::now() > deadline {
            let checkpoints: Vec<Event> = f
                .events
                .since(mark)
                .into_iter()
                .filter(|e| matches!(e, Event::CheckpointFinished { .. }))
                .collect();
            panic!(
                "the WAL never wrapped: {:?}\n{checkpoints:#?}",
                f.db.stats()
            );
        }
        insert_many(&f.db, 20, 4000);
    }
    stop.store(true, Ordering::SeqCst);
    assert!(reader.join().unwrap() > 0);
    // The checkpoint that let it wrap reports after the writer went on.
    f.events
        .wait_for(mark, |e| matches!(e, Event::CheckpointFinished { .. }));
}

#[test]
fn wal_keeps_growing_without_the_scheduler() {
    // The control for the test above: with checkpoint=false nothing wraps the WAL.
    let f = open(|c| c.checkpoint = false);
    let mark = f.events.len();
    insert_many(&f.db, 200, 4000);
    let frames: Vec<u64> = f
        .events
        .since(mark)
        .iter()
        .filter_map(|e| match e {
            Event::BatchCommitted { wal_frames, .. } => Some(*wal_frames),
            _ => None,
        })
        .collect();
    assert!(frames.windows(2).all(|w| w[1] >= w[0]), "{frames:?}");
    assert!(f.db.stats().checkpoints.is_empty());
    // A manual checkpoint still works with the scheduler off.
    let r = f.db.checkpoint(CheckpointMode::Truncate).unwrap();
    assert!(!r.busy);
    assert_eq!(
        std::fs::metadata(f.path.with_extension("db-wal"))
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn truncate_when_idle_gives_the_space_back() {
    let f = open(|c| {
        c.truncate_when_idle = true;
        c.idle_ms = 50;
    });
    let mark = f.events.len();
    insert_many(&f.db, 50, 2000);
    assert!(f.db.stats().wal_frames > 0);
    let wal = f.path.with_extension("db-wal");
    let e = f.events.wait_for(mark, |e| {
        matches!(
            e,
            Event::CheckpointFinished {
                reason: CheckpointReason::Idle,
                busy: false,
                ..
            }
        )
    });
    assert!(matches!(
        e,
        Event::CheckpointFinished {
            mode: CheckpointMode::Truncate,
            ..
        }
    ));
    // Nothing was written after the idle TRUNCATE.
    assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
}

#[test]
fn idle_incremental_vacuum_frees_pages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vac.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA auto_vacuum=INCREMENTAL; CREATE TABLE t (b BLOB);")
            .unwrap();
    }
    let events = Arc::new(Events::default());
    let db = Committer::open(
        &path,
        Config {
            idle_vacuum_pages: 100_000,
            idle_vacuum_budget_ms: 60_000,
            idle_ms: 50,
            event_listener: Some(events.listener()),
            ..Config::default()
        },
    )
    .unwrap();
    insert_many_into(&db, 100, 4000);
    db.execute("DELETE FROM t", ()).unwrap();
    let e = events.wait_for(0, |e| matches!(e, Event::IdleVacuum { .. }));
    let Event::IdleVacuum {
        freelist_before,
        freelist_after,
    } = e
    else {
        unreachable!()
    };
    assert!(freelist_before > 0);
    assert!(freelist_after < freelist_before, "{e:?}");
}

fn insert_many_into(db: &Committer, count: usize, payload: usize) {
    let pending: Vec<Pending> = (0..count)
        .map(|_| {
            db.submit(Transaction::single(
                "INSERT INTO t (b) VALUES (?)",
                params![vec![1u8; payload]],
            ))
            .unwrap()
        })
        .collect();
    pending.into_iter().for_each(|p| drop(p.wait().unwrap()));
}

/// Closing from a completion callback, with work queued behind it that crosses the
/// checkpoint threshold: the scheduler stops after the writer's last batch, and no request
/// left behind leaves `checkpoint_running` set.
#[test]
fn close_from_a_callback_leaves_no_checkpoint_marked_running() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let config = Config {
        passive_threshold_mb: 0.01,
        restart_threshold_mb: 100.0,
        ..Config::default()
    };
    let db = Arc::new(Committer::open(&path, config).unwrap());
    db.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)",
        (),
    )
    .unwrap();
    let (go_tx, go) = crossbeam_channel::bounded::<()>(1);
    let (entered_tx, entered) = crossbeam_channel::bounded(1);
    let (closed_tx, closed) = crossbeam_channel::bounded(1);
    let handle = Arc::clone(&db);
    db.submit_with_callback(insert(0, 10), move |outcome| {
        outcome.unwrap();
        entered_tx.send(()).unwrap();
        let _ = go.recv_timeout(TIMEOUT);
        closed_tx.send(handle.close()).unwrap();
    })
    .unwrap();
    entered.recv_timeout(TIMEOUT).unwrap();
    // Queued behind the callback: each batch of these asks for a checkpoint.
    let queued: Vec<Pending> = (0..50)
        .map(|i| db.submit(insert(i, 4000)).unwrap())
        .collect();
    go_tx.send(()).unwrap();
    assert_eq!(closed.recv_timeout(TIMEOUT).unwrap(), Ok(()));
    for p in queued {
        p.wait_timeout(TIMEOUT).unwrap();
    }
    // The writer shuts down on its own; the WAL goes once it has.
    let wal = path.with_extension("db-wal");
    common::wait_until("the writer to finish closing", || !wal.exists());
    assert!(checkpoints(&db, "passive") >= 1, "{:?}", db.stats());
    assert!(!db.stats().checkpoint_running);
}

/// Finished checkpoints so far: (mode, reason, busy).
fn finished(events: &Events) -> Vec<(CheckpointMode, CheckpointReason, bool)> {
    events
        .since(0)
        .iter()
        .filter_map(|e| match e {
            Event::CheckpointFinished {
                mode, reason, busy, ..
            } => Some((*mode, *reason, *busy)),
            _ => None,
        })
        .collect()
}

/// A reader on its own connection that holds one read transaction (one snapshot) until
/// told to end it.
fn hold_snapshot(path: &Path) -> (mpsc::Sender<()>, thread::JoinHandle<()>) {
    let (release, released) = mpsc::channel::<()>();
    let (started, started_rx) = mpsc::channel();
    let path = path.to_path_buf();
    let reader = thread::spawn(move || {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch("BEGIN").unwrap();
        let _: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        started.send(()).unwrap();
        // Ends when told to, or when the test drops the sender.
        let _ = released.recv();
        conn.execute_batch("COMMIT").unwrap();
    });
    started_rx.recv_timeout(TIMEOUT).unwrap();
    (release, reader)
}

/// The WAL header's salt, read from the file.
fn wal_salt(path: &Path) -> [u8; 8] {
    let wal = std::fs::read(format!("{}-wal", path.display())).unwrap();
    wal[16..24].try_into().unwrap()
}

#[test]
fn restarts_that_a_reader_makes_futile_never_pause_the_writer() {
    let f = open(|c| {
        c.passive_threshold_mb = 0.05;
        c.restart_threshold_mb = 0.1;
        c.wal_hard_limit_mb = 0.3;
        c.checkpoint_busy_timeout_ms = 20;
        c.wal_hard_limit_pause_ms = 50;
    });
    insert_many(&f.db, 10, 1000);
    let (release, reader) = hold_snapshot(&f.path);
    let deadline = Instant::now() + TIMEOUT;
    let restarts = || {
        finished(&f.events)
            .into_iter()
            .filter(|&(mode, _, _)| mode == CheckpointMode::Restart)
            .collect::<Vec<_>>()
    };
    // RESTARTs (at the threshold or past the hard limit), each giving up on the reader.
    while restarts().len() < 3 {
        assert!(Instant::now() < deadline, "{:?}", restarts());
        insert_many(&f.db, 20, 1000);
    }
    assert!(
        restarts().iter().all(|&(_, _, busy)| busy),
        "{:?}",
        restarts()
    );
    let stats = f.db.stats();
    assert_eq!(stats.max_writer_stall_ms, 0.0, "{stats:?}");
    drop(release);
    reader.join().unwrap();
    f.db.close().unwrap();
}

#[test]
fn past_the_hard_limit_a_restart_waits_for_the_reader_and_wraps_the_wal() {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_tx = Mutex::new(Some(release_tx));
    let f = open(|c| {
        c.passive_threshold_mb = 0.05;
        c.restart_threshold_mb = 0.1;
        c.wal_hard_limit_mb = 0.2;
        c.checkpoint_busy_timeout_ms = 20;
        // Longer than the reader could hold out on any machine once told to end.
        c.wal_hard_limit_pause_ms = TIMEOUT.as_millis() as u64;
        let record = c.event_listener.take().unwrap();
        c.event_listener = Some(Arc::new(move |e: &Event| {
            if let Event::CheckpointStarted {
                reason: CheckpointReason::Limit,
                ..
            } = e
            {
                // The RESTART past the limit started: let the reader end its snapshot.
                if let Some(tx) = release_tx.lock().unwrap().take() {
                    let _ = tx.send(());
                }
            }
            record(e);
        }));
    });
    insert_many(&f.db, 10, 1000);
    let (release, reader) = hold_snapshot(&f.path);
    let forward = thread::spawn(move || {
        if release_rx.recv_timeout(TIMEOUT).is_ok() {
            let _ = release.send(());
        }
    });
    let deadline = Instant::now() + TIMEOUT;
    let succeeded = || {
        finished(&f.events).iter().any(|&(mode, reason, busy)| {
            mode == CheckpointMode::Restart && reason == CheckpointReason::Limit && !busy
        })
    };
    while !succeeded() {
        assert!(Instant::now() < deadline, "{:?}", finished(&f.events));
        insert_many(&f.db, 5, 1000);
    }
    forward.join().unwrap();
    reader.join().unwrap();
    // A commit after the RESTART started the WAL again from its beginning.
    insert_many(&f.db, 1, 10);
    let log = f.events.since(0);
    let started = log
        .iter()
        .position(|e| {
            matches!(
                e,
                Event::CheckpointStarted {
                    reason: CheckpointReason::Limit,
                    ..
                }
            )
        })
        .unwrap();
    let frames = |events: &[Event]| -> Vec<u64> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::BatchCommitted { wal_frames, .. } => Some(*wal_frames),
                _ => None,
            })
            .collect()
    };
    let last_before = *frames(&log[..started]).last().unwrap();
    let after = frames(&log[started..]);
    assert!(
        after.iter().any(|&f| f < last_before),
        "no commit restarted the WAL: {last_before} frames before, {after:?} after"
    );
    f.db.close().unwrap();
}

#[test]
fn the_backlog_counts_a_restarted_wal_whose_first_commit_is_larger_than_the_old_one() {
    let f = open(|c| {
        // No automatic checkpoints: only the manual one below.
        c.passive_threshold_mb = 1000.0;
        c.restart_threshold_mb = 1000.0;
        c.wal_hard_limit_mb = 1000.0;
    });
    insert_many(&f.db, 2, 100);
    let result = f.db.checkpoint(CheckpointMode::Passive).unwrap();
    assert_eq!(result.checkpointed_frames, result.log_frames);
    assert_eq!(f.db.stats().wal_backlog_frames, 0);
    let salt = wal_salt(&f.path);
    // One commit larger than the whole WAL so far: it restarts the WAL (every frame was
    // copied and no reader holds it) and leaves more frames in it than before.
    insert_many(&f.db, 1, 200_000);
    assert_ne!(wal_salt(&f.path), salt, "the WAL did not restart");
    let stats = f.db.stats();
    assert!(stats.wal_frames > result.log_frames as u64, "{stats:?}");
    assert_eq!(stats.wal_backlog_frames, stats.wal_frames, "{stats:?}");
    f.db.close().unwrap();
}
