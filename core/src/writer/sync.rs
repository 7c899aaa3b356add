//! The write connection's `synchronous` level, lowered to NORMAL for the commits midway of
//! a batch, and the one WAL sync that then makes the whole batch durable (see `batch`).

use std::os::raw::c_void;

use rusqlite::ffi;

use crate::connection::synchronous_pragma;
use crate::error::{Error, Result};
use crate::modes::Durability;

use super::conn::WriteConn;

/// The `synchronous` level of the write connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Synchronous {
    /// The level of the configured durability.
    Configured,
    /// NORMAL: from a batch's first commit midway to its final sync.
    Lowered,
}

impl WriteConn {
    /// Before a commit midway: with `durability=full`, lowers `synchronous` to NORMAL (once
    /// per batch). Only outside a transaction.
    pub(super) fn lower_synchronous(&mut self) -> Result<()> {
        if self.durability() == Durability::Full && self.synchronous == Synchronous::Configured {
            self.set_synchronous(Synchronous::Lowered)?;
        }
        Ok(())
    }

    /// Puts `synchronous` back at the configured level if it is lowered. Only outside a
    /// transaction.
    pub(super) fn restore_synchronous(&mut self) -> Result<()> {
        if self.synchronous == Synchronous::Lowered {
            self.set_synchronous(Synchronous::Configured)?;
        }
        Ok(())
    }

    /// After the batch's final COMMIT: if `synchronous` was lowered, syncs the WAL (which
    /// covers every commit of the batch) and restores it. If the restore fails, the next
    /// batch tries again before it begins.
    pub(super) fn sync_if_lowered(&mut self) -> Result<()> {
        if self.synchronous == Synchronous::Lowered {
            #[cfg(test)]
            if let Some(e) = self.injected_sync_failure() {
                return Err(e);
            }
            self.sync_wal()?;
            drop(self.restore_synchronous());
        }
        Ok(())
    }

    /// Sets `PRAGMA synchronous` to `level`.
    fn set_synchronous(&mut self, level: Synchronous) -> Result<()> {
        let pragma = match level {
            Synchronous::Configured => synchronous_pragma(self.durability()),
            Synchronous::Lowered => "NORMAL",
        };
        // Not a cached statement: SQLite applies this pragma while it prepares it.
        self.conn()
            .execute_batch(&format!("PRAGMA synchronous={pragma}"))
            .map_err(|e| Error::from_sqlite(e, None))?;
        self.synchronous = level;
        // It runs between transactions (after a batch's last COMMIT, before the batch's end
        // is noted), where a schema it might load could be another connection's: rare
        // enough to read the schema again.
        self.words.forget();
        Ok(())
    }

    /// The WAL's open file object, if any.
    fn wal_file(&self) -> Option<*mut ffi::sqlite3_file> {
        let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
        // SAFETY: the handle is valid while the connection lives and this thread owns it; the
        // call stores into `file` the WAL's file object, owned by SQLite and open while the
        // connection has the database open in WAL mode.
        let rc = unsafe {
            ffi::sqlite3_file_control(
                self.conn().handle(),
                c"main".as_ptr(),
                ffi::SQLITE_FCNTL_JOURNAL_POINTER,
                (&mut file as *mut *mut ffi::sqlite3_file).cast::<c_void>(),
            )
        };
        // SAFETY: `file` is null or points to SQLite's file object, whose methods are set
        // while it is open.
        let open =
            rc == ffi::SQLITE_OK && unsafe { file.as_ref() }.is_some_and(|f| !f.pMethods.is_null());
        open.then_some(file)
    }

    /// Whether the WAL's file system promises power-safe overwrite: a write never damages
    /// bytes outside the range written, even on power loss.
    pub(super) fn wal_overwrites_safely(&self) -> bool {
        let Some(file) = self.wal_file() else {
            return false;
        };
        // SAFETY: `file` is open (see `wal_file`); its methods belong to it.
        let characteristics = unsafe { (*(*file).pMethods).xDeviceCharacteristics };
        // SAFETY: as above, called on the connection's thread as SQLite itself does.
        let flags = characteristics.map_or(0, |f| unsafe { f(file) });
        flags & ffi::SQLITE_IOCAP_POWERSAFE_OVERWRITE != 0
    }

    /// Syncs the WAL file, as a commit with `synchronous=FULL` does.
    fn sync_wal(&self) -> Result<()> {
        // SAFETY: `file` is open (see `wal_file`); its methods belong to it.
        let sync = self
            .wal_file()
            .and_then(|file| unsafe { (*(*file).pMethods).xSync }.map(|sync| (file, sync)));
        let rc = match sync {
            // SAFETY: as above; SQLite's own commit calls xSync so, on the connection's
            // thread.
            Some((file, sync)) => unsafe { sync(file, ffi::SQLITE_SYNC_NORMAL) },
            None => ffi::SQLITE_MISUSE,
        };
        if rc == ffi::SQLITE_OK {
            return Ok(());
        }
        Err(Error::from_code(rc, ffi::code_to_str(rc).to_string()))
    }
}
