//! A small pool of read-only connections serving `query`.
//!
//! They are opened by the same SQLite library as the writer. Two copies of SQLite in one
//! process touching one database file can corrupt it: POSIX advisory locks belong to the
//! process, so one copy closing its file descriptor drops the other copy's locks (SQLite's
//! "How To Corrupt An SQLite Database File", section 2.2.1).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::ffi;

use crate::config::Config;
use crate::connection;
use crate::error::{Error, Result};
use crate::runner::Runner;
use crate::statement;
use crate::transaction::{Rows, Statement};

/// How long `close` waits for queries still running before it stops waiting for them (their
/// connections then close as soon as they come back).
const CLOSE_PATIENCE: Duration = Duration::from_secs(60);

/// The read-only connections, lent to one query or one snapshot at a time.
pub(crate) struct ReadPool {
    /// The idle connections and the pool's state.
    state: Mutex<PoolState>,
    /// Signalled when a connection comes back or the pool closes.
    changed: Condvar,
    /// The database, to open a connection in place of one that a snapshot left unusable.
    path: PathBuf,
    /// The settings the connections were opened with.
    config: Config,
}

/// What the pool's lock guards.
struct PoolState {
    /// Connections waiting for a query.
    idle: Vec<Runner>,
    /// Connections out of the pool's hands while a query, a snapshot's BEGIN or a
    /// snapshot's ROLLBACK runs on them: `close` waits for these.
    lent: usize,
    /// `close` was called: no query may start.
    closed: bool,
    /// The open snapshots' connections, by snapshot id. `close` drops them at once.
    held: HashMap<u64, Held>,
    /// The id of the next snapshot.
    next_id: u64,
}

/// The connection of one open snapshot, inside its read transaction.
struct Held {
    /// `None` while one of the snapshot's queries runs on it (it is then counted as lent).
    conn: Option<Runner>,
    /// A failed query ended the read transaction (SQLite rolls back on some errors): later
    /// queries would no longer see the snapshot, so they fail.
    ended: bool,
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
                held: HashMap::new(),
                next_id: 0,
            }),
            changed: Condvar::new(),
            path: path.to_path_buf(),
            config: config.clone(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes an idle connection (waiting for one if all are busy) and counts it as lent.
    fn lend(&self) -> Result<Runner> {
        let mut st = self.lock();
        loop {
            if st.closed {
                return Err(Error::Closed);
            }
            if let Some(conn) = st.idle.pop() {
                st.lent += 1;
                return Ok(conn);
            }
            st = self.changed.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Takes back a lent connection: idle again, or closed if the pool closed meanwhile.
    fn give_back(&self, conn: Runner) {
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
    }

    /// Runs a read-only statement on a free connection (waiting for one if all are busy).
    pub(crate) fn query(&self, stmt: &Statement) -> Result<Rows> {
        // A BEGIN would leave the pooled connection inside a stale read transaction.
        statement::check_allowed(&stmt.sql, 0)?;
        let mut conn = self.lend()?;
        let result = conn.run(stmt, 0).map(|r| r.rows);
        self.give_back(conn);
        result
    }

    /// Takes a free connection (waiting for one if all are busy) and opens a read
    /// transaction on it, fixed at once by a first read; returns the snapshot's id.
    pub(crate) fn begin_snapshot(&self) -> Result<u64> {
        let conn = self.lend()?;
        let begun = conn
            .execute_batch("BEGIN")
            .and_then(|()| conn.query_row("PRAGMA schema_version", [], |_| Ok(())));
        if let Err(e) = begun {
            self.give_back(self.out_of_transaction(conn));
            return Err(Error::from_sqlite(e, None));
        }
        let mut st = self.lock();
        st.lent -= 1;
        if st.closed {
            drop(st);
            // Closed outside the lock: closing a connection does I/O.
            drop(conn);
            self.changed.notify_all();
            return Err(Error::Closed);
        }
        let id = st.next_id;
        st.next_id += 1;
        st.held.insert(
            id,
            Held {
                conn: Some(conn),
                ended: false,
            },
        );
        Ok(id)
    }

    /// Runs a read-only statement inside snapshot `id`, after any query of the same
    /// snapshot still running on another thread.
    pub(crate) fn snapshot_query(&self, id: u64, stmt: &Statement) -> Result<Rows> {
        // COMMIT, ROLLBACK or BEGIN would end or break the snapshot's read transaction.
        statement::check_allowed(&stmt.sql, 0)?;
        let mut conn = {
            let mut st = self.lock();
            loop {
                if st.closed {
                    return Err(Error::Closed);
                }
                let held = st.held.get_mut(&id).ok_or(Error::Closed)?;
                if held.ended {
                    return Err(Error::from_code(
                        ffi::SQLITE_ABORT,
                        "the snapshot's read transaction ended when one of its queries \
                         failed; begin a new snapshot"
                            .into(),
                    ));
                }
                if let Some(conn) = held.conn.take() {
                    st.lent += 1;
                    break conn;
                }
                st = self.changed.wait(st).unwrap_or_else(|p| p.into_inner());
            }
        };
        let result = conn.run(stmt, 0).map(|r| r.rows);
        let ended = conn.is_autocommit();
        let closing = {
            let mut st = self.lock();
            st.lent -= 1;
            // `close` took the entry: the connection closes.
            match st.held.get_mut(&id) {
                Some(held) => {
                    held.conn = Some(conn);
                    held.ended = ended;
                    None
                }
                None => Some(conn),
            }
        };
        // Closed outside the lock: closing a connection does I/O.
        drop(closing);
        self.changed.notify_all();
        result
    }

    /// Ends snapshot `id`: rolls its read transaction back and returns its connection to
    /// the pool (or closes it, once the pool is closed).
    pub(crate) fn end_snapshot(&self, id: u64) {
        let conn = {
            let mut st = self.lock();
            let conn = st.held.remove(&id).and_then(|h| h.conn);
            if conn.is_some() {
                st.lent += 1;
            }
            conn
        };
        if let Some(conn) = conn {
            self.give_back(self.out_of_transaction(conn));
        }
    }

    /// `conn` rolled back out of its read transaction; if the ROLLBACK fails, a fresh
    /// connection in its place (one stuck in a read transaction would serve stale reads),
    /// or `conn` itself if none can be opened, so that the pool keeps its size.
    fn out_of_transaction(&self, conn: Runner) -> Runner {
        if conn.is_autocommit() || conn.execute_batch("ROLLBACK").is_ok() {
            return conn;
        }
        connection::open_reader(&self.path, &self.config).unwrap_or(conn)
    }

    /// Refuses new queries and snapshots, closes the open snapshots' connections (their
    /// later queries fail with `Error::Closed`), waits (up to a generous bound) for the
    /// running queries, and closes every connection, so that the writer can be the last
    /// connection to close.
    pub(crate) fn close(&self) {
        let (idle, held) = {
            let mut st = self.lock();
            st.closed = true;
            (std::mem::take(&mut st.idle), std::mem::take(&mut st.held))
        };
        // Wakes queries waiting for a free connection: they fail with `Error::Closed`.
        self.changed.notify_all();
        drop(idle);
        drop(held);
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
        let holder = rusqlite::Connection::open(&path).unwrap();
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
