//! A batch whose COMMIT fails rejects every transaction of that batch with a clear error
//! (except those it committed midway, which resolve), and the next batch commits.
//!
//! The failure is injected with a file-size limit (RLIMIT_FSIZE) that stops the WAL's frames
//! from growing: COMMIT cannot write them and SQLite reports SQLITE_IOERR_WRITE (EFBIG),
//! as it would for a failing disk. The limit applies to the whole process, which is why
//! these tests have a test binary of their own and run one at a time.
#![cfg(target_os = "linux")]

mod common;

use common::*;
use litecommit::{params, Config, Error, Transaction, Value};

/// Sets the soft file-size limit of this process; returns the previous one.
fn set_file_size_limit(bytes: libc::rlim_t) -> libc::rlim_t {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on a local struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut limit), 0);
        let previous = limit.rlim_cur;
        limit.rlim_cur = bytes.min(limit.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
        previous
    }
}

/// Held by each test: the file-size limit is the whole process's.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// Restores the previous file-size limit when dropped (also when the test fails).
struct FileSizeLimit(libc::rlim_t);

impl FileSizeLimit {
    fn set(bytes: u64) -> FileSizeLimit {
        FileSizeLimit(set_file_size_limit(bytes as libc::rlim_t))
    }
}

impl Drop for FileSizeLimit {
    fn drop(&mut self) {
        set_file_size_limit(self.0);
    }
}

#[test]
fn a_failing_commit_rejects_the_whole_batch_and_the_next_batch_commits() {
    // Writing past the limit raises SIGXFSZ, which would kill the process; ignored, the
    // write fails with EFBIG instead.
    let _serial = one_at_a_time();
    // SAFETY: installs the ignore disposition, no handler code.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    // No checkpoints: the WAL only grows, and nothing but the writer writes.
    let config = Config {
        checkpoint: false,
        ..Config::default()
    };
    let db = open(&path, gate.config(config));
    exec(&db, "CREATE TABLE t (v TEXT UNIQUE)", ());
    exec(&db, "INSERT INTO t VALUES ('before')", ());

    let mark = gate.hold_writer(&db);
    // Room for less than one more frame past the last one (the limit also applies to the
    // zeros the writer keeps past it).
    let limit = FileSizeLimit::set(wal_end(&db) + 100);
    let pending: Vec<_> = (0..5)
        .map(|i| {
            db.submit(
                Transaction::new()
                    .push("INSERT INTO t VALUES (?)", params![format!("lost {i}")])
                    .push("SELECT count(*) FROM t", ()),
            )
            .unwrap()
        })
        .collect();
    gate.release();
    let errors: Vec<Error> = pending.iter().map(rejected).collect();
    drop(limit);

    for err in &errors {
        match err {
            Error::Sqlite {
                message,
                statement_index,
                ..
            } => {
                assert_eq!(err.code_name(), "SQLITE_IOERR_WRITE", "{err:?}");
                assert_eq!(message, "COMMIT failed: disk I/O error");
                assert_eq!(*statement_index, None);
            }
            other => panic!("expected an SQLite error, got {other:?}"),
        }
    }
    assert!(
        matches!(&gate.wait_batches(mark + 1)[mark], Batch::Failed { size: 5, error } if *error == errors[0]),
        "{:?}",
        gate.batches()
    );
    let stats = db.stats();
    assert_eq!(stats.transactions_aborted, 5);

    // The committer keeps working: the next batch commits, nothing of the failed one shows.
    let r = exec(&db, "INSERT INTO t VALUES ('after') RETURNING v", ());
    assert_eq!(
        r.statements[0].rows.rows,
        vec![vec![Value::Text("after".into())]]
    );
    let rows = query(&db, "SELECT v FROM t ORDER BY rowid", ());
    assert_eq!(
        rows.rows,
        vec![
            vec![Value::Text("before".into())],
            vec![Value::Text("after".into())]
        ]
    );
    db.close().unwrap();
    drop(db);

    let conn = rusqlite::Connection::open(&path).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let n: i64 = conn
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
}

/// Path of the database's -wal file.
fn wal(path: &std::path::Path) -> std::path::PathBuf {
    path.with_extension("db-wal")
}

/// A statement failing with an I/O error (here the page cache spilling into a WAL that may
/// not grow) makes SQLite roll back the whole batch transaction; only its transaction is
/// rejected, and later batches commit.
#[test]
fn an_io_error_inside_a_statement_rejects_only_its_transaction() {
    let _serial = one_at_a_time();
    // SAFETY: installs the ignore disposition, no handler code.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    // A small page cache: a big statement spills pages into the WAL before COMMIT.
    let config = Config {
        checkpoint: false,
        cache_size_kib: 64,
        ..Config::default()
    };
    let db = open(&path, gate.config(config));
    exec(&db, "CREATE TABLE small (v INTEGER)", ());
    exec(&db, "CREATE TABLE big (b BLOB)", ());

    let mark = gate.hold_writer(&db);
    let limit = FileSizeLimit::set(std::fs::metadata(wal(&path)).unwrap().len() + 256 * 1024);
    let insert = |v: i64| {
        db.submit(Transaction::single(
            "INSERT INTO small VALUES (?)",
            params![v],
        ))
        .unwrap()
    };
    let before: Vec<_> = (0..5).map(insert).collect();
    let failing = db
        .submit(
            Transaction::new()
                .push("INSERT INTO small VALUES (-1)", ())
                .push("INSERT INTO big VALUES (zeroblob(4000000))", ()),
        )
        .unwrap();
    let after: Vec<_> = (5..10).map(insert).collect();
    gate.release();
    for p in before.iter().chain(&after) {
        committed(p);
    }
    let err = rejected(&failing);
    drop(limit);
    assert_eq!(err.code_name(), "SQLITE_IOERR_WRITE", "{err:?}");
    assert!(
        matches!(
            err,
            Error::Sqlite {
                statement_index: Some(1),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        gate.wait_batches(mark + 1)[mark],
        Batch::Committed {
            size: 11,
            trigger: litecommit::FlushTrigger::Adaptive
        }
    );
    let values: Vec<i64> = query(&db, "SELECT v FROM small ORDER BY v", ())
        .rows
        .iter()
        .map(|r| int(&r[0]))
        .collect();
    assert_eq!(values, (0..10).collect::<Vec<_>>());

    // With room again, the next batch commits.
    exec(&db, "INSERT INTO big VALUES (zeroblob(4000000))", ());
    assert_eq!(query_int(&db, "SELECT count(*) FROM big", ()), 1);
    db.close().unwrap();
}

/// A batch whose many `OR ROLLBACK` failures made it commit midway, and whose final COMMIT
/// then fails: the WAL is still synced, so the transactions committed midway resolve with
/// their results and are in the database; the others are rejected with the batch's error
/// and are not.
#[test]
fn a_final_commit_failing_after_commits_midway_still_resolves_those_committed_midway() {
    const PAIRS: i64 = 100;
    let _serial = one_at_a_time();
    // SAFETY: installs the ignore disposition, no handler code.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let (_dir, path) = temp_db();
    let gate = Gate::new();
    let config = Config {
        checkpoint: false,
        ..Config::default()
    };
    let db = open(&path, gate.config(config));
    exec(&db, "CREATE TABLE u (k INTEGER PRIMARY KEY, v INTEGER)", ());
    exec(&db, "CREATE TABLE big (b BLOB)", ());
    exec(&db, "INSERT INTO u VALUES (0, -1)", ());

    let mark = gate.hold_writer(&db);
    let committed_before = db.stats().transactions_committed;
    // Room for the small commits midway, not for the big last transaction.
    let limit = FileSizeLimit::set(std::fs::metadata(wal(&path)).unwrap().len() + 2_000_000);
    let mut pending = Vec::new();
    for i in 1..=PAIRS {
        pending.push(
            db.submit(Transaction::single(
                "INSERT INTO u (v) VALUES (?)",
                params![i],
            ))
            .unwrap(),
        );
        pending.push(
            db.submit(Transaction::single(
                "INSERT OR ROLLBACK INTO u VALUES (0, ?)",
                params![-i],
            ))
            .unwrap(),
        );
    }
    let big = db
        .submit(Transaction::single(
            "INSERT INTO big VALUES (zeroblob(6000000))",
            (),
        ))
        .unwrap();
    gate.release();
    let big_error = rejected(&big);
    let outcomes: Vec<_> = pending.iter().map(outcome).collect();
    drop(limit);

    assert_eq!(big_error.code_name(), "SQLITE_IOERR_WRITE", "{big_error:?}");
    let mut resolved = Vec::new();
    let mut failed = Vec::new();
    for (i, outcome) in outcomes.iter().enumerate() {
        if i % 2 == 1 {
            // Rejected by its own statement: that answer stands.
            let err = outcome.as_ref().unwrap_err();
            assert_eq!(err.code_name(), "SQLITE_CONSTRAINT_PRIMARYKEY", "{err:?}");
            continue;
        }
        let v = i as i64 / 2 + 1;
        match outcome {
            Ok(r) => {
                assert_eq!(r.statements[0].changes, 1, "{r:?}");
                resolved.push(v);
            }
            Err(err) => {
                assert_eq!(err.code_name(), "SQLITE_IOERR_WRITE", "{err:?}");
                assert_eq!(err.to_string(), "COMMIT failed: disk I/O error");
                failed.push(v);
            }
        }
    }
    assert!(!resolved.is_empty(), "nothing was committed midway");
    assert!(
        !failed.is_empty(),
        "the last part of the batch was committed midway"
    );
    // Those committed midway are the first ones; the batch failed after them.
    let first_failed = failed[0];
    assert!(resolved.iter().all(|&v| v < first_failed), "{resolved:?}");
    assert!(
        matches!(&gate.wait_batches(mark + 1)[mark], Batch::Failed { size, .. } if *size == 2 * PAIRS as usize + 1),
        "{:?}",
        gate.batches()
    );
    assert_eq!(
        db.stats().transactions_committed - committed_before,
        resolved.len() as u64
    );

    // The committer goes on; exactly the resolved transactions are in the database.
    exec(&db, "INSERT INTO u (v) VALUES (0)", ());
    let present: Vec<i64> = query(&db, "SELECT v FROM u WHERE v > 0 ORDER BY v", ())
        .rows
        .iter()
        .map(|r| int(&r[0]))
        .collect();
    assert_eq!(present, resolved);
    db.close().unwrap();
}
