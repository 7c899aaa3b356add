//! A small pool of read-only connections serving `query`.
//!
//! They are opened by the same SQLite library as the writer. Two copies of SQLite in one
//! process touching one database file can corrupt it: POSIX advisory locks belong to the
//! process, so one copy closing its file descriptor drops the other copy's locks (SQLite's
//! "How To Corrupt An SQLite Database File", section 2.2.1).

use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::statement;
use crate::transaction::{Rows, Statement};

pub(crate) struct ReadPool {
    idle: Mutex<Option<Vec<Connection>>>,
    returned: Condvar,
}

impl ReadPool {
    pub(crate) fn open(path: &Path, config: &Config) -> Result<ReadPool> {
        let open_err = |e: rusqlite::Error| Error::Open(e.to_string());
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let mut conns = Vec::with_capacity(config.read_connections);
        for _ in 0..config.read_connections {
            let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
            conn.busy_timeout(Duration::from_millis(config.busy_timeout_ms))
                .map_err(open_err)?;
            conn.execute_batch(&format!(
                "PRAGMA cache_size=-{}; PRAGMA mmap_size={};",
                config.cache_size_kib, config.mmap_size
            ))
            .map_err(open_err)?;
            conn.set_prepared_statement_cache_capacity(config.statement_cache_capacity);
            conns.push(conn);
        }
        Ok(ReadPool {
            idle: Mutex::new(Some(conns)),
            returned: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Option<Vec<Connection>>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs a read-only statement on a free connection (waiting for one if all are busy).
    pub(crate) fn query(&self, stmt: &Statement) -> Result<Rows> {
        // A BEGIN would leave the pooled connection inside a stale read transaction.
        statement::check_allowed(&stmt.sql, 0)?;
        let conn = {
            let mut idle = self.lock();
            loop {
                match idle.as_mut() {
                    None => return Err(Error::Closed),
                    Some(conns) => match conns.pop() {
                        Some(conn) => break conn,
                        None => idle = self.returned.wait(idle).unwrap_or_else(|p| p.into_inner()),
                    },
                }
            }
        };
        let result = statement::run(&conn, stmt, 0).map(|r| r.rows);
        if let Some(conns) = self.lock().as_mut() {
            conns.push(conn);
        }
        self.returned.notify_one();
        result
    }

    /// Closes idle connections now and the busy ones as they come back.
    pub(crate) fn close(&self) {
        self.lock().take();
        self.returned.notify_all();
    }
}
