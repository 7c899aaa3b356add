//! A SQLite VFS that wraps the default one (the unix VFS) and forwards every call to it,
//! except where a user's [`Hooks`] step in.
//!
//! [`register`] registers such a VFS under a name. Its files are real files of the wrapped
//! VFS, so locking, shared memory and memory mapping work as usual. When a file opens,
//! [`Hooks::watch`] decides whether to watch it and with what state; the reads, writes,
//! truncations, syncs, size queries and close of a watched file then go through the hooks,
//! which reach the wrapped file through [`Inner`]. Files not watched pass through untouched.
//!
//! Every callback runs under `shield`, so a panic becomes an error code instead of unwinding
//! into SQLite.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use rusqlite::ffi;

/// The kinds of files SQLite opens, as the open flags tell them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A database file.
    Main = 0,
    /// A -wal file.
    Wal = 1,
    /// Anything else: rollback journals, temporary files.
    Other = 2,
}

impl Kind {
    fn of(flags: c_int) -> Kind {
        if flags & ffi::SQLITE_OPEN_MAIN_DB != 0 {
            Kind::Main
        } else if flags & ffi::SQLITE_OPEN_WAL != 0 {
            Kind::Wal
        } else {
            Kind::Other
        }
    }
}

/// What a wrapping VFS does beyond forwarding. Every method but [`Hooks::watch`] has a
/// default that forwards unchanged; the per-file methods are called for watched files only
/// (except [`Hooks::file_control`]). A hook reports failure with a SQLite result code.
pub trait Hooks: Send + Sync + 'static {
    /// What the hooks keep for each watched file.
    type File: Send + 'static;

    /// Called before the wrapped VFS opens a file (`path` is `None` for a temporary file
    /// without a name): `Ok(Some(state))` watches it, `Ok(None)` lets it pass through,
    /// `Err(rc)` fails the open with `rc` without opening anything.
    fn watch(&self, path: Option<&str>, kind: Kind) -> Result<Option<Self::File>, c_int>;

    /// Called once the wrapped VFS opened a watched file (SQLite will close it, so
    /// [`Hooks::closed`] follows).
    fn opened(&self, _file: &mut Self::File, _path: Option<&str>, _inner: &Inner) {}

    /// Called after the wrapped file of a watched file closed (even if closing failed).
    fn closed(&self, _file: Self::File) {}

    /// Called before the wrapped VFS deletes `path`: `Err(rc)` fails the deletion with `rc`.
    fn before_delete(&self, _path: &str) -> Result<(), c_int> {
        Ok(())
    }

    /// Called before a read is forwarded: `Err(rc)` fails it with `rc`.
    fn before_read(&self, _file: &Self::File) -> Result<(), c_int> {
        Ok(())
    }

    /// Called before a size query is forwarded: `Err(rc)` fails it with `rc`.
    fn before_file_size(&self, _file: &Self::File) -> Result<(), c_int> {
        Ok(())
    }

    /// Writes `data` at `off`.
    fn write(&self, _file: &Self::File, inner: &Inner, data: &[u8], off: i64) -> c_int {
        inner.write(data, off)
    }

    /// Truncates the file to `size` bytes.
    fn truncate(&self, _file: &Self::File, inner: &Inner, size: i64) -> c_int {
        inner.truncate(size)
    }

    /// Syncs the file.
    fn sync(&self, _file: &Self::File, inner: &Inner, flags: c_int) -> c_int {
        inner.sync(flags)
    }

    /// Called for every file control, on watched files and others: `Some(rc)` answers it
    /// with `rc` instead of forwarding it.
    fn file_control(&self, _file: Option<&Self::File>, _op: c_int) -> Option<c_int> {
        None
    }
}

/// Calls a method of the wrapped file, or yields `$missing` if it has none.
macro_rules! forward {
    ($inner:expr, $method:ident, $missing:expr $(, $arg:expr)*) => {{
        let inner = $inner;
        let (real, methods) = inner.raw();
        match methods.$method {
            Some(m) => m(real $(, $arg)*),
            None => $missing,
        }
    }};
}

/// The wrapped VFS's file under a watched file, lent to a hook for one call.
pub struct Inner(*mut ffi::sqlite3_file);

impl Inner {
    /// The wrapped file and its methods.
    fn raw(&self) -> (*mut ffi::sqlite3_file, &ffi::sqlite3_io_methods) {
        // SAFETY: an `Inner` is only made for a wrapped file that is open, and so has its
        // methods set, and lives no longer than the callback it is lent to.
        (self.0, unsafe { &*(*self.0).pMethods })
    }

    /// Reads `buf.len()` bytes at `off`.
    pub fn read(&self, buf: &mut [u8], off: i64) -> c_int {
        let Ok(n) = c_int::try_from(buf.len()) else {
            return ffi::SQLITE_IOERR_READ;
        };
        let buf = buf.as_mut_ptr().cast();
        // SAFETY: the file is open and `buf` has `n` writable bytes.
        unsafe { forward!(self, xRead, ffi::SQLITE_IOERR_READ, buf, n, off) }
    }

    /// Writes `data` at `off`.
    pub fn write(&self, data: &[u8], off: i64) -> c_int {
        let Ok(n) = c_int::try_from(data.len()) else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        let buf = data.as_ptr().cast();
        // SAFETY: the file is open and `buf` has `n` readable bytes.
        unsafe { forward!(self, xWrite, ffi::SQLITE_IOERR_WRITE, buf, n, off) }
    }

    /// Truncates the file to `size` bytes.
    pub fn truncate(&self, size: i64) -> c_int {
        // SAFETY: the file is open.
        unsafe { forward!(self, xTruncate, ffi::SQLITE_IOERR_TRUNCATE, size) }
    }

    /// Syncs the file.
    pub fn sync(&self, flags: c_int) -> c_int {
        // SAFETY: the file is open.
        unsafe { forward!(self, xSync, ffi::SQLITE_IOERR_FSYNC, flags) }
    }

    /// The file's size in bytes.
    pub fn file_size(&self) -> Result<i64, c_int> {
        let mut size = 0i64;
        // SAFETY: the file is open and `size` is writable.
        match unsafe { forward!(self, xFileSize, ffi::SQLITE_IOERR_FSTAT, &mut size) } {
            ffi::SQLITE_OK => Ok(size),
            rc => Err(rc),
        }
    }
}

/// Registers a VFS named `name` that wraps the current default VFS, as the new default if
/// `make_default`. Call it once per name: the VFS object is leaked.
pub fn register<H: Hooks>(name: &str, hooks: H, make_default: bool) -> Result<(), String> {
    // SAFETY: plain calls into SQLite's VFS registry. The VFS object and its name are
    // leaked, so they outlive every connection; the fields copied from the default VFS
    // (`pAppData`, `mxPathname`) are only read by its own methods, which get the default
    // VFS's pointer.
    unsafe {
        let real = ffi::sqlite3_vfs_find(std::ptr::null());
        if real.is_null() {
            return Err("SQLite has no default VFS".into());
        }
        let real_size = usize::try_from((*real).szOsFile).map_err(|e| e.to_string())?;
        let size = c_int::try_from(File::<H>::HEADER + real_size).map_err(|e| e.to_string())?;
        let name = CString::new(name).map_err(|e| e.to_string())?;
        let mut base: ffi::sqlite3_vfs = *real;
        base.szOsFile = size;
        base.zName = name.into_raw();
        base.pNext = std::ptr::null_mut();
        base.xOpen = Some(x_open::<H>);
        base.xDelete = Some(x_delete::<H>);
        let ours = Box::into_raw(Box::new(Vfs {
            base,
            real,
            methods: io_methods::<H>(),
            hooks,
        }));
        match ffi::sqlite3_vfs_register(ours.cast(), c_int::from(make_default)) {
            ffi::SQLITE_OK => Ok(()),
            rc => Err(format!("sqlite3_vfs_register failed with code {rc}")),
        }
    }
}

/// Our VFS object: SQLite sees `base`, our callbacks cast it back to reach the rest.
#[repr(C)]
struct Vfs<H> {
    base: ffi::sqlite3_vfs,
    /// The wrapped VFS.
    real: *mut ffi::sqlite3_vfs,
    /// The methods of our files.
    methods: ffi::sqlite3_io_methods,
    hooks: H,
}

/// Our file object: SQLite allocates `szOsFile` bytes; the wrapped VFS's file follows it.
#[repr(C)]
struct File<H: Hooks> {
    base: ffi::sqlite3_file,
    real: *mut ffi::sqlite3_file,
    vfs: *const Vfs<H>,
    /// A leaked `Box` of the hooks' state for a watched file, null for others.
    state: *mut H::File,
}

impl<H: Hooks> File<H> {
    /// Room for `File`, rounded up so the wrapped file that follows stays 8-byte aligned.
    const HEADER: usize = std::mem::size_of::<Self>().div_ceil(8) * 8;
}

/// Runs a callback body, turning a panic into `fallback`.
fn shield<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// The hooks, the wrapped file and the hooks' state (if watched) of `f`.
///
/// # Safety
/// `f` must be a file opened by `x_open::<H>` whose wrapped file is open; the results must
/// not outlive it.
unsafe fn parts<'a, H: Hooks>(f: *mut ffi::sqlite3_file) -> (&'a H, Inner, Option<&'a H::File>) {
    let f = &*f.cast::<File<H>>();
    (&(*f.vfs).hooks, Inner(f.real), f.state.as_ref())
}

unsafe extern "C" fn x_open<H: Hooks>(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: `vfs` is the `Vfs<H>` that `register` leaked. SQLite hands us `szOsFile`
    // writable bytes at `file` and a NUL-terminated name (or null for a temporary file);
    // the wrapped file lives right after our header.
    shield(ffi::SQLITE_CANTOPEN, || unsafe {
        let vfs = vfs.cast::<Vfs<H>>();
        let Some(open) = (*vfs).real.as_ref().and_then(|v| v.xOpen) else {
            return ffi::SQLITE_CANTOPEN;
        };
        let ours = file.cast::<File<H>>();
        let real = file
            .cast::<u8>()
            .add(File::<H>::HEADER)
            .cast::<ffi::sqlite3_file>();
        (*ours).base.pMethods = std::ptr::null();
        (*ours).real = real;
        (*ours).vfs = vfs;
        (*ours).state = std::ptr::null_mut();
        (*real).pMethods = std::ptr::null();
        let path = (!name.is_null()).then(|| CStr::from_ptr(name).to_string_lossy());
        let hooks = &(*vfs).hooks;
        let state = match hooks.watch(path.as_deref(), Kind::of(flags)) {
            Ok(state) => state,
            Err(rc) => return rc,
        };
        let rc = open((*vfs).real, name, real, flags, out_flags);
        if (*real).pMethods.is_null() {
            return if rc == ffi::SQLITE_OK {
                ffi::SQLITE_CANTOPEN
            } else {
                rc
            };
        }
        // SQLite calls xClose whenever pMethods is set, even after a failed open.
        (*ours).base.pMethods = &(*vfs).methods;
        if let Some(mut state) = state {
            hooks.opened(&mut state, path.as_deref(), &Inner(real));
            (*ours).state = Box::into_raw(Box::new(state));
        }
        rc
    })
}

unsafe extern "C" fn x_delete<H: Hooks>(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    sync_dir: c_int,
) -> c_int {
    // SAFETY: `vfs` is the `Vfs<H>` that `register` leaked; `name` is a NUL-terminated path
    // from SQLite.
    shield(ffi::SQLITE_IOERR_DELETE, || unsafe {
        let vfs = vfs.cast::<Vfs<H>>();
        let Some(delete) = (*vfs).real.as_ref().and_then(|v| v.xDelete) else {
            return ffi::SQLITE_IOERR_DELETE;
        };
        if !name.is_null() {
            let path = CStr::from_ptr(name).to_string_lossy();
            if let Err(rc) = (*vfs).hooks.before_delete(&path) {
                return rc;
            }
        }
        delete((*vfs).real, name, sync_dir)
    })
}

unsafe extern "C" fn x_close<H: Hooks>(f: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes each file it opened once; `state` was leaked by `x_open`.
    shield(ffi::SQLITE_IOERR_CLOSE, || unsafe {
        let ours = f.cast::<File<H>>();
        let rc = forward!(Inner((*ours).real), xClose, ffi::SQLITE_OK);
        let state = std::mem::replace(&mut (*ours).state, std::ptr::null_mut());
        if !state.is_null() {
            (*(*ours).vfs).hooks.closed(*Box::from_raw(state));
        }
        rc
    })
}

unsafe extern "C" fn x_read<H: Hooks>(
    f: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    n: c_int,
    off: i64,
) -> c_int {
    // SAFETY: arguments as SQLite passed them, to the wrapped file.
    shield(ffi::SQLITE_IOERR_READ, || unsafe {
        let (hooks, inner, state) = parts::<H>(f);
        match state.map_or(Ok(()), |state| hooks.before_read(state)) {
            Ok(()) => forward!(inner, xRead, ffi::SQLITE_IOERR_READ, buf, n, off),
            Err(rc) => rc,
        }
    })
}

unsafe extern "C" fn x_write<H: Hooks>(
    f: *mut ffi::sqlite3_file,
    buf: *const c_void,
    n: c_int,
    off: i64,
) -> c_int {
    // SAFETY: `buf` holds `n` readable bytes; arguments go on to the wrapped file.
    shield(ffi::SQLITE_IOERR_WRITE, || unsafe {
        let (hooks, inner, state) = parts::<H>(f);
        let Some(state) = state else {
            return forward!(inner, xWrite, ffi::SQLITE_IOERR_WRITE, buf, n, off);
        };
        let data = match usize::try_from(n) {
            Ok(0) => &[][..],
            Ok(len) => std::slice::from_raw_parts(buf.cast::<u8>(), len),
            Err(_) => return ffi::SQLITE_IOERR_WRITE,
        };
        hooks.write(state, &inner, data, off)
    })
}

unsafe extern "C" fn x_truncate<H: Hooks>(f: *mut ffi::sqlite3_file, size: i64) -> c_int {
    // SAFETY: arguments go on to the wrapped file.
    shield(ffi::SQLITE_IOERR_TRUNCATE, || unsafe {
        let (hooks, inner, state) = parts::<H>(f);
        match state {
            Some(state) => hooks.truncate(state, &inner, size),
            None => inner.truncate(size),
        }
    })
}

unsafe extern "C" fn x_sync<H: Hooks>(f: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    // SAFETY: arguments go on to the wrapped file.
    shield(ffi::SQLITE_IOERR_FSYNC, || unsafe {
        let (hooks, inner, state) = parts::<H>(f);
        match state {
            Some(state) => hooks.sync(state, &inner, flags),
            None => inner.sync(flags),
        }
    })
}

unsafe extern "C" fn x_file_size<H: Hooks>(f: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    // SAFETY: arguments go on to the wrapped file.
    shield(ffi::SQLITE_IOERR_FSTAT, || unsafe {
        let (hooks, inner, state) = parts::<H>(f);
        match state.map_or(Ok(()), |state| hooks.before_file_size(state)) {
            Ok(()) => forward!(inner, xFileSize, ffi::SQLITE_IOERR_FSTAT, size),
            Err(rc) => rc,
        }
    })
}

unsafe extern "C" fn x_file_control<H: Hooks>(
    f: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: arguments go on to the wrapped file.
    shield(ffi::SQLITE_NOTFOUND, || unsafe {
        let (hooks, inner, state) = parts::<H>(f);
        if let Some(rc) = hooks.file_control(state, op) {
            return rc;
        }
        forward!(inner, xFileControl, ffi::SQLITE_NOTFOUND, op, arg)
    })
}

/// Defines callbacks that only forward to the wrapped file, each as
/// `name: method(arguments) [-> return type], what a wrapped file without the method gives;`.
macro_rules! pass_through {
    ($($name:ident: $method:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?, $missing:expr;)*) => {
        $(unsafe extern "C" fn $name<H: Hooks>(
            f: *mut ffi::sqlite3_file $(, $arg: $ty)*
        ) $(-> $ret)? {
            // SAFETY: `f` was opened by `x_open::<H>`; the arguments go on to its wrapped
            // file.
            shield($missing, || unsafe {
                forward!(parts::<H>(f).1, $method, $missing $(, $arg)*)
            })
        })*
    };
}

pass_through! {
    x_lock: xLock(level: c_int) -> c_int, ffi::SQLITE_IOERR_LOCK;
    x_unlock: xUnlock(level: c_int) -> c_int, ffi::SQLITE_IOERR_UNLOCK;
    x_check_reserved_lock: xCheckReservedLock(out: *mut c_int) -> c_int,
        ffi::SQLITE_IOERR_CHECKRESERVEDLOCK;
    x_sector_size: xSectorSize() -> c_int, 4096;
    x_device_characteristics: xDeviceCharacteristics() -> c_int, 0;
    x_shm_map: xShmMap(page: c_int, size: c_int, extend: c_int, out: *mut *mut c_void) -> c_int,
        ffi::SQLITE_IOERR_SHMMAP;
    x_shm_lock: xShmLock(offset: c_int, n: c_int, flags: c_int) -> c_int,
        ffi::SQLITE_IOERR_SHMLOCK;
    x_shm_barrier: xShmBarrier(), ();
    x_shm_unmap: xShmUnmap(delete: c_int) -> c_int, ffi::SQLITE_OK;
}

unsafe extern "C" fn x_fetch<H: Hooks>(
    f: *mut ffi::sqlite3_file,
    off: i64,
    n: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // SAFETY: `out` is writable; arguments go on to the wrapped file.
    shield(ffi::SQLITE_IOERR_MMAP, || unsafe {
        let inner = parts::<H>(f).1;
        let (real, methods) = inner.raw();
        match methods.xFetch {
            Some(m) if methods.iVersion >= 3 => m(real, off, n, out),
            _ => {
                *out = std::ptr::null_mut();
                ffi::SQLITE_OK
            }
        }
    })
}

unsafe extern "C" fn x_unfetch<H: Hooks>(
    f: *mut ffi::sqlite3_file,
    off: i64,
    p: *mut c_void,
) -> c_int {
    // SAFETY: arguments go on to the wrapped file.
    shield(ffi::SQLITE_IOERR_MMAP, || unsafe {
        let inner = parts::<H>(f).1;
        let (real, methods) = inner.raw();
        match methods.xUnfetch {
            Some(m) if methods.iVersion >= 3 => m(real, off, p),
            _ => ffi::SQLITE_OK,
        }
    })
}

/// The methods of our files.
fn io_methods<H: Hooks>() -> ffi::sqlite3_io_methods {
    ffi::sqlite3_io_methods {
        iVersion: 3,
        xClose: Some(x_close::<H>),
        xRead: Some(x_read::<H>),
        xWrite: Some(x_write::<H>),
        xTruncate: Some(x_truncate::<H>),
        xSync: Some(x_sync::<H>),
        xFileSize: Some(x_file_size::<H>),
        xLock: Some(x_lock::<H>),
        xUnlock: Some(x_unlock::<H>),
        xCheckReservedLock: Some(x_check_reserved_lock::<H>),
        xFileControl: Some(x_file_control::<H>),
        xSectorSize: Some(x_sector_size::<H>),
        xDeviceCharacteristics: Some(x_device_characteristics::<H>),
        xShmMap: Some(x_shm_map::<H>),
        xShmLock: Some(x_shm_lock::<H>),
        xShmBarrier: Some(x_shm_barrier::<H>),
        xShmUnmap: Some(x_shm_unmap::<H>),
        xFetch: Some(x_fetch::<H>),
        xUnfetch: Some(x_unfetch::<H>),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, ErrorCode, OpenFlags};

    /// Refuses to open files named `refused`; panics on every write to a watched file.
    struct Picky;

    impl Hooks for Picky {
        type File = ();

        fn watch(&self, path: Option<&str>, _kind: Kind) -> Result<Option<()>, c_int> {
            match path {
                Some(path) if path.ends_with("/refused") => Err(ffi::SQLITE_CANTOPEN),
                _ => Ok(Some(())),
            }
        }

        fn write(&self, _file: &(), _inner: &Inner, _data: &[u8], _off: i64) -> c_int {
            panic!("a write hook panicked");
        }
    }

    #[test]
    fn a_hook_refuses_an_open_and_a_panicking_hook_fails_its_call() {
        register("vfs-wrap-test", Picky, false).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let open = |name: &str| {
            Connection::open_with_flags_and_vfs(
                dir.path().join(name),
                OpenFlags::default(),
                "vfs-wrap-test",
            )
        };
        let refused = open("refused").unwrap_err();
        assert_eq!(refused.sqlite_error_code(), Some(ErrorCode::CannotOpen));
        let conn = open("t.db").unwrap();
        let err = conn.execute_batch("CREATE TABLE t (x)").unwrap_err();
        assert_eq!(err.sqlite_error_code(), Some(ErrorCode::SystemIoFailure));
    }
}
