//! Replication with a real Litestream: a committer opened with `checkpoint: false` commits
//! 100,000 single-row transactions from several threads while `litestream replicate` copies
//! the database to a local file replica (Litestream runs the checkpoints). Once a restore of
//! the replica holds every row, Litestream is stopped, `litestream restore` writes a fresh
//! copy, and every row of it (id and payload) must equal the source's, with
//! `integrity_check` ok. Every transaction must commit: a busy error caused by Litestream's
//! locks is a failure.
//!
//! `LITESTREAM` names the litestream binary (`make test-litestream` installs one); when it
//! is unset or empty the test says it is skipped and returns.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use litecommit::{params, Committer, Config, Durability, Pending, Transaction};
use litecommit_tests::rng::Rng;
use rusqlite::{Connection, OpenFlags};

/// Transactions committed, one row each.
const ROWS: u64 = 100_000;
/// Threads submitting them; thread `t` inserts the ids congruent to `t` modulo `THREADS`.
const THREADS: u64 = 4;
/// How many transactions a thread keeps in flight before waiting for them: 1 is a blocking
/// `execute`, larger windows pipeline `submit`s so they share batches.
const WINDOWS: [u64; 4] = [1, 16, 128, 1024];
/// Generous bound on Litestream starting, replicating everything, and stopping.
const DEADLINE: Duration = Duration::from_secs(120);
/// How Litestream's debug log reports a checkpoint it ran (`result=busy,log,checkpointed`).
const CHECKPOINT_LINE: &str = "msg=checkpoint ";
/// Pause between two looks at Litestream's progress (the loop ends on what it sees).
const POLL: Duration = Duration::from_millis(200);

/// The payload of row `id`: 8 to 135 bytes drawn from a generator seeded with the id, so
/// the source, the replica and this function agree without storing anything.
fn payload(id: u64) -> Vec<u8> {
    let mut rng = Rng::new(id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5EED);
    let len = 8 + rng.below(128) as usize;
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// The Litestream configuration: one database and a file replica, as in the README, with
/// short intervals so that the test does not wait, and debug logging, which logs each
/// checkpoint Litestream runs (`msg=checkpoint mode=PASSIVE result=...`).
fn litestream_config(db: &Path, replica: &Path) -> String {
    format!(
        "logging:
  level: debug
dbs:
  - path: {}
    monitor-interval: 100ms
    replica:
      type: file
      path: {}
      sync-interval: 100ms
",
        db.display(),
        replica.display()
    )
}

/// A running `litestream replicate`; dropping it kills the process (on every path out of
/// the test, a failing assertion included) and prints the end of its log if the test fails.
struct Litestream {
    child: Child,
    log: PathBuf,
}

impl Litestream {
    fn start(bin: &Path, config: &Path, log: &Path) -> Litestream {
        let out = File::create(log).unwrap();
        let err = out.try_clone().unwrap();
        let child = Command::new(bin)
            .arg("replicate")
            .arg("-config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        Litestream {
            child,
            log: log.to_path_buf(),
        }
    }

    /// Fails the test if Litestream has exited on its own.
    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "litestream replicate exited with {status}:\n{}",
                log_tail(&self.log)
            );
        }
    }

    /// Asks Litestream to shut down (SIGTERM) and waits for it to exit.
    fn stop(&mut self) -> ExitStatus {
        // SAFETY: kill(2) on the pid of a child this test spawned and has not yet reaped.
        let sent = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(sent, 0, "kill(SIGTERM) on litestream failed");
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "litestream did not exit within {DEADLINE:?} of SIGTERM:\n{}",
                log_tail(&self.log)
            );
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Litestream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("litestream log:\n{}", log_tail(&self.log));
        }
    }
}

/// The last 40 lines of Litestream's log.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Lines of Litestream's log that contain `needle`.
fn log_lines(log: &Path, needle: &str) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|line| line.contains(needle))
        .map(str::to_string)
        .collect()
}

/// Runs `litestream restore -config <config> -o <out> <db>`; the error is its output.
fn restore(bin: &Path, config: &Path, db: &Path, out: &Path) -> Result<(), String> {
    let output = Command::new(bin)
        .arg("restore")
        .arg("-config")
        .arg(config)
        .arg("-force")
        .arg("-o")
        .arg(out)
        .arg(db)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "litestream restore: {}\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Rows in `t` of the database at `path`, or `None` if it cannot be read (not restored yet).
fn row_count(path: &Path) -> Option<u64> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    conn.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
        .ok()
        .map(|n| n as u64)
}

/// Total size of the files under `dir`.
fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        total += if meta.is_dir() {
            dir_size(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}

/// Whether `dir` holds an LTX file anywhere below it.
fn has_ltx(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|entry| {
            let path = entry.path();
            path.extension().is_some_and(|e| e == "ltx") || (path.is_dir() && has_ltx(&path))
        })
}

/// Commits the ids of thread `t`, in windows drawn from `rng`; returns how many failed and
/// the first error.
fn commit_share(db: &Committer, t: u64, mut rng: Rng) -> (u64, Option<String>) {
    let mut failed = 0;
    let mut first = None;
    let mut record = |outcome: litecommit::Outcome, id: u64| {
        if let Err(e) = outcome {
            failed += 1;
            first.get_or_insert_with(|| format!("row {id}: {e}"));
        }
    };
    let ids: Vec<u64> = (1..=ROWS).filter(|id| id % THREADS == t).collect();
    let mut next = 0;
    while next < ids.len() {
        let window = *rng.pick(&WINDOWS) as usize;
        let chunk = &ids[next..(next + window).min(ids.len())];
        next += chunk.len();
        if window == 1 {
            let id = chunk[0];
            record(
                db.execute(
                    "INSERT INTO t (id, payload) VALUES (?, ?)",
                    params![id as i64, payload(id)],
                ),
                id,
            );
            continue;
        }
        let pending: Vec<(u64, litecommit::Result<Pending>)> = chunk
            .iter()
            .map(|&id| {
                let tx = Transaction::single(
                    "INSERT INTO t (id, payload) VALUES (?, ?)",
                    params![id as i64, payload(id)],
                );
                (id, db.submit(tx))
            })
            .collect();
        for (id, submitted) in pending {
            record(submitted.and_then(Pending::wait), id);
        }
    }
    (failed, first)
}

#[test]
fn litestream_replica_restores_every_committed_row() {
    let bin = std::env::var_os("LITESTREAM").filter(|v| !v.is_empty());
    let Some(bin) = bin.map(PathBuf::from) else {
        println!("litestream: skipped: LITESTREAM is not set (`make test-litestream` sets it)");
        return;
    };
    let version = Command::new(&bin)
        .arg("version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let seed = Rng::seed_from_env();
    println!("litestream {version}: seed {seed}");

    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("db.sqlite");
    let replica = dir.path().join("replica");
    let config = dir.path().join("litestream.yml");
    let restored = dir.path().join("restored.db");
    let probe = dir.path().join("probe.db");

    let db = Arc::new(
        Committer::open(
            &db_path,
            Config {
                checkpoint: false,
                durability: Durability::Full,
                ..Config::default()
            },
        )
        .unwrap(),
    );
    db.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)",
        (),
    )
    .unwrap();

    std::fs::write(&config, litestream_config(&db_path, &replica)).unwrap();
    let mut litestream = Litestream::start(&bin, &config, &dir.path().join("litestream.log"));

    // Litestream is attached once its first LTX file is in the replica.
    let start = Instant::now();
    while !has_ltx(&replica) {
        litestream.assert_running();
        assert!(
            start.elapsed() < DEADLINE,
            "no LTX file in {} within {DEADLINE:?}",
            replica.display()
        );
        std::thread::sleep(POLL);
    }

    let start = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let db = Arc::clone(&db);
            let rng = Rng::new(Rng::derive(seed, 0, t as usize));
            std::thread::spawn(move || commit_share(&db, t, rng))
        })
        .collect();
    let mut failed = 0;
    let mut first = None;
    for worker in workers {
        let (n, e) = worker.join().unwrap();
        failed += n;
        first = first.or(e);
    }
    let commit_time = start.elapsed();
    assert_eq!(
        failed,
        0,
        "seed {seed}: {failed} of {ROWS} transactions failed beside Litestream; first: {}",
        first.unwrap_or_default()
    );
    let stats = db.stats();
    assert_eq!(
        stats.transactions_committed,
        ROWS + 1,
        "committed (with CREATE TABLE)"
    );
    assert_eq!(
        stats.checkpoints.values().sum::<u64>(),
        0,
        "checkpoints run by litecommit with checkpoint=false: {:?}",
        stats.checkpoints
    );

    // Done once a restore of the replica holds every row and Litestream has run at least
    // one checkpoint (the WAL grew past its 1000-page threshold while the rows were written).
    let start = Instant::now();
    loop {
        litestream.assert_running();
        let checkpoints = log_lines(&litestream.log, CHECKPOINT_LINE).len();
        let last = match restore(&bin, &config, &db_path, &probe) {
            Ok(()) => match row_count(&probe) {
                Some(ROWS) if checkpoints > 0 => break,
                n => format!("restored {n:?} rows, {checkpoints} Litestream checkpoints"),
            },
            Err(e) => e,
        };
        assert!(
            start.elapsed() < DEADLINE,
            "seed {seed}: the replica did not reach {ROWS} rows after a Litestream checkpoint \
             within {DEADLINE:?}; last: {last}"
        );
        std::thread::sleep(POLL);
    }
    let replication_wait = start.elapsed();

    let status = litestream.stop();
    assert!(
        status.success(),
        "litestream replicate exited with {status}:\n{}",
        log_tail(&litestream.log)
    );
    let log = litestream.log.clone();
    drop(litestream);
    let errors = log_lines(&log, "level=ERROR");
    assert!(
        errors.is_empty(),
        "Litestream logged errors:\n{}",
        errors.join("\n")
    );
    let checkpoints = log_lines(&log, CHECKPOINT_LINE);
    let busy = checkpoints
        .iter()
        .filter(|l| l.contains("result=1,"))
        .count();
    db.close().unwrap();

    let start = Instant::now();
    restore(&bin, &config, &db_path, &restored).unwrap_or_else(|e| panic!("{e}"));
    let restore_time = start.elapsed();

    let source = Connection::open_with_flags(&db_path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let copy = Connection::open_with_flags(&restored, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    for (name, conn) in [("source", &source), ("restored", &copy)] {
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "integrity_check of the {name} database");
    }
    let mut source_rows = source
        .prepare("SELECT id, payload FROM t ORDER BY id")
        .unwrap();
    let mut copy_rows = copy
        .prepare("SELECT id, payload FROM t ORDER BY id")
        .unwrap();
    let mut source_rows = source_rows
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
        .unwrap();
    let mut copy_rows = copy_rows
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
        .unwrap();
    let mut compared = 0u64;
    loop {
        let (a, b) = (source_rows.next(), copy_rows.next());
        let (a, b) = match (a, b) {
            (None, None) => break,
            (a, b) => (a.map(Result::unwrap), b.map(Result::unwrap)),
        };
        compared += 1;
        let expected = Some((compared as i64, payload(compared)));
        assert_eq!(a, expected, "source row {compared}");
        assert_eq!(b, a, "restored row {compared} differs from the source");
    }
    assert_eq!(compared, ROWS, "rows compared");

    println!(
        "litestream {version}: {ROWS} transactions from {THREADS} threads in {:.2} s \
         ({} batches, checkpoint=false, -wal file {:.1} MiB), replica complete {:.2} s later, \
         {} Litestream checkpoints ({busy} busy), restore {:.2} s, replica {:.1} MiB, restored {:.1} MiB, every row equal, \
         integrity_check ok",
        commit_time.as_secs_f64(),
        stats.batches,
        stats.wal_file_bytes as f64 / 1_048_576.0,
        replication_wait.as_secs_f64(),
        checkpoints.len(),
        restore_time.as_secs_f64(),
        dir_size(&replica) as f64 / 1_048_576.0,
        std::fs::metadata(&restored).unwrap().len() as f64 / 1_048_576.0,
    );
}
