//! A small pool of read-only connections serving `query`.
//!
//! They are opened by the same SQLite library as the writer. Two copies of SQLite in one
//! process touching one database file can corrupt it: POSIX advisory locks belong to the
//! process, so one copy closing its file descriptor drops the other copy's locks (SQLite's
//! "How To Corrupt An SQLite Database File", section 2.2.1).

use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;

use crate::config::Config;
use crate::connection;
use crate::error::{Error, Result};
use crate::statement;
use crate::transaction::{Rows, Statement};

/// How long `close` waits for queries still running before it stops waiting for them (their
/// connections then close as soon as they come back).
const CLOSE_PATIENCE: Duration = Duration::from_secs(60);

/// The read-only connections, lent to one query at a time.
pub(crate) struct ReadPool {
    /// The idle connections and the pool's state.
    state: Mutex<PoolState>,
    /// Signalled when a connection comes back or the pool closes.
    changed: Condvar,
}

/// What the pool's lock guards.
struct PoolState {
    /// Connections waiting for a query.
    idle: Vec<Connection>,
    /// Connections lent out to queries running now.
    lent: usize,
    /// `close` was called: no query may start.
    closed: bool,
}

impl ReadPool {
    pub(crate) fn open(path: &Path, config: &Config) -> Result<ReadPool> {
        let idle = (0..config.read_connections)
            .map(|_| connection::open_reader(path, config))
            .collect::<Result<Vec<_>>>()?;
        Ok(ReadPool {
            state: Mutex::new(PoolState {
                idle,
                lent: 0,
                closed: false,
            }),
            changed: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs a read-only statement on a free connection (waiting for one if all are busy).
    pub(crate) fn query(&self, stmt: &Statement) -> Result<Rows> {
        // A BEGIN would leave the pooled connection inside a stale read transaction.
        statement::check_allowed(&stmt.sql, 0)?;
        let conn = {
            let mut st = self.lock();
            loop {
                if st.closed {
                    return Err(Error::Closed);
                }
                if let Some(conn) = st.idle.pop() {
                    st.lent += 1;
                    break conn;
                }
                st = self.changed.wait(st).unwrap_or_else(|p| p.into_inner());
            }
        };
        let result = statement::run(&conn, stmt, 0).map(|r| r.rows);
        let closing = {
            let mut st = self.lock();
            st.lent -= 1;
            if st.closed {
                Some(conn)
            } else {
                st.idle.push(conn);
                None
            }
        };
        // Closed outside the lock: closing a connection does I/O.
        drop(closing);
        self.changed.notify_all();
        result
    }

    /// Refuses new queries, waits (up to a generous bound) for the running ones, and
    /// closes every connection, so that the writer can be the last connection to close.
    pub(crate) fn close(&self) {
        let idle = {
            let mut st = self.lock();
            st.closed = true;
            std::mem::take(&mut st.idle)
        };
        // Wakes queries waiting for a free connection: they fail with `Error::Closed`.
        self.changed.notify_all();
        drop(idle);
        let st = self.lock();
        let waited = self
            .changed
            .wait_timeout_while(st, CLOSE_PATIENCE, |st| st.lent > 0);
        drop(waited);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    const PATIENCE: Duration = Duration::from_secs(60);

    fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !condition() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn close_waits_for_running_queries_then_refuses_new_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pool.db");
        // A rollback-journal database: a reader waits (in its busy handler) while another
        // connection holds the exclusive lock, which keeps a query running for as long as
        // this test wants.
        let holder = Connection::open(&path).unwrap();
        holder
            .execute_batch("CREATE TABLE t (v); INSERT INTO t VALUES (1);")
            .unwrap();
        let config = Config {
            read_connections: 2,
            busy_timeout_ms: 60_000,
            ..Config::default()
        };
        let pool = Arc::new(ReadPool::open(&path, &config).unwrap());
        holder
            .execute_batch("BEGIN EXCLUSIVE; INSERT INTO t VALUES (2);")
            .unwrap();

        let running = {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || pool.query(&Statement::new("SELECT count(*) FROM t", ())))
        };
        wait_until("the query to take a connection", || pool.lock().lent == 1);
        let closing = {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || {
                pool.close();
                // What close left behind when it returned.
                let st = pool.lock();
                (st.lent, st.idle.len())
            })
        };
        wait_until("close to start", || pool.lock().closed);
        assert!(matches!(
            pool.query(&Statement::new("SELECT 1", ())),
            Err(Error::Closed)
        ));
        // Only now can the running query finish; close must still be waiting for it.
        holder.execute_batch("COMMIT").unwrap();
        assert_eq!(closing.join().unwrap(), (0, 0));
        let rows = running.join().unwrap().unwrap();
        assert_eq!(rows.rows, vec![vec![crate::Value::Integer(2)]]);
        assert!(matches!(
            pool.query(&Statement::new("SELECT 1", ())),
            Err(Error::Closed)
        ));
    }
}
