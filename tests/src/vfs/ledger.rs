//! Transactions tagged with their id, and the checks of what a database holds after a
//! crash. Every row describes its own transaction (id, index, row count, counter it bumped),
//! so a half-applied transaction is visible even to a reader that never saw it submitted.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use litecommit::{params, Transaction};
use rusqlite::{Connection, OpenFlags};

use crate::rng::Rng;

/// The tables the tagged transactions write, as one transaction.
pub fn schema() -> Transaction {
    Transaction::new()
        .push(
            "CREATE TABLE IF NOT EXISTS items (tx INTEGER NOT NULL, part INTEGER NOT NULL, \
             of INTEGER NOT NULL, counted INTEGER, payload BLOB NOT NULL, \
             PRIMARY KEY (tx, part))",
            (),
        )
        .push(
            "CREATE TABLE IF NOT EXISTS counters (owner INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
            (),
        )
}

/// One tagged transaction: `parts` rows of `items`, and maybe one bump of a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tagged {
    /// Its id, unique in the database.
    pub id: u64,
    /// How many rows it inserts (2 or 3).
    pub parts: u32,
    /// The counter it increments, if any.
    pub counter: Option<u64>,
    /// Whether it ends with a statement that fails with `OR ROLLBACK`, which makes SQLite
    /// roll back the whole SQLite transaction: the committer must reject it alone (and run
    /// the rest of the batch again, or commit it midway).
    pub fails: bool,
}

impl Tagged {
    /// A transaction with id `id` that may bump the counter of `owner`; it does not fail.
    pub fn random(id: u64, owner: u64, rng: &mut Rng) -> Tagged {
        Tagged {
            id,
            parts: 2 + rng.below(2) as u32,
            counter: rng.chance(40).then_some(owner),
            fails: false,
        }
    }

    /// Like [`Tagged::random`], failing (see [`Tagged::fails`]) with probability
    /// `percent`/100.
    pub fn random_failing(id: u64, owner: u64, percent: u64, rng: &mut Rng) -> Tagged {
        let tagged = Tagged::random(id, owner, rng);
        Tagged {
            fails: rng.chance(percent),
            ..tagged
        }
    }

    /// Whether `outcome` is what this transaction must get when nothing else goes wrong.
    pub fn expected(&self, outcome: &litecommit::Outcome) -> bool {
        match outcome {
            Ok(_) => !self.fails,
            Err(e) => self.fails && e.is_constraint(),
        }
    }

    /// The statements to submit.
    pub fn transaction(&self) -> Transaction {
        let id = self.id as i64;
        let counted = self.counter.map(|c| c as i64);
        let mut tx = Transaction::new();
        for part in 0..self.parts {
            tx = tx.push(
                "INSERT INTO items (tx, part, of, counted, payload) VALUES (?, ?, ?, ?, ?)",
                params![id, part, self.parts, counted, payload(self.id, part)],
            );
        }
        if let Some(owner) = counted {
            tx = tx.push(
                "INSERT INTO counters (owner, n) VALUES (?, 1) \
                 ON CONFLICT (owner) DO UPDATE SET n = n + 1",
                params![owner],
            );
        }
        if self.fails {
            tx = tx.push(
                "INSERT OR ROLLBACK INTO items (tx, part, of, counted, payload) \
                 VALUES (?, 0, 0, NULL, x'')",
                params![id],
            );
        }
        tx
    }
}

/// The payload of a row: 8 to 1,500 bytes derived from its id and index, so that a damaged
/// row is recognised.
pub fn payload(id: u64, part: u32) -> Vec<u8> {
    let mut rng = Rng::new(id.wrapping_mul(31).wrapping_add(u64::from(part)));
    let len = 8 + rng.below(1_493) as usize;
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// What a database holds, read with a plain connection after its integrity was checked.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Transactions present (each with all of its rows).
    pub present: HashSet<u64>,
}

/// Opens `path` read-only with the default VFS and checks it: `integrity_check` is ok, every
/// transaction has all of its rows or none, every row's payload is intact and every counter
/// equals the number of present transactions that bumped it.
pub fn read(path: &Path) -> Result<Snapshot, String> {
    let err = |e: rusqlite::Error| format!("{}: {e}", path.display());
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(err)?;
    let integrity: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(err)?;
    if integrity != ["ok"] {
        return Err(format!("integrity_check: {integrity:?}"));
    }
    let mut rows: BTreeMap<u64, (u32, Vec<u32>, Option<u64>)> = BTreeMap::new();
    let mut stmt = conn
        .prepare("SELECT tx, part, of, counted, payload FROM items ORDER BY tx, part")
        .map_err(err)?;
    let mut cursor = stmt.query([]).map_err(err)?;
    while let Some(row) = cursor.next().map_err(err)? {
        let (id, part, of): (i64, u32, u32) = (
            row.get(0).map_err(err)?,
            row.get(1).map_err(err)?,
            row.get(2).map_err(err)?,
        );
        let id = id as u64;
        let counted: Option<i64> = row.get(3).map_err(err)?;
        let counted = counted.map(|c| c as u64);
        let data: Vec<u8> = row.get(4).map_err(err)?;
        if data != payload(id, part) {
            return Err(format!(
                "transaction {id}: the payload of row {part} is damaged"
            ));
        }
        let entry = rows.entry(id).or_insert((of, Vec::new(), counted));
        if entry.0 != of || entry.2 != counted {
            return Err(format!(
                "transaction {id}: its rows disagree on what it was"
            ));
        }
        entry.1.push(part);
    }
    let mut bumps: HashMap<u64, i64> = HashMap::new();
    let mut snapshot = Snapshot::default();
    for (id, (of, parts, counted)) in rows {
        if parts != (0..of).collect::<Vec<_>>() {
            return Err(format!(
                "transaction {id} is half-applied: rows {parts:?} of {of}"
            ));
        }
        if let Some(owner) = counted {
            *bumps.entry(owner).or_default() += 1;
        }
        snapshot.present.insert(id);
    }
    let counters: HashMap<u64, i64> = conn
        .prepare("SELECT owner, n FROM counters")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))?
                .collect()
        })
        .map_err(err)?;
    let owners: HashSet<u64> = counters.keys().chain(bumps.keys()).copied().collect();
    for owner in owners {
        let (stored, expected) = (counters.get(&owner), bumps.get(&owner));
        if stored != expected {
            return Err(format!(
                "counter {owner} is {stored:?} but {expected:?} present transactions bumped it"
            ));
        }
    }
    Ok(snapshot)
}

/// Every transaction submitted to one database and what its submitter was told.
#[derive(Debug, Default)]
pub struct Ledger {
    submitted: HashSet<u64>,
    /// Resolved OK: must be present from then on.
    resolved: HashSet<u64>,
    /// Rejected with any other error: must never be present.
    rejected: HashSet<u64>,
    /// Present at an earlier check: a crash never takes back what a check saw on disk.
    seen: HashSet<u64>,
    /// Submitted before an earlier check (whose fate that check settled).
    checked: HashSet<u64>,
}

/// The result of one [`Ledger::check`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Transactions present.
    pub present: usize,
    /// Resolved transactions checked present.
    pub resolved: usize,
    /// Resolved transactions missing (only allowed with `resolved_may_be_lost`).
    pub resolved_lost: usize,
    /// Transactions whose fate was unknown (unresolved, or rejected after a failed fsync)
    /// found present, counting only those submitted since the previous check.
    pub unknown_present: usize,
    /// Likewise, found absent.
    pub unknown_absent: usize,
}

impl Ledger {
    /// Records a submission (before it is submitted).
    pub fn submitted(&mut self, id: u64) {
        self.submitted.insert(id);
    }

    /// Records that its promise resolved OK.
    pub fn resolved(&mut self, id: u64) {
        self.resolved.insert(id);
    }

    /// Records a rejection; `uncertain` when the data may have reached the disk anyway (a
    /// failed fsync), which leaves its fate unknown like an unresolved transaction's.
    pub fn rejected(&mut self, id: u64, uncertain: bool) {
        if !uncertain {
            self.rejected.insert(id);
        }
    }

    /// Transactions resolved so far.
    pub fn resolved_count(&self) -> usize {
        self.resolved.len()
    }

    /// Checks a snapshot: every resolved (and every earlier seen) transaction present, no
    /// rejected one present, nothing present that was never submitted. With
    /// `resolved_may_be_lost` (durability `normal`), resolved ones may be missing.
    pub fn check(
        &mut self,
        snapshot: &Snapshot,
        resolved_may_be_lost: bool,
    ) -> Result<Tally, String> {
        let mut tally = Tally {
            present: snapshot.present.len(),
            ..Tally::default()
        };
        if let Some(id) = snapshot
            .present
            .iter()
            .find(|id| !self.submitted.contains(id))
        {
            return Err(format!(
                "transaction {id} is present but was never submitted"
            ));
        }
        if let Some(id) = self
            .rejected
            .iter()
            .find(|id| snapshot.present.contains(id))
        {
            return Err(format!("transaction {id} was rejected but is present"));
        }
        if let Some(id) = self.seen.iter().find(|id| !snapshot.present.contains(id)) {
            return Err(format!(
                "transaction {id} was present after an earlier crash and is gone"
            ));
        }
        for id in &self.submitted {
            let present = snapshot.present.contains(id);
            if self.resolved.contains(id) {
                if present {
                    tally.resolved += 1;
                } else if resolved_may_be_lost {
                    tally.resolved_lost += 1;
                } else {
                    return Err(format!("transaction {id} resolved OK but is missing"));
                }
            } else if !self.rejected.contains(id) && !self.checked.contains(id) {
                if present {
                    tally.unknown_present += 1;
                } else {
                    tally.unknown_absent += 1;
                }
            }
        }
        self.seen.clone_from(&snapshot.present);
        self.checked.clone_from(&self.submitted);
        Ok(tally)
    }
}
