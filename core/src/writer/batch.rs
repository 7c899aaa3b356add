//! Running the transactions of one batch on the write connection.
//!
//! Multi-statement transactions run under their own SAVEPOINT. A single statement is
//! atomic by itself unless it fails (`OR FAIL` keeps a failing statement's earlier rows; a
//! deferred foreign-key violation outlives the statement), so single statements run bare,
//! which saves two statements per transaction; once one fails, every transaction of the
//! batch gets a savepoint.
//!
//! Some failures take more than their own transaction with them: a failing bare statement,
//! and statements after which SQLite rolls back the whole SQLite transaction (`OR
//! ROLLBACK`, `RAISE(ROLLBACK)`, SQLITE_FULL, some I/O errors). The failing transaction is
//! rejected, everything is rolled back, the transactions since the SQLite transaction began
//! run again (the results reported are those of this final run), and the batch goes on after
//! the failing one. Re-running the same prefix after each of many such failures would take
//! quadratic time, so once the statements re-run within one SQLite transaction would pass
//! [`RERUN_BUDGET`], the prefix runs one last time and is committed at once ("midway"), and
//! the batch goes on in a new SQLite transaction: each transaction runs a bounded number of
//! extra times, and each commit midway is paid for by the re-runs it saves.
//!
//! With `durability=full`, from the first commit midway to the end of the batch
//! `synchronous` is NORMAL: commits write their frames to the WAL without a sync. After the
//! batch's final COMMIT the WAL file is synced once, which covers every frame written before
//! (the WAL is written from its start again only after a checkpoint has copied all of it,
//! and checkpoints sync it first), and only then do promises resolve: a resolved promise is
//! as durable as ever. After a crash before that sync, WAL recovery keeps a prefix of the
//! batch's commits, each whole or not at all (frame checksums and commit markers), and no
//! promise of the batch had resolved. If the batch fails after a commit midway, the WAL is
//! synced all the same and the transactions committed midway get their results; only if
//! that sync fails too are they rejected with an error saying that whether they are in the
//! database is unknown. Readers may see a commit midway before its promises resolve.
//! A batch with a statement that mentions `synchronous` is never committed midway (that
//! statement could read the lowered level), nor is one on a file system without power-safe
//! overwrite (a commit with `synchronous=FULL` would pad its last frame to a sector there).

use crate::completion::Outcome;
use crate::error::Error;
use crate::metrics::TxOutcome;
use crate::modes::Durability;
use crate::statement;

use super::conn::WriteConn;
use super::retire::Retire;
use super::savepoint::Ran;
use super::Job;

/// Work that may be re-run within one SQLite transaction after whole-transaction rollbacks,
/// in statements (each transaction counting one more), before the transactions to re-run
/// are committed midway instead. Measured: a few times the cost of one commit without a
/// sync; from 16 to 64 the difference is within noise.
const RERUN_BUDGET: usize = 32;

/// Executes the batch. `Err` means the batch as a whole failed; the transactions it
/// committed midway before then still get their results (see [`BatchFailure::answer`]).
/// Before the final COMMIT, `retire` may take the transactions out of `jobs`.
pub(super) fn run(
    db: &mut WriteConn,
    jobs: &mut [Job],
    retire: &mut Retire,
) -> Result<Vec<Outcome>, BatchFailure> {
    db.prepare()
        .map_err(|error| BatchFailure::new(error, Vec::new()))?;
    let n = jobs.len();
    let mut run = BatchRun {
        db,
        jobs,
        outcomes: vec![None; n],
        given_up: vec![false; n],
        savepoints: false,
        start: 0,
        rerun: 0,
        commit_at: None,
        repeat_until: 0,
        unsynced: 0,
        may_commit_midway: None,
    };
    run.begin()?;
    run.run_all()?;
    run.finish(retire)
}

/// How the metrics count the outcome of a transaction of a batch that committed.
pub(super) fn committed_label(outcome: &Outcome) -> TxOutcome {
    match outcome {
        Ok(_) => TxOutcome::Committed,
        Err(_) => TxOutcome::Failed,
    }
}

/// A batch that failed as a whole: BEGIN, COMMIT, or a ROLLBACK failed.
pub(super) struct BatchFailure {
    /// Why it failed.
    pub(super) error: Error,
    /// The first `midway` transactions were committed (midway, or by a COMMIT whose sync
    /// failed) before it.
    midway: usize,
    /// Why the fate of those is unknown: the WAL sync that makes them durable failed.
    /// `None` when they are durable. Boxed: a failure travels in every `Result` of a batch.
    unsynced: Option<Box<Error>>,
    /// Each transaction's outcome in its latest run, if it ran. Those of the transactions
    /// committed midway stand once synced, and so do rejections by a transaction's own
    /// statements (they changed nothing).
    outcomes: Vec<Option<Outcome>>,
}

impl BatchFailure {
    /// A failure before anything was committed, given the outcomes known so far.
    fn new(error: Error, outcomes: Vec<Option<Outcome>>) -> BatchFailure {
        BatchFailure {
            error,
            midway: 0,
            unsynced: None,
            outcomes,
        }
    }

    /// Whether transactions were committed (midway) before the failure.
    pub(super) fn committed_midway(&self) -> bool {
        self.midway > 0
    }

    /// The answer of transaction `i` (taken: ask once per transaction): its own rejection,
    /// its result if it was committed midway and synced, an error saying that its fate is
    /// unknown if it was committed but the sync failed, or else the batch's error.
    pub(super) fn answer(&mut self, i: usize) -> (Outcome, TxOutcome) {
        let ran = self.outcomes.get_mut(i).and_then(Option::take);
        match ran {
            Some(Err(own)) => (Err(own), TxOutcome::Failed),
            Some(Ok(result)) if i < self.midway => match &self.unsynced {
                None => (Ok(result), TxOutcome::Committed),
                Some(error) => (Err(Self::fate_unknown(error)), TxOutcome::Aborted),
            },
            _ => (Err(self.error.clone()), TxOutcome::Aborted),
        }
    }

    /// The error of a committed transaction whose WAL sync failed with `error`: it was
    /// written to the WAL but never synced, so whether it survives is not known.
    fn fate_unknown(error: &Error) -> Error {
        match error {
            Error::Sqlite {
                code,
                extended_code,
                message,
                statement_index,
            } => Error::Sqlite {
                code: *code,
                extended_code: *extended_code,
                message: format!(
                    "{message}; this transaction was committed earlier in its batch without \
                     a sync, so whether it is in the database is unknown"
                ),
                statement_index: *statement_index,
            },
            other => other.clone(),
        }
    }
}

/// Progress through one batch.
struct BatchRun<'a> {
    /// The write connection.
    db: &'a mut WriteConn,
    /// The batch's transactions.
    jobs: &'a mut [Job],
    /// Each transaction's outcome in the latest run of it.
    outcomes: Vec<Option<Outcome>>,
    /// Transactions rejected for good: skipped when the others run again.
    given_up: Vec<bool>,
    /// Every transaction runs under a savepoint (a bare statement failed).
    savepoints: bool,
    /// The first transaction of the open SQLite transaction.
    start: usize,
    /// Work re-run since `start`, in statements (each transaction counting one more).
    rerun: usize,
    /// A commit midway is due when the run reaches this transaction.
    commit_at: Option<usize>,
    /// The transactions before this one are running again.
    repeat_until: usize,
    /// The transactions before this one were committed midway.
    unsynced: usize,
    /// Whether commits midway are allowed, once decided.
    may_commit_midway: Option<bool>,
}

impl BatchRun<'_> {
    /// Runs every transaction, starting over after those that spoil the SQLite transaction.
    fn run_all(&mut self) -> Result<(), BatchFailure> {
        let mut i = 0;
        loop {
            if self.commit_at == Some(i) {
                self.commit_midway(i)?;
            }
            if i == self.jobs.len() {
                return Ok(());
            }
            if self.given_up[i] {
                i += 1;
                continue;
            }
            prefetch_ahead(&*self.jobs, i);
            match self.run_one(i) {
                Ran::Done(outcome) => {
                    self.outcomes[i] = Some(outcome);
                    i += 1;
                }
                Ran::Spoiled(error) => i = self.start_over(i, error)?,
            }
        }
    }

    /// Runs transaction `i`, bare or under its savepoint.
    fn run_one(&mut self, i: usize) -> Ran {
        let tx = &self.jobs[i].tx;
        // A transaction that committed in the run being repeated needs no savepoint: if it
        // fails this time, the whole SQLite transaction is rolled back and run again.
        let repeat_ok = i < self.repeat_until && matches!(self.outcomes[i], Some(Ok(_)));
        let ran = if repeat_ok || (!self.savepoints && tx.statements().len() == 1) {
            self.db.run_bare(tx)
        } else {
            self.db.run_under_savepoint(tx)
        };
        #[cfg(test)]
        self.db.panic_if_injected();
        ran
    }

    /// Rejects transaction `i`, rolls back, and begins again; returns the transaction to
    /// run again from. Plans a commit midway when re-running would pass [`RERUN_BUDGET`].
    fn start_over(&mut self, i: usize, error: Error) -> Result<usize, BatchFailure> {
        self.outcomes[i] = Some(Err(error));
        self.given_up[i] = true;
        self.savepoints = true;
        if self.db.in_transaction() {
            self.db
                .exec("ROLLBACK")
                .map_err(|e| self.fail(e.with_context("ROLLBACK failed")))?;
        }
        let redo: usize = (self.start..i)
            .filter(|&j| !self.given_up[j])
            .map(|j| self.jobs[j].tx.statements().len() + 1)
            .sum();
        self.commit_at = None;
        if redo > 0 && self.rerun + redo > RERUN_BUDGET && self.may_commit_midway() {
            self.commit_at = Some(i);
            self.db.lower_synchronous().map_err(|e| self.fail(e))?;
        } else {
            self.rerun += redo;
        }
        self.begin()?;
        self.repeat_until = i;
        Ok(self.start)
    }

    /// Commits the transactions since `start` midway, then begins a new SQLite
    /// transaction for the ones from `at` on.
    fn commit_midway(&mut self, at: usize) -> Result<(), BatchFailure> {
        self.commit_at = None;
        self.db
            .exec("COMMIT")
            .map_err(|e| self.fail(e.with_context("COMMIT failed")))?;
        self.unsynced = at;
        self.start = at;
        self.rerun = 0;
        self.begin()
    }

    /// Begins the next SQLite transaction of the batch.
    fn begin(&mut self) -> Result<(), BatchFailure> {
        self.db.begin().map_err(|e| self.fail(e))
    }

    /// The batch's final COMMIT, once `retire` had the transactions (nothing runs them
    /// again); after commits midway with `synchronous` lowered, the sync that makes all of
    /// them durable.
    fn finish(mut self, retire: &mut Retire) -> Result<Vec<Outcome>, BatchFailure> {
        retire.take(self.jobs);
        #[cfg(test)]
        if let Some(e) = self.db.injected_commit_failure() {
            return Err(self.fail(e.with_context("COMMIT failed")));
        }
        self.db
            .exec("COMMIT")
            .map_err(|e| self.fail(e.with_context("COMMIT failed")))?;
        if let Err(e) = self.db.sync_if_lowered() {
            let error = e.with_context("COMMIT failed: syncing the WAL");
            return Err(BatchFailure {
                error: error.clone(),
                midway: self.outcomes.len(),
                unsynced: Some(Box::new(error)),
                outcomes: std::mem::take(&mut self.outcomes),
            });
        }
        Ok(self
            .outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| {
                    Err(Error::Internal(
                        "a transaction of the batch was never run".into(),
                    ))
                })
            })
            .collect())
    }

    /// Ends a failed batch: rolls back what is still open (if that fails too, the next
    /// batch tries again first) and returns the failure. After commits midway it syncs the
    /// WAL (as the final COMMIT would have), so that those transactions count as committed.
    fn fail(&mut self, error: Error) -> BatchFailure {
        self.db.roll_back_if_open();
        let unsynced = if self.unsynced > 0 {
            self.db
                .sync_if_lowered()
                .err()
                .map(|e| Box::new(e.with_context("syncing the WAL after the batch failed")))
        } else {
            None
        };
        BatchFailure {
            error,
            midway: self.unsynced,
            unsynced,
            outcomes: std::mem::take(&mut self.outcomes),
        }
    }

    /// Whether this batch may commit midway (decided once per batch): always with
    /// `durability` normal or off; with full, unless a statement mentions `synchronous`
    /// or the WAL's file system lacks power-safe overwrite.
    fn may_commit_midway(&mut self) -> bool {
        if self.db.durability() != Durability::Full {
            return true;
        }
        let (db, jobs) = (&*self.db, &*self.jobs);
        *self.may_commit_midway.get_or_insert_with(|| {
            db.wal_overwrites_safely()
                && !jobs
                    .iter()
                    .flat_map(|job| job.tx.statements())
                    .any(|s| statement::mentions_word(&s.sql, "synchronous"))
        })
    }
}

/// Asks the CPU to bring in what the transactions a few places ahead of `i` will read:
/// they were built on other threads, so their memory is rarely in this core's cache, and
/// each is a chain of allocations (the statements when there are several, then parameters,
/// then text and blob bytes).
fn prefetch_ahead(jobs: &[Job], i: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let fetch = |p: *const u8| {
            // SAFETY: a prefetch reads nothing and never faults, whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) }
        };
        if let Some(job) = jobs.get(i + 4) {
            fetch(job.tx.statements().as_ptr().cast());
        }
        if let Some(job) = jobs.get(i + 2) {
            for stmt in job.tx.statements().iter().take(2) {
                fetch(stmt.sql.as_ptr());
                if let crate::value::Params::Positional(values) = &stmt.params {
                    fetch(values.as_ptr().cast());
                }
            }
        }
        if let Some(job) = jobs.get(i + 1) {
            for stmt in job.tx.statements().iter().take(2) {
                if let crate::value::Params::Positional(values) = &stmt.params {
                    for value in values.iter().take(4) {
                        match value {
                            crate::value::Value::Text(t) => fetch(t.as_ptr()),
                            crate::value::Value::Blob(b) => fetch(b.as_ptr()),
                            _ => {}
                        }
                    }
                }
            }
        }
    }
}
