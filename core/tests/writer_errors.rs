//! Bad input: refused statements, parameter errors, invalid configuration. Each one gets a
//! clear error and nothing else is affected.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use litecommit::{
    params, Committer, Config, Durability, Error, FlushPolicy, Params, Transaction, Value, Wait,
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
    // Connection settings and connection-local objects, which would leak into later
    // transactions.
    "PRAGMA [cache_size] = -4000",
    "PRAGMA query_only = 1",
    "EXPLAIN PRAGMA query_only = 1",
    "PRAGMA wal_checkpoint(TRUNCATE)",
    "PRAGMA temp.user_version = 1",
    "CREATE TEMP TABLE scratch (a)",
    "CREATE TABLE temp.scratch (a)",
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
        is_refused(
            db.submit_to_sink(tx(), sink.clone(), 1, Wait::Block),
            1,
            sql,
        );
        is_refused(
            db.submit_to_sink(tx(), sink.clone(), 2, Wait::Never),
            1,
            sql,
        );
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
        "PRAGMA [cache_size]",
        "PRAGMA table_info('begin_log')",
        "PRAGMA main.user_version = 7",
        "CREATE TABLE temp_log (a)",
        "CREATE TABLE \"temp\" (a)",
        "EXPLAIN QUERY PLAN SELECT * FROM begin_log",
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

/// The message of an invalid-configuration error, failing the test on anything else.
fn invalid_config(result: litecommit::Result<impl std::fmt::Debug>) -> String {
    match result {
        Err(Error::InvalidConfig(message)) => message,
        other => panic!("expected an invalid-configuration error, got {other:?}"),
    }
}

/// Opening with `config` must fail with exactly `expected`, and create nothing.
fn open_rejects(path: &std::path::Path, config: Config, expected: &str) {
    let err = Committer::open(path, config).map(drop).unwrap_err();
    assert_eq!(err.code_name(), "LITECOMMIT_INVALID_CONFIG", "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("invalid configuration: {expected}")
    );
    assert!(!path.exists(), "{expected}: the database file was created");
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
        (
            with(&|c| {
                c.passive_threshold_mb = 8.0;
                c.restart_threshold_mb = 2.0
            }),
            "restart_threshold_mb: 2 is below passive_threshold_mb 8",
        ),
        (
            with(&|c| c.passive_threshold_mb = f64::NAN),
            "passive_threshold_mb: must be a number above 0 and at most 1048576, got NaN",
        ),
        (
            with(&|c| c.passive_threshold_mb = -1.0),
            "passive_threshold_mb: must be a number above 0 and at most 1048576, got -1",
        ),
        (
            with(&|c| c.restart_threshold_mb = f64::INFINITY),
            "restart_threshold_mb: must be a number above 0 and at most 1048576, got inf",
        ),
        (
            with(&|c| {
                c.flush_policy = FlushPolicy::Ticker;
                c.max_wait_ms = 0
            }),
            "max_wait_ms: must be at least 1 with the ticker flush policy",
        ),
        (
            with(&|c| {
                c.truncate_when_idle = true;
                c.idle_ms = 0
            }),
            "idle_ms: must be at least 1 when idle work is enabled",
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(invalid_config(config.validate()), expected);
        open_rejects(&path, config, expected);
    }

    // `set` rejects what cannot be a value of the option, naming the option and its range;
    // a failed set changes nothing.
    let mut c = Config::default();
    for (name, value, expected) in [
        (
            "durability",
            "fast",
            "durability: unknown value \"fast\" (expected one of: full, normal, off)",
        ),
        (
            "flushPolicy",
            "sometimes",
            "flush_policy: unknown value \"sometimes\" (expected one of: adaptive, ticker)",
        ),
        (
            "max_batch_size",
            "ten",
            "max_batch_size: must be an integer from 1 to 1000000, got \"ten\"",
        ),
        (
            "maxBatchSize",
            "-1",
            "max_batch_size: must be an integer from 1 to 1000000, got -1",
        ),
        (
            "maxBatchSize",
            "0",
            "max_batch_size: must be an integer from 1 to 1000000, got 0",
        ),
        (
            "busy_timeout_ms",
            "NaN",
            "busy_timeout_ms: must be an integer from 0 to 2147483647, got \"NaN\"",
        ),
        (
            "busyTimeoutMs",
            "1.5",
            "busy_timeout_ms: must be an integer from 0 to 2147483647, got \"1.5\"",
        ),
        (
            "queueCapacity",
            "1e9",
            "queue_capacity: must be an integer from 1 to 1000000, got \"1e9\"",
        ),
        (
            "queue_capacity",
            "99999999999999999999999999999999999999999",
            "queue_capacity: must be an integer from 1 to 1000000, got \
             \"99999999999999999999999999999999999999999\"",
        ),
        (
            "passive_threshold_mb",
            "NaN",
            "passive_threshold_mb: must be a number above 0 and at most 1048576, got NaN",
        ),
        (
            "restartThresholdMb",
            "-inf",
            "restart_threshold_mb: must be a number above 0 and at most 1048576, got -inf",
        ),
        (
            "passive_threshold_mb",
            "four",
            "passive_threshold_mb: must be a number above 0 and at most 1048576, got \"four\"",
        ),
        (
            "journal_size_limit",
            "-1.5",
            "journal_size_limit: must be an integer from 0 to 9223372036854775807 \
             (or negative for no limit), got \"-1.5\"",
        ),
        (
            "checkpoint",
            "maybe",
            "checkpoint: \"maybe\" is not a boolean",
        ),
        (
            "no_such_option",
            "1",
            "no_such_option: unknown configuration option",
        ),
    ] {
        assert_eq!(
            invalid_config(c.set(name, value)),
            expected,
            "{name} = {value}"
        );
    }
    let defaults = Config::default();
    assert_eq!(c.durability, defaults.durability);
    assert_eq!(c.max_batch_size, defaults.max_batch_size);
    assert_eq!(c.busy_timeout_ms, defaults.busy_timeout_ms);
    assert_eq!(c.queue_capacity, defaults.queue_capacity);
    assert_eq!(c.journal_size_limit, defaults.journal_size_limit);
    assert_eq!(
        c.passive_threshold_mb.to_bits(),
        defaults.passive_threshold_mb.to_bits()
    );

    // Both spellings and case-insensitive enum values work, and the committer opens with
    // them.
    let mut c = Config::default();
    c.set("maxBatchSize", "7").unwrap();
    c.set("queue_capacity", " 9 ").unwrap();
    c.set("durability", "NORMAL").unwrap();
    c.set("flushPolicy", "Ticker").unwrap();
    c.set("checkpoint", "off").unwrap();
    c.set("journalSizeLimit", "-1").unwrap();
    let mut other = Config::default();
    other.set("journal_size_limit", "-64").unwrap();
    assert_eq!(other.journal_size_limit, None);
    c.set("passiveThresholdMb", "0.5").unwrap();
    assert_eq!(c.max_batch_size, 7);
    assert_eq!(c.queue_capacity, 9);
    assert_eq!(c.durability, Durability::Normal);
    assert_eq!(c.flush_policy, FlushPolicy::Ticker);
    assert!(!c.checkpoint);
    assert_eq!(c.journal_size_limit, None);
    assert_eq!(c.passive_threshold_mb, 0.5);
    let db = open(&path, c);
    db.close().unwrap();
}

/// Every integer option: its name (as `Config::set` takes it), its smallest and largest
/// accepted values, and how to put a value in a `Config`.
type Setter = fn(&mut Config, u64);
const INTEGER_OPTIONS: &[(&str, u64, u64, Setter)] = &[
    ("max_batch_size", 1, 1_000_000, |c, v| {
        c.max_batch_size = v as usize
    }),
    ("max_wait_ms", 0, 86_400_000, |c, v| c.max_wait_ms = v),
    ("linger_ms", 0, 86_400_000, |c, v| c.linger_ms = v),
    ("queue_capacity", 1, 1_000_000, |c, v| {
        c.queue_capacity = v as usize
    }),
    ("busy_timeout_ms", 0, i32::MAX as u64, |c, v| {
        c.busy_timeout_ms = v
    }),
    ("read_connections", 1, 256, |c, v| {
        c.read_connections = v as usize
    }),
    ("checkpoint_busy_timeout_ms", 0, i32::MAX as u64, |c, v| {
        c.checkpoint_busy_timeout_ms = v
    }),
    ("idle_vacuum_pages", 0, i32::MAX as u64, |c, v| {
        c.idle_vacuum_pages = v as u32
    }),
    ("idle_vacuum_budget_ms", 0, 86_400_000, |c, v| {
        c.idle_vacuum_budget_ms = v
    }),
    ("idle_ms", 0, 86_400_000, |c, v| c.idle_ms = v),
    ("cache_size_kib", 0, i32::MAX as u64, |c, v| {
        c.cache_size_kib = v
    }),
    ("mmap_size", 0, i64::MAX as u64, |c, v| c.mmap_size = v),
    ("journal_size_limit", 0, i64::MAX as u64, |c, v| {
        c.journal_size_limit = Some(v)
    }),
    ("statement_cache_capacity", 0, 100_000, |c, v| {
        c.statement_cache_capacity = v as usize
    }),
];

#[test]
fn every_option_is_range_checked_at_open() {
    let (_dir, path) = temp_db();
    for &(field, min, max, put) in INTEGER_OPTIONS {
        let range = if field == "journal_size_limit" {
            format!("an integer from {min} to {max} (or negative for no limit)")
        } else {
            format!("an integer from {min} to {max}")
        };
        let mut rejected = vec![max + 1];
        if min > 0 {
            rejected.push(min - 1);
        }
        for value in rejected {
            let expected = format!("{field}: must be {range}, got {value}");
            let mut config = Config::default();
            put(&mut config, value);
            open_rejects(&path, config, &expected);
            // `Config::set` gives the same error, and so does any negative number.
            assert_eq!(
                invalid_config(Config::default().set(field, &value.to_string())),
                expected
            );
        }
        if field != "journal_size_limit" {
            assert_eq!(
                invalid_config(Config::default().set(field, "-5")),
                format!("{field}: must be {range}, got -5")
            );
        }
        // The bounds themselves are accepted, through `set` and at open.
        for value in [min, max] {
            let mut config = Config::default();
            config.set(field, &value.to_string()).unwrap();
            let mut direct = Config::default();
            put(&mut direct, value);
            assert_eq!(format!("{config:?}"), format!("{direct:?}"), "{field}");
            let db = Committer::open(&path, config)
                .unwrap_or_else(|e| panic!("{field} = {value} was rejected: {e}"));
            // (With a day of linger, a lone transaction would wait that long for company.)
            if field != "linger_ms" {
                exec(&db, "CREATE TABLE IF NOT EXISTS t (v)", ());
                exec(&db, "INSERT INTO t VALUES (1)", ());
            }
            db.close().unwrap();
        }
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn open_failures_keep_sqlite_codes_and_touch_nothing() {
    let (dir, path) = temp_db();
    let sqlite_error = |result: litecommit::Result<()>, code: i32, needle: &str| match result {
        Err(Error::Sqlite {
            code: c,
            message,
            statement_index: None,
            ..
        }) => {
            assert_eq!(c, code, "{message}");
            assert!(message.starts_with("cannot open database "), "{message}");
            assert!(
                message.contains(needle),
                "{message} does not say {needle:?}"
            );
        }
        other => panic!("expected SQLite error {code}, got {other:?}"),
    };

    let missing = dir.path().join("no/such/dir/x.db");
    sqlite_error(
        Committer::open(&missing, Config::default()).map(drop),
        14, // SQLITE_CANTOPEN
        "no/such/dir/x.db",
    );

    let garbage = dir.path().join("garbage.db");
    let bytes = vec![7u8; 8192];
    std::fs::write(&garbage, &bytes).unwrap();
    let err = Committer::open(&garbage, Config::default()).map(drop);
    assert_eq!(
        err.as_ref().unwrap_err().code_name(),
        "SQLITE_NOTADB",
        "{err:?}"
    );
    sqlite_error(err, 26, "file is not a database");
    assert_eq!(
        std::fs::read(&garbage).unwrap(),
        bytes,
        "the file was changed"
    );

    // A database another connection holds locked in rollback-journal mode.
    let locked = dir.path().join("locked.db");
    let holder = rusqlite::Connection::open(&locked).unwrap();
    holder
        .execute_batch("CREATE TABLE t (v); BEGIN EXCLUSIVE; INSERT INTO t VALUES (1);")
        .unwrap();
    let config = Config {
        busy_timeout_ms: 0,
        ..Config::default()
    };
    let err = Committer::open(&locked, config).map(drop);
    assert_eq!(
        err.as_ref().unwrap_err().code_name(),
        "SQLITE_BUSY",
        "{err:?}"
    );
    sqlite_error(err, 5, "locked");
    holder.execute_batch("COMMIT").unwrap();
    let mode: String = holder
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete", "the locked database was switched to WAL");
    drop(holder);

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
