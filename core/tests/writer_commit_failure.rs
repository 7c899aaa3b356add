//! A batch whose COMMIT fails rejects every transaction of that batch with a clear error,
//! and the next batch commits.
//!
//! The failure is injected with a file-size limit (RLIMIT_FSIZE) that stops the WAL from
//! growing: COMMIT cannot write its frames and SQLite reports SQLITE_IOERR_WRITE (EFBIG),
//! as it would for a failing disk. The limit applies to the whole process, which is why
//! this test has a test binary of its own.
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
    let wal = std::fs::metadata(path.with_extension("db-wal"))
        .unwrap()
        .len();
    // Room for less than one more frame.
    let limit = FileSizeLimit::set(wal + 100);
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
