//! Backpressure, the flush barrier, close, drop and durability across reopen.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use crossbeam_channel::{Receiver, Sender};
use litecommit::{
    params, CheckpointMode, Committer, Config, Error, FlushPolicy, FlushTrigger, Transaction, Wait,
};

fn insert(v: i64) -> Transaction {
    Transaction::single("INSERT INTO t VALUES (?)", params![v])
}

#[test]
fn a_full_queue_pushes_back_on_every_submit_form() {
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let config = Config {
        queue_capacity: 2,
        ..Config::default()
    };
    let db = open(&path, gate.config(config));
    exec(&db, "CREATE TABLE t (v INTEGER)", ());
    let sink = RecordingSink::new();

    let mark = gate.hold_writer(&db);
    // The writer is held: two transactions fill the queue.
    let first = db.try_submit(insert(1)).unwrap();
    let second = db
        .submit_timeout(insert(2), Duration::from_secs(1))
        .unwrap();
    assert_eq!(db.try_submit(insert(-1)).unwrap_err(), Error::QueueFull);
    assert_eq!(
        db.submit_timeout(insert(-2), Duration::from_millis(20))
            .unwrap_err(),
        Error::Timeout
    );
    assert_eq!(
        db.submit_to_sink(insert(-3), sink.clone(), 1, Wait::Never)
            .unwrap_err(),
        Error::QueueFull
    );

    std::thread::scope(|s| {
        let db = &db;
        // A blocking submit waits for room, then succeeds.
        let (returned, submit_returned) = crossbeam_channel::bounded(1);
        let blocked = s.spawn(move || {
            let pending = db.submit(insert(3));
            returned.send(()).unwrap();
            pending.map(|p| committed(&p))
        });
        // It is inside its submit call, the queue is full and the writer held.
        wait_until("the submitter to wait for room", || {
            let stats = db.stats();
            stats.submitting == 1 && stats.queue_length == 2
        });
        assert!(
            submit_returned.try_recv().is_err(),
            "a blocking submit returned while the queue was full"
        );
        gate.release();
        let r = blocked.join().unwrap().unwrap();
        assert_eq!(r.statements[0].changes, 1);
    });
    committed(&first);
    committed(&second);
    db.flush().unwrap();

    // What was turned away left no trace; the rest committed.
    let rows = query(&db, "SELECT v FROM t ORDER BY v", ());
    let values: Vec<i64> = rows.rows.iter().map(|r| int(&r[0])).collect();
    assert_eq!(values, [1, 2, 3]);
    assert!(sink.calls().is_empty(), "a turned-away sink was called");
    let batches = gate.batches();
    let sizes: usize = batches[mark..]
        .iter()
        .map(|b| match b {
            Batch::Committed { size, .. } => *size,
            Batch::Failed { .. } => panic!("{b:?}"),
        })
        .sum();
    assert_eq!(sizes, 3);
    db.close().unwrap();
}

#[test]
fn flush_returns_once_everything_before_it_is_committed() {
    let (_dir, path) = temp_db();
    let db = open(&path, Config::default());
    exec(&db, "CREATE TABLE t (v INTEGER)", ());
    // Nothing queued: returns at once.
    db.flush().unwrap();

    let done = Arc::new(AtomicUsize::new(0));
    for i in 0..300 {
        let done = Arc::clone(&done);
        db.submit_with_callback(insert(i), move |o| {
            o.unwrap();
            done.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    db.flush().unwrap();
    assert_eq!(done.load(Ordering::SeqCst), 300);
    assert_eq!(query_int(&db, "SELECT count(*) FROM t", ()), 300);
    db.close().unwrap();
}

#[test]
fn ticker_commits_on_flush_or_size_never_waiting_for_a_distant_timer() {
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let config = Config {
        flush_policy: FlushPolicy::Ticker,
        max_wait_ms: 600_000,
        max_batch_size: 4,
        ..Config::default()
    };
    let db = open(&path, gate.config(config));
    let setup = db
        .submit(Transaction::single("CREATE TABLE t (v INTEGER)", ()))
        .unwrap();
    db.flush().unwrap();
    committed(&setup);

    // Fewer than max_batch_size: they wait for the timer (ten minutes away) or a flush.
    let pending: Vec<_> = (0..3).map(|i| db.submit(insert(i)).unwrap()).collect();
    assert!(pending.iter().all(|p| p.try_get().is_none()));
    db.flush().unwrap();
    for p in &pending {
        assert!(
            matches!(p.try_get(), Some(Ok(_))),
            "resolved when flush returned"
        );
    }

    // max_batch_size queued: committed without a flush.
    let pending: Vec<_> = (3..7).map(|i| db.submit(insert(i)).unwrap()).collect();
    for p in &pending {
        committed(p);
    }
    let batches = gate.wait_batches(3);
    assert_eq!(
        batches,
        [
            Batch::Committed {
                size: 1,
                trigger: FlushTrigger::Flush
            },
            Batch::Committed {
                size: 3,
                trigger: FlushTrigger::Flush
            },
            Batch::Committed {
                size: 4,
                trigger: FlushTrigger::Size
            },
        ]
    );
    let stats = db.stats();
    assert_eq!(stats.flushes.get("flush"), Some(&2));
    assert_eq!(stats.flushes.get("size"), Some(&1));
    assert_eq!(stats.flushes.get("timer").copied().unwrap_or(0), 0);
    db.close().unwrap();
}

#[test]
fn close_commits_everything_queued_and_refuses_what_comes_after() {
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let db = open(&path, gate.config(Config::default()));
    exec(&db, "CREATE TABLE t (v INTEGER)", ());
    let called = Arc::new(AtomicUsize::new(0));
    let sink = RecordingSink::new();

    gate.hold_writer(&db);
    let mut handles = Vec::new();
    for i in 0..300 {
        match i % 3 {
            0 => handles.push(db.submit(insert(i)).unwrap()),
            1 => {
                let called = Arc::clone(&called);
                db.submit_with_callback(insert(i), move |o| {
                    o.unwrap();
                    called.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap()
            }
            _ => db
                .submit_to_sink(insert(i), sink.clone(), i as u64, Wait::Block)
                .unwrap(),
        }
    }
    std::thread::scope(|s| {
        let closing = s.spawn(|| db.close());
        wait_until("close to start", || db.is_closed());
        // Closing: new work is refused, queued work is not lost.
        assert_eq!(db.submit(insert(-1)).unwrap_err(), Error::Closed);
        gate.release();
        closing.join().unwrap().unwrap();
    });

    for h in &handles {
        committed(h);
    }
    assert_eq!(called.load(Ordering::SeqCst), 100);
    let sunk: usize = sink.calls().iter().map(|c| c.len()).sum();
    assert_eq!(sunk, 100);
    assert!(sink.calls().iter().flatten().all(|(_, o)| o.is_ok()));
    // Idempotent.
    db.close().unwrap();
    db.close().unwrap();
    drop(db);

    let db = open(&path, Config::default());
    assert_eq!(query_int(&db, "SELECT count(*) FROM t", ()), 300);
    assert_eq!(query_int(&db, "SELECT count(*) FROM t WHERE v < 0", ()), 0);
    db.close().unwrap();
}

#[test]
fn close_with_submitters_blocked_on_a_full_queue_loses_nothing() {
    const SUBMITTERS: i64 = 8;
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let config = Config {
        queue_capacity: 2,
        ..Config::default()
    };
    let db = open(&path, gate.config(config));
    exec(&db, "CREATE TABLE t (v INTEGER)", ());

    gate.hold_writer(&db);
    let queued: Vec<_> = (0..2).map(|i| db.try_submit(insert(i)).unwrap()).collect();
    std::thread::scope(|s| {
        let db = &db;
        let submitters: Vec<_> = (0..SUBMITTERS)
            .map(|i| s.spawn(move || db.submit(insert(100 + i)).map(|p| committed(&p))))
            .collect();
        // Every submitter is inside its submit call, waiting for room in the full queue.
        wait_until("every submitter to wait for room", || {
            let stats = db.stats();
            stats.submitting == SUBMITTERS as u64 && stats.queue_length == 2
        });
        let closing = s.spawn(|| db.close());
        wait_until("close to start", || db.is_closed());
        gate.release();
        closing.join().unwrap().unwrap();
        // They were waiting before close began: close lets them in and commits them.
        for submitter in submitters {
            let result = submitter.join().unwrap();
            assert!(result.is_ok(), "{result:?}");
        }
    });
    for p in &queued {
        committed(p);
    }
    assert_eq!(db.submit(insert(-1)).unwrap_err(), Error::Closed);
    drop(db);
    let db = open(&path, Config::default());
    assert_eq!(query_int(&db, "SELECT count(*) FROM t", ()), 2 + SUBMITTERS);
    assert_eq!(
        query_int(&db, "SELECT count(*) FROM t WHERE v >= 100", ()),
        SUBMITTERS
    );
    db.close().unwrap();
}

#[test]
fn every_method_fails_with_closed_after_close() {
    let (_dir, path) = temp_db();
    let db = open(&path, Config::default());
    exec(&db, "CREATE TABLE t (v INTEGER)", ());
    db.close().unwrap();
    assert!(db.is_closed());

    let called = Arc::new(AtomicBool::new(false));
    let sink = RecordingSink::new();
    let flag = Arc::clone(&called);
    assert_eq!(db.submit(insert(1)).unwrap_err(), Error::Closed);
    assert_eq!(db.try_submit(insert(1)).unwrap_err(), Error::Closed);
    assert_eq!(
        db.submit_timeout(insert(1), Duration::from_secs(1))
            .unwrap_err(),
        Error::Closed
    );
    assert_eq!(
        db.submit_with_callback(insert(1), move |_| flag.store(true, Ordering::SeqCst))
            .unwrap_err(),
        Error::Closed
    );
    assert_eq!(
        db.submit_to_sink(insert(1), sink.clone(), 1, Wait::Block)
            .unwrap_err(),
        Error::Closed
    );
    assert_eq!(
        db.submit_to_sink(insert(1), sink.clone(), 2, Wait::Never)
            .unwrap_err(),
        Error::Closed
    );
    assert_eq!(
        db.execute("INSERT INTO t VALUES (1)", ()).unwrap_err(),
        Error::Closed
    );
    assert_eq!(db.transaction(insert(1)).unwrap_err(), Error::Closed);
    assert_eq!(db.query("SELECT 1", ()).unwrap_err(), Error::Closed);
    assert_eq!(db.flush().unwrap_err(), Error::Closed);
    assert_eq!(
        db.checkpoint(CheckpointMode::Passive).unwrap_err(),
        Error::Closed
    );
    assert_eq!(Error::Closed.code_name(), "LITECOMMIT_CLOSED");
    db.close().unwrap();
    // Still readable after close.
    assert!(db.metrics_text().contains("litecommit_transactions_total"));
    let _ = db.stats();
    assert!(!called.load(Ordering::SeqCst));
    assert!(sink.calls().is_empty());
}

#[test]
fn dropping_an_unclosed_committer_commits_its_queue() {
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let db = open(&path, gate.config(Config::default()));
    exec(&db, "CREATE TABLE t (v INTEGER)", ());
    let called = Arc::new(AtomicUsize::new(0));

    gate.hold_writer(&db);
    let mut handles = Vec::new();
    for i in 0..200 {
        if i % 2 == 0 {
            handles.push(db.submit(insert(i)).unwrap());
        } else {
            let called = Arc::clone(&called);
            db.submit_with_callback(insert(i), move |o| {
                o.unwrap();
                called.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        }
    }
    // Drop (which waits for the writer) on another thread while the writer is held.
    let dropping = std::thread::spawn(move || drop(db));
    gate.release();
    dropping.join().unwrap();

    for h in &handles {
        committed(h);
    }
    assert_eq!(called.load(Ordering::SeqCst), 100);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 200);
}

#[test]
fn dropping_right_after_submitting_loses_nothing() {
    let (_dir, path) = temp_db();
    let db = open(&path, Config::default());
    exec(&db, "CREATE TABLE t (v INTEGER)", ());
    let handles: Vec<_> = (0..1000).map(|i| db.submit(insert(i)).unwrap()).collect();
    drop(db);
    for h in &handles {
        committed(h);
    }
    let db = open(&path, Config::default());
    assert_eq!(query_int(&db, "SELECT count(*) FROM t", ()), 1000);
    db.close().unwrap();
}

#[test]
fn committed_rows_survive_reopen() {
    let (_dir, path) = temp_db();
    let db = open(&path, Config::default());
    exec(&db, "CREATE TABLE t (v INTEGER PRIMARY KEY, s TEXT)", ());
    let handles: Vec<_> = (0..500)
        .map(|i| {
            db.submit(Transaction::single(
                "INSERT INTO t VALUES (?, ?)",
                params![i, format!("row {i}")],
            ))
            .unwrap()
        })
        .collect();
    for h in &handles {
        committed(h);
    }
    db.close().unwrap();
    drop(db);

    // Read back with a plain connection (the committer's files are closed).
    let conn = rusqlite::Connection::open(&path).unwrap();
    let (n, sum): (i64, i64) = conn
        .query_row("SELECT count(*), sum(v) FROM t", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((n, sum), (500, (0..500).sum()));
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(conn);

    // And through a new committer, which keeps appending.
    let db = open(&path, Config::default());
    exec(&db, "INSERT INTO t VALUES (500, 'row 500')", ());
    assert_eq!(query_int(&db, "SELECT count(*) FROM t", ()), 501);
    db.close().unwrap();
}

/// A completion callback that stops the writer until `go` is signalled, then runs `then`
/// (with the committer) on the writer thread and reports its result on the returned channel.
fn callback_holding_the_writer<T: Send + 'static>(
    db: &Arc<Committer>,
    then: impl FnOnce(&Committer) -> T + Send + 'static,
) -> (Sender<()>, Receiver<()>, Receiver<T>) {
    let (go_tx, go) = crossbeam_channel::bounded::<()>(1);
    let (entered_tx, entered) = crossbeam_channel::bounded(1);
    let (result_tx, result) = crossbeam_channel::bounded(1);
    let handle = Arc::clone(db);
    db.submit_with_callback(insert(0), move |outcome| {
        outcome.unwrap();
        entered_tx.send(()).unwrap();
        // Bounded, so that a failing test cannot keep the writer forever.
        let _ = go.recv_timeout(PATIENCE);
        result_tx.send(then(&handle)).unwrap();
    })
    .unwrap();
    (go_tx, entered, result)
}

/// Waits for a value some other thread sends, failing the test if none comes in time (a
/// deadlock then fails the test instead of hanging it).
fn receive<T>(what: &str, rx: &Receiver<T>) -> T {
    rx.recv_timeout(PATIENCE)
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Runs `f` on its own thread and returns a channel with its result.
fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Receiver<T> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || drop(tx.send(f())));
    rx
}

fn open_shared(path: &std::path::Path, config: Config) -> Arc<Committer> {
    let db = Arc::new(open(path, config));
    exec(&db, "CREATE TABLE t (v INTEGER)", ());
    db
}

fn wal_file(path: &std::path::Path) -> std::path::PathBuf {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    wal.into()
}

/// The rows of `t` in the database file, read through a plain connection.
fn rows_in_file(path: &std::path::Path) -> Vec<i64> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn.prepare("SELECT v FROM t ORDER BY v").unwrap();
    let rows = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<Vec<i64>, _>>()
        .unwrap();
    rows
}

#[test]
fn try_submit_in_a_callback_during_close_with_a_blocked_submitter_does_not_deadlock() {
    let (_dir, path) = temp_db();
    let config = Config {
        queue_capacity: 2,
        ..Config::default()
    };
    let db = open_shared(&path, config);
    let (go, entered, tried) =
        callback_holding_the_writer(&db, |db| db.try_submit(insert(300)).map(drop));
    receive("the callback to hold the writer", &entered);
    // The queue is full and one submitter waits for room.
    let queued: Vec<_> = (1..=2).map(|i| db.try_submit(insert(i)).unwrap()).collect();
    let submitter = {
        let db = Arc::clone(&db);
        spawn(move || db.submit(insert(100)).map(|p| committed(&p)))
    };
    wait_until("the submitter to wait for room", || {
        db.stats().submitting == 1
    });
    let closed = {
        let db = Arc::clone(&db);
        spawn(move || db.close())
    };
    wait_until("close to start", || db.is_closed());
    // From the writer thread, while close waits and the submitter blocks.
    go.send(()).unwrap();
    assert_eq!(
        receive("try_submit in the callback", &tried),
        Err(Error::Closed)
    );
    receive("close", &closed).unwrap();
    // The submitter was waiting before close: it got in and committed.
    assert!(receive("the blocked submitter", &submitter).is_ok());
    for p in &queued {
        committed(p);
    }
    assert_eq!(rows_in_file(&path), [0, 1, 2, 100]);
}

#[test]
fn close_in_a_callback_while_another_thread_closes_returns() {
    let (_dir, path) = temp_db();
    let db = open_shared(&path, Config::default());
    let (go, entered, closed_in_callback) = callback_holding_the_writer(&db, |db| db.close());
    receive("the callback to hold the writer", &entered);
    let queued: Vec<_> = (1..=10).map(|i| db.submit(insert(i)).unwrap()).collect();
    let closed = {
        let db = Arc::clone(&db);
        spawn(move || db.close())
    };
    wait_until("close to start", || db.is_closed());
    go.send(()).unwrap();
    assert_eq!(
        receive("close in the callback", &closed_in_callback),
        Ok(())
    );
    receive("close", &closed).unwrap();
    for p in &queued {
        committed(p);
    }
    assert_eq!(rows_in_file(&path), (0..=10).collect::<Vec<_>>());
}

#[test]
fn close_in_a_callback_returns_at_once_and_the_writer_finishes_closing() {
    let (_dir, path) = temp_db();
    let db = open_shared(&path, Config::default());
    let (go, entered, closed_in_callback) = callback_holding_the_writer(&db, |db| db.close());
    receive("the callback to hold the writer", &entered);
    let queued: Vec<_> = (1..=10).map(|i| db.submit(insert(i)).unwrap()).collect();
    go.send(()).unwrap();
    assert_eq!(
        receive("close in the callback", &closed_in_callback),
        Ok(())
    );
    // What was queued behind the callback is still committed.
    for p in &queued {
        committed(p);
    }
    assert_eq!(db.submit(insert(-1)).unwrap_err(), Error::Closed);
    // The writer shuts down on its own: the WAL goes away.
    wait_until("the WAL to be removed", || !wal_file(&path).exists());
    // A later close from another thread waits for nothing and succeeds.
    db.close().unwrap();
    assert_eq!(rows_in_file(&path), (0..=10).collect::<Vec<_>>());
}

#[test]
fn dropping_the_last_handle_in_a_callback_commits_the_queue_and_shuts_down() {
    let (_dir, path) = temp_db();
    let db = open_shared(&path, Config::default());
    let (go, entered, dropped) = callback_holding_the_writer(&db, |_| ());
    receive("the callback to hold the writer", &entered);
    let queued: Vec<_> = (1..=10).map(|i| db.submit(insert(i)).unwrap()).collect();
    // The callback holds the only other handle: releasing it there drops the committer on
    // the writer thread.
    drop(db);
    go.send(()).unwrap();
    receive("the callback", &dropped);
    for p in &queued {
        committed(p);
    }
    wait_until("the WAL to be removed", || !wal_file(&path).exists());
    assert_eq!(rows_in_file(&path), (0..=10).collect::<Vec<_>>());
}

/// Commits `n` rows, then closes the committer with `finish` and checks that the database
/// file alone, copied elsewhere without its -wal, holds every row.
fn closing_leaves_every_row_in_the_main_file(finish: impl FnOnce(Committer)) {
    const N: i64 = 500;
    let (dir, path) = temp_db();
    // No checkpoint while it runs: every row is in the WAL until close.
    let config = Config {
        checkpoint: false,
        ..Config::default()
    };
    let db = open(&path, config);
    exec(&db, "CREATE TABLE t (v INTEGER)", ());
    let pending: Vec<_> = (0..N).map(|i| db.submit(insert(i)).unwrap()).collect();
    for p in &pending {
        committed(p);
    }
    assert!(db.stats().wal_frames > 0);
    finish(db);
    assert!(!wal_file(&path).exists(), "the -wal file is still there");
    let copy = dir.path().join("copy.db");
    std::fs::copy(&path, &copy).unwrap();
    assert_eq!(rows_in_file(&copy), (0..N).collect::<Vec<_>>());
    let conn = rusqlite::Connection::open(&copy).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn close_checkpoints_the_wal_so_the_main_file_alone_holds_every_row() {
    closing_leaves_every_row_in_the_main_file(|db| {
        // A read connection that has served a query is closed by close() too, so the WAL
        // can still be checkpointed and removed.
        db.query("SELECT count(*) FROM t", ()).unwrap();
        db.close().unwrap();
        drop(db);
    });
}

#[test]
fn drop_checkpoints_the_wal_so_the_main_file_alone_holds_every_row() {
    closing_leaves_every_row_in_the_main_file(drop);
}

#[test]
fn submitters_racing_with_close_commit_or_get_the_closed_error() {
    const THREADS: usize = 8;
    let (_dir, path) = temp_db();
    let config = Config {
        queue_capacity: 4,
        ..Config::default()
    };
    let db = open_shared(&path, config);
    let committed_rows = std::thread::scope(|s| {
        let submitters: Vec<_> = (0..THREADS)
            .map(|t| {
                let db = &db;
                s.spawn(move || {
                    let mut accepted = Vec::new();
                    for i in 0.. {
                        let v = (t * 1_000_000 + i) as i64 + 1;
                        let result = match i % 3 {
                            0 => db.submit(insert(v)),
                            1 => db.submit_timeout(insert(v), PATIENCE),
                            _ => db.try_submit(insert(v)),
                        };
                        match result {
                            Ok(p) => accepted.push((v, p)),
                            Err(Error::QueueFull) => {}
                            Err(Error::Closed) => break,
                            Err(e) => panic!("unexpected error {e:?}"),
                        }
                    }
                    // Every accepted transaction commits.
                    accepted
                        .iter()
                        .map(|(v, p)| {
                            committed(p);
                            *v
                        })
                        .collect::<Vec<i64>>()
                })
            })
            .collect();
        wait_until("work to flow", || db.stats().transactions_committed > 200);
        db.close().unwrap();
        let mut rows: Vec<i64> = submitters
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        rows.sort_unstable();
        rows
    });
    drop(db);
    assert_eq!(rows_in_file(&path), committed_rows);
}

#[test]
fn linger_gathers_the_transactions_that_arrive_while_it_waits() {
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let config = Config {
        // Far longer than the test: only a full batch, a flush or close ends the wait.
        linger_ms: 600_000,
        max_batch_size: 4,
        ..Config::default()
    };
    let db = open(&path, gate.config(config));
    let setup = db
        .submit(Transaction::single("CREATE TABLE t (v INTEGER)", ()))
        .unwrap();
    db.flush().unwrap();
    committed(&setup);
    let mark = gate.batches().len();

    // Each one is submitted once the writer has taken the previous one from the queue,
    // that is while it lingers on a batch that has already begun.
    let mut pending = Vec::new();
    for i in 1..=4 {
        pending.push(db.submit(insert(i)).unwrap());
        wait_until("the writer to take it", || db.stats().queue_length == 0);
    }
    for p in &pending {
        committed(p);
    }
    assert_eq!(
        gate.wait_batches(mark + 1)[mark..],
        [Batch::Committed {
            size: 4,
            trigger: FlushTrigger::Size
        }]
    );

    // A flush ends the wait.
    let lone = db.submit(insert(5)).unwrap();
    wait_until("the writer to take it", || db.stats().queue_length == 0);
    assert!(lone.try_get().is_none(), "committed while lingering");
    db.flush().unwrap();
    committed(&lone);
    assert_eq!(
        gate.wait_batches(mark + 2)[mark + 1],
        Batch::Committed {
            size: 1,
            trigger: FlushTrigger::Flush
        }
    );

    // So does close.
    let last = db.submit(insert(6)).unwrap();
    wait_until("the writer to take it", || db.stats().queue_length == 0);
    db.close().unwrap();
    committed(&last);
    assert_eq!(
        gate.wait_batches(mark + 3)[mark + 2],
        Batch::Committed {
            size: 1,
            trigger: FlushTrigger::Close
        }
    );
    drop(db);
    assert_eq!(rows_in_file(&path), [1, 2, 3, 4, 5, 6]);
}

/// What a forked child checks: every call fails at once with the forked error, and dropping
/// the committer returns. The exit status names the first check that failed.
fn forked_child(db: Committer, parent: u32) -> i32 {
    let forked = Err(Error::Forked { opened_by: parent });
    let checks: Vec<Result<(), Error>> = vec![
        db.execute("INSERT INTO t VALUES (3)", ()).map(drop),
        db.transaction(insert(3)).map(drop),
        db.submit(insert(3)).map(drop),
        db.submit_timeout(insert(3), PATIENCE).map(drop),
        db.try_submit(insert(3)).map(drop),
        db.submit_with_callback(insert(3), drop),
        db.query("SELECT count(*) FROM t", ()).map(drop),
        db.flush(),
        db.checkpoint(CheckpointMode::Passive).map(drop),
        db.close(),
    ];
    if let Some(i) = checks.iter().position(|r| *r != forked) {
        return 10 + i as i32;
    }
    // Releases nothing: no thread to join here, and the connections are the parent's.
    drop(db);
    0
}

#[test]
fn a_forked_child_gets_the_forked_error_and_the_parent_goes_on() {
    let (_dir, path) = temp_db();
    let db = open(&path, Config::default());
    exec(&db, "CREATE TABLE t (v INTEGER)", ());
    exec(&db, "INSERT INTO t VALUES (1)", ());
    let parent = std::process::id();
    // SAFETY: the child only makes the calls in `forked_child` and leaves with `_exit`,
    // running no destructor or exit handler of this process.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| forked_child(db, parent)))
                .unwrap_or(2);
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(code) };
    }
    assert_eq!(wait_for_child(pid), 0, "exit status of the forked child");
    // The child touched nothing of the parent's: it goes on, and closes cleanly.
    exec(&db, "INSERT INTO t VALUES (2)", ());
    assert_eq!(query_int(&db, "SELECT count(*) FROM t", ()), 2);
    db.close().unwrap();
    drop(db);
    assert!(!wal_file(&path).exists());
    assert_eq!(rows_in_file(&path), [1, 2]);
}
