//! Inside a batch: per-transaction atomicity, deferred foreign keys, statements that make
//! SQLite roll back the whole batch, an external writer holding the lock, the callback
//! and batch-sink completion paths, and calls on the committer's own threads that would wait
//! for themselves.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use common::*;
use crossbeam_channel::{Receiver, Sender};
use litecommit::{
    params, BatchSink, CheckpointMode, Committer, Config, Durability, Error, Event, FlushTrigger,
    Outcome, Transaction, TransactionResult, Value, Wait,
};

fn adaptive(size: usize) -> Batch {
    Batch::Committed {
        size,
        trigger: FlushTrigger::Adaptive,
    }
}

#[test]
fn a_failing_transaction_in_a_busy_batch_rejects_only_itself() {
    const N: i64 = 60;
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let db = open(&path, gate.config(Config::default()));
    exec(
        &db,
        "CREATE TABLE acct (id INTEGER PRIMARY KEY, balance INTEGER CHECK (balance >= 0))",
        (),
    );
    exec(&db, "CREATE TABLE log (tx INTEGER UNIQUE, note TEXT)", ());
    exec(&db, "INSERT INTO acct VALUES (1, 1000), (2, 0)", ());

    let mark = gate.hold_writer(&db);
    // Every transaction moves 1 from account 1 to 2 and logs itself; some fail at their
    // last statement, each in its own way.
    let bad: [(i64, &str); 4] = [
        (15, "UPDATE acct SET balance = balance - 5000 WHERE id = 1"),
        (30, "INSERT INTO log VALUES (0, 'duplicate')"),
        (31, "INSERT INTO missing_table VALUES (1)"),
        (45, "INSERT INTO log VALUES (?, ?)"),
    ];
    let pending: Vec<_> = (0..N)
        .map(|i| {
            let mut tx = Transaction::new()
                .push("UPDATE acct SET balance = balance - 1 WHERE id = 1", ())
                .push("UPDATE acct SET balance = balance + 1 WHERE id = 2", ())
                .push("INSERT INTO log VALUES (?, 'ok')", params![i]);
            if let Some((_, sql)) = bad.iter().find(|(b, _)| *b == i) {
                tx = tx.push(*sql, ());
            }
            db.submit(tx).unwrap()
        })
        .collect();
    gate.release();

    for (i, p) in pending.iter().enumerate() {
        let i = i as i64;
        if bad.iter().any(|(b, _)| *b == i) {
            let err = rejected(p);
            match &err {
                Error::Sqlite {
                    statement_index, ..
                } => assert_eq!(*statement_index, Some(3)),
                Error::Parameter {
                    statement_index, ..
                } => assert_eq!(*statement_index, 3),
                other => panic!("transaction {i}: unexpected error {other:?}"),
            }
            if i == 15 {
                assert_eq!(err.code_name(), "SQLITE_CONSTRAINT_CHECK");
            }
            if i == 30 {
                assert_eq!(err.code_name(), "SQLITE_CONSTRAINT_UNIQUE");
            }
        } else {
            let r = committed(p);
            assert_eq!(r.statements.len(), 3);
            assert!(r.statements.iter().all(|s| s.changes == 1));
        }
    }
    assert_eq!(gate.wait_batches(mark + 1)[mark], adaptive(N as usize));

    let good = N - bad.len() as i64;
    assert_eq!(
        query_int(&db, "SELECT balance FROM acct WHERE id = 1", ()),
        1000 - good
    );
    assert_eq!(
        query_int(&db, "SELECT balance FROM acct WHERE id = 2", ()),
        good
    );
    assert_eq!(query_int(&db, "SELECT count(*) FROM log", ()), good);
    for (b, _) in bad {
        assert_eq!(
            query_int(&db, "SELECT count(*) FROM log WHERE tx = ?", params![b]),
            0
        );
    }
    let stats = db.stats();
    assert_eq!(stats.transactions_failed, bad.len() as u64);
    assert_eq!(stats.transactions_aborted, 0);
    db.close().unwrap();
}

#[test]
fn a_deferred_foreign_key_violation_rejects_only_its_transaction() {
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let db = open(&path, gate.config(Config::default()));
    exec(&db, "CREATE TABLE parent (id INTEGER PRIMARY KEY)", ());
    exec(
        &db,
        "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER \
         REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)",
        (),
    );
    exec(&db, "INSERT INTO parent VALUES (1)", ());

    let mark = gate.hold_writer(&db);
    let txs = [
        // A child of an existing parent.
        Transaction::single("INSERT INTO child VALUES (10, 1)", ()),
        // A dangling child: every statement succeeds, the violation shows at the end.
        Transaction::new()
            .push("INSERT INTO child VALUES (20, 99)", ())
            .push("INSERT INTO parent VALUES (3)", ()),
        // Child first, parent later in the same transaction: fine when deferred.
        Transaction::new()
            .push("INSERT INTO child VALUES (30, 2)", ())
            .push("INSERT INTO parent VALUES (2)", ()),
        // Orphaning a child of another committed transaction of this batch.
        Transaction::single("DELETE FROM parent WHERE id = 2", ()),
        Transaction::single("INSERT INTO child VALUES (40, 1)", ()),
    ];
    let pending: Vec<_> = txs.into_iter().map(|tx| db.submit(tx).unwrap()).collect();
    gate.release();

    committed(&pending[0]);
    for i in [1, 3] {
        let err = rejected(&pending[i]);
        assert_eq!(
            err.code_name(),
            "SQLITE_CONSTRAINT_FOREIGNKEY",
            "transaction {i}"
        );
        assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
    }
    committed(&pending[2]);
    committed(&pending[4]);
    assert_eq!(gate.wait_batches(mark + 1)[mark], adaptive(5));

    let ids = |table: &str| -> Vec<i64> {
        query(&db, &format!("SELECT id FROM {table} ORDER BY id"), ())
            .rows
            .iter()
            .map(|r| int(&r[0]))
            .collect()
    };
    assert_eq!(ids("parent"), [1, 2]);
    assert_eq!(ids("child"), [10, 30, 40]);
    // The database is consistent.
    assert!(query(&db, "PRAGMA foreign_key_check", ()).rows.is_empty());
    db.close().unwrap();
}

#[test]
fn a_deferred_foreign_key_created_earlier_in_the_batch_is_checked() {
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let db = open(&path, gate.config(Config::default()));
    exec(&db, "CREATE TABLE parent (id INTEGER PRIMARY KEY)", ());
    let mark = gate.hold_writer(&db);
    let txs = [
        Transaction::single(
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER \
             REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)",
            (),
        ),
        // Its own text says nothing of deferring: the schema, changed in this batch, does.
        Transaction::single("INSERT INTO child VALUES (20, 99)", ()),
    ];
    let pending: Vec<_> = txs.into_iter().map(|tx| db.submit(tx).unwrap()).collect();
    gate.release();
    committed(&pending[0]);
    let err = rejected(&pending[1]);
    assert_eq!(err.code_name(), "SQLITE_CONSTRAINT_FOREIGNKEY", "{err:?}");
    assert_eq!(gate.wait_batches(mark + 1)[mark], adaptive(2));
    assert!(query(&db, "SELECT id FROM child", ()).rows.is_empty());
    db.close().unwrap();
}

/// `INSERT OR ROLLBACK` makes SQLite roll back the whole batch transaction, not only the
/// savepoint: the writer must reject that transaction and run the others again.
#[test]
fn a_statement_rolling_back_the_whole_batch_rejects_only_its_transaction() {
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let db = open(&path, gate.config(Config::default()));
    exec(&db, "CREATE TABLE u (k INTEGER PRIMARY KEY, v TEXT)", ());
    exec(&db, "INSERT INTO u VALUES (0, 'existing')", ());

    let mark = gate.hold_writer(&db);
    let pending: Vec<_> = (1..=21)
        .map(|k| {
            let sql = if k == 11 || k == 17 {
                "INSERT OR ROLLBACK INTO u VALUES (0, ?)"
            } else {
                "INSERT INTO u (v) VALUES (?) RETURNING k"
            };
            db.submit(Transaction::single(sql, params![format!("tx{k}")]))
                .unwrap()
        })
        .collect();
    gate.release();

    let mut expected_key = 0;
    for (i, p) in pending.iter().enumerate() {
        let k = i + 1;
        if k == 11 || k == 17 {
            let err = rejected(p);
            assert!(err.is_constraint(), "{err:?}");
            assert_eq!(err.code_name(), "SQLITE_CONSTRAINT_PRIMARYKEY");
        } else {
            // Re-run after the rollback, the results are those of the final run.
            expected_key += 1;
            let r = committed(p);
            assert_eq!(r.statements[0].last_insert_rowid, expected_key);
            assert_eq!(
                r.statements[0].rows.rows,
                vec![vec![Value::Integer(expected_key)]]
            );
        }
    }
    assert_eq!(gate.wait_batches(mark + 1)[mark], adaptive(21));
    assert_eq!(query_int(&db, "SELECT count(*) FROM u", ()), 20);
    assert_eq!(
        query(&db, "SELECT v FROM u WHERE k = 0", ()).rows,
        vec![vec![Value::Text("existing".into())]]
    );
    let stats = db.stats();
    assert_eq!(stats.transactions_failed, 2);
    assert_eq!(stats.transactions_aborted, 0);
    db.close().unwrap();
}

fn external(path: &std::path::Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_secs(60)).unwrap();
    conn
}

#[test]
fn an_external_write_lock_makes_the_writer_wait_then_commit() {
    let (_dir, path) = temp_db();
    let config = Config {
        busy_timeout_ms: 60_000,
        ..Config::default()
    };
    let db = open(&path, config);
    exec(&db, "CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)", ());

    let other = external(&path);
    other
        .execute_batch("BEGIN IMMEDIATE; INSERT INTO t (who) VALUES ('external');")
        .unwrap();
    let mine = db
        .submit(Transaction::single(
            "INSERT INTO t (who) VALUES ('mine')",
            (),
        ))
        .unwrap();
    // Whatever the scheduling, it cannot commit while the other connection holds the lock.
    assert_eq!(
        mine.wait_timeout(Duration::from_millis(200)),
        Err(Error::Timeout)
    );
    other.execute_batch("COMMIT").unwrap();

    let r = committed(&mine);
    assert_eq!(
        r.statements[0].last_insert_rowid, 2,
        "committed after the external row"
    );
    let rows = query(&db, "SELECT who FROM t ORDER BY id", ());
    assert_eq!(
        rows.rows,
        vec![
            vec![Value::Text("external".into())],
            vec![Value::Text("mine".into())]
        ]
    );
    db.close().unwrap();
}

#[test]
fn an_external_write_lock_past_the_busy_timeout_fails_that_batch_only() {
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let config = Config {
        busy_timeout_ms: 1,
        checkpoint: false,
        ..Config::default()
    };
    let db = open(&path, gate.config(config));
    exec(&db, "CREATE TABLE t (who TEXT)", ());

    // The writer is held between batches, so it does not hold the write lock.
    let mark = gate.hold_writer(&db);
    let other = external(&path);
    other
        .execute_batch("BEGIN IMMEDIATE; INSERT INTO t VALUES ('external');")
        .unwrap();
    let pending: Vec<_> = (0..3)
        .map(|_| {
            db.submit(Transaction::single("INSERT INTO t VALUES ('lost')", ()))
                .unwrap()
        })
        .collect();
    gate.release();
    for p in &pending {
        let err = rejected(p);
        match &err {
            Error::Sqlite {
                code,
                message,
                statement_index,
                ..
            } => {
                assert_eq!(*code, 5, "SQLITE_BUSY: {err:?}");
                assert!(message.contains("BEGIN IMMEDIATE failed"), "{message}");
                assert!(message.contains("locked"), "{message}");
                assert_eq!(*statement_index, None);
            }
            other => panic!("expected SQLITE_BUSY, got {other:?}"),
        }
        assert!(err.code_name().starts_with("SQLITE_BUSY"));
    }
    assert!(matches!(
        &gate.wait_batches(mark + 1)[mark],
        Batch::Failed { size: 3, error } if error.code_name().starts_with("SQLITE_BUSY")
    ));
    assert_eq!(db.stats().transactions_aborted, 3);

    other.execute_batch("COMMIT").unwrap();
    // The committer keeps working.
    exec(&db, "INSERT INTO t VALUES ('after')", ());
    let rows = query(&db, "SELECT who FROM t ORDER BY rowid", ());
    assert_eq!(
        rows.rows,
        vec![
            vec![Value::Text("external".into())],
            vec![Value::Text("after".into())]
        ]
    );
    db.close().unwrap();
}

#[test]
fn callbacks_receive_each_outcome_on_the_writer() {
    let (_dir, path) = temp_db();
    let db = open(&path, Config::default());
    exec(&db, "CREATE TABLE t (v INTEGER UNIQUE)", ());
    let (tx, rx) = crossbeam_channel::unbounded::<(i64, Outcome, std::thread::Thread)>();
    for i in 0..50i64 {
        let v = if i == 25 { 0 } else { i };
        let tx = tx.clone();
        db.submit_with_callback(
            Transaction::single("INSERT INTO t VALUES (?) RETURNING v", params![v]),
            move |outcome| tx.send((i, outcome, std::thread::current())).unwrap(),
        )
        .unwrap();
    }
    // Completions are delivered before a later flush returns.
    db.flush().unwrap();
    let mut got: Vec<_> = rx.try_iter().collect();
    assert_eq!(got.len(), 50);
    got.sort_by_key(|(i, _, _)| *i);
    // Every callback ran on the writer thread: one thread, not this one, by its name.
    let writer = got[0].2.id();
    assert_ne!(writer, std::thread::current().id());
    for (i, _, thread) in &got {
        assert_eq!(thread.id(), writer, "callback {i}");
        assert_eq!(thread.name(), Some("litecommit-writer"), "callback {i}");
    }
    for (i, outcome, _) in got {
        if i == 25 {
            assert_eq!(outcome.unwrap_err().code_name(), "SQLITE_CONSTRAINT_UNIQUE");
        } else {
            let r = outcome.unwrap();
            assert_eq!(r.statements[0].rows.rows, vec![vec![Value::Integer(i)]]);
        }
    }
    db.close().unwrap();
}

#[test]
fn a_sink_gets_one_call_per_batch_with_all_its_completions() {
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let db = open(&path, gate.config(Config::default()));
    exec(&db, "CREATE TABLE t (v INTEGER UNIQUE)", ());
    exec(&db, "INSERT INTO t VALUES (-1)", ());
    let first = RecordingSink::new();
    let second = RecordingSink::new();

    let mark = gate.hold_writer(&db);
    let mut handles = Vec::new();
    for token in 0..40u64 {
        // Token 7 collides with the existing row.
        let v = if token == 7 { -1 } else { token as i64 };
        let tx = Transaction::single("INSERT INTO t VALUES (?) RETURNING v", params![v]);
        match token % 4 {
            0 => handles.push(db.submit(tx).unwrap()),
            1 => db
                .submit_to_sink(tx, second.clone(), token, Wait::Never)
                .unwrap(),
            _ => db
                .submit_to_sink(tx, first.clone(), token, Wait::Block)
                .unwrap(),
        }
    }
    gate.release();
    for h in &handles {
        committed(h);
    }
    db.flush().unwrap();
    assert_eq!(gate.wait_batches(mark + 1)[mark], adaptive(40));

    let calls = first.calls();
    assert_eq!(calls.len(), 1, "one call for the whole batch");
    let tokens: Vec<u64> = calls[0].iter().map(|(t, _)| *t).collect();
    let expected: Vec<u64> = (0..40).filter(|t| t % 4 >= 2).collect();
    assert_eq!(tokens, expected, "every completion, in submission order");
    for (token, outcome) in &calls[0] {
        if *token == 7 {
            let err = outcome.as_ref().unwrap_err();
            assert_eq!(err.code_name(), "SQLITE_CONSTRAINT_UNIQUE");
        } else {
            let r = outcome.as_ref().unwrap();
            assert_eq!(
                r.statements[0].rows.rows,
                vec![vec![Value::Integer(*token as i64)]]
            );
        }
    }
    let calls = second.calls();
    assert_eq!(calls.len(), 1);
    let tokens: Vec<u64> = calls[0].iter().map(|(t, _)| *t).collect();
    assert_eq!(tokens, (0..40).filter(|t| t % 4 == 1).collect::<Vec<_>>());
    assert!(calls[0].iter().all(|(_, o)| o.is_ok()));
    db.close().unwrap();
}

/// A batch sink that panics at every call.
struct PanickingSink {
    /// Calls so far.
    calls: AtomicUsize,
}

impl BatchSink for PanickingSink {
    fn complete(&self, _: Vec<(u64, Outcome)>) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        panic!("sink panics on purpose (test)");
    }
}

#[test]
fn a_panicking_callback_or_sink_does_not_stop_the_writer() {
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let db = open(&path, gate.config(Config::default()));
    exec(&db, "CREATE TABLE t (v INTEGER)", ());
    let sink = Arc::new(PanickingSink {
        calls: AtomicUsize::new(0),
    });
    let recording = RecordingSink::new();

    let mark = gate.hold_writer(&db);
    let before = db
        .submit(Transaction::single("INSERT INTO t VALUES (1)", ()))
        .unwrap();
    db.submit_with_callback(Transaction::single("INSERT INTO t VALUES (2)", ()), |_| {
        panic!("callback panics on purpose (test)")
    })
    .unwrap();
    db.submit_to_sink(
        Transaction::single("INSERT INTO t VALUES (3)", ()),
        sink.clone(),
        0,
        Wait::Block,
    )
    .unwrap();
    db.submit_to_sink(
        Transaction::single("INSERT INTO t VALUES (4)", ()),
        recording.clone(),
        9,
        Wait::Block,
    )
    .unwrap();
    let after = db
        .submit(Transaction::single("INSERT INTO t VALUES (5)", ()))
        .unwrap();
    gate.release();

    committed(&before);
    committed(&after);
    db.flush().unwrap();
    assert_eq!(gate.wait_batches(mark + 1)[mark], adaptive(5));
    assert_eq!(sink.calls.load(Ordering::SeqCst), 1);
    let calls = recording.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0][0].0, 9);
    assert!(calls[0][0].1.is_ok());
    // Every row committed, and the writer keeps going.
    exec(&db, "INSERT INTO t VALUES (6)", ());
    assert_eq!(query_int(&db, "SELECT sum(v) FROM t", ()), 21);
    db.close().unwrap();
}

#[test]
fn a_failing_multi_row_statement_leaves_none_of_its_rows() {
    // `OR FAIL` keeps the rows a failing statement wrote before the failure; litecommit must
    // still reject the whole transaction and keep the rest of the batch.
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let db = open(&path, gate.config(Config::default()));
    exec(&db, "CREATE TABLE t (v INTEGER UNIQUE)", ());
    exec(&db, "INSERT INTO t VALUES (3)", ());

    let mark = gate.hold_writer(&db);
    let txs = [
        Transaction::single("INSERT INTO t VALUES (100)", ()),
        Transaction::single("INSERT OR FAIL INTO t VALUES (1), (2), (3), (4)", ()),
        Transaction::single("INSERT INTO t VALUES (200)", ()),
        Transaction::single("INSERT INTO t VALUES (100)", ()),
        Transaction::single("INSERT INTO t VALUES (300)", ()),
    ];
    let pending: Vec<_> = txs.into_iter().map(|tx| db.submit(tx).unwrap()).collect();
    gate.release();

    for i in [0, 2, 4] {
        committed(&pending[i]);
    }
    for i in [1, 3] {
        assert_eq!(
            rejected(&pending[i]).code_name(),
            "SQLITE_CONSTRAINT_UNIQUE"
        );
    }
    let batches = gate.wait_batches(mark + 1);
    assert_eq!(batches.len(), mark + 1, "the five ran as one batch");
    let rows = query(&db, "SELECT v FROM t ORDER BY v", ());
    let values: Vec<i64> = rows.rows.iter().map(|r| int(&r[0])).collect();
    assert_eq!(values, vec![3, 100, 200, 300]);
}

/// Runs `n` single-statement transactions as one batch, every other one failing with
/// `failing` (an insert of an existing key), and returns how long the batch took from BEGIN
/// to its final COMMIT. With `reused_wal` the WAL file already has its size (as it does
/// once a database has run for a while) and the batch writes over it from its start;
/// otherwise every frame the batch writes extends the file.
fn half_failing_batch(failing: &'static str, n: usize, reused_wal: bool) -> Duration {
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let db = open(&path, gate.config(Config::default()));
    exec(&db, "CREATE TABLE u (k INTEGER PRIMARY KEY, v INTEGER)", ());
    exec(&db, "INSERT INTO u VALUES (0, -1)", ());
    if reused_wal {
        exec(&db, "CREATE TABLE pad (b BLOB)", ());
        exec(&db, "INSERT INTO pad VALUES (zeroblob(16000000))", ());
        exec(&db, "DROP TABLE pad", ());
        let restart = db.checkpoint(litecommit::CheckpointMode::Restart).unwrap();
        assert!(!restart.busy);
    }
    let mark = gate.hold_writer(&db);
    let durations_before = gate.durations().len();
    let pending: Vec<_> = (0..n)
        .map(|i| {
            let sql = if i % 2 == 1 {
                failing
            } else {
                "INSERT INTO u (v) VALUES (?)"
            };
            db.submit(Transaction::single(sql, params![i as i64]))
                .unwrap()
        })
        .collect();
    gate.release();
    for (i, p) in pending.iter().enumerate() {
        if i % 2 == 1 {
            assert!(rejected(p).is_constraint());
        } else {
            committed(p);
        }
    }
    assert_eq!(gate.wait_batches(mark + 1)[mark], adaptive(n));
    assert_eq!(
        query_int(&db, "SELECT count(*) FROM u", ()),
        1 + (n as i64 + 1) / 2
    );
    let duration = gate.durations()[durations_before];
    db.close().unwrap();
    duration
}

/// Prints how long a batch of 4000 takes when half of its transactions fail with
/// `OR ROLLBACK` (each failure rolls back the whole SQLite transaction) against the same
/// failures with the default ABORT. Run with
/// `cargo test --release -p litecommit --test writer_batch -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement; run it on a quiet machine"]
fn measure_whole_transaction_rollbacks_against_aborts() {
    const N: usize = 4000;
    const RUNS: usize = 9;
    for reused_wal in [false, true] {
        // The fastest of a few runs: the least disturbed by whatever else the machine does.
        let fastest = |failing: &'static str| {
            (0..RUNS)
                .map(|_| half_failing_batch(failing, N, reused_wal))
                .min()
                .unwrap()
        };
        let abort = fastest("INSERT INTO u VALUES (0, ?)");
        let rollback = fastest("INSERT OR ROLLBACK INTO u VALUES (0, ?)");
        println!(
            "batch of {N}, half failing, {} WAL: ABORT {:.1} ms, OR ROLLBACK {:.1} ms, \
             ratio {:.2}",
            if reused_wal { "reused" } else { "new" },
            abort.as_secs_f64() * 1000.0,
            rollback.as_secs_f64() * 1000.0,
            rollback.as_secs_f64() / abort.as_secs_f64()
        );
    }
}

/// What transaction `i` of `rollback_heavy_batch` does.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// Inserts a row and bumps the counter; commits.
    Good,
    /// `INSERT OR ROLLBACK` of an existing key: SQLite rolls back the whole transaction.
    OrRollback,
    /// A trigger's `RAISE(ROLLBACK)` in its second statement: the same.
    Raise,
    /// A plain constraint failure: only its savepoint is rolled back.
    Abort,
}

fn kind(i: usize) -> Kind {
    match i % 10 {
        1 | 4 | 8 => Kind::OrRollback,
        6 => Kind::Raise,
        _ if i % 7 == 3 => Kind::Abort,
        _ => Kind::Good,
    }
}

/// One batch of `n` transactions where about half of the failures roll back the whole SQLite
/// transaction: every outcome must be the one each would have alone, after the ones before.
fn rollback_heavy_batch(durability: Durability, n: usize) {
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let config = Config {
        durability,
        ..Config::default()
    };
    let db = open(&path, gate.config(config));
    exec(&db, "CREATE TABLE u (k INTEGER PRIMARY KEY, v TEXT)", ());
    exec(&db, "CREATE TABLE counter (n INTEGER)", ());
    exec(&db, "CREATE TABLE guard (v TEXT)", ());
    exec(
        &db,
        "CREATE TRIGGER no_boom BEFORE INSERT ON guard WHEN NEW.v = 'boom' \
         BEGIN SELECT RAISE(ROLLBACK, 'no boom'); END",
        (),
    );
    exec(&db, "INSERT INTO u VALUES (0, 'existing')", ());
    exec(&db, "INSERT INTO counter VALUES (0)", ());

    let mark = gate.hold_writer(&db);
    let pending: Vec<_> = (0..n)
        .map(|i| {
            let tx = match kind(i) {
                Kind::Good => Transaction::new()
                    .push(
                        "INSERT INTO u (v) VALUES (?) RETURNING k",
                        params![format!("tx{i}")],
                    )
                    .push("UPDATE counter SET n = n + 1 RETURNING n", ()),
                Kind::OrRollback => Transaction::single(
                    "INSERT OR ROLLBACK INTO u VALUES (0, ?)",
                    params![format!("tx{i}")],
                ),
                Kind::Raise => Transaction::new()
                    .push("UPDATE counter SET n = n + 1000", ())
                    .push("INSERT INTO guard VALUES ('boom')", ()),
                Kind::Abort => Transaction::new()
                    .push("UPDATE counter SET n = n + 1000", ())
                    .push("INSERT INTO u VALUES (0, 'duplicate')", ()),
            };
            db.submit(tx).unwrap()
        })
        .collect();
    gate.release();

    // The results reported are those of the final run: keys and counts follow the order.
    let mut good = 0i64;
    for (i, p) in pending.iter().enumerate() {
        match kind(i) {
            Kind::Good => {
                good += 1;
                let r = committed(p);
                assert_eq!(r.statements[0].rows.rows, vec![vec![Value::Integer(good)]]);
                assert_eq!(r.statements[0].last_insert_rowid, good);
                assert_eq!(r.statements[1].rows.rows, vec![vec![Value::Integer(good)]]);
                assert_eq!(r.statements[1].changes, 1);
            }
            Kind::OrRollback => {
                let err = rejected(p);
                assert_eq!(
                    err.code_name(),
                    "SQLITE_CONSTRAINT_PRIMARYKEY",
                    "{i}: {err:?}"
                );
            }
            Kind::Raise => {
                let err = rejected(p);
                assert!(err.is_constraint(), "{i}: {err:?}");
                assert!(err.to_string().contains("no boom"), "{i}: {err}");
                assert!(matches!(
                    err,
                    Error::Sqlite {
                        statement_index: Some(1),
                        ..
                    }
                ));
            }
            Kind::Abort => {
                let err = rejected(p);
                assert_eq!(
                    err.code_name(),
                    "SQLITE_CONSTRAINT_PRIMARYKEY",
                    "{i}: {err:?}"
                );
                assert!(matches!(
                    err,
                    Error::Sqlite {
                        statement_index: Some(1),
                        ..
                    }
                ));
            }
        }
    }
    assert_eq!(gate.wait_batches(mark + 1)[mark], adaptive(n));
    // Every surviving row exactly once, nothing of a rejected transaction.
    let keys: Vec<i64> = query(&db, "SELECT k FROM u ORDER BY k", ())
        .rows
        .iter()
        .map(|r| int(&r[0]))
        .collect();
    assert_eq!(keys, (0..=good).collect::<Vec<_>>());
    let expected: Vec<Value> = (0..n)
        .filter(|&i| kind(i) == Kind::Good)
        .map(|i| Value::Text(format!("tx{i}")))
        .collect();
    let values: Vec<Value> = query(&db, "SELECT v FROM u WHERE k > 0 ORDER BY k", ())
        .rows
        .into_iter()
        .map(|mut r| r.remove(0))
        .collect();
    assert_eq!(values, expected);
    assert_eq!(query_int(&db, "SELECT n FROM counter", ()), good);
    assert_eq!(query_int(&db, "SELECT count(*) FROM guard", ()), 0);
    let stats = db.stats();
    assert_eq!(stats.transactions_failed, (n as i64 - good) as u64);
    assert_eq!(stats.transactions_aborted, 0);
    // Later batches run with the configured synchronous level.
    let level = exec(&db, "PRAGMA synchronous", ());
    let configured = match durability {
        Durability::Full => 2,
        Durability::Normal => 1,
        Durability::Off => 0,
    };
    assert_eq!(
        level.statements[0].rows.rows,
        vec![vec![Value::Integer(configured)]]
    );
    db.close().unwrap();
    drop(db);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn many_whole_transaction_rollbacks_in_a_batch_keep_every_outcome_right() {
    rollback_heavy_batch(Durability::Full, 1000);
}

#[test]
fn many_whole_transaction_rollbacks_keep_every_outcome_right_with_durability_normal() {
    rollback_heavy_batch(Durability::Normal, 1000);
}

#[test]
fn a_whole_transaction_rollback_at_either_end_of_a_batch() {
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let db = open(&path, gate.config(Config::default()));
    exec(&db, "CREATE TABLE u (k INTEGER PRIMARY KEY)", ());
    exec(&db, "INSERT INTO u VALUES (0)", ());
    let mark = gate.hold_writer(&db);
    let failing = || Transaction::single("INSERT OR ROLLBACK INTO u VALUES (0)", ());
    let good = |k: i64| Transaction::single("INSERT INTO u VALUES (?)", params![k]);
    let mut txs = vec![failing(), failing()];
    txs.extend((1..=300).map(good));
    txs.extend([failing(), failing()]);
    let pending: Vec<_> = txs.into_iter().map(|tx| db.submit(tx).unwrap()).collect();
    gate.release();
    for (i, p) in pending.iter().enumerate() {
        if !(2..302).contains(&i) {
            assert!(rejected(p).is_constraint());
        } else {
            assert_eq!(committed(p).statements[0].last_insert_rowid, i as i64 - 1);
        }
    }
    assert_eq!(gate.wait_batches(mark + 1)[mark], adaptive(304));
    assert_eq!(query_int(&db, "SELECT count(*) FROM u", ()), 301);
    db.close().unwrap();
}

/// A transaction reading `PRAGMA synchronous` in a batch full of whole-transaction
/// rollbacks reads the configured level: that batch never lowers it to commit midway.
#[test]
fn reading_synchronous_in_a_rollback_heavy_batch_gives_the_configured_level() {
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let db = open(&path, gate.config(Config::default()));
    exec(&db, "CREATE TABLE u (k INTEGER PRIMARY KEY)", ());
    exec(&db, "INSERT INTO u VALUES (0)", ());
    let mark = gate.hold_writer(&db);
    let mut pending = Vec::new();
    for k in 1..=200 {
        pending.push(
            db.submit(Transaction::single("INSERT INTO u VALUES (?)", params![k]))
                .unwrap(),
        );
        pending.push(
            db.submit(Transaction::single(
                "INSERT OR ROLLBACK INTO u VALUES (0)",
                (),
            ))
            .unwrap(),
        );
    }
    let read = db
        .submit(Transaction::single("PRAGMA synchronous", ()))
        .unwrap();
    let failing_after = db
        .submit(Transaction::single(
            "INSERT OR ROLLBACK INTO u VALUES (0)",
            (),
        ))
        .unwrap();
    gate.release();
    assert_eq!(
        committed(&read).statements[0].rows.rows,
        vec![vec![Value::Integer(2)]]
    );
    assert!(rejected(&failing_after).is_constraint());
    for (i, p) in pending.iter().enumerate() {
        assert_eq!(outcome(p).is_ok(), i % 2 == 0, "{i}");
    }
    assert_eq!(gate.wait_batches(mark + 1)[mark], adaptive(402));
    assert_eq!(query_int(&db, "SELECT count(*) FROM u", ()), 201);
    db.close().unwrap();
}

// Calls made on the committer's own threads (completion callbacks, batch sinks and event
// listeners) that would wait for that same thread fail at once instead of hanging.

/// Asserts that `err` refuses `call` at once because it would wait for its own thread.
fn assert_waits_for_itself(err: &Error, call: &str) {
    assert_eq!(err.code_name(), "SQLITE_MISUSE", "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with(call) && message.contains("would wait for its own thread"),
        "{message}"
    );
}

/// The name of the thread running now.
fn thread_name() -> Option<String> {
    std::thread::current().name().map(str::to_owned)
}

/// Waits for what a call on one of the committer's threads sends back. The sender holds a
/// handle on the committer, so a call that hangs fails the test here instead of hanging it.
fn receive<T>(what: &str, rx: &Receiver<T>) -> T {
    rx.recv_timeout(PATIENCE)
        .unwrap_or_else(|_| panic!("{what} did not return"))
}

/// Runs `call` with the committer in a completion callback; returns its result and the
/// name of the thread it ran on.
fn in_a_callback<T: Send + 'static>(
    db: &Arc<Committer>,
    call: impl FnOnce(&Committer) -> T + Send + 'static,
) -> (T, Option<String>) {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let handle = Arc::clone(db);
    db.submit_with_callback(Transaction::single("SELECT 1", ()), move |outcome| {
        assert!(outcome.is_ok(), "{outcome:?}");
        drop(tx.send((call(&handle), thread_name())));
    })
    .unwrap();
    receive("the call in the callback", &rx)
}

/// Opens a committer whose event listener, at the first event `wanted` accepts once the
/// committer is open, runs `call` with it (on the thread emitting the event) and sends back
/// the result and that thread's name.
fn open_calling_in_listener<T: Send + 'static>(
    path: &Path,
    wanted: fn(&Event) -> bool,
    call: impl Fn(&Committer) -> T + Send + Sync + 'static,
) -> (Arc<Committer>, Receiver<(T, Option<String>)>) {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let once = Mutex::new(Some(tx));
    let slot: Arc<OnceLock<Weak<Committer>>> = Arc::default();
    let in_listener = Arc::clone(&slot);
    let config = Config {
        event_listener: Some(Arc::new(move |event: &Event| {
            let Some(db) = in_listener.get().and_then(Weak::upgrade) else {
                return;
            };
            if !wanted(event) {
                return;
            }
            let Some(tx) = once.lock().unwrap_or_else(|p| p.into_inner()).take() else {
                return;
            };
            drop(tx.send((call(&db), thread_name())));
        })),
        ..Config::default()
    };
    let db = Arc::new(open(path, config));
    slot.set(Arc::downgrade(&db)).unwrap();
    (db, rx)
}

#[test]
fn flush_in_a_completion_callback_fails_at_once() {
    let (_dir, path) = temp_db();
    let db = Arc::new(open(&path, Config::default()));
    let (flushed, thread) = in_a_callback(&db, |db| db.flush());
    assert_eq!(thread.as_deref(), Some("litecommit-writer"));
    assert_waits_for_itself(&flushed.unwrap_err(), "flush()");
    // From another thread it works.
    db.flush().unwrap();
    db.close().unwrap();
}

#[test]
fn a_submit_that_would_wait_fails_at_once_in_a_callback_and_try_submit_works() {
    let (_dir, path) = temp_db();
    let db = Arc::new(open(&path, Config::default()));
    exec(&db, "CREATE TABLE t (v INTEGER)", ());
    let called = Arc::new(AtomicUsize::new(0));
    let sink = RecordingSink::new();
    let ((refused, tried), thread) = {
        let (called, sink) = (Arc::clone(&called), sink.clone());
        in_a_callback(&db, move |db| {
            let insert = |v: i64| Transaction::single("INSERT INTO t VALUES (?)", params![v]);
            let refused = vec![
                db.submit(insert(1)).map(drop),
                db.submit_timeout(insert(2), PATIENCE).map(drop),
                db.submit_with_callback(insert(3), move |_| {
                    called.fetch_add(1, Ordering::SeqCst);
                }),
                db.submit_to_sink(insert(4), sink.clone(), 4, Wait::Block),
                db.submit_to_sink(insert(5), sink, 5, Wait::Timeout(PATIENCE)),
            ];
            (refused, db.try_submit(insert(6)))
        })
    };
    assert_eq!(thread.as_deref(), Some("litecommit-writer"));
    for result in refused {
        assert_waits_for_itself(
            &result.unwrap_err(),
            "a submit that waits for room in the queue",
        );
    }
    committed(&tried.unwrap());
    db.flush().unwrap();
    // The refused ones were not queued, and their callback and sink were never called.
    assert_eq!(called.load(Ordering::SeqCst), 0);
    assert!(sink.calls().is_empty());
    let rows = query(&db, "SELECT v FROM t", ());
    assert_eq!(rows.rows, vec![vec![Value::Integer(6)]]);
    db.close().unwrap();
}

/// What `execute` returned, and the name of the thread it ran on.
type Executed = (litecommit::Result<TransactionResult>, Option<String>);

/// A sink that runs `execute` with the committer in its first call and sends the result.
struct ExecutingSink {
    db: Arc<Committer>,
    result: Mutex<Option<Sender<Executed>>>,
}

impl BatchSink for ExecutingSink {
    fn complete(&self, _: Vec<(u64, Outcome)>) {
        let once = self.result.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(tx) = once {
            let executed = self.db.execute("INSERT INTO t VALUES (1)", ());
            drop(tx.send((executed, thread_name())));
        }
    }
}

#[test]
fn execute_in_a_batch_sink_fails_at_once() {
    let (_dir, path) = temp_db();
    let db = Arc::new(open(&path, Config::default()));
    exec(&db, "CREATE TABLE t (v INTEGER)", ());
    let (tx, rx) = crossbeam_channel::bounded(1);
    let sink = Arc::new(ExecutingSink {
        db: Arc::clone(&db),
        result: Mutex::new(Some(tx)),
    });
    db.submit_to_sink(Transaction::single("SELECT 1", ()), sink, 0, Wait::Block)
        .unwrap();
    let (executed, thread) = receive("execute in the sink", &rx);
    assert_eq!(thread.as_deref(), Some("litecommit-writer"));
    assert_waits_for_itself(&executed.unwrap_err(), "execute()");
    assert_eq!(query_int(&db, "SELECT count(*) FROM t", ()), 0);
    db.close().unwrap();
}

#[test]
fn transaction_in_an_event_listener_on_the_writer_thread_fails_at_once() {
    let (_dir, path) = temp_db();
    let (db, rx) = open_calling_in_listener(
        &path,
        |e| matches!(e, Event::BatchCommitted { .. }),
        |db| db.transaction(Transaction::single("INSERT INTO t VALUES (1)", ())),
    );
    // Through the queue, so that the writer thread commits it.
    db.submit(Transaction::single("CREATE TABLE t (v INTEGER)", ()))
        .unwrap()
        .wait()
        .unwrap();
    let (result, thread) = receive("transaction in the listener", &rx);
    assert_eq!(thread.as_deref(), Some("litecommit-writer"));
    assert_waits_for_itself(&result.unwrap_err(), "transaction()");
    assert_eq!(query_int(&db, "SELECT count(*) FROM t", ()), 0);
    db.close().unwrap();
}

#[test]
fn a_lone_transaction_commits_on_its_callers_thread_where_its_listener_cannot_wait() {
    let (_dir, path) = temp_db();
    let (db, rx) = open_calling_in_listener(
        &path,
        |e| matches!(e, Event::BatchCommitted { .. }),
        |db| db.transaction(Transaction::single("INSERT INTO t VALUES (1)", ())),
    );
    // The writer is idle and nothing is queued: this commits on the test's own thread.
    exec(&db, "CREATE TABLE t (v INTEGER)", ());
    let (result, thread) = receive("transaction in the listener", &rx);
    assert_eq!(thread, thread_name());
    assert_ne!(thread.as_deref(), Some("litecommit-writer"));
    assert_waits_for_itself(&result.unwrap_err(), "transaction()");
    assert_eq!(query_int(&db, "SELECT count(*) FROM t", ()), 0);
    db.close().unwrap();
}

#[test]
fn checkpoint_in_an_event_listener_on_the_checkpoint_thread_fails_at_once() {
    let (_dir, path) = temp_db();
    let (db, rx) = open_calling_in_listener(
        &path,
        |e| matches!(e, Event::CheckpointStarted { .. }),
        |db| db.checkpoint(CheckpointMode::Passive),
    );
    exec(&db, "CREATE TABLE t (v INTEGER)", ());
    // On its own thread: if the listener hung, this checkpoint would never return either.
    let (done_tx, done) = crossbeam_channel::bounded(1);
    let checkpointer = Arc::clone(&db);
    std::thread::spawn(move || {
        drop(done_tx.send(checkpointer.checkpoint(CheckpointMode::Passive)))
    });
    let (result, thread) = receive("checkpoint in the listener", &rx);
    assert_eq!(thread.as_deref(), Some("litecommit-checkpoint"));
    assert_waits_for_itself(&result.unwrap_err(), "checkpoint()");
    receive("the checkpoint", &done).unwrap();
    db.close().unwrap();
}

#[test]
fn every_blocked_thread_of_a_big_batch_is_woken_timed_and_untimed_waits_alike() {
    const THREADS: usize = 48;
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let db = Arc::new(open(&path, gate.config(Config::default())));
    exec(&db, "CREATE TABLE t (v INTEGER)", ());
    let held_at = gate.hold_writer(&db);
    // All of them queue behind the held batch, then commit in one batch; the untimed
    // waiters are woken by each other, the timed ones by the writer.
    let (done, results) = crossbeam_channel::unbounded();
    for i in 0..THREADS {
        let (db, done) = (Arc::clone(&db), done.clone());
        std::thread::spawn(move || {
            let tx = Transaction::single("INSERT INTO t VALUES (?)", params![i as i64]);
            let result = if i % 3 == 0 {
                db.submit(tx).and_then(|p| p.wait_timeout(PATIENCE))
            } else {
                db.transaction(tx)
            };
            drop(done.send(result));
        });
    }
    wait_until("every thread queued", || {
        db.stats().queue_length == THREADS as u64
    });
    gate.release();
    for _ in 0..THREADS {
        let result = receive("a blocked thread's result", &results);
        assert_eq!(result.unwrap().last().unwrap().changes, 1);
    }
    // The batch's event comes after its outcomes.
    let batches = gate.wait_batches(held_at + 1);
    assert!(
        matches!(batches[held_at], Batch::Committed { size, .. } if size == THREADS),
        "{:?}",
        &batches[held_at..]
    );
    assert_eq!(query_int(&db, "SELECT count(*) FROM t", ()), THREADS as i64);
    db.close().unwrap();
}
