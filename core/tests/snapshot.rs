//! Read snapshots (`Committer::snapshot`) and the declared column types of `Rows`.

mod common;

use std::sync::Arc;

use common::*;
use litecommit::{Committer, Config, Error, Rows, Snapshot, Transaction, Value};

fn count(rows: &Rows) -> i64 {
    int(&rows.rows[0][0])
}

fn snapshot_count(snap: &Snapshot) -> i64 {
    count(&snap.query("SELECT count(*) FROM t", ()).unwrap())
}

fn wal_file(path: &std::path::Path) -> std::path::PathBuf {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    wal.into()
}

fn decl(types: &[Option<&str>]) -> Vec<Option<String>> {
    types.iter().map(|t| t.map(String::from)).collect()
}

#[test]
fn a_snapshot_does_not_see_writes_committed_after_it_began() {
    let (_dir, path) = temp_db();
    let db = open(&path, Config::default());
    exec(&db, "CREATE TABLE t (v INTEGER)", ());
    exec(&db, "INSERT INTO t VALUES (1)", ());

    let snap = db.snapshot().unwrap();
    // Committed before the snapshot's first query: it is still not seen, since the
    // snapshot was fixed when it began.
    exec(&db, "INSERT INTO t VALUES (2)", ());
    assert_eq!(snapshot_count(&snap), 1);
    assert_eq!(query_int(&db, "SELECT count(*) FROM t", ()), 2);
    exec(&db, "INSERT INTO t VALUES (3)", ());
    assert_eq!(snapshot_count(&snap), 1);
    let rows = snap
        .query("SELECT v FROM t WHERE v >= ?", litecommit::params![1])
        .unwrap();
    assert_eq!(rows.rows, vec![vec![Value::Integer(1)]]);

    // A failed query leaves the snapshot as it was.
    assert!(matches!(
        snap.query("SELECT nope FROM t", ()),
        Err(Error::Sqlite { .. })
    ));
    assert_eq!(snapshot_count(&snap), 1);

    // A new snapshot sees everything committed before it.
    let later = db.snapshot().unwrap();
    assert_eq!(snapshot_count(&later), 3);
    drop(snap);
    drop(later);
    assert_eq!(query_int(&db, "SELECT count(*) FROM t", ()), 3);
    db.close().unwrap();
}

#[test]
fn a_snapshot_refuses_statements_that_would_end_it() {
    let (_dir, path) = temp_db();
    let db = open(&path, Config::default());
    exec(&db, "CREATE TABLE t (v INTEGER)", ());
    let snap = db.snapshot().unwrap();
    for sql in ["COMMIT", "ROLLBACK", "BEGIN", "SAVEPOINT s"] {
        assert!(
            matches!(snap.query(sql, ()), Err(Error::Refused { .. })),
            "{sql} was not refused"
        );
    }
    // Read-only connections: a write fails, and the snapshot goes on.
    assert!(snap.query("INSERT INTO t VALUES (1)", ()).is_err());
    exec(&db, "INSERT INTO t VALUES (1)", ());
    assert_eq!(snapshot_count(&snap), 0);
    drop(snap);
    db.close().unwrap();
}

#[test]
fn snapshots_take_read_connections_and_give_them_back() {
    let (_dir, path) = temp_db();
    let config = Config {
        read_connections: 1,
        ..Config::default()
    };
    let db = Arc::new(open(&path, config));
    exec(&db, "CREATE TABLE t (v INTEGER)", ());
    let snap = db.snapshot().unwrap();
    // The only read connection is the snapshot's: a second snapshot waits until it is
    // dropped, then gets the connection, out of the first one's read transaction.
    let (began_tx, began) = std::sync::mpsc::channel();
    let waiter = {
        let db = Arc::clone(&db);
        std::thread::spawn(move || {
            let second = db.snapshot().unwrap();
            began_tx.send(()).unwrap();
            snapshot_count(&second)
        })
    };
    exec(&db, "INSERT INTO t VALUES (1)", ());
    assert_eq!(snapshot_count(&snap), 0);
    drop(snap);
    began.recv_timeout(PATIENCE).unwrap();
    assert_eq!(waiter.join().unwrap(), 1);
    assert_eq!(query_int(&db, "SELECT count(*) FROM t", ()), 1);
    db.close().unwrap();
}

#[test]
fn a_snapshot_is_shared_between_threads() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let (_dir, path) = temp_db();
    let db = open(&path, Config::default());
    exec(&db, "CREATE TABLE t (v INTEGER)", ());
    exec(&db, "INSERT INTO t VALUES (1)", ());
    let snap = Arc::new(db.snapshot().unwrap());
    send_sync(&*snap);
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let snap = Arc::clone(&snap);
            std::thread::spawn(move || (0..50).map(|_| snapshot_count(&snap)).sum::<i64>())
        })
        .collect();
    exec(&db, "INSERT INTO t VALUES (2)", ());
    for r in readers {
        assert_eq!(r.join().unwrap(), 50);
    }
    drop(snap);
    db.close().unwrap();
}

#[test]
fn close_does_not_wait_for_open_snapshots_whose_queries_then_fail() {
    let (_dir, path) = temp_db();
    let db = Arc::new(open(&path, Config::default()));
    exec(&db, "CREATE TABLE t (v INTEGER)", ());
    exec(&db, "INSERT INTO t VALUES (1)", ());
    let snap = db.snapshot().unwrap();
    assert_eq!(snapshot_count(&snap), 1);

    let (closed_tx, closed) = std::sync::mpsc::channel();
    {
        let db = Arc::clone(&db);
        std::thread::spawn(move || closed_tx.send(db.close()).unwrap());
    }
    closed
        .recv_timeout(PATIENCE)
        .expect("close waited for the open snapshot")
        .unwrap();
    assert_eq!(snap.query("SELECT count(*) FROM t", ()), Err(Error::Closed));
    // The snapshot's connection was closed before the writer's: the WAL is gone and the
    // file holds every row.
    assert!(!wal_file(&path).exists());
    drop(snap);
    assert!(matches!(db.snapshot(), Err(Error::Closed)));
}

#[test]
fn snapshot_after_close_fails() {
    let (_dir, path) = temp_db();
    let db = open(&path, Config::default());
    db.close().unwrap();
    assert!(matches!(db.snapshot(), Err(Error::Closed)));
}

#[test]
fn a_snapshot_outlives_its_committer() {
    let (_dir, path) = temp_db();
    let db = open(&path, Config::default());
    exec(&db, "CREATE TABLE t (v INTEGER)", ());
    let snap = db.snapshot().unwrap();
    drop(db);
    assert_eq!(snap.query("SELECT 1", ()), Err(Error::Closed));
    assert!(!wal_file(&path).exists());
}

#[test]
fn rows_carry_declared_types_of_table_columns_and_none_for_expressions() {
    let (_dir, path) = temp_db();
    let db = open(&path, Config::default());
    exec(
        &db,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, at DATETIME, d date, n, p VARCHAR(10))",
        (),
    );
    exec(&db, "CREATE VIEW v AS SELECT at, id + 1 AS next FROM t", ());
    let want = decl(&[
        Some("INTEGER"),
        Some("DATETIME"),
        Some("date"),
        None,
        Some("VARCHAR(10)"),
        None,
        None,
        Some("DATETIME"),
    ]);
    let select = "SELECT id, at, d, n, p, id + 1, 'x', at AS renamed FROM t";
    // With no row, and with rows.
    let empty = query(&db, select, ());
    assert!(empty.rows.is_empty());
    assert_eq!(*empty.decl_types, *want);
    exec(
        &db,
        "INSERT INTO t (at, d, n, p) VALUES ('2024-01-02 03:04:05', '2024-01-02', 1, 'x')",
        (),
    );
    assert_eq!(*query(&db, select, ()).decl_types, *want);
    let snap = db.snapshot().unwrap();
    assert_eq!(*snap.query(select, ()).unwrap().decl_types, *want);
    drop(snap);
    // A view's columns carry their origin's type; its expressions none.
    assert_eq!(
        *query(&db, "SELECT * FROM v", ()).decl_types,
        *decl(&[Some("DATETIME"), None])
    );
    // RETURNING rows and the rows of a SELECT inside a transaction too.
    let r = db
        .transaction(
            Transaction::new()
                .push(
                    "INSERT INTO t (at) VALUES ('now') RETURNING id, at, 2 * id",
                    (),
                )
                .push("SELECT d, count(*) FROM t", ()),
        )
        .unwrap();
    assert_eq!(
        *r.statements[0].rows.decl_types,
        *decl(&[Some("INTEGER"), Some("DATETIME"), None])
    );
    assert_eq!(
        *r.statements[1].rows.decl_types,
        *decl(&[Some("date"), None])
    );
    // Statements without result columns have none.
    let r = exec(&db, "UPDATE t SET n = 2", ());
    assert!(r.statements[0].rows.decl_types.is_empty());
    db.close().unwrap();
}

#[test]
fn declared_types_follow_a_table_rebuilt_with_other_types() {
    let (_dir, path) = temp_db();
    let db = open(&path, Config::default());
    exec(&db, "CREATE TABLE t (a TEXT)", ());
    let select = "SELECT a FROM t";
    assert_eq!(*query(&db, select, ()).decl_types, *decl(&[Some("TEXT")]));
    exec(&db, "DROP TABLE t", ());
    exec(&db, "CREATE TABLE t (a TIMESTAMP)", ());
    assert_eq!(
        *query(&db, select, ()).decl_types,
        *decl(&[Some("TIMESTAMP")])
    );
    db.close().unwrap();
}

#[test]
fn a_declared_type_that_is_not_utf8_comes_back_lossily() {
    let (_dir, path) = temp_db();
    {
        // Another program wrote the schema with a Latin-1 byte in a type name.
        let conn = rusqlite::Connection::open(&path).unwrap();
        let sql = b"CREATE TABLE t (a CAF\xc9, b INTEGER); INSERT INTO t VALUES (1, 2);\0";
        // SAFETY: a live connection's handle and a NUL-terminated SQL text.
        let rc = unsafe {
            rusqlite::ffi::sqlite3_exec(
                conn.handle(),
                sql.as_ptr().cast(),
                None,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        assert_eq!(rc, rusqlite::ffi::SQLITE_OK);
    }
    let db = open(&path, Config::default());
    let rows = query(&db, "SELECT a, b FROM t", ());
    assert_eq!(
        *rows.decl_types,
        *decl(&[Some("CAF\u{FFFD}"), Some("INTEGER")])
    );
    assert_eq!(rows.rows, vec![vec![Value::Integer(1), Value::Integer(2)]]);
    db.close().unwrap();
}

/// In the child: every snapshot call fails with the forked error; dropping touches nothing.
fn forked_child(db: Committer, snap: Snapshot, parent: u32) -> i32 {
    let forked = Error::Forked { opened_by: parent };
    if db.snapshot().err() != Some(forked.clone()) {
        return 10;
    }
    if snap.query("SELECT count(*) FROM t", ()).err() != Some(forked) {
        return 11;
    }
    drop(snap);
    drop(db);
    0
}

#[test]
fn in_a_forked_child_snapshots_fail_and_the_parent_goes_on() {
    let (_dir, path) = temp_db();
    let db = open(&path, Config::default());
    exec(&db, "CREATE TABLE t (v INTEGER)", ());
    exec(&db, "INSERT INTO t VALUES (1)", ());
    let snap = db.snapshot().unwrap();
    let parent = std::process::id();
    // SAFETY: the child only makes the calls in `forked_child` and leaves with `_exit`,
    // running no destructor or exit handler of this process.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            forked_child(db, snap, parent)
        }))
        .unwrap_or(2);
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(code) };
    }
    assert_eq!(wait_for_child(pid), 0, "exit status of the forked child");
    exec(&db, "INSERT INTO t VALUES (2)", ());
    assert_eq!(snapshot_count(&snap), 1);
    drop(snap);
    assert_eq!(query_int(&db, "SELECT count(*) FROM t", ()), 2);
    db.close().unwrap();
    assert!(!wal_file(&path).exists());
}
