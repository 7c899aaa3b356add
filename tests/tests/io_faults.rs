//! I/O faults: the crash-simulating VFS makes writes fail with EIO, ENOSPC or a short write
//! and syncs fail with EIO, while writers submit tagged transactions.
//!
//! What litecommit reports, and what these tests hold it to:
//! - a fault at a batch's COMMIT rejects every transaction of the batch with SQLite's code
//!   (`SQLITE_IOERR_WRITE`, `SQLITE_FULL`, `SQLITE_IOERR_FSYNC`, ...); a fault inside one
//!   statement rejects that transaction;
//! - a rejected transaction is not in the database, except when its fate is unknown: after
//!   a failed fsync its frames were written but not made durable, so after a crash they may
//!   or may not be there (SQLite's rule; later commits normally overwrite them); and a
//!   transaction committed midway in a batch (after whole-transaction rollbacks of others)
//!   whose batch then failed is rejected with an error saying its fate is unknown. Such a
//!   transaction may be present or absent, nothing else rejected may be;
//! - every transaction whose promise resolved OK is present, after a clean close or a power
//!   loss;
//! - once the fault clears, the next transactions commit;
//! - a failed checkpoint rejects no transaction.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use litecommit::{CheckpointMode, Committer, Config, Durability, Error};
use litecommit_tests::rng::{soak, Rng};
use litecommit_tests::vfs::ledger::{self, Ledger, Tagged};
use litecommit_tests::vfs::{Disk, FaultCounts, FaultKind, Loss, Target, Trigger};
use rusqlite::ffi;

/// Generous bound on one wait: only a stuck committer reaches it.
const WAIT: Duration = Duration::from_secs(60);
const WRITERS: u64 = 3;
/// Each kind of fault, with the extended code SQLite reports for it.
const FAULT_CODES: [(FaultKind, i32); 4] = [
    (FaultKind::WriteEio, ffi::SQLITE_IOERR_WRITE),
    (FaultKind::FsyncEio, ffi::SQLITE_IOERR_FSYNC),
    (FaultKind::Enospc, ffi::SQLITE_FULL),
    (FaultKind::ShortWrite, ffi::SQLITE_FULL),
];
/// Transactions that fail with `OR ROLLBACK`: the rest of their batch runs again or is
/// committed midway.
const FAILING_PERCENT: u64 = 8;

fn config(checkpoints: bool, cache_size_kib: u64) -> Config {
    Config {
        durability: Durability::Full,
        read_connections: 1,
        checkpoint: checkpoints,
        passive_threshold_mb: 0.02,
        restart_threshold_mb: 0.1,
        checkpoint_busy_timeout_ms: 20,
        cache_size_kib,
        // TRUNCATE checkpoints whenever the writer pauses for a millisecond.
        truncate_when_idle: checkpoints,
        idle_ms: 1,
        ..Config::default()
    }
}

/// Whether a rejection leaves the transaction's fate unknown: a failed fsync (its frames
/// were written, not synced), or a batch that failed after committing it midway.
fn fate_unknown(e: &Error) -> bool {
    e.extended_code() == Some(ffi::SQLITE_IOERR_FSYNC)
        || e.to_string()
            .contains("whether it is in the database is unknown")
}

/// The codes a fault may surface as (primary code, for any extended code of it).
fn is_io_error(e: &Error) -> bool {
    matches!(e, Error::Sqlite { code, .. } if *code == ffi::SQLITE_IOERR || *code == ffi::SQLITE_FULL)
}

fn open(disk: &Disk, config: Config) -> Committer {
    let committer = Committer::open(disk.uri("db"), config).unwrap();
    committer.transaction(ledger::schema()).unwrap();
    committer
}

#[test]
fn each_fault_rejects_its_batch_with_its_code_and_the_next_transaction_commits() {
    let disk = Disk::new(1).unwrap();
    let committer = open(&disk, config(false, 8192));
    let mut rng = Rng::new(1);
    let mut ledger = Ledger::default();
    let mut id = 0;
    for (kind, code) in FAULT_CODES {
        // A commit of one transaction writes at least one frame (a header, then a page) and
        // syncs once: the fault lands on its first or its second write, or on its sync.
        let calls = if kind == FaultKind::FsyncEio { 1 } else { 2 };
        for nth in 1..=calls {
            disk.inject(kind, Target::Wal, Trigger::Nth(nth));
            let failing = Tagged::random(id, 0, &mut rng);
            let next = Tagged::random(id + 1, 0, &mut rng);
            id += 2;
            ledger.submitted(failing.id);
            ledger.submitted(next.id);
            match committer.transaction(failing.transaction()) {
                Err(Error::Sqlite {
                    extended_code,
                    message,
                    ..
                }) => {
                    assert_eq!(extended_code, code, "{kind:?} on call {nth}: {message}");
                    ledger.rejected(failing.id, code == ffi::SQLITE_IOERR_FSYNC);
                }
                other => panic!("{kind:?} on call {nth}: expected an error, got {other:?}"),
            }
            assert!(!disk.fault_armed(), "{kind:?} on call {nth} never fired");
            committer
                .transaction(next.transaction())
                .unwrap_or_else(|e| panic!("after {kind:?} on call {nth}: {e}"));
            ledger.resolved(next.id);
        }
    }
    assert_eq!(disk.faults_fired().total(), 7);
    committer.close().unwrap();
    let snapshot = ledger::read(&disk.path("db")).unwrap();
    let tally = ledger.check(&snapshot, false).unwrap();
    assert_eq!(tally.resolved, 7);
}

#[test]
fn a_failed_checkpoint_rejects_no_transaction() {
    let disk = Disk::new(2).unwrap();
    let committer = open(&disk, config(false, 8192));
    let mut rng = Rng::new(2);
    let mut ledger = Ledger::default();
    for (round, (kind, code)) in FAULT_CODES.into_iter().enumerate() {
        for i in 0..3 {
            let tagged = Tagged::random(round as u64 * 3 + i, 0, &mut rng);
            ledger.submitted(tagged.id);
            committer.transaction(tagged.transaction()).unwrap();
            ledger.resolved(tagged.id);
        }
        disk.inject(kind, Target::Main, Trigger::Nth(1));
        match committer.checkpoint(CheckpointMode::Truncate) {
            Err(e) => assert_eq!(e.extended_code(), Some(code), "{kind:?}: {e}"),
            Ok(r) => panic!("{kind:?}: the checkpoint succeeded: {r:?}"),
        }
        let r = committer.checkpoint(CheckpointMode::Truncate).unwrap();
        assert!(!r.busy && r.log_frames == 0, "{kind:?}: {r:?}");
    }
    committer.close().unwrap();
    let tally = ledger
        .check(&ledger::read(&disk.path("db")).unwrap(), false)
        .unwrap();
    assert_eq!(tally.resolved, 12);
}

#[test]
fn a_transaction_rejected_by_a_failed_fsync_may_survive_a_power_loss() {
    // The fsync of its commit fails and the power goes right after: its frames were written
    // but never synced, so what the disk kept decides.
    for (loss, survives) in [(Loss::Clean, false), (Loss::Flushed, true)] {
        let disk = Disk::new(3).unwrap();
        let committer = open(&disk, config(false, 8192));
        let tagged = Tagged::random(1, 0, &mut Rng::new(3));
        disk.cut_power_at_next_fault();
        disk.inject(FaultKind::FsyncEio, Target::Wal, Trigger::Nth(1));
        let err = committer.transaction(tagged.transaction()).unwrap_err();
        assert_eq!(err.extended_code(), Some(ffi::SQLITE_IOERR_FSYNC), "{err}");
        assert!(disk.power_is_off());
        drop(committer);
        disk.apply_power_loss(&mut Rng::new(3), loss).unwrap();
        let snapshot = ledger::read(&disk.path("db")).unwrap();
        assert_eq!(snapshot.present.contains(&tagged.id), survives, "{loss:?}");
    }
}

#[derive(Debug, Default)]
struct Totals {
    episodes: usize,
    faults: FaultCounts,
    resolved: usize,
    rejected_unknown: usize,
    rejected_other: usize,
    unknown_present: usize,
    power_losses: usize,
    power_losses_after_fsync_error: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    Clean,
    PowerLoss,
    PowerLossAfterFsyncError,
}

/// Submits until `stop`; records every outcome. Errors for anything that must not happen.
fn write_until(
    committer: &Committer,
    owner: u64,
    stop: &AtomicBool,
    next_id: &AtomicU64,
    ledger: &Mutex<Ledger>,
    totals: &Mutex<Totals>,
    mut rng: Rng,
) -> Result<(), String> {
    while !stop.load(Ordering::SeqCst) {
        let mut pending = Vec::new();
        for _ in 0..1 + rng.below(16) {
            let id = next_id.fetch_add(1, Ordering::SeqCst);
            let tagged = Tagged::random_failing(id, owner, FAILING_PERCENT, &mut rng);
            ledger.lock().unwrap().submitted(tagged.id);
            let p = committer
                .submit(tagged.transaction())
                .map_err(|e| format!("submit failed: {e}"))?;
            pending.push((tagged, p));
        }
        for (tagged, p) in pending {
            let id = tagged.id;
            match p.wait_timeout(WAIT) {
                Ok(_) if tagged.fails => {
                    return Err(format!("transaction {id} must fail but committed"))
                }
                Ok(_) => ledger.lock().unwrap().resolved(id),
                // Rejected by its own statement: it changed nothing.
                Err(e) if tagged.fails && e.is_constraint() => {
                    ledger.lock().unwrap().rejected(id, false)
                }
                Err(e) if is_io_error(&e) => {
                    let unknown = fate_unknown(&e);
                    ledger.lock().unwrap().rejected(id, unknown);
                    let mut totals = totals.lock().unwrap();
                    if unknown {
                        totals.rejected_unknown += 1;
                    } else {
                        totals.rejected_other += 1;
                    }
                }
                Err(e) => return Err(format!("transaction {id}: unexpected error {e:?}")),
            }
        }
    }
    Ok(())
}

/// Arms one random fault and returns once it fired, driving checkpoints when only the
/// database file (which only checkpoints write) is targeted.
fn one_fault(disk: &Disk, committer: &Committer, rng: &mut Rng) -> Result<(), String> {
    let kind = *rng.pick(&FaultKind::ALL);
    let target = *rng.pick(&[Target::Wal, Target::Wal, Target::Main, Target::Any]);
    let trigger = if rng.chance(70) {
        Trigger::Nth(1 + rng.below(30))
    } else {
        Trigger::PerMille(50 + rng.below(450) as u32)
    };
    let fired_before = disk.faults_fired().total();
    let wanted = fired_before + 1 + rng.below(3);
    disk.inject(kind, target, trigger);
    if target == Target::Main {
        let modes = [CheckpointMode::Passive, CheckpointMode::Truncate];
        // The number of attempts depends on timing: they draw from their own generator.
        let mut modes_rng = Rng::new(rng.next_u64());
        let mut attempts = 0;
        while disk.faults_fired().total() < wanted && disk.fault_armed() {
            attempts += 1;
            if attempts > 100_000 {
                return Err(format!("{kind:?} on {target:?} ({trigger:?}) never fired"));
            }
            if let Err(e) = committer.checkpoint(*modes_rng.pick(&modes)) {
                if !is_io_error(&e) {
                    return Err(format!("checkpoint: unexpected error {e:?}"));
                }
            }
        }
    } else if !disk.wait_faults_fired(wanted.min(fired_before + 1), WAIT) {
        return Err(format!("{kind:?} on {target:?} ({trigger:?}) never fired"));
    } else if matches!(trigger, Trigger::PerMille(_)) {
        // Let a random fault fire a few times before it clears.
        disk.wait_faults_fired(wanted, WAIT);
    }
    disk.clear_faults();
    Ok(())
}

#[test]
fn random_faults_while_writers_submit_lose_nothing_acknowledged() {
    let seed = Rng::seed_from_env();
    println!("io faults: seed {seed}");
    let (runs, episodes) = if soak() { (40, 60) } else { (3, 25) };
    let totals = Mutex::new(Totals::default());
    for run in 0..runs {
        // Generator 0 of a run sets it up and ends it; episode `e` draws from generator
        // `e + 1`.
        let run_seed = Rng::derive(seed, run, 0);
        let mut rng = Rng::new(run_seed);
        let disk = Disk::new(rng.next_u64()).unwrap();
        // A small page cache spills frames to the -wal file in the middle of a batch, so
        // that faults also hit single statements, not only COMMIT.
        let cache_size_kib = *rng.pick(&[16, 8192]);
        let committer = open(&disk, config(true, cache_size_kib));
        let ledger = Mutex::new(Ledger::default());
        let (stop, next_id) = (AtomicBool::new(false), AtomicU64::new(0));
        let seeds: Vec<u64> = (0..WRITERS).map(|_| rng.next_u64()).collect();
        let mut ending = Ending::Clean;
        let context = |what: &str| format!("seed {seed} (run seed {run_seed}), run {run}: {what}");
        std::thread::scope(|scope| {
            let writers: Vec<_> = seeds
                .into_iter()
                .enumerate()
                .map(|(owner, seed)| {
                    let (committer, stop, next_id, ledger, totals) =
                        (&committer, &stop, &next_id, &ledger, &totals);
                    scope.spawn(move || {
                        write_until(
                            committer,
                            owner as u64,
                            stop,
                            next_id,
                            ledger,
                            totals,
                            Rng::new(seed),
                        )
                    })
                })
                .collect();
            for episode in 0..episodes {
                let episode_seed = Rng::derive(seed, run, episode + 1);
                let mut episode_rng = Rng::new(episode_seed);
                let probe_id = next_id.fetch_add(1, Ordering::SeqCst);
                let result = one_fault(&disk, &committer, &mut episode_rng).and_then(|()| {
                    // The fault is cleared: the committer must be working again.
                    let probe = Tagged::random(probe_id, WRITERS, &mut episode_rng);
                    ledger.lock().unwrap().submitted(probe.id);
                    committer.transaction(probe.transaction()).map_err(|e| {
                        format!("the first transaction after the fault failed: {e}")
                    })?;
                    ledger.lock().unwrap().resolved(probe.id);
                    Ok(())
                });
                if let Err(e) = result {
                    stop.store(true, Ordering::SeqCst);
                    panic!(
                        "{}",
                        context(&format!(
                            "episode {episode} (episode seed {episode_seed}): {e}"
                        ))
                    );
                }
                totals.lock().unwrap().episodes += 1;
            }
            // End with a power loss, right after a failed -wal fsync (that batch's frames
            // are written but not synced) or not, or with a clean close (and a power loss
            // after it): acknowledged work survives each.
            ending = *rng.pick(&[
                Ending::Clean,
                Ending::PowerLoss,
                Ending::PowerLossAfterFsyncError,
            ]);
            match ending {
                Ending::Clean => {}
                Ending::PowerLoss => disk.cut_power_after(1 + rng.below(50)),
                Ending::PowerLossAfterFsyncError => {
                    // Counted before arming: a writer's fsync may hit the fault at once.
                    let fired = disk.faults_fired().total();
                    disk.cut_power_at_next_fault();
                    disk.inject(FaultKind::FsyncEio, Target::Wal, Trigger::Nth(1));
                    if !disk.wait_faults_fired(fired + 1, WAIT) {
                        stop.store(true, Ordering::SeqCst);
                        panic!("{}", context("the last fault never fired"));
                    }
                }
            }
            if ending != Ending::Clean && !disk.wait_power_off(WAIT) {
                stop.store(true, Ordering::SeqCst);
                panic!("{}", context("the power never went off"));
            }
            stop.store(true, Ordering::SeqCst);
            for w in writers {
                if let Err(e) = w.join().unwrap() {
                    panic!("{}", context(&e));
                }
            }
        });
        drop(committer);
        if ending == Ending::Clean {
            // A clean close checkpoints and removes the WAL: the database file alone holds
            // every row, durably (a power loss right after close takes nothing back).
            assert!(
                !disk.path("db-wal").exists(),
                "{}",
                context("the -wal file is still there after a clean close")
            );
        }
        let loss = *rng.pick(&Loss::ALL);
        // Restoring draws once per unsynced write, a number that depends on timing.
        disk.apply_power_loss(&mut Rng::new(rng.next_u64()), loss)
            .unwrap_or_else(|e| panic!("{}", context(&e)));
        let snapshot = ledger::read(&disk.path("db")).unwrap_or_else(|e| panic!("{}", context(&e)));
        let tally = ledger
            .lock()
            .unwrap()
            .check(&snapshot, false)
            .unwrap_or_else(|e| panic!("{}", context(&e)));
        let mut totals = totals.lock().unwrap();
        totals.faults.add(disk.faults_fired());
        totals.resolved += tally.resolved;
        totals.unknown_present += tally.unknown_present;
        totals.power_losses += usize::from(ending == Ending::PowerLoss);
        totals.power_losses_after_fsync_error +=
            usize::from(ending == Ending::PowerLossAfterFsyncError);
    }
    let totals = totals.into_inner().unwrap();
    println!(
        "io faults: seed {seed}: {} episodes, faults fired {:?}, {} resolved transactions \
         checked present, rejected with an unknown fate (failed fsync, or committed midway in a failed batch) {} (present afterwards {}), rejected \
         otherwise {} (all absent), runs ended by a power loss {} (right after a failed \
         -wal fsync {}), losses 0",
        totals.episodes,
        totals.faults,
        totals.resolved,
        totals.rejected_unknown,
        totals.unknown_present,
        totals.rejected_other,
        totals.power_losses,
        totals.power_losses_after_fsync_error
    );
    assert!(totals.faults.total() >= totals.episodes as u64);
}
