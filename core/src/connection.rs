//! Opening the committer's connections (the writer, the checkpointer and the read-only pool)
//! with one pragma setup and one error mapping, and resetting the writer's connection state
//! at the start of every transaction.

use std::cell::Cell;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};
use std::path::Path;
use std::ptr;
use std::time::Duration;

use rusqlite::{ffi, Connection, OpenFlags};

use crate::config::Config;
use crate::error::{primary_code, Error, Result};
use crate::modes::Durability;
use crate::runner::Runner;

/// The `PRAGMA synchronous` value of a durability.
pub(crate) fn synchronous_pragma(durability: Durability) -> &'static str {
    match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
        Durability::Off => "OFF",
    }
}

/// Opens and configures the write connection: WAL mode, no inline autocheckpoint, and the
/// connection functions that answer as if each transaction ran alone.
pub(crate) fn open_writer(path: &Path, config: &Config) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
    let conn = open(path, flags, config.busy_timeout_ms)?;
    // The first statement reads the file: a file that is not a database fails here
    // (SQLITE_NOTADB), a database another process holds locked fails with SQLITE_BUSY.
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(|e| open_error(path, e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Open(format!(
            "{}: cannot switch to WAL mode (journal_mode is {mode}); litecommit needs a file \
             database",
            path.display()
        )));
    }
    let mut pragmas = format!(
        "PRAGMA synchronous={}; PRAGMA foreign_keys={}; PRAGMA wal_autocheckpoint=0;",
        synchronous_pragma(config.durability),
        if config.foreign_keys { "ON" } else { "OFF" },
    );
    if let Some(limit) = config.journal_size_limit {
        pragmas.push_str(&format!(" PRAGMA journal_size_limit={limit};"));
    }
    run_pragmas(&conn, path, &pragmas)?;
    cache_pragmas(&conn, path, config)?;
    register_transaction_scope(&conn).map_err(|e| open_error(path, e))?;
    Ok(conn)
}

/// Opens the checkpoint scheduler's connection (its own short busy timeout, no inline
/// autocheckpoint).
pub(crate) fn open_checkpointer(path: &Path, config: &Config) -> Result<Connection> {
    let conn = open(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE,
        config.checkpoint_busy_timeout_ms,
    )?;
    let pragmas = format!(
        "PRAGMA synchronous={}; PRAGMA wal_autocheckpoint=0;",
        synchronous_pragma(config.durability)
    );
    run_pragmas(&conn, path, &pragmas)?;
    Ok(conn)
}

/// Opens one read-only connection of the `query` pool.
pub(crate) fn open_reader(path: &Path, config: &Config) -> Result<Runner> {
    let conn = open(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY,
        config.busy_timeout_ms,
    )?;
    cache_pragmas(&conn, path, config)?;
    Ok(Runner::new(conn, config.statement_cache_capacity))
}

fn open(path: &Path, flags: OpenFlags, busy_timeout_ms: u64) -> Result<Connection> {
    let flags = flags | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, e))?;
    // SQLite's busy timeout is an int; the configuration is validated to fit, and this
    // check keeps rusqlite from panicking if it ever did not.
    if i32::try_from(busy_timeout_ms).is_err() {
        return Err(Error::InvalidConfig(format!(
            "busy timeout: {busy_timeout_ms} ms is above {} ms",
            i32::MAX
        )));
    }
    conn.busy_timeout(Duration::from_millis(busy_timeout_ms))
        .map_err(|e| open_error(path, e))?;
    Ok(conn)
}

fn cache_pragmas(conn: &Connection, path: &Path, config: &Config) -> Result<()> {
    let pragmas = format!(
        "PRAGMA cache_size=-{}; PRAGMA mmap_size={};",
        config.cache_size_kib, config.mmap_size
    );
    run_pragmas(conn, path, &pragmas)?;
    conn.set_prepared_statement_cache_capacity(config.statement_cache_capacity);
    Ok(())
}

fn run_pragmas(conn: &Connection, path: &Path, pragmas: &str) -> Result<()> {
    conn.execute_batch(pragmas).map_err(|e| open_error(path, e))
}

/// The one mapping of open failures: SQLite's own codes are kept (a file that is not a
/// database gives SQLITE_NOTADB, a locked database SQLITE_BUSY); anything else is
/// [`Error::Open`].
pub(crate) fn open_error(path: &Path, err: rusqlite::Error) -> Error {
    let shown = path.display();
    match err {
        rusqlite::Error::SqliteFailure(e, message) => {
            let message = message.unwrap_or_else(|| e.to_string());
            // rusqlite appends the path to SQLITE_CANTOPEN messages; it is named once.
            let suffix = format!(": {}", path.to_string_lossy());
            let message = message.strip_suffix(&suffix).unwrap_or(&message);
            Error::Sqlite {
                code: primary_code(e.extended_code),
                extended_code: e.extended_code,
                message: format!("cannot open database {shown}: {message}"),
                statement_index: None,
            }
        }
        other => Error::Open(format!("{shown}: {other}")),
    }
}

/// The client-data name under which the writer keeps `sqlite3_total_changes64` as it was
/// when the running transaction started.
const TOTAL_CHANGES_BASE: &CStr = c"litecommit.total_changes_base";

/// An eponymous virtual table that is always empty. A `DELETE` on it matches no row, and
/// SQLite sets the connection's `changes()` to 0 whenever an INSERT, UPDATE or DELETE
/// statement ends, without adding to `total_changes()`: that is how the writer gives every
/// transaction the `changes()` of a fresh connection. `WHERE 0` skips even opening the
/// table (measured: about 0.1 µs less per transaction).
const CHANGES_RESET_TABLE: &CStr = c"sqlite_litecommit_changes_reset";
const CHANGES_RESET: &str = "DELETE FROM sqlite_litecommit_changes_reset WHERE 0";
/// The reset table's name, which submitted SQL may not use. Applications cannot create
/// tables or views under SQLite's reserved `sqlite_` prefix, so none can shadow it.
pub(crate) const RESERVED_NAME: &str = "sqlite_litecommit_changes_reset";

/// Prepares the writer for the next transaction, so that the SQL functions reading
/// connection state answer as on a fresh connection: `last_insert_rowid()` starts at 0,
/// and, when `reset_changes`, `changes()` starts at 0 and `total_changes()` counts from
/// here (without `reset_changes` nothing the transaction runs mentions either function, so
/// the writer skips that work).
///
/// `changes()` must really be 0 rather than hidden behind an override: after a trigger or
/// a foreign-key action returns, SQLite restores the `changes()` value from before it, which
/// on a used connection is a previous transaction's count.
pub(crate) fn start_transaction(conn: &Connection, reset_changes: bool) -> Result<()> {
    // SAFETY: the handle is valid while `conn` lives, and the caller's thread owns `conn`.
    let db = unsafe { conn.handle() };
    // SAFETY: as above.
    unsafe { ffi::sqlite3_set_last_insert_rowid(db, 0) };
    if !reset_changes {
        return Ok(());
    }
    // SAFETY: as above.
    if unsafe { ffi::sqlite3_changes64(db) } != 0 {
        conn.prepare_cached(CHANGES_RESET)
            .and_then(|mut s| s.raw_execute())
            .map_err(|e| Error::from_sqlite(e, None).with_context("resetting changes()"))?;
    }
    // SAFETY: only `register_transaction_scope` stores this name, always as a `Cell<i64>`.
    let base = unsafe { conn.get_clientdata::<Cell<i64>, _>(TOTAL_CHANGES_BASE) }
        .map_err(|e| Error::from_sqlite(e, None))?;
    if let Some(base) = base {
        // SAFETY: as above.
        base.set(unsafe { ffi::sqlite3_total_changes64(db) });
    }
    Ok(())
}

/// Registers the `changes()` reset table and a `total_changes()` that counts from the start
/// of the running transaction (an application-defined function overrides the built-in one
/// of the same name and argument count).
fn register_transaction_scope(conn: &Connection) -> rusqlite::Result<()> {
    // SAFETY: the handle is valid while `conn` lives.
    let db = unsafe { conn.handle() };
    // SAFETY: the module is a static with 'static callbacks; the handle is valid.
    let rc = unsafe {
        ffi::sqlite3_create_module_v2(
            db,
            CHANGES_RESET_TABLE.as_ptr(),
            &CHANGES_RESET_MODULE,
            ptr::null_mut(),
            None,
        )
    };
    check(conn, rc)?;
    // SAFETY: the data is a `Cell<i64>`, read back as one in `start_transaction`; SQLite
    // frees it when the connection closes, after the last call of the function below.
    let base = unsafe { conn.set_clientdata(TOTAL_CHANGES_BASE, Some(Cell::new(0_i64))) }?;
    // SAFETY: `base` stays valid for the connection's lifetime (see above).
    let rc = unsafe {
        ffi::sqlite3_create_function_v2(
            db,
            c"total_changes".as_ptr(),
            0,
            ffi::SQLITE_UTF8 | ffi::SQLITE_INNOCUOUS,
            base.cast::<c_void>(),
            Some(total_changes_in_transaction),
            None,
            None,
            None,
        )
    };
    check(conn, rc)
}

fn check(conn: &Connection, rc: c_int) -> rusqlite::Result<()> {
    if rc == ffi::SQLITE_OK {
        return Ok(());
    }
    // SAFETY: the handle is valid; sqlite3_errmsg returns a NUL-terminated string.
    let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(conn.handle())) }
        .to_string_lossy()
        .into_owned();
    Err(rusqlite::Error::SqliteFailure(
        ffi::Error::new(rc),
        Some(message),
    ))
}

/// `total_changes()`: rows changed since the running transaction started.
unsafe extern "C" fn total_changes_in_transaction(
    ctx: *mut ffi::sqlite3_context,
    _argc: c_int,
    _argv: *mut *mut ffi::sqlite3_value,
) {
    // SAFETY: SQLite passes a valid context; its user data is the `Cell<i64>` registered
    // with the function, alive as long as the connection.
    unsafe {
        let base = &*ffi::sqlite3_user_data(ctx).cast::<Cell<i64>>();
        let total = ffi::sqlite3_total_changes64(ffi::sqlite3_context_db_handle(ctx));
        ffi::sqlite3_result_int64(ctx, total - base.get());
    }
}

static CHANGES_RESET_MODULE: ffi::sqlite3_module = ffi::sqlite3_module {
    iVersion: 1,
    // No xCreate: the table exists only under its module's name (eponymous-only).
    xCreate: None,
    xConnect: Some(reset_connect),
    xBestIndex: Some(reset_best_index),
    xDisconnect: Some(reset_disconnect),
    xDestroy: Some(reset_disconnect),
    xOpen: Some(reset_open),
    xClose: Some(reset_close),
    xFilter: Some(reset_filter),
    xNext: Some(reset_next),
    xEof: Some(reset_eof),
    xColumn: Some(reset_column),
    xRowid: Some(reset_rowid),
    // Present so that DELETE is accepted; never called with no row to delete, and it
    // refuses writes (an INSERT).
    xUpdate: Some(reset_update),
    xBegin: None,
    xSync: None,
    xCommit: None,
    xRollback: None,
    xFindFunction: None,
    xRename: None,
    xSavepoint: None,
    xRelease: None,
    xRollbackTo: None,
    xShadowName: None,
    xIntegrity: None,
};

unsafe extern "C" fn reset_connect(
    db: *mut ffi::sqlite3,
    _aux: *mut c_void,
    _argc: c_int,
    _argv: *const *const c_char,
    vtab: *mut *mut ffi::sqlite3_vtab,
    _err: *mut *mut c_char,
) -> c_int {
    // SAFETY: SQLite passes a valid handle and out pointer.
    unsafe {
        let rc = ffi::sqlite3_declare_vtab(db, c"CREATE TABLE x(v)".as_ptr());
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        // Not usable from triggers or views.
        ffi::sqlite3_vtab_config(db, ffi::SQLITE_VTAB_DIRECTONLY);
        *vtab = Box::into_raw(Box::new(ffi::sqlite3_vtab {
            pModule: ptr::null(),
            nRef: 0,
            zErrMsg: ptr::null_mut(),
        }));
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn reset_disconnect(vtab: *mut ffi::sqlite3_vtab) -> c_int {
    // SAFETY: allocated by `reset_connect` as a Box; SQLite disconnects it once.
    drop(unsafe { Box::from_raw(vtab) });
    ffi::SQLITE_OK
}

unsafe extern "C" fn reset_best_index(
    _vtab: *mut ffi::sqlite3_vtab,
    info: *mut ffi::sqlite3_index_info,
) -> c_int {
    // SAFETY: SQLite passes a valid index info.
    unsafe {
        (*info).estimatedCost = 1.0;
        (*info).estimatedRows = 0;
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn reset_open(
    _vtab: *mut ffi::sqlite3_vtab,
    cursor: *mut *mut ffi::sqlite3_vtab_cursor,
) -> c_int {
    let boxed = Box::new(ffi::sqlite3_vtab_cursor {
        pVtab: ptr::null_mut(),
    });
    // SAFETY: SQLite passes a valid out pointer.
    unsafe { *cursor = Box::into_raw(boxed) };
    ffi::SQLITE_OK
}

unsafe extern "C" fn reset_close(cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    // SAFETY: allocated by `reset_open` as a Box; SQLite closes it once.
    drop(unsafe { Box::from_raw(cursor) });
    ffi::SQLITE_OK
}

unsafe extern "C" fn reset_filter(
    _cursor: *mut ffi::sqlite3_vtab_cursor,
    _idx_num: c_int,
    _idx_str: *const c_char,
    _argc: c_int,
    _argv: *mut *mut ffi::sqlite3_value,
) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn reset_next(_cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn reset_eof(_cursor: *mut ffi::sqlite3_vtab_cursor) -> c_int {
    1
}

unsafe extern "C" fn reset_column(
    _cursor: *mut ffi::sqlite3_vtab_cursor,
    ctx: *mut ffi::sqlite3_context,
    _column: c_int,
) -> c_int {
    // SAFETY: SQLite passes a valid context.
    unsafe { ffi::sqlite3_result_null(ctx) };
    ffi::SQLITE_OK
}

unsafe extern "C" fn reset_rowid(
    _cursor: *mut ffi::sqlite3_vtab_cursor,
    rowid: *mut ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: SQLite passes a valid out pointer.
    unsafe { *rowid = 0 };
    ffi::SQLITE_OK
}

unsafe extern "C" fn reset_update(
    _vtab: *mut ffi::sqlite3_vtab,
    _argc: c_int,
    _argv: *mut *mut ffi::sqlite3_value,
    _rowid: *mut ffi::sqlite3_int64,
) -> c_int {
    ffi::SQLITE_READONLY
}
