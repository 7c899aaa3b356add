//! The checkpoint scheduler beside readers that keep old snapshots: RESTARTs that cannot
//! succeed never pause the writer, past the hard WAL limit a RESTART waits longer for
//! readers and wraps the WAL, and the backlog counts a restarted WAL that grew at once.
//! Every wait is on an observable event or state with a generous timeout; nothing sleeps.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use litecommit::{params, CheckpointMode, CheckpointReason, Committer, Config, Event, Pending};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Every event of a committer, with a way to wait for one.
#[derive(Default)]
struct Events {
    log: Mutex<Vec<Event>>,
    changed: Condvar,
}

impl Events {
    fn listener(self: &Arc<Self>) -> litecommit::EventListener {
        let events = Arc::clone(self);
        Arc::new(move |event: &Event| {
            events.log.lock().unwrap().push(event.clone());
            events.changed.notify_all();
        })
    }

    fn all(&self) -> Vec<Event> {
        self.log.lock().unwrap().clone()
    }

    /// Finished checkpoints so far: (mode, reason, busy).
    fn finished(&self) -> Vec<(CheckpointMode, CheckpointReason, bool)> {
        self.all()
            .iter()
            .filter_map(|e| match e {
                Event::CheckpointFinished {
                    mode, reason, busy, ..
                } => Some((*mode, *reason, *busy)),
                _ => None,
            })
            .collect()
    }
}

fn open(
    events: &Arc<Events>,
    configure: impl FnOnce(&mut Config),
) -> (tempfile::TempDir, PathBuf, Committer) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
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
    (dir, path, db)
}

fn insert_many(db: &Committer, count: usize, payload: usize) {
    let pending: Vec<Pending> = (0..count)
        .map(|_| {
            db.submit(litecommit::Transaction::single(
                "INSERT INTO t (payload) VALUES (?)",
                params![vec![7u8; payload]],
            ))
            .unwrap()
        })
        .collect();
    for p in pending {
        p.wait().unwrap();
    }
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
    let events = Arc::new(Events::default());
    let (_dir, path, db) = open(&events, |c| {
        c.passive_threshold_mb = 0.05;
        c.restart_threshold_mb = 0.1;
        c.wal_hard_limit_mb = 0.3;
        c.checkpoint_busy_timeout_ms = 20;
        c.wal_hard_limit_pause_ms = 50;
    });
    insert_many(&db, 10, 1000);
    let (release, reader) = hold_snapshot(&path);
    let deadline = Instant::now() + TIMEOUT;
    let restarts = || {
        events
            .finished()
            .into_iter()
            .filter(|&(mode, _, _)| mode == CheckpointMode::Restart)
            .collect::<Vec<_>>()
    };
    // RESTARTs (at the threshold or past the hard limit), each giving up on the reader.
    while restarts().len() < 3 {
        assert!(Instant::now() < deadline, "{:?}", restarts());
        insert_many(&db, 20, 1000);
    }
    assert!(
        restarts().iter().all(|&(_, _, busy)| busy),
        "{:?}",
        restarts()
    );
    let stats = db.stats();
    assert_eq!(stats.max_writer_stall_ms, 0.0, "{stats:?}");
    drop(release);
    reader.join().unwrap();
    db.close().unwrap();
}

#[test]
fn past_the_hard_limit_a_restart_waits_for_the_reader_and_wraps_the_wal() {
    let events = Arc::new(Events::default());
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_tx = Mutex::new(Some(release_tx));
    let (_dir, path, db) = open(&events, |c| {
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
    insert_many(&db, 10, 1000);
    let (release, reader) = hold_snapshot(&path);
    let forward = thread::spawn(move || {
        if release_rx.recv_timeout(TIMEOUT).is_ok() {
            let _ = release.send(());
        }
    });
    let deadline = Instant::now() + TIMEOUT;
    let succeeded = || {
        events.finished().iter().any(|&(mode, reason, busy)| {
            mode == CheckpointMode::Restart && reason == CheckpointReason::Limit && !busy
        })
    };
    while !succeeded() {
        assert!(Instant::now() < deadline, "{:?}", events.finished());
        insert_many(&db, 5, 1000);
    }
    forward.join().unwrap();
    reader.join().unwrap();
    // A commit after the RESTART started the WAL again from its beginning.
    insert_many(&db, 1, 10);
    let log = events.all();
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
    db.close().unwrap();
}

#[test]
fn the_backlog_counts_a_restarted_wal_whose_first_commit_is_larger_than_the_old_one() {
    let events = Arc::new(Events::default());
    let (_dir, path, db) = open(&events, |c| {
        // No automatic checkpoints: only the manual one below.
        c.passive_threshold_mb = 1000.0;
        c.restart_threshold_mb = 1000.0;
        c.wal_hard_limit_mb = 1000.0;
    });
    insert_many(&db, 2, 100);
    let result = db.checkpoint(CheckpointMode::Passive).unwrap();
    assert_eq!(result.checkpointed_frames, result.log_frames);
    assert_eq!(db.stats().wal_backlog_frames, 0);
    let salt = wal_salt(&path);
    // One commit larger than the whole WAL so far: it restarts the WAL (every frame was
    // copied and no reader holds it) and leaves more frames in it than before.
    insert_many(&db, 1, 200_000);
    assert_ne!(wal_salt(&path), salt, "the WAL did not restart");
    let stats = db.stats();
    assert!(stats.wal_frames > result.log_frames as u64, "{stats:?}");
    assert_eq!(stats.wal_backlog_frames, stats.wal_frames, "{stats:?}");
    db.close().unwrap();
}
