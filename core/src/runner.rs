//! Running submitted statements: a connection with its own cache of prepared statements,
//! which binds parameters, steps, and collects the rows and the column descriptions.
//!
//! The statements are SQLite's own handles rather than rusqlite's cached statements: one
//! stays prepared between runs without being taken out of a cache and put back each time,
//! parameters are bound without a copy (they outlive the run), and declared types are read
//! from the statement that produced the rows instead of a second compilation.

use std::ffi::{c_char, c_int, CStr, CString};
use std::ops::Deref;
use std::ptr::{self, NonNull};

use rusqlite::types::ValueRef;
use rusqlite::{ffi, Connection};

use crate::error::{Error, Result};
use crate::transaction::{Rows, SharedList, Statement, StatementResult};
use crate::value::{Params, Value};

/// A connection and the statements it keeps prepared. It reads as the [`Connection`] for
/// everything else.
pub(crate) struct Runner {
    /// Declared before `conn`, so its statements are finalized before the connection closes.
    cache: Cache,
    /// The committer's own statements (see [`Runner::exec_own`]), also before `conn`.
    own: Vec<(&'static str, Handle)>,
    /// The connection.
    conn: Connection,
}

impl Deref for Runner {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl Runner {
    /// Takes over `conn`, keeping up to `capacity` statements prepared (0: none).
    pub(crate) fn new(conn: Connection, capacity: usize) -> Runner {
        Runner {
            cache: Cache {
                statements: foldhash::HashMap::default(),
                capacity,
                clock: 0,
                last_sql: String::new(),
                last: None,
            },
            own: Vec::new(),
            conn,
        }
    }

    /// Runs one of the committer's own statements (`BEGIN IMMEDIATE`, `COMMIT`, a `PRAGMA`),
    /// kept prepared apart from the cache whatever its capacity, to its end; returns the
    /// first column of its first row as an integer, if it has a row.
    pub(crate) fn exec_own(&mut self, sql: &'static str) -> rusqlite::Result<Option<i64>> {
        let conn = &self.conn;
        let handle = match self.own.iter().find(|(own, _)| *own == sql) {
            Some((_, handle)) => handle.0,
            None => {
                let handle = prepare(conn, sql, ffi::SQLITE_PREPARE_PERSISTENT)?;
                let raw = handle.0;
                self.own.push((sql, handle));
                raw
            }
        };
        let running = Running {
            conn,
            prepared: Lease::Cached(handle),
        };
        let mut first = None;
        while running.step()? {
            if first.is_none() {
                // SAFETY: the statement is live and has a row.
                first = Some(unsafe { ffi::sqlite3_column_int64(handle.as_ptr(), 0) });
            }
        }
        Ok(first)
    }

    /// Runs one statement with its parameters and collects its rows; `index` is its place
    /// in its transaction, for errors. The caller has checked it with
    /// [`check_allowed`](crate::statement::check_allowed) (the committer does so at submit).
    pub(crate) fn run(&mut self, stmt: &Statement, index: usize) -> Result<StatementResult> {
        let conn = &self.conn;
        let prepared = self
            .cache
            .lease(conn, &stmt.sql)
            .map_err(|e| prepare_error(e, index))?;
        let running = Running { conn, prepared };
        running.bind(&stmt.params, index)?;
        let before = conn.total_changes();
        // Column names are read after the first step: a cached statement that a schema change
        // (ALTER TABLE, DROP COLUMN) expired is compiled again by that step, and only then
        // describes the table as it is now. The declared types are read at the same point,
        // inside the statement's read transaction when it returns a row.
        let mut columns: Option<Described> = None;
        let mut rows = Vec::new();
        while running
            .step()
            .map_err(|e| Error::from_sqlite(e, Some(index)))?
        {
            let (names, _) = columns.get_or_insert_with(|| running.describe());
            let row = (0..names.len())
                .map(|i| running.value(i, index))
                .collect::<Result<Vec<Value>>>()?;
            rows.push(row);
        }
        let (columns, decl_types) = columns.unwrap_or_else(|| running.describe());
        let changes = if !running.readonly() && conn.total_changes() != before {
            conn.changes()
        } else {
            0
        };
        Ok(StatementResult {
            changes,
            last_insert_rowid: conn.last_insert_rowid(),
            rows: Rows {
                columns,
                rows,
                decl_types,
            },
        })
    }
}

/// Prepared statements by SQL text, the least recently used making room for a new one.
struct Cache {
    /// The statements (foldhash: the keys are short texts, looked up once per statement run).
    statements: foldhash::HashMap<Box<str>, Cached>,
    /// How many are kept.
    capacity: usize,
    /// Counts leases: each statement remembers when it was last lent.
    clock: u64,
    /// The text of the latest lease, and its statement while that is cached: applications
    /// submit one text many times in a row, and comparing it costs less than hashing it.
    last_sql: String,
    last: Option<NonNull<ffi::sqlite3_stmt>>,
}

// SAFETY: `last` points at a statement in `statements` (see `Handle`'s `Send`).
unsafe impl Send for Cache {}

/// A statement in the cache.
struct Cached {
    handle: Handle,
    /// The [`Cache::clock`] of its latest lease.
    used: u64,
}

impl Cache {
    /// The prepared statement for `sql`: the cached one, or a new one (cached if there is
    /// room for any).
    fn lease(&mut self, conn: &Connection, sql: &str) -> rusqlite::Result<Lease> {
        // The latest lease is still the most recently used: no need to count it again.
        if let Some(handle) = self.last.filter(|_| self.last_sql == sql) {
            return Ok(Lease::Cached(handle));
        }
        self.clock += 1;
        if let Some(cached) = self.statements.get_mut(sql) {
            cached.used = self.clock;
            let handle = cached.handle.0;
            return Ok(self.remember(sql, handle));
        }
        if self.capacity == 0 {
            return Ok(Lease::Once(prepare(conn, sql, 0)?));
        }
        let handle = prepare(conn, sql, ffi::SQLITE_PREPARE_PERSISTENT)?;
        if self.statements.len() >= self.capacity {
            let oldest = self
                .statements
                .iter()
                .min_by_key(|(_, cached)| cached.used)
                .map(|(sql, _)| sql.clone());
            if let Some(oldest) = oldest {
                self.statements.remove(&oldest);
            }
        }
        let raw = handle.0;
        self.statements.insert(
            sql.into(),
            Cached {
                handle,
                used: self.clock,
            },
        );
        Ok(self.remember(sql, raw))
    }

    /// Lends the cached statement `handle` for `sql`, remembered as the latest lease (the
    /// only statement that can leave the cache before the next lease is an older one).
    fn remember(&mut self, sql: &str, handle: NonNull<ffi::sqlite3_stmt>) -> Lease {
        self.last_sql.clear();
        self.last_sql.push_str(sql);
        self.last = Some(handle);
        Lease::Cached(handle)
    }
}

/// One prepared statement, finalized when dropped.
struct Handle(NonNull<ffi::sqlite3_stmt>);

// SAFETY: a handle is used only through the `Runner` that holds it and its connection, by
// one thread at a time (`&mut Runner`), as the connection itself is.
unsafe impl Send for Handle {}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the statement is live and finalized once, before its connection closes.
        unsafe { ffi::sqlite3_finalize(self.0.as_ptr()) };
    }
}

/// A statement lent for one run.
enum Lease {
    /// Owned by the cache, which outlives the run.
    Cached(NonNull<ffi::sqlite3_stmt>),
    /// Prepared for this run only (no cache).
    Once(Handle),
}

/// Compiles `sql`, which must hold exactly one statement (like rusqlite's `prepare`).
fn prepare(conn: &Connection, sql: &str, flags: u32) -> rusqlite::Result<Handle> {
    let len = c_int::try_from(sql.len())
        .map_err(|_| rusqlite::Error::SqliteFailure(ffi::Error::new(ffi::SQLITE_TOOBIG), None))?;
    // SAFETY: the handle is valid while `conn` is borrowed, and this thread owns `conn`.
    let db = unsafe { conn.handle() };
    let mut raw = ptr::null_mut();
    let mut tail = ptr::null();
    // SAFETY: `sql` is `len` valid bytes; `raw` and `tail` are written by SQLite.
    let rc = unsafe {
        ffi::sqlite3_prepare_v3(db, sql.as_ptr().cast(), len, flags, &mut raw, &mut tail)
    };
    if rc != ffi::SQLITE_OK {
        return Err(prepare_failure(db, rc, sql));
    }
    // NULL for a text without a statement (empty, or only a comment).
    let handle = NonNull::new(raw)
        .map(Handle)
        .ok_or(rusqlite::Error::Empty)?;
    // `tail` points into `sql`, after the statement compiled.
    let used = if tail.is_null() {
        sql.len()
    } else {
        (tail as usize).saturating_sub(sql.as_ptr() as usize)
    };
    if let Some(rest) = sql.get(used..).filter(|rest| !rest.is_empty()) {
        match prepare(conn, rest, 0) {
            Err(rusqlite::Error::Empty) => {}
            Ok(_) => return Err(rusqlite::Error::MultipleStatement),
            Err(e) => return Err(e),
        }
    }
    Ok(handle)
}

/// The error of a failed compilation, pointing at the offending token when SQLite says
/// where it is (as rusqlite reports it).
fn prepare_failure(db: *mut ffi::sqlite3, rc: c_int, sql: &str) -> rusqlite::Error {
    let error = ffi::Error::new(rc);
    let msg = message(db, rc);
    if error.code == ffi::ErrorCode::Unknown {
        // SAFETY: `db` is a live connection handle.
        let offset = unsafe { ffi::sqlite3_error_offset(db) };
        if offset >= 0 {
            return rusqlite::Error::SqlInputError {
                error,
                msg: msg.unwrap_or_else(|| "error".into()),
                sql: sql.to_owned(),
                offset,
            };
        }
    }
    rusqlite::Error::SqliteFailure(error, msg)
}

/// The connection's error message, if it belongs to `rc`.
fn message(db: *mut ffi::sqlite3, rc: c_int) -> Option<String> {
    // SAFETY: `db` is a live connection handle; the message is a NUL-terminated string that
    // stays valid until the next call on the connection, and is copied at once.
    unsafe {
        (ffi::sqlite3_errcode(db) == rc).then(|| {
            CStr::from_ptr(ffi::sqlite3_errmsg(db))
                .to_string_lossy()
                .into_owned()
        })
    }
}

/// The error of a failed step or bind.
fn failure(conn: &Connection, rc: c_int) -> rusqlite::Error {
    // SAFETY: the handle is valid while `conn` is borrowed.
    rusqlite::Error::SqliteFailure(ffi::Error::new(rc), message(unsafe { conn.handle() }, rc))
}

fn prepare_error(err: rusqlite::Error, statement_index: usize) -> Error {
    match err {
        rusqlite::Error::MultipleStatement => Error::Refused {
            reason: "more than one statement in one SQL text; pass each statement separately"
                .into(),
            statement_index,
        },
        rusqlite::Error::Empty => Error::Refused {
            reason: "empty statement".into(),
            statement_index,
        },
        other => Error::from_sqlite(other, Some(statement_index)),
    }
}

/// Column names and declared types, shared by every row.
type Described = (SharedList<String>, SharedList<Option<String>>);

/// One run of a lent statement. Dropping it resets the statement and clears its bindings,
/// which point into the parameters of this run.
struct Running<'a> {
    conn: &'a Connection,
    prepared: Lease,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        // SAFETY: the statement is live (a `Once` handle is finalized after this).
        unsafe {
            ffi::sqlite3_reset(self.ptr());
            ffi::sqlite3_clear_bindings(self.ptr());
        }
    }
}

impl Running<'_> {
    fn ptr(&self) -> *mut ffi::sqlite3_stmt {
        match &self.prepared {
            Lease::Cached(ptr) => ptr.as_ptr(),
            Lease::Once(handle) => handle.0.as_ptr(),
        }
    }

    /// Binds `params`, checking that they match the statement's parameters.
    fn bind(&self, params: &Params, index: usize) -> Result<()> {
        let param_error = |message: String| Error::Parameter {
            message,
            statement_index: index,
        };
        let bind_error = |e: rusqlite::Error| param_error(e.to_string());
        // SAFETY: the statement is live.
        let expected =
            usize::try_from(unsafe { ffi::sqlite3_bind_parameter_count(self.ptr()) }).unwrap_or(0);
        match params {
            Params::Invalid(message) => Err(param_error(message.clone())),
            Params::None if expected == 0 => Ok(()),
            Params::None => Err(param_error(format!(
                "statement expects {expected} parameter(s), none given"
            ))),
            Params::Positional(values) => {
                if values.len() != expected {
                    return Err(param_error(format!(
                        "statement expects {expected} parameter(s), {} given",
                        values.len()
                    )));
                }
                for (i, value) in values.iter().enumerate() {
                    self.bind_value(i + 1, value).map_err(bind_error)?;
                }
                Ok(())
            }
            Params::Named(values) => {
                let mut bound = vec![false; expected];
                for (name, value) in values {
                    let position = self.find_parameter(name).ok_or_else(|| {
                        param_error(format!("statement has no parameter named {name:?}"))
                    })?;
                    if std::mem::replace(&mut bound[position - 1], true) {
                        return Err(param_error(format!("parameter {name:?} given twice")));
                    }
                    self.bind_value(position, value).map_err(bind_error)?;
                }
                if let Some(missing) = bound.iter().position(|b| !b) {
                    let name = self
                        .parameter_name(missing + 1)
                        .unwrap_or_else(|| format!("?{}", missing + 1));
                    return Err(param_error(format!("no value given for parameter {name}")));
                }
                Ok(())
            }
        }
    }

    /// Binds `value` to parameter `position` (from 1), without copying it: the bindings
    /// are cleared before the value can go away.
    fn bind_value(&self, position: usize, value: &Value) -> rusqlite::Result<()> {
        let too_big = || rusqlite::Error::SqliteFailure(ffi::Error::new(ffi::SQLITE_RANGE), None);
        let i = c_int::try_from(position).map_err(|_| too_big())?;
        let p = self.ptr();
        // SAFETY: the statement is live; text and blob bytes outlive their binding (see
        // `Running`'s drop); an empty value points at a static byte (a NULL pointer would
        // bind NULL, and an empty `Vec`'s pointer is not one to hand to C).
        let rc = unsafe {
            match value {
                Value::Null => ffi::sqlite3_bind_null(p, i),
                Value::Integer(v) => ffi::sqlite3_bind_int64(p, i, *v),
                Value::Real(v) => ffi::sqlite3_bind_double(p, i, *v),
                Value::Text(s) => ffi::sqlite3_bind_text64(
                    p,
                    i,
                    bytes(s.as_bytes()),
                    s.len() as u64,
                    ffi::SQLITE_STATIC(),
                    ffi::SQLITE_UTF8 as u8,
                ),
                Value::Blob(b) => ffi::sqlite3_bind_blob64(
                    p,
                    i,
                    bytes(b).cast(),
                    b.len() as u64,
                    ffi::SQLITE_STATIC(),
                ),
            }
        };
        if rc == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(failure(self.conn, rc))
        }
    }

    /// The position of the parameter `name`, given with or without its prefix (`:`, `@`,
    /// `$`).
    fn find_parameter(&self, name: &str) -> Option<usize> {
        if name.starts_with([':', '@', '$']) {
            return self.parameter_index(name);
        }
        [":", "@", "$"]
            .iter()
            .find_map(|prefix| self.parameter_index(&format!("{prefix}{name}")))
    }

    fn parameter_index(&self, name: &str) -> Option<usize> {
        let name = CString::new(name).ok()?;
        // SAFETY: the statement is live; `name` is NUL-terminated.
        let i = unsafe { ffi::sqlite3_bind_parameter_index(self.ptr(), name.as_ptr()) };
        usize::try_from(i).ok().filter(|&i| i > 0)
    }

    fn parameter_name(&self, position: usize) -> Option<String> {
        let i = c_int::try_from(position).ok()?;
        // SAFETY: the statement is live; a non-NULL name is NUL-terminated and copied at once.
        unsafe {
            let name = ffi::sqlite3_bind_parameter_name(self.ptr(), i);
            (!name.is_null()).then(|| CStr::from_ptr(name).to_string_lossy().into_owned())
        }
    }

    /// Steps once: `true` when a row is ready.
    fn step(&self) -> rusqlite::Result<bool> {
        // SAFETY: the statement is live.
        match unsafe { ffi::sqlite3_step(self.ptr()) } {
            ffi::SQLITE_ROW => Ok(true),
            ffi::SQLITE_DONE => Ok(false),
            rc => Err(failure(self.conn, rc)),
        }
    }

    /// Whether the statement writes nothing.
    fn readonly(&self) -> bool {
        // SAFETY: the statement is live.
        unsafe { ffi::sqlite3_stmt_readonly(self.ptr()) != 0 }
    }

    /// The column names and declared types (`None` for an expression), as compiled now.
    fn describe(&self) -> Described {
        let p = self.ptr();
        // SAFETY: the statement is live.
        let count = unsafe { ffi::sqlite3_column_count(p) };
        if count <= 0 {
            return Described::default();
        }
        // SAFETY: `i` is a column of the live statement; non-NULL texts are NUL-terminated
        // and copied at once.
        let text = |s: *const c_char| unsafe {
            (!s.is_null()).then(|| CStr::from_ptr(s).to_string_lossy().into_owned())
        };
        // SAFETY: as above.
        let names = (0..count)
            .map(|i| text(unsafe { ffi::sqlite3_column_name(p, i) }).unwrap_or_default())
            .collect();
        // SAFETY: as above.
        let types = (0..count)
            .map(|i| text(unsafe { ffi::sqlite3_column_decltype(p, i) }))
            .collect();
        (names, types)
    }

    /// The value of column `col` of the current row.
    fn value(&self, col: usize, index: usize) -> Result<Value> {
        let p = self.ptr();
        let i = c_int::try_from(col).unwrap_or(c_int::MAX);
        // SAFETY: a row is ready and `i` is one of its columns; text and blob pointers stay
        // valid until the next step, and the bytes are copied at once. Text is read before
        // its length, as SQLite asks.
        let value = unsafe {
            match ffi::sqlite3_column_type(p, i) {
                ffi::SQLITE_NULL => ValueRef::Null,
                ffi::SQLITE_INTEGER => ValueRef::Integer(ffi::sqlite3_column_int64(p, i)),
                ffi::SQLITE_FLOAT => ValueRef::Real(ffi::sqlite3_column_double(p, i)),
                ffi::SQLITE_TEXT => {
                    let text = ffi::sqlite3_column_text(p, i);
                    if text.is_null() {
                        return Err(Error::from_sqlite(
                            rusqlite::Error::SqliteFailure(
                                ffi::Error::new(ffi::SQLITE_NOMEM),
                                None,
                            ),
                            Some(index),
                        ));
                    }
                    let len = usize::try_from(ffi::sqlite3_column_bytes(p, i)).unwrap_or(0);
                    ValueRef::Text(std::slice::from_raw_parts(text, len))
                }
                _ => {
                    let blob = ffi::sqlite3_column_blob(p, i);
                    let len = usize::try_from(ffi::sqlite3_column_bytes(p, i)).unwrap_or(0);
                    if blob.is_null() || len == 0 {
                        ValueRef::Blob(&[])
                    } else {
                        ValueRef::Blob(std::slice::from_raw_parts(blob.cast(), len))
                    }
                }
            }
        };
        Ok(Value::from_ref(value))
    }
}

/// Where SQLite reads `b`'s bytes from: `b` itself, or a static byte when it is empty.
fn bytes(b: &[u8]) -> *const c_char {
    static EMPTY: [u8; 1] = [0];
    let b = if b.is_empty() { &EMPTY[..] } else { b };
    b.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner(capacity: usize) -> Runner {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, at DATETIME, v)")
            .unwrap();
        Runner::new(conn, capacity)
    }

    fn run(r: &mut Runner, sql: &str, params: Params) -> Result<StatementResult> {
        r.run(&Statement::new(sql.to_owned(), params), 2)
    }

    fn ints(result: &StatementResult) -> Vec<i64> {
        let as_int = |v: &Value| match v {
            Value::Integer(i) => *i,
            other => panic!("not an integer: {other:?}"),
        };
        result.rows.rows.iter().map(|row| as_int(&row[0])).collect()
    }

    #[test]
    fn a_full_cache_drops_the_least_recently_used_statement() {
        let mut r = runner(2);
        let texts = ["SELECT 1", "SELECT 2", "SELECT 3"];
        run(&mut r, texts[0], Params::None).unwrap();
        run(&mut r, texts[1], Params::None).unwrap();
        run(&mut r, texts[0], Params::None).unwrap();
        let third = run(&mut r, texts[2], Params::None).unwrap();
        assert_eq!(ints(&third), [3]);
        let mut kept: Vec<&str> = r.cache.statements.keys().map(|k| &**k).collect();
        kept.sort_unstable();
        assert_eq!(kept, ["SELECT 1", "SELECT 3"]);
        for _ in 0..3 {
            for (i, sql) in texts.iter().enumerate() {
                assert_eq!(
                    ints(&run(&mut r, sql, Params::None).unwrap()),
                    [i as i64 + 1]
                );
            }
        }
        assert_eq!(r.cache.statements.len(), 2);
    }

    #[test]
    fn own_statements_stay_prepared_without_a_cache_and_see_schema_changes() {
        let mut r = runner(0);
        let version = r.exec_own("PRAGMA schema_version").unwrap().unwrap();
        assert_eq!(r.exec_own("BEGIN IMMEDIATE").unwrap(), None);
        run(&mut r, "CREATE TABLE u (x)", Params::None).unwrap();
        assert_eq!(
            r.exec_own("PRAGMA schema_version").unwrap(),
            Some(version + 1)
        );
        assert_eq!(r.exec_own("COMMIT").unwrap(), None);
        assert_eq!(r.own.len(), 3);
        assert!(r.cache.statements.is_empty());
        // A failure leaves the statement ready for the next run.
        let error = r.exec_own("COMMIT").unwrap_err();
        assert!(
            error.to_string().contains("no transaction is active"),
            "{error}"
        );
        r.exec_own("BEGIN IMMEDIATE").unwrap();
        r.exec_own("COMMIT").unwrap();
        assert_eq!(r.own.len(), 3);
    }

    #[test]
    fn without_a_cache_each_run_prepares_its_own_statement() {
        let mut r = runner(0);
        for i in 0..3 {
            let insert = "INSERT INTO t (v) VALUES (?1)";
            let done = run(&mut r, insert, Params::Positional(vec![Value::Integer(i)])).unwrap();
            assert_eq!((done.changes, done.last_insert_rowid), (1, i + 1));
        }
        let sum = run(&mut r, "SELECT sum(v) FROM t", Params::None).unwrap();
        assert_eq!(ints(&sum), [3]);
        assert!(r.cache.statements.is_empty());
    }

    #[test]
    fn texts_and_blobs_are_bound_as_given_and_read_back() {
        let mut r = runner(4);
        let values = vec![
            Value::Text(String::new()),
            Value::Text("a\0b".into()),
            Value::Blob(Vec::new()),
            Value::Blob(vec![0, 1, 2]),
            Value::Null,
            Value::Real(1.5),
        ];
        for value in &values {
            let sql = "SELECT ?1, typeof(?1)";
            let got = run(&mut r, sql, Params::Positional(vec![value.clone()])).unwrap();
            let kind = match value {
                Value::Text(_) => "text",
                Value::Blob(_) => "blob",
                Value::Null => "null",
                _ => "real",
            };
            assert_eq!(
                got.rows.rows,
                [vec![value.clone(), Value::Text(kind.into())]]
            );
        }
    }

    #[test]
    fn named_parameters_are_found_with_or_without_their_prefix() {
        let mut r = runner(4);
        let sql = "SELECT :a + @b";
        let named = |pairs: &[(&str, i64)]| {
            Params::Named(
                pairs
                    .iter()
                    .map(|(n, v)| (n.to_string(), Value::Integer(*v)))
                    .collect(),
            )
        };
        let got = run(&mut r, sql, named(&[("a", 1), ("@b", 2)])).unwrap();
        assert_eq!(ints(&got), [3]);
        let message = |e: Error| match e {
            Error::Parameter {
                message,
                statement_index: 2,
            } => message,
            other => panic!("not a parameter error: {other:?}"),
        };
        let missing = run(&mut r, sql, named(&[("a", 1)])).unwrap_err();
        assert_eq!(message(missing), "no value given for parameter @b");
        let unknown = run(&mut r, sql, named(&[("a", 1), ("c", 2)])).unwrap_err();
        assert_eq!(message(unknown), "statement has no parameter named \"c\"");
        let twice = run(&mut r, sql, named(&[("a", 1), (":a", 2)])).unwrap_err();
        assert_eq!(message(twice), "parameter \":a\" given twice");
        let count = run(&mut r, sql, Params::Positional(vec![Value::Null])).unwrap_err();
        assert_eq!(message(count), "statement expects 2 parameter(s), 1 given");
    }

    #[test]
    fn a_text_must_hold_exactly_one_statement() {
        let mut r = runner(4);
        let refused = |e: Error| match e {
            Error::Refused {
                reason,
                statement_index: 2,
            } => reason,
            other => panic!("not refused: {other:?}"),
        };
        for sql in ["SELECT 1; SELECT 2", "SELECT 1;;SELECT 2"] {
            let e = run(&mut r, sql, Params::None).unwrap_err();
            assert!(refused(e).starts_with("more than one statement"), "{sql}");
        }
        for sql in ["", "  ", "-- nothing"] {
            let e = run(&mut r, sql, Params::None).unwrap_err();
            assert_eq!(refused(e), "empty statement", "{sql:?}");
        }
        let ok = run(&mut r, "SELECT 7; ; -- done", Params::None).unwrap();
        assert_eq!(ints(&ok), [7]);
        match run(&mut r, "SELECT FROM", Params::None).unwrap_err() {
            Error::Sqlite {
                code: ffi::SQLITE_ERROR,
                message,
                statement_index: Some(2),
                ..
            } => assert!(message.contains("(at offset"), "{message}"),
            other => panic!("not a syntax error: {other:?}"),
        }
    }

    #[test]
    fn columns_and_declared_types_describe_the_schema_as_it_is_now() {
        let mut r = runner(4);
        let select = "SELECT * , v + 1 AS w FROM t";
        let empty = run(&mut r, select, Params::None).unwrap();
        assert_eq!(&*empty.rows.columns, ["id", "at", "v", "w"]);
        let types = [Some("INTEGER"), Some("DATETIME"), None, None];
        let types: Vec<Option<String>> = types.iter().map(|t| t.map(String::from)).collect();
        assert_eq!(&*empty.rows.decl_types, &types[..]);
        run(&mut r, "ALTER TABLE t ADD COLUMN extra TEXT", Params::None).unwrap();
        run(&mut r, "INSERT INTO t (v) VALUES (1)", Params::None).unwrap();
        let one = run(&mut r, select, Params::None).unwrap();
        assert_eq!(&*one.rows.columns, ["id", "at", "v", "extra", "w"]);
        assert_eq!(one.rows.decl_types[3].as_deref(), Some("TEXT"));
        assert_eq!(one.rows.rows.len(), 1);
    }
}
