//! What each durability mode does at commit, observed at the VFS: with `full` a promise
//! resolves only after the -wal file's fsync returned; with `normal` and `off` commits do not
//! sync the -wal file at all.

use std::time::Duration;

use litecommit::{params, Committer, Config, Durability, Transaction};
use litecommit_tests::rng::Rng;
use litecommit_tests::vfs::ledger::{self, Tagged};
use litecommit_tests::vfs::{Disk, Target};

/// Generous bound on one wait: only a stuck committer reaches it.
const WAIT: Duration = Duration::from_secs(60);

fn open(disk: &Disk, durability: Durability) -> Committer {
    // No background checkpoints: they sync too, and only the commits are looked at here.
    let config = Config {
        durability,
        checkpoint: false,
        ..Config::default()
    };
    let committer = Committer::open(disk.uri("db"), config).unwrap();
    committer
        .execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", ())
        .unwrap();
    committer
}

#[test]
fn with_durability_full_a_promise_resolves_only_after_the_wal_fsync() {
    let disk = Disk::new(1).unwrap();
    let committer = open(&disk, Durability::Full);
    for round in 0..3 {
        let hold = disk.hold_syncs(Target::Wal);
        let pending = committer
            .submit(Transaction::single(
                "INSERT INTO t (v) VALUES (?)",
                params![format!("row {round}")],
            ))
            .unwrap();
        assert!(
            hold.wait_entered(1, WAIT),
            "round {round}: the commit never synced the -wal file"
        );
        // The writer is inside the fsync now: the promise must still be open, and the row
        // not visible to readers.
        assert!(
            pending.try_get().is_none(),
            "round {round}: resolved before the fsync"
        );
        let visible = committer.query("SELECT count(*) FROM t", ()).unwrap();
        assert_eq!(
            visible.rows[0][0],
            litecommit::Value::Integer(round),
            "round {round}: visible before the fsync"
        );
        hold.release();
        let result = pending.wait_timeout(WAIT).unwrap();
        assert_eq!(result.last().unwrap().changes, 1);
    }
    committer.close().unwrap();
}

#[test]
fn with_durability_full_a_batch_with_rolled_back_transactions_resolves_after_its_fsync() {
    // Transactions that fail with OR ROLLBACK make SQLite roll back the whole batch; the
    // committer runs the others again or commits them midway. Whichever it does, no promise
    // of the batch may resolve before a -wal fsync that follows its last commit.
    let disk = Disk::new(3).unwrap();
    let config = Config {
        checkpoint: false,
        ..Config::default()
    };
    let committer = Committer::open(disk.uri("db"), config).unwrap();
    committer.transaction(ledger::schema()).unwrap();
    let mut rng = Rng::new(3);
    let hold = disk.hold_syncs(Target::Wal);
    // A first transaction keeps the writer inside its fsync while the batch queues up.
    let first = committer
        .submit(Tagged::random(0, 0, &mut rng).transaction())
        .unwrap();
    assert!(hold.wait_entered(1, WAIT));
    let batch: Vec<_> = (1..=60)
        .map(|id| {
            let tagged = Tagged {
                fails: id % 6 == 0,
                ..Tagged::random(id, 0, &mut rng)
            };
            let pending = committer.submit(tagged.transaction()).unwrap();
            (tagged, pending)
        })
        .collect();
    hold.allow(1);
    first.wait_timeout(WAIT).unwrap();
    // The batch's fsync (the writer takes everything queued as one batch).
    assert!(
        hold.wait_entered(2, WAIT),
        "the batch never synced the -wal file"
    );
    for (tagged, pending) in &batch {
        assert!(
            pending.try_get().is_none(),
            "transaction {} resolved before the fsync",
            tagged.id
        );
    }
    hold.release();
    for (tagged, pending) in batch {
        let outcome = pending.wait_timeout(WAIT);
        assert!(tagged.expected(&outcome), "{tagged:?}: {outcome:?}");
    }
    committer.close().unwrap();
    let present = ledger::read(&disk.path("db")).unwrap().present;
    assert_eq!(present.len(), 51, "{present:?}");
}

/// Runs `n` commits one after the other; returns the -wal syncs and writes they caused.
fn syncs_and_writes_of_commits(durability: Durability, n: i64) -> (u64, u64) {
    let disk = Disk::new(2).unwrap();
    let committer = open(&disk, durability);
    let before = disk.counts();
    for i in 0..n {
        committer
            .execute("INSERT INTO t (v) VALUES (?)", params![format!("row {i}")])
            .unwrap();
    }
    let after = disk.counts();
    let rows = committer.query("SELECT count(*) FROM t", ()).unwrap();
    assert_eq!(rows.rows[0][0], litecommit::Value::Integer(n));
    committer.close().unwrap();
    (
        after.wal_syncs - before.wal_syncs,
        after.wal_writes - before.wal_writes,
    )
}

#[test]
fn with_durability_full_every_commit_syncs_the_wal() {
    let (syncs, writes) = syncs_and_writes_of_commits(Durability::Full, 20);
    assert!(writes >= 20, "{writes} writes");
    assert_eq!(syncs, 20, "one -wal fsync per commit");
}

#[test]
fn with_durability_normal_or_off_commits_resolve_without_a_wal_sync() {
    for durability in [Durability::Normal, Durability::Off] {
        let (syncs, writes) = syncs_and_writes_of_commits(durability, 20);
        // The commits did go through the VFS, and none of them synced.
        assert!(writes >= 20, "{durability:?}: {writes} writes");
        assert_eq!(syncs, 0, "{durability:?}: {syncs} -wal syncs");
    }
}
