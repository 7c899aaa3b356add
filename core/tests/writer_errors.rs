//! Bad input: refused statements, parameter errors, invalid configuration. Each one gets a
//! clear error and nothing else is affected.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use litecommit::{
    params, Committer, Config, Durability, Error, FlushPolicy, Params, Transaction, Value,
};

const REFUSED: &[&str] = &[
    "BEGIN",
    "BEGIN IMMEDIATE",
    "begin deferred transaction",
    "COMMIT",
    "commit transaction",
    "END",
    "END TRANSACTION",
    "ROLLBACK",
    "ROLLBACK TO SAVEPOINT s",
    "SAVEPOINT s",
    "RELEASE s",
    "RELEASE SAVEPOINT s",
    "VACUUM",
    "VACUUM INTO 'copy.db'",
    "ATTACH DATABASE 'other.db' AS other",
    "attach 'other.db' as other",
    "DETACH other",
    "DETACH DATABASE other",
    "PRAGMA journal_mode=DELETE",
    "PRAGMA journal_mode = MEMORY",
    "pragma main.journal_mode=off",
    "PRAGMA synchronous=OFF",
    "PRAGMA synchronous = 0",
    "PRAGMA synchronous(FULL)",
    "  /* a comment */ COMMIT",
    "-- a comment\nBEGIN",
    // Empty statements before the keyword: SQLite skips them and runs the COMMIT.
    "; COMMIT",
    ";BEGIN",
    " ;; ROLLBACK",
    "/* x */ ; RELEASE litecommit_tx",
    "; SAVEPOINT s",
    "; PRAGMA synchronous=OFF",
    // Quoted names, which SQLite accepts.
    "PRAGMA \"synchronous\" = OFF",
    "PRAGMA [journal_mode]=DELETE",
    "PRAGMA main.`synchronous`=0",
    "PRAGMA \"main\".'journal_mode' = TRUNCATE",
    "PRAGMA \"wal_autocheckpoint\" = 1000",
    "PRAGMA [locking_mode]=EXCLUSIVE",
    "PRAGMA wal_autocheckpoint(10)",
    "PRAGMA locking_mode = EXCLUSIVE",
];

fn is_refused(result: litecommit::Result<impl std::fmt::Debug>, index: usize, sql: &str) {
    match result {
        Err(Error::Refused {
            statement_index,
            reason,
        }) => {
            assert_eq!(statement_index, index, "{sql}");
            assert!(!reason.is_empty());
        }
        other => panic!("{sql:?} was not refused: {other:?}"),
    }
}

#[test]
fn every_batch_breaking_statement_is_refused_at_submit() {
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let db = open(&path, gate.config(Config::default()));
    exec(&db, "CREATE TABLE t (v TEXT)", ());
    let sink = RecordingSink::new();
    let called = Arc::new(AtomicBool::new(false));

    // Good work queued before and after the refused statements shares their batch.
    let mark = gate.hold_writer(&db);
    let before = db
        .submit(Transaction::single("INSERT INTO t VALUES ('before')", ()))
        .unwrap();
    for sql in REFUSED {
        // The refused statement is the second one: the first must not apply either.
        let tx = || {
            Transaction::new()
                .push("INSERT INTO t VALUES ('refused')", ())
                .push(*sql, ())
        };
        is_refused(db.submit(tx()), 1, sql);
        is_refused(db.try_submit(tx()), 1, sql);
        is_refused(db.submit_timeout(tx(), Duration::from_secs(1)), 1, sql);
        let flag = Arc::clone(&called);
        is_refused(
            db.submit_with_callback(tx(), move |_| flag.store(true, Ordering::SeqCst)),
            1,
            sql,
        );
        is_refused(db.submit_to_sink(tx(), &as_sink(&sink), 1, true), 1, sql);
        is_refused(db.submit_to_sink(tx(), &as_sink(&sink), 2, false), 1, sql);
        is_refused(db.execute(sql, ()), 0, sql);
        is_refused(db.query(sql, ()), 0, sql);
    }
    let after = db
        .submit(Transaction::single("INSERT INTO t VALUES ('after')", ()))
        .unwrap();
    gate.release();
    committed(&before);
    committed(&after);
    db.flush().unwrap();

    // Only the two good transactions reached the writer, in one batch.
    assert_eq!(
        gate.wait_batches(mark + 1)[mark],
        Batch::Committed {
            size: 2,
            trigger: litecommit::FlushTrigger::Adaptive
        }
    );
    let rows = query(&db, "SELECT v FROM t ORDER BY rowid", ());
    assert_eq!(
        rows.rows,
        vec![
            vec![Value::Text("before".into())],
            vec![Value::Text("after".into())]
        ]
    );
    assert!(
        !called.load(Ordering::SeqCst),
        "a refused callback was called"
    );
    assert!(sink.calls().is_empty(), "a refused sink was called");

    // The settings the committer owns are unchanged.
    let mode = exec(&db, "PRAGMA journal_mode", ());
    assert_eq!(
        mode.statements[0].rows.rows[0][0],
        Value::Text("wal".into())
    );
    for (pragma, value) in [
        ("PRAGMA wal_autocheckpoint", Value::Integer(0)),
        ("PRAGMA locking_mode", Value::Text("normal".into())),
    ] {
        assert_eq!(
            exec(&db, pragma, ()).statements[0].rows.rows[0][0],
            value,
            "{pragma}"
        );
    }
    let sync = exec(&db, "PRAGMA synchronous", ());
    assert_eq!(
        sync.statements[0].rows.rows[0][0],
        Value::Integer(2),
        "FULL"
    );
    assert_eq!(db.stats().transactions_failed, 0);
    db.close().unwrap();
}

#[test]
fn harmless_lookalikes_are_not_refused() {
    let (_dir, path) = temp_db();
    let db = open(&path, Config::default());
    for sql in [
        "CREATE TABLE begin_log (commit_id INTEGER, note TEXT)",
        "INSERT INTO begin_log VALUES (1, 'BEGIN; COMMIT; VACUUM')",
        "PRAGMA journal_mode",
        "PRAGMA synchronous",
        "PRAGMA user_version = 7",
        "PRAGMA \"journal_mode\"",
        "PRAGMA [cache_size] = -4000",
        "SELECT 'ROLLBACK'",
        "INSERT INTO begin_log VALUES (2, 'x');",
    ] {
        exec(&db, sql, ());
    }
    assert_eq!(query_int(&db, "PRAGMA user_version", ()), 7);
    db.close().unwrap();
}

#[test]
fn parameter_errors_reject_only_their_transaction() {
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let db = open(&path, gate.config(Config::default()));
    exec(&db, "CREATE TABLE t (tag TEXT, a, b)", ());
    let named = |pairs: &[(&str, i64)]| {
        Params::Named(
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), Value::Integer(*v)))
                .collect(),
        )
    };
    let positional = "INSERT INTO t VALUES ('bad', ?, ?)";
    let by_name = "INSERT INTO t VALUES ('bad', :a, :b)";
    let cases: Vec<(&str, Params, &str)> = vec![
        (positional, params![1], "expects 2 parameter(s), 1 given"),
        (
            positional,
            params![1, 2, 3],
            "expects 2 parameter(s), 3 given",
        ),
        (
            positional,
            Params::None,
            "expects 2 parameter(s), none given",
        ),
        (
            "INSERT INTO t VALUES ('bad', 1, 2)",
            params![1],
            "expects 0 parameter(s), 1 given",
        ),
        (
            by_name,
            named(&[("a", 1), ("zz", 2)]),
            "no parameter named \"zz\"",
        ),
        (
            by_name,
            named(&[("a", 1)]),
            "no value given for parameter :b",
        ),
        (
            by_name,
            named(&[("a", 1), (":a", 1), ("b", 2)]),
            "given twice",
        ),
        (
            positional,
            named(&[("a", 1), ("b", 2)]),
            "no parameter named",
        ),
    ];

    let mark = gate.hold_writer(&db);
    let mut pending = Vec::new();
    for (i, (sql, params, _)) in cases.iter().enumerate() {
        let good = db
            .submit(Transaction::single(
                "INSERT INTO t VALUES ('good', ?, 0)",
                params![i as i64],
            ))
            .unwrap();
        // Statement 0 succeeds, statement 1 has bad parameters: neither may apply.
        let bad = db
            .submit(
                Transaction::new()
                    .push("INSERT INTO t VALUES ('bad', 0, 0)", ())
                    .push(*sql, params.clone()),
            )
            .unwrap();
        pending.push((good, bad));
    }
    gate.release();

    for ((good, bad), (_, _, message)) in pending.iter().zip(&cases) {
        committed(good);
        match rejected(bad) {
            Error::Parameter {
                message: m,
                statement_index,
            } => {
                assert_eq!(statement_index, 1);
                assert!(m.contains(message), "{m:?} does not say {message:?}");
            }
            other => panic!("expected a parameter error, got {other:?}"),
        }
    }
    assert_eq!(
        gate.wait_batches(mark + 1)[mark],
        Batch::Committed {
            size: 2 * cases.len(),
            trigger: litecommit::FlushTrigger::Adaptive
        }
    );
    assert_eq!(
        query_int(&db, "SELECT count(*) FROM t WHERE tag = 'bad'", ()),
        0
    );
    assert_eq!(
        query_int(&db, "SELECT count(*) FROM t WHERE tag = 'good'", ()),
        cases.len() as i64
    );
    let stats = db.stats();
    assert_eq!(stats.transactions_failed, cases.len() as u64);
    assert_eq!(stats.transactions_aborted, 0);

    // The same errors from `query`, with nothing of the read pool lost.
    match db.query("SELECT ?", ()) {
        Err(Error::Parameter {
            statement_index: 0, ..
        }) => {}
        other => panic!("expected a parameter error, got {other:?}"),
    }
    assert_eq!(
        query_int(&db, "SELECT count(*) FROM t", ()),
        cases.len() as i64
    );
    db.close().unwrap();
}

#[test]
fn sql_errors_carry_codes_message_and_statement_index() {
    let (_dir, path) = temp_db();
    let db = open(&path, Config::default());
    exec(
        &db,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)",
        (),
    );
    exec(&db, "INSERT INTO t (v) VALUES ('x')", ());

    let err = db
        .transaction(
            Transaction::new()
                .push("INSERT INTO t (v) VALUES ('y')", ())
                .push("INSERT INTO t (v) VALUES ('z')", ())
                .push("INSERT INTO t (v) VALUES ('x')", ()),
        )
        .unwrap_err();
    match &err {
        Error::Sqlite {
            code,
            extended_code,
            message,
            statement_index,
        } => {
            assert_eq!(*code, 19);
            assert_eq!(*extended_code, 2067);
            assert!(message.contains("UNIQUE"), "{message}");
            assert_eq!(*statement_index, Some(2));
        }
        other => panic!("expected an SQLite error, got {other:?}"),
    }
    assert_eq!(err.code_name(), "SQLITE_CONSTRAINT_UNIQUE");
    assert!(err.is_constraint());

    let err = db
        .execute("INSERT INTO t (v) VALUES (NULL)", ())
        .unwrap_err();
    assert_eq!(err.code_name(), "SQLITE_CONSTRAINT_NOTNULL");

    let err = db
        .execute("INSERT INTO nowhere VALUES (1)", ())
        .unwrap_err();
    assert_eq!(err.code_name(), "SQLITE_ERROR");
    assert!(err.to_string().contains("no such table"), "{err}");

    let err = db
        .execute("INSERT INTO t (v) VALUES ('m'); DELETE FROM t", ())
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Refused {
                statement_index: 0,
                ..
            }
        ),
        "{err:?}"
    );

    assert_eq!(query_int(&db, "SELECT count(*) FROM t", ()), 1);
    db.close().unwrap();
}

fn assert_invalid(result: litecommit::Result<impl std::fmt::Debug>, field: &str) {
    match result {
        Err(Error::InvalidConfig(message)) => {
            assert!(message.contains(field), "{message:?} does not name {field}")
        }
        other => panic!("expected an invalid-config error naming {field}, got {other:?}"),
    }
}

#[test]
fn invalid_configuration_is_rejected_naming_the_field() {
    let (_dir, path) = temp_db();
    let with = |change: &dyn Fn(&mut Config)| {
        let mut c = Config::default();
        change(&mut c);
        c
    };
    let cases: Vec<(Config, &str)> = vec![
        (with(&|c| c.max_batch_size = 0), "max_batch_size"),
        (with(&|c| c.queue_capacity = 0), "queue_capacity"),
        (with(&|c| c.read_connections = 0), "read_connections"),
        (
            with(&|c| {
                c.passive_threshold_mb = 8.0;
                c.restart_threshold_mb = 2.0
            }),
            "restart_threshold_mb",
        ),
        (
            with(&|c| c.passive_threshold_mb = f64::NAN),
            "passive_threshold_mb",
        ),
        (
            with(&|c| c.passive_threshold_mb = -1.0),
            "passive_threshold_mb",
        ),
        (
            with(&|c| {
                c.flush_policy = FlushPolicy::Ticker;
                c.max_wait_ms = 0
            }),
            "max_wait_ms",
        ),
    ];
    for (config, field) in cases {
        assert_invalid(config.validate(), field);
        assert_invalid(Committer::open(&path, config).map(drop), field);
        // Rejected before anything was created.
        assert!(!path.exists(), "{field}: the database file was created");
    }

    let mut c = Config::default();
    assert_invalid(c.set("durability", "fast"), "durability");
    assert_invalid(c.set("flush_policy", "sometimes"), "flush_policy");
    assert_invalid(c.set("flushPolicy", "sometimes"), "flush_policy");
    assert_invalid(c.set("max_batch_size", "ten"), "max_batch_size");
    assert_invalid(c.set("maxBatchSize", "-1"), "max_batch_size");
    assert_invalid(c.set("checkpoint", "maybe"), "checkpoint");
    assert_invalid(c.set("no_such_option", "1"), "no_such_option");
    // Failed sets change nothing.
    assert_eq!(c.durability, Durability::Full);
    assert_eq!(c.max_batch_size, Config::default().max_batch_size);

    // A value that parses but is out of range is caught at open, naming the field.
    c.set("maxBatchSize", "0").unwrap();
    assert_invalid(Committer::open(&path, c).map(drop), "max_batch_size");
    assert!(!path.exists());

    // Both spellings and case-insensitive enum values work.
    let mut c = Config::default();
    c.set("maxBatchSize", "7").unwrap();
    c.set("queue_capacity", "9").unwrap();
    c.set("durability", "NORMAL").unwrap();
    c.set("flushPolicy", "Ticker").unwrap();
    c.set("checkpoint", "off").unwrap();
    assert_eq!(c.max_batch_size, 7);
    assert_eq!(c.queue_capacity, 9);
    assert_eq!(c.durability, Durability::Normal);
    assert_eq!(c.flush_policy, FlushPolicy::Ticker);
    assert!(!c.checkpoint);
    let db = open(&path, c);
    db.close().unwrap();

    let err = Error::InvalidConfig("max_batch_size: must be at least 1".into());
    assert_eq!(err.code_name(), "LITECOMMIT_INVALID_CONFIG");
    assert!(err.to_string().contains("max_batch_size"));
}

#[test]
fn open_failures_are_clear_and_touch_nothing() {
    let (dir, path) = temp_db();
    let missing = dir.path().join("no/such/dir/x.db");
    match Committer::open(&missing, Config::default()).map(drop) {
        Err(Error::Open(message)) => {
            assert!(message.contains("no/such/dir/x.db"), "{message}")
        }
        other => panic!("expected an open error, got {other:?}"),
    }

    let garbage = dir.path().join("garbage.db");
    let bytes = vec![7u8; 8192];
    std::fs::write(&garbage, &bytes).unwrap();
    match Committer::open(&garbage, Config::default()).map(drop) {
        Err(Error::Open(message)) => assert!(message.contains("not a database"), "{message}"),
        other => panic!("expected an open error, got {other:?}"),
    }
    assert_eq!(
        std::fs::read(&garbage).unwrap(),
        bytes,
        "the file was changed"
    );

    match Committer::open(":memory:", Config::default()).map(drop) {
        Err(Error::Open(message)) => assert!(message.contains("WAL"), "{message}"),
        other => panic!("expected an open error, got {other:?}"),
    }

    // Writes through `query` fail: its connections are read-only.
    let db = open(&path, Config::default());
    exec(&db, "CREATE TABLE t (v)", ());
    let err = db.query("INSERT INTO t VALUES (1)", ()).unwrap_err();
    assert_eq!(err.code_name(), "SQLITE_READONLY", "{err:?}");
    assert_eq!(query_int(&db, "SELECT count(*) FROM t", ()), 0);
    db.close().unwrap();
}
