//! Power loss: writers submit tagged transactions to a committer on the crash-simulating
//! VFS; the power goes at a random write, sync or truncation; the disk keeps what a real one
//! would (the synced state, plus a random part of the unsynced writes, maybe a torn sector).
//! Then, read with a plain connection: with durability `full` every transaction whose promise
//! resolved is present; in every mode no transaction is half-applied and `integrity_check`
//! is ok. Each run goes on writing on the recovered database for several cuts.
//!
//! `LITECOMMIT_SEED=<seed>` replays every round's choices (cut point, loss, configuration,
//! writers' transactions); `LITECOMMIT_SOAK=1` runs 10,000+ cuts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use litecommit::{CheckpointMode, Committer, Config, Durability, Error};
use litecommit_tests::rng::{soak, Rng};
use litecommit_tests::vfs::ledger::{self, Ledger, Tagged};
use litecommit_tests::vfs::{Disk, Loss};

/// Generous bound on one promise: only a stuck committer reaches it.
const WAIT: Duration = Duration::from_secs(60);
const WRITERS: u64 = 3;
/// Transactions that fail with `OR ROLLBACK`: the rest of their batch runs again or is
/// committed midway.
const FAILING_PERCENT: u64 = 8;

struct Scenario {
    name: &'static str,
    durability: Durability,
    /// Background checkpoints with tiny thresholds, and manual ones, so that cuts land
    /// while the checkpointer writes the database file.
    checkpoints: bool,
    runs: usize,
    rounds: usize,
    /// The cut lands on one of the first `max_calls` writes/syncs/truncations of a round.
    max_calls: u64,
}

#[derive(Debug, Default)]
struct Totals {
    cuts: usize,
    resolved: usize,
    resolved_checked: usize,
    unknown_present: usize,
    unknown_absent: usize,
    resolved_lost: usize,
    torn: usize,
    kept: usize,
    partial: usize,
}

fn config(s: &Scenario, rng: &mut Rng) -> Config {
    Config {
        durability: s.durability,
        read_connections: 1,
        checkpoint: s.checkpoints,
        // About 5 and 25 frames of 4 KiB.
        passive_threshold_mb: 0.02,
        restart_threshold_mb: 0.1,
        checkpoint_busy_timeout_ms: 20,
        journal_size_limit: *rng.pick(&[None, Some(0), Some(64 * 1024)]),
        // A small page cache spills frames to the -wal file in the middle of a batch.
        cache_size_kib: *rng.pick(&[16, 8192]),
        // TRUNCATE checkpoints whenever the writer pauses for a millisecond.
        truncate_when_idle: s.checkpoints && rng.chance(50),
        idle_ms: 1,
        ..Config::default()
    }
}

/// Writes until the power goes; returns an error for anything that must not happen.
fn write_until_power_off(
    disk: &Disk,
    committer: &Committer,
    owner: u64,
    checkpoints: bool,
    next_id: &AtomicU64,
    ledger: &Mutex<Ledger>,
    mut rng: Rng,
) -> Result<(), String> {
    let unexpected = |what: String| {
        if disk.power_is_off() {
            Ok(())
        } else {
            Err(format!("{what} while the power was on"))
        }
    };
    while !disk.power_is_off() {
        if checkpoints && rng.chance(5) {
            let mode = *rng.pick(&[
                CheckpointMode::Passive,
                CheckpointMode::Full,
                CheckpointMode::Restart,
                CheckpointMode::Truncate,
            ]);
            if let Err(e) = committer.checkpoint(mode) {
                unexpected(format!("checkpoint({mode}) failed: {e}"))?;
            }
        }
        let mut pending = Vec::new();
        for _ in 0..1 + rng.below(16) {
            let id = next_id.fetch_add(1, Ordering::SeqCst);
            let tagged = Tagged::random_failing(id, owner, FAILING_PERCENT, &mut rng);
            ledger.lock().unwrap().submitted(tagged.id);
            match committer.submit(tagged.transaction()) {
                Ok(p) => pending.push((tagged, p)),
                Err(e) => {
                    ledger.lock().unwrap().rejected(tagged.id, false);
                    unexpected(format!("submit failed: {e}"))?;
                }
            }
        }
        for (tagged, p) in pending {
            let id = tagged.id;
            let outcome = p.wait_timeout(WAIT);
            match &outcome {
                Err(Error::Timeout) => return Err(format!("transaction {id} never resolved")),
                Ok(_) if tagged.fails => {
                    return Err(format!("transaction {id} must fail but committed"))
                }
                Ok(_) => ledger.lock().unwrap().resolved(id),
                // Rejected by its own statement: it changed nothing.
                Err(e) if tagged.fails && e.is_constraint() => {
                    ledger.lock().unwrap().rejected(id, false)
                }
                // Rejected when the power went: maybe written, maybe not (a failed fsync).
                Err(e) => unexpected(format!("transaction {id} failed: {e}"))?,
            }
        }
    }
    Ok(())
}

fn run(s: &Scenario) {
    let seed = Rng::seed_from_env();
    println!("power loss, {}: seed {seed}", s.name);
    let mut totals = Totals::default();
    let scale = if soak() { 30 } else { 1 };
    for run in 0..s.runs * scale {
        // Generator 0 of a run sets it up; round `r` draws from generator `r + 1`.
        let mut setup = Rng::new(Rng::derive(seed, run, 0));
        let disk = Disk::new(setup.next_u64()).unwrap();
        let uri = disk.uri("db");
        {
            let committer = Committer::open(&uri, config(s, &mut setup)).unwrap();
            committer.transaction(ledger::schema()).unwrap();
            // Makes the schema durable in every mode (`normal` syncs only at checkpoints).
            committer.checkpoint(CheckpointMode::Truncate).unwrap();
            committer.close().unwrap();
        }
        let ledger_lock = Mutex::new(Ledger::default());
        let next_id = AtomicU64::new(0);
        for round in 0..s.rounds {
            let round_seed = Rng::derive(seed, run, round + 1);
            let mut rng = Rng::new(round_seed);
            let cut_at = 1 + rng.below(s.max_calls);
            let loss = *rng.pick(&Loss::ALL);
            let config = config(s, &mut rng);
            let context = format!(
                "{}: seed {seed} (round seed {round_seed}), run {run}, round {round}, cut at \
                 call {cut_at}, {loss:?}, cache {} KiB, journal_size_limit {:?}, \
                 truncate_when_idle {}",
                s.name, config.cache_size_kib, config.journal_size_limit, config.truncate_when_idle
            );
            let committer = Committer::open(&uri, config)
                .unwrap_or_else(|e| panic!("{context}: reopening failed: {e}"));
            disk.cut_power_after(cut_at);
            let seeds: Vec<u64> = (0..WRITERS).map(|_| rng.next_u64()).collect();
            // Restoring draws once per unsynced write, a number that depends on timing.
            let mut loss_rng = Rng::new(rng.next_u64());
            let results: Vec<Result<(), String>> = std::thread::scope(|scope| {
                let handles: Vec<_> = seeds
                    .into_iter()
                    .enumerate()
                    .map(|(owner, seed)| {
                        let (disk, committer, next_id, ledger) =
                            (&disk, &committer, &next_id, &ledger_lock);
                        scope.spawn(move || {
                            write_until_power_off(
                                disk,
                                committer,
                                owner as u64,
                                s.checkpoints,
                                next_id,
                                ledger,
                                Rng::new(seed),
                            )
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            for result in results {
                result.unwrap_or_else(|e| panic!("{context}: {e}"));
            }
            drop(committer);
            let report = disk
                .apply_power_loss(&mut loss_rng, loss)
                .unwrap_or_else(|e| panic!("{context}: {e}"));
            let checked = ledger::read(&disk.path("db")).and_then(|snapshot| {
                let mut ledger = ledger_lock.lock().unwrap();
                ledger.check(&snapshot, s.durability != Durability::Full)
            });
            let tally = checked.unwrap_or_else(|e| {
                let kept = disk.preserve();
                panic!("{context}: {e}; {report:?}; files kept in {kept:?}")
            });
            totals.cuts += 1;
            totals.resolved_checked += tally.resolved;
            totals.unknown_present += tally.unknown_present;
            totals.unknown_absent += tally.unknown_absent;
            totals.torn += usize::from(report.torn);
            totals.resolved_lost += tally.resolved_lost;
            totals.kept += report.kept;
            totals.partial += report.partial;
        }
        totals.resolved += ledger_lock.lock().unwrap().resolved_count();
    }
    println!(
        "power loss, {}: seed {seed}: {} cut points, {} transactions resolved, {} resolved \
         checked present over all cuts, unresolved/failed present {} \
         absent {}, resolved but rolled back (durability normal only) {}, unsynced writes \
         kept whole {} in part {}, {} torn sectors",
        s.name,
        totals.cuts,
        totals.resolved,
        totals.resolved_checked,
        totals.unknown_present,
        totals.unknown_absent,
        totals.resolved_lost,
        totals.kept,
        totals.partial,
        totals.torn
    );
    assert!(
        totals.resolved_checked > 0,
        "power loss, {}: seed {seed}: no resolved transaction was checked after a cut",
        s.name
    );
}

#[test]
fn power_loss_never_loses_a_resolved_transaction() {
    run(&Scenario {
        name: "durability full",
        durability: Durability::Full,
        checkpoints: false,
        runs: 25,
        rounds: 12,
        max_calls: 120,
    });
}

#[test]
fn power_loss_during_checkpoints_never_loses_a_resolved_transaction() {
    run(&Scenario {
        name: "durability full, checkpoints",
        durability: Durability::Full,
        checkpoints: true,
        runs: 20,
        rounds: 10,
        max_calls: 400,
    });
}

#[test]
fn power_loss_with_durability_normal_keeps_the_database_consistent() {
    run(&Scenario {
        name: "durability normal, checkpoints",
        durability: Durability::Normal,
        checkpoints: true,
        runs: 5,
        rounds: 10,
        max_calls: 400,
    });
}
