//! Committing transactions: single, concurrent, ordered; results; values; parameters;
//! read-your-writes.

mod common;

use common::*;
use litecommit::{params, Config, Durability, Params, Transaction, Value};

#[test]
fn single_transaction_commits_and_is_visible() {
    let (_dir, path) = temp_db();
    let db = open(&path, Config::default());
    exec(&db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", ());

    let r = exec(&db, "INSERT INTO t (v) VALUES (?)", params!["one"]);
    assert_eq!(r.statements.len(), 1);
    assert_eq!(r.statements[0].changes, 1);
    assert_eq!(r.statements[0].last_insert_rowid, 1);

    let rows = query(&db, "SELECT id, v FROM t", ());
    assert_eq!(&*rows.columns, ["id", "v"]);
    assert_eq!(
        rows.rows,
        vec![vec![Value::Integer(1), Value::Text("one".into())]]
    );
    db.close().unwrap();
}

#[test]
fn concurrent_threads_commit_every_row_exactly_once() {
    const THREADS: i64 = 128;
    const PER_THREAD: i64 = 16;
    let (_dir, path) = temp_db();
    let db = open(&path, Config::default());
    exec(
        &db,
        "CREATE TABLE items (thread INTEGER, seq INTEGER, UNIQUE (thread, seq))",
        (),
    );
    exec(&db, "CREATE TABLE total (n INTEGER)", ());
    exec(&db, "INSERT INTO total VALUES (0)", ());

    std::thread::scope(|s| {
        for thread in 0..THREADS {
            let db = &db;
            s.spawn(move || {
                let tx = |seq: i64| {
                    Transaction::new()
                        .push("INSERT INTO items VALUES (?, ?)", params![thread, seq])
                        .push("UPDATE total SET n = n + 1", ())
                };
                if thread % 2 == 0 {
                    // Blocking: one transaction at a time.
                    for seq in 0..PER_THREAD {
                        db.transaction(tx(seq)).unwrap();
                    }
                } else {
                    // Pipelined: all in flight, then wait.
                    let pending: Vec<_> = (0..PER_THREAD)
                        .map(|seq| db.submit(tx(seq)).unwrap())
                        .collect();
                    for p in &pending {
                        committed(p);
                    }
                }
            });
        }
    });

    let n = THREADS * PER_THREAD;
    assert_eq!(query_int(&db, "SELECT count(*) FROM items", ()), n);
    assert_eq!(
        query_int(
            &db,
            "SELECT count(*) FROM (SELECT DISTINCT thread, seq FROM items)",
            ()
        ),
        n
    );
    assert_eq!(
        query_int(
            &db,
            "SELECT count(*) FROM (SELECT thread FROM items GROUP BY thread \
             HAVING count(*) = ? AND min(seq) = 0 AND max(seq) = ?)",
            params![PER_THREAD, PER_THREAD - 1]
        ),
        THREADS
    );
    assert_eq!(query_int(&db, "SELECT n FROM total", ()), n);
    let stats = db.stats();
    assert_eq!(stats.transactions_committed, n as u64 + 3);
    assert_eq!(stats.transactions_failed, 0);
    db.close().unwrap();
}

#[test]
fn transactions_from_one_thread_commit_in_submission_order() {
    const N: i64 = 2000;
    let (_dir, path) = temp_db();
    let db = open(&path, Config::default());
    exec(
        &db,
        "CREATE TABLE log (id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER)",
        (),
    );
    // `v` only ends at N if every update ran in order (each one checks its predecessor).
    exec(&db, "CREATE TABLE last (v INTEGER)", ());
    exec(&db, "INSERT INTO last VALUES (-1)", ());

    let pending: Vec<_> = (0..N)
        .map(|seq| {
            db.submit(
                Transaction::new()
                    .push("INSERT INTO log (seq) VALUES (?)", params![seq])
                    .push("UPDATE last SET v = ?1 WHERE v = ?1 - 1", params![seq]),
            )
            .unwrap()
        })
        .collect();
    for (seq, p) in pending.iter().enumerate() {
        let r = committed(p);
        assert_eq!(r.statements[0].last_insert_rowid, seq as i64 + 1);
        assert_eq!(
            r.statements[1].changes, 1,
            "update of seq {seq} ran out of order"
        );
    }
    let rows = query(&db, "SELECT seq FROM log ORDER BY id", ());
    let seqs: Vec<i64> = rows.rows.iter().map(|r| int(&r[0])).collect();
    assert_eq!(seqs, (0..N).collect::<Vec<_>>());
    assert_eq!(query_int(&db, "SELECT v FROM last", ()), N - 1);
    db.close().unwrap();
}

#[test]
fn each_thread_keeps_its_order_among_concurrent_threads() {
    const THREADS: i64 = 8;
    const PER_THREAD: i64 = 300;
    let (_dir, path) = temp_db();
    let db = open(&path, Config::default());
    exec(
        &db,
        "CREATE TABLE log (id INTEGER PRIMARY KEY, thread INTEGER, seq INTEGER)",
        (),
    );
    std::thread::scope(|s| {
        for thread in 0..THREADS {
            let db = &db;
            s.spawn(move || {
                let pending: Vec<_> = (0..PER_THREAD)
                    .map(|seq| {
                        db.submit(Transaction::single(
                            "INSERT INTO log (thread, seq) VALUES (?, ?)",
                            params![thread, seq],
                        ))
                        .unwrap()
                    })
                    .collect();
                for p in &pending {
                    committed(p);
                }
            });
        }
    });
    for thread in 0..THREADS {
        let rows = query(
            &db,
            "SELECT seq FROM log WHERE thread = ? ORDER BY id",
            params![thread],
        );
        let seqs: Vec<i64> = rows.rows.iter().map(|r| int(&r[0])).collect();
        assert_eq!(seqs, (0..PER_THREAD).collect::<Vec<_>>(), "thread {thread}");
    }
    db.close().unwrap();
}

#[test]
fn results_carry_changes_rowids_and_returning_rows() {
    let (_dir, path) = temp_db();
    let db = open(&path, Config::default());

    let ddl = exec(
        &db,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)",
        (),
    );
    assert_eq!(ddl.statements[0].changes, 0);
    assert!(ddl.statements[0].rows.rows.is_empty());

    let r = exec(&db, "INSERT INTO t (v) VALUES (1), (2), (3)", ());
    assert_eq!(r.statements[0].changes, 3);
    assert_eq!(r.statements[0].last_insert_rowid, 3);
    // One statement's result is kept in the result itself, without an allocation.
    assert!(!r.statements.spilled());

    let r = db
        .transaction(
            Transaction::new()
                .push(
                    "INSERT INTO t (v) VALUES (?) RETURNING id, v * 10 AS ten",
                    params![4],
                )
                .push("UPDATE t SET v = v + 100 WHERE v >= 2 RETURNING id, v", ())
                .push("UPDATE t SET v = 0 WHERE id < 0", ())
                .push("SELECT count(*) AS n FROM t WHERE v > 100", ())
                .push("DELETE FROM t WHERE id = 1 RETURNING *", ()),
        )
        .unwrap();
    let [insert, update, update_none, select, delete] = &r.statements[..] else {
        panic!("expected 5 results, got {}", r.statements.len());
    };
    assert_eq!(insert.changes, 1);
    assert_eq!(insert.last_insert_rowid, 4);
    assert_eq!(&*insert.rows.columns, ["id", "ten"]);
    assert_eq!(
        insert.rows.rows,
        vec![vec![Value::Integer(4), Value::Integer(40)]]
    );

    assert_eq!(update.changes, 3);
    assert_eq!(&*update.rows.columns, ["id", "v"]);
    let mut updated = update.rows.rows.clone();
    updated.sort_by_key(|row| int(&row[0]));
    assert_eq!(
        updated,
        vec![
            vec![Value::Integer(2), Value::Integer(102)],
            vec![Value::Integer(3), Value::Integer(103)],
            vec![Value::Integer(4), Value::Integer(104)],
        ]
    );

    assert_eq!(update_none.changes, 0);
    assert!(update_none.rows.rows.is_empty());

    assert_eq!(select.changes, 0);
    assert_eq!(&*select.rows.columns, ["n"]);
    assert_eq!(select.rows.rows, vec![vec![Value::Integer(3)]]);

    assert_eq!(delete.changes, 1);
    assert_eq!(&*delete.rows.columns, ["id", "v"]);
    assert_eq!(
        delete.rows.rows,
        vec![vec![Value::Integer(1), Value::Integer(1)]]
    );

    // `last()` is the last statement's result.
    assert_eq!(r.last(), Some(delete));
    db.close().unwrap();
}

#[test]
fn values_round_trip() {
    let (_dir, path) = temp_db();
    let db = open(&path, Config::default());
    // No declared type: no affinity, every value is stored as given.
    exec(&db, "CREATE TABLE vals (k INTEGER PRIMARY KEY, v)", ());
    let big_blob: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let long_text: String = "litecommit ✓ ".repeat(50_000);
    let cases: Vec<(Value, &str)> = vec![
        (Value::Null, "null"),
        (Value::Integer(0), "integer"),
        (Value::Integer(-1), "integer"),
        (Value::Integer(i64::MIN), "integer"),
        (Value::Integer(i64::MAX), "integer"),
        (Value::Real(0.0), "real"),
        (Value::Real(-1.5), "real"),
        (Value::Real(std::f64::consts::PI), "real"),
        (Value::Real(f64::MAX), "real"),
        (Value::Real(f64::MIN_POSITIVE), "real"),
        (Value::Real(1e-300), "real"),
        (Value::Real(f64::INFINITY), "real"),
        (Value::Real(f64::NEG_INFINITY), "real"),
        (Value::Text(String::new()), "text"),
        (Value::Text("héllo wörld — 日本語 🦀".into()), "text"),
        (Value::Text("nul \0 inside".into()), "text"),
        (Value::Text(long_text), "text"),
        (Value::Blob(Vec::new()), "blob"),
        (Value::Blob(vec![0, 1, 0xfe, 0xff, 0]), "blob"),
        (Value::Blob(big_blob), "blob"),
    ];
    for (k, (value, kind)) in cases.iter().enumerate() {
        let r = exec(
            &db,
            "INSERT INTO vals VALUES (?, ?) RETURNING v, typeof(v)",
            Params::Positional(vec![Value::Integer(k as i64), value.clone()]),
        );
        assert_eq!(
            r.statements[0].rows.rows,
            vec![vec![value.clone(), Value::Text((*kind).into())]],
            "RETURNING of case {k}"
        );
        let read = query(
            &db,
            "SELECT v, typeof(v) FROM vals WHERE k = ?",
            params![k as i64],
        );
        assert_eq!(
            read.rows,
            vec![vec![value.clone(), Value::Text((*kind).into())]],
            "query of case {k}"
        );
    }
    // Convenience conversions.
    let r = exec(
        &db,
        "SELECT ?, ?, ?, ?, ?, ?",
        params![true, 7i32, 8u32, None::<i64>, &b"xy"[..], Some("s")],
    );
    assert_eq!(
        r.statements[0].rows.rows[0],
        vec![
            Value::Integer(1),
            Value::Integer(7),
            Value::Integer(8),
            Value::Null,
            Value::Blob(b"xy".to_vec()),
            Value::Text("s".into()),
        ]
    );
    db.close().unwrap();
}

#[test]
fn named_parameters_in_every_form() {
    let (_dir, path) = temp_db();
    let db = open(&path, Config::default());
    exec(&db, "CREATE TABLE p (a, b, c)", ());
    let sql = "INSERT INTO p VALUES (:a, @b, $c) RETURNING a, b, c";
    let named = |names: [&str; 3]| {
        Params::Named(
            names
                .iter()
                .zip([1, 2, 3])
                .map(|(n, v)| (n.to_string(), Value::Integer(v)))
                .collect(),
        )
    };
    let expected = vec![vec![
        Value::Integer(1),
        Value::Integer(2),
        Value::Integer(3),
    ]];
    for names in [[":a", "@b", "$c"], ["a", "b", "c"], [":a", "b", "$c"]] {
        let r = exec(&db, sql, named(names));
        assert_eq!(r.statements[0].rows.rows, expected, "names {names:?}");
    }
    // Given in another order than in the SQL.
    let r = exec(
        &db,
        sql,
        Params::Named(vec![
            ("c".into(), Value::Integer(3)),
            ("a".into(), Value::Integer(1)),
            ("@b".into(), Value::Integer(2)),
        ]),
    );
    assert_eq!(r.statements[0].rows.rows, expected);
    // A name used twice in the SQL is one parameter.
    let r = exec(
        &db,
        "SELECT :x + :x, :x",
        Params::Named(vec![("x".into(), Value::Integer(21))]),
    );
    assert_eq!(
        r.statements[0].rows.rows,
        vec![vec![Value::Integer(42), Value::Integer(21)]]
    );
    // Numbered positional parameters.
    let r = exec(&db, "SELECT ?2, ?1, ?2", params!["one", "two"]);
    assert_eq!(
        r.statements[0].rows.rows[0],
        vec![
            Value::Text("two".into()),
            Value::Text("one".into()),
            Value::Text("two".into()),
        ]
    );
    // Named parameters in queries too.
    let rows = query(
        &db,
        "SELECT count(*) FROM p WHERE a = :a AND c = $c",
        Params::Named(vec![
            ("a".into(), Value::Integer(1)),
            ("$c".into(), Value::Integer(3)),
        ]),
    );
    assert_eq!(rows.rows[0][0], Value::Integer(4));
    db.close().unwrap();
}

#[test]
fn a_query_after_a_resolved_transaction_sees_its_writes() {
    const THREADS: i64 = 4;
    const PER_THREAD: i64 = 100;
    let (_dir, path) = temp_db();
    let config = Config {
        read_connections: 2,
        ..Config::default()
    };
    let db = open(&path, config);
    exec(
        &db,
        "CREATE TABLE t (thread INTEGER, i INTEGER, PRIMARY KEY (thread, i))",
        (),
    );
    std::thread::scope(|s| {
        for thread in 0..THREADS {
            let db = &db;
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    db.execute("INSERT INTO t VALUES (?, ?)", params![thread, i])
                        .unwrap();
                    let n = query_int(
                        db,
                        "SELECT count(*) FROM t WHERE thread = ?",
                        params![thread],
                    );
                    assert_eq!(n, i + 1, "thread {thread} does not see its insert {i}");
                }
            });
        }
    });
    assert_eq!(
        query_int(&db, "SELECT count(*) FROM t", ()),
        THREADS * PER_THREAD
    );
    db.close().unwrap();
}

#[test]
fn the_rowid_reported_is_the_transactions_own() {
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let db = open(&path, gate.config(Config::default()));
    exec(
        &db,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)",
        (),
    );
    gate.hold_writer(&db);
    // One batch: an insert, then a transaction that inserts nothing.
    let insert = db
        .submit(Transaction::single(
            "INSERT INTO t (id, v) VALUES (42, 1)",
            (),
        ))
        .unwrap();
    let update = db
        .submit(
            Transaction::new()
                .push("UPDATE t SET v = 2", ())
                .push("INSERT INTO t (id, v) VALUES (7, 3)", ())
                .push("SELECT v FROM t WHERE id = 7", ()),
        )
        .unwrap();
    gate.release();
    assert_eq!(committed(&insert).statements[0].last_insert_rowid, 42);
    let rowids: Vec<i64> = committed(&update)
        .statements
        .iter()
        .map(|s| s.last_insert_rowid)
        .collect();
    assert_eq!(rowids, vec![0, 7, 7]);
}

/// Opens a committer with `durability`, commits through it, and returns the writer
/// connection's `PRAGMA synchronous`, read through a transaction.
fn synchronous_with(durability: Durability) -> i64 {
    let (_dir, path) = temp_db();
    let config = Config {
        durability,
        ..Config::default()
    };
    let db = open(&path, config);
    exec(&db, "CREATE TABLE t (v INTEGER)", ());
    let r = exec(&db, "INSERT INTO t VALUES (1) RETURNING v", ());
    assert_eq!(r.statements[0].rows.rows, vec![vec![Value::Integer(1)]]);
    let r = exec(&db, "PRAGMA synchronous", ());
    let level = int(&r.statements[0].rows.rows[0][0]);
    db.close().unwrap();
    drop(db);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    level
}

#[test]
fn each_durability_sets_its_synchronous_level_on_the_writer() {
    assert_eq!(synchronous_with(Durability::Full), 2);
    assert_eq!(synchronous_with(Durability::Normal), 1);
    assert_eq!(synchronous_with(Durability::Off), 0);
}

#[test]
fn a_uri_path_opens_the_file_it_names_and_stats_measure_its_wal() {
    let (_dir, path) = temp_db();
    let uri = format!("file:{}?cache=private", path.display());
    let db = open(std::path::Path::new(&uri), Config::default());
    exec(&db, "CREATE TABLE t (v)", ());
    exec(&db, "INSERT INTO t VALUES (1)", ());
    let wal = std::fs::metadata(format!("{}-wal", path.display()))
        .unwrap()
        .len();
    assert!(wal > 0, "the -wal file next to {} is empty", path.display());
    assert_eq!(db.stats().wal_file_bytes, wal);
    db.close().unwrap();
    let plain = rusqlite::Connection::open(&path).unwrap();
    let n: i64 = plain
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
}

/// A committer on a fresh database with a table `t (v BLOB)` and no checkpoints, so that
/// its WAL only grows (without room past the last frame every commit would append).
fn growing_wal(config: Config) -> (tempfile::TempDir, std::path::PathBuf, litecommit::Committer) {
    let (dir, path) = temp_db();
    let db = open(
        &path,
        Config {
            checkpoint: false,
            ..config
        },
    );
    exec(&db, "CREATE TABLE t (v BLOB)", ());
    (dir, path, db)
}

#[test]
fn commits_overwrite_room_the_writer_keeps_past_the_last_wal_frame() {
    let (_dir, path, db) = growing_wal(Config::default());
    let mut sizes = Vec::new();
    for _ in 0..2000 {
        exec(&db, "INSERT INTO t VALUES (randomblob(2000))", ());
        let size = db.stats().wal_file_bytes;
        assert!(
            size > wal_end(&db),
            "no room past the last frame: {size} bytes"
        );
        sizes.push(size);
    }
    sizes.dedup();
    // Zeros go in steps of 256 KiB, room for about 60 of these one-frame commits: at most
    // one commit in 25 appends.
    assert!(
        sizes.len() <= 2000 / 25,
        "the WAL file changed size {} times in 2,000 commits: {sizes:?}",
        sizes.len()
    );

    // A copy taken now (as after a crash: the WAL with its zeros, no -shm) recovers every row.
    let copy = path.with_file_name("copy.db");
    std::fs::copy(&path, &copy).unwrap();
    std::fs::copy(
        format!("{}-wal", path.display()),
        format!("{}-wal", copy.display()),
    )
    .unwrap();
    let recovered = rusqlite::Connection::open(&copy).unwrap();
    let n: i64 = recovered
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2000);
    db.close().unwrap();
}

#[test]
fn room_is_made_after_small_batches_only() {
    let (_dir, _path, db) = growing_wal(Config::default());
    // Past the small ones' room: about 2 MB of frames in one commit.
    exec(
        &db,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) \
         INSERT INTO t SELECT randomblob(2000) FROM n",
        (),
    );
    // A batch this large appends: syncing zeros first would cost it more.
    exec(&db, "INSERT INTO t VALUES (1)", ());
    assert_eq!(db.stats().wal_file_bytes, wal_end(&db));
    // After a small batch the next one makes room.
    exec(&db, "INSERT INTO t VALUES (2)", ());
    assert!(db.stats().wal_file_bytes > wal_end(&db));
    db.close().unwrap();
}

#[test]
fn the_wal_room_stays_within_journal_size_limit() {
    let (_dir, _path, db) = growing_wal(Config {
        journal_size_limit: Some(0),
        ..Config::default()
    });
    for _ in 0..50 {
        exec(&db, "INSERT INTO t VALUES (randomblob(2000))", ());
        assert_eq!(db.stats().wal_file_bytes, wal_end(&db));
    }
    db.close().unwrap();
}
