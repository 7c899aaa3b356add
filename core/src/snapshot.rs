//! Read snapshots: several queries that all see the database as it was at one moment.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::read_pool::ReadPool;
use crate::transaction::{Rows, Statement};
use crate::value::Params;

/// A read transaction on one of the committer's read connections, begun by
/// [`Committer::snapshot`](crate::Committer::snapshot): every query sees the database as it
/// was when the snapshot began, whatever commits meanwhile.
///
/// It holds its connection until dropped, so the read pool has one fewer for other
/// queries, and the checkpoint scheduler cannot checkpoint past (or restart the WAL behind)
/// the moment it fixes: keep it short. Dropping it rolls back and gives the connection
/// back. `Send + Sync`: queries from several threads run one after another.
pub struct Snapshot {
    /// The pool that lent the connection.
    pool: Arc<ReadPool>,
    /// The pool's id for it.
    id: u64,
    /// The process that began it: in a forked child it touches nothing of the parent's.
    pid: u32,
}

impl Snapshot {
    /// Begins a snapshot on `pool` (waiting for a free connection).
    pub(crate) fn begin(pool: &Arc<ReadPool>) -> Result<Snapshot> {
        let id = pool.begin_snapshot()?;
        Ok(Snapshot {
            pool: Arc::clone(pool),
            id,
            pid: crate::process::id(),
        })
    }

    /// Runs a read-only statement inside the snapshot. Fails with [`Error::Closed`] once
    /// the committer is closed, and with [`Error::Forked`] in a forked child.
    pub fn query(&self, sql: &str, params: impl Into<Params>) -> Result<Rows> {
        if crate::process::id() != self.pid {
            return Err(Error::Forked {
                opened_by: self.pid,
            });
        }
        self.pool
            .snapshot_query(self.id, &Statement::new(sql.to_owned(), params))
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot").field("id", &self.id).finish()
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        // In a forked child the pool's lock may be held by a thread that does not exist
        // there, and the connection is the parent's: leave both alone.
        if crate::process::id() == self.pid {
            self.pool.end_snapshot(self.id);
        }
    }
}
