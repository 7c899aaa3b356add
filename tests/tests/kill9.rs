//! Kill -9: a child process writes tagged transactions from many threads and prints each
//! acknowledged id; the parent kills it with SIGKILL after a random number of acks, then
//! checks with a plain connection that every acknowledged transaction is present, none is
//! half-applied, none of those that must fail (the child's `fails`: ids 15 modulo 16) is
//! present and `integrity_check` is ok. Every durability mode survives a process crash
//! (the operating system still has what was written). Rounds go on with the same database.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use litecommit_tests::rng::{soak, Rng};
use litecommit_tests::vfs::ledger;

/// Generous bound on waiting for the child's next line: only a stuck child reaches it.
const WAIT: Duration = Duration::from_secs(60);
const THREADS: u64 = 8;

#[test]
fn kill_9_never_loses_an_acknowledged_transaction() {
    let seed = Rng::seed_from_env();
    println!("kill -9: seed {seed}");
    let mut rng = Rng::new(seed);
    let rounds = if soak() { 60 } else { 5 };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kill9.db");
    let mut seen: HashSet<u64> = HashSet::new();
    let (mut acks_checked, mut present_total) = (0, 0);
    for round in 0..rounds {
        let durability = *rng.pick(&["full", "normal", "off"]);
        let kill_after = 1 + rng.below(400) as usize;
        let context =
            format!("seed {seed}, round {round}, {durability}, kill after {kill_after} acks");
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash_writer"))
            .arg(&db)
            .arg((round as u64 * 1_000_000_000).to_string())
            .arg(THREADS.to_string())
            .arg(durability)
            .arg(rng.next_u64().to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines_tx, lines) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if lines_tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut acked: HashSet<u64> = HashSet::new();
        let mut killed = false;
        loop {
            let line = match lines.recv_timeout(WAIT) {
                Ok(line) => line.unwrap(),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    panic!("{context}: the child printed nothing for {WAIT:?}");
                }
            };
            let id = line
                .strip_prefix("ack ")
                .and_then(|id| id.parse().ok())
                .unwrap_or_else(|| panic!("{context}: unexpected line {line:?}"));
            acked.insert(id);
            if acked.len() >= kill_after && !killed {
                child.kill().unwrap();
                killed = true;
            }
        }
        reader.join().unwrap();
        let status = child.wait().unwrap();
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "{context}: the child ended on its own ({status}) after {} acks",
            acked.len()
        );
        let snapshot = ledger::read(&db).unwrap_or_else(|e| panic!("{context}: {e}"));
        let mut missing: Vec<_> = acked.difference(&snapshot.present).collect();
        missing.sort();
        assert!(
            missing.is_empty(),
            "{context}: acknowledged but missing: {missing:?}"
        );
        if let Some(id) = snapshot.present.iter().find(|&&id| id % 16 == 15) {
            panic!("{context}: transaction {id} must fail but is present");
        }
        if let Some(id) = seen.difference(&snapshot.present).next() {
            panic!("{context}: transaction {id} was present after an earlier kill and is gone");
        }
        acks_checked += acked.len();
        present_total = snapshot.present.len();
        seen = snapshot.present;
    }
    println!(
        "kill -9: seed {seed}: {rounds} kills, {acks_checked} acknowledged transactions checked \
         present, {present_total} transactions in the database, losses 0"
    );
}
