//! Backpressure, the flush barrier, close, drop and durability across reopen.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use litecommit::{params, CheckpointMode, Config, Error, FlushPolicy, FlushTrigger, Transaction};

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
        db.submit_to_sink(insert(-3), &as_sink(&sink), 1, false)
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
                .submit_to_sink(insert(i), &as_sink(&sink), i as u64, true)
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
    let accepted = std::thread::scope(|s| {
        let db = &db;
        let submitters: Vec<_> = (0..SUBMITTERS)
            .map(|i| {
                s.spawn(move || match db.submit(insert(100 + i)) {
                    Ok(p) => {
                        committed(&p);
                        1
                    }
                    Err(Error::Closed) => 0,
                    Err(e) => panic!("unexpected error {e:?}"),
                })
            })
            .collect();
        let closing = s.spawn(|| db.close());
        gate.release();
        closing.join().unwrap().unwrap();
        submitters
            .into_iter()
            .map(|t| t.join().unwrap())
            .sum::<i64>()
    });
    for p in &queued {
        committed(p);
    }
    assert!(db.submit(insert(-1)).is_err());
    drop(db);
    // Every submit that was accepted committed; the others were told the committer closed.
    let db = open(&path, Config::default());
    assert_eq!(query_int(&db, "SELECT count(*) FROM t", ()), 2 + accepted);
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
        db.submit_to_sink(insert(1), &as_sink(&sink), 1, true)
            .unwrap_err(),
        Error::Closed
    );
    assert_eq!(
        db.submit_to_sink(insert(1), &as_sink(&sink), 2, false)
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
    assert!(db
        .metrics_text()
        .contains("batch_committer_transactions_total"));
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
