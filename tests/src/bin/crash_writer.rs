//! The child process of the kill -9 test: opens a committer on a database and writes tagged
//! transactions from several threads, printing `ack <id>` on stdout (flushed) as each
//! promise resolves, until it is killed or its stdout is closed. Every transaction whose id
//! is 15 modulo 16 fails (see `fails`).
//!
//! Usage: `crash_writer <database> <first id> <threads> <full|normal|off> <seed>`

use std::io::Write;
use std::process::ExitCode;

use litecommit::{Committer, Config};
use litecommit_tests::rng::Rng;
use litecommit_tests::vfs::ledger::{self, Tagged};

/// Each thread stops after this many transactions (the parent kills it long before).
const MAX_PER_THREAD: u64 = 1_000_000;

/// Whether transaction `id` ends with a statement that fails with `OR ROLLBACK` (so that
/// batches run again or commit midway); the parent checks that none of them is present.
fn fails(id: u64) -> bool {
    id % 16 == 15
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crash_writer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, first, threads, durability, seed] = args.as_slice() else {
        return Err(
            "usage: crash_writer <database> <first id> <threads> <durability> <seed>".into(),
        );
    };
    let number = |s: &str| s.parse::<u64>().map_err(|e| format!("{s:?}: {e}"));
    let (first, threads, seed) = (number(first)?, number(threads)?, number(seed)?);
    let config = Config {
        durability: durability.parse().map_err(|e| format!("{e}"))?,
        ..Config::default()
    };
    let committer = Committer::open(path, config).map_err(|e| e.to_string())?;
    committer
        .transaction(ledger::schema())
        .map_err(|e| e.to_string())?;
    let mut seeds = Rng::new(seed);
    std::thread::scope(|scope| {
        for owner in 0..threads {
            let mut rng = Rng::new(seeds.next_u64());
            let committer = &committer;
            scope.spawn(move || {
                let mut k = 0;
                while k < MAX_PER_THREAD {
                    // Ids of this thread: first + owner, then every `threads`-th one.
                    let batch: Vec<Tagged> = (0..1 + rng.below(8))
                        .map(|i| {
                            let id = first + owner + (k + i) * threads;
                            Tagged {
                                fails: fails(id),
                                ..Tagged::random(id, owner, &mut rng)
                            }
                        })
                        .collect();
                    k += batch.len() as u64;
                    let pending: Vec<_> = batch
                        .iter()
                        .map(|t| committer.submit(t.transaction()).map(|p| (t.id, p)))
                        .collect();
                    for submitted in pending {
                        let Ok((id, p)) = submitted else { return };
                        match p.wait() {
                            Ok(_) => {}
                            Err(e) if fails(id) && e.is_constraint() => continue,
                            Err(e) => {
                                eprintln!("crash_writer: transaction {id}: {e}");
                                return;
                            }
                        }
                        let mut out = std::io::stdout().lock();
                        if writeln!(out, "ack {id}")
                            .and_then(|()| out.flush())
                            .is_err()
                        {
                            // The parent is gone.
                            return;
                        }
                    }
                }
            });
        }
    });
    committer.close().map_err(|e| e.to_string())
}
