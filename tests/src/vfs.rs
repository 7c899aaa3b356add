//! A test VFS, registered under the name [`VFS_NAME`], that simulates power loss and injects
//! I/O faults.
//!
//! It wraps the default (unix) VFS: files are real files, so locking and shared memory work
//! as usual. A [`Disk`] is a temporary directory; files opened through the VFS inside it are
//! watched, every other file passes through untouched. For each database file and -wal file
//! the disk keeps an undo log of the bytes changed since that file's last sync, so that
//! [`Disk::apply_power_loss`] can leave the files as a disk would after losing power.
//!
//! Connections reach it through a URI: `Committer::open(disk.uri("db"), config)`.

use std::collections::BTreeMap;
use std::ffi::c_int;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use litecommit_vfs_wrap::{Hooks, Inner, Kind};
use rusqlite::ffi;

use crate::rng::Rng;

pub mod ledger;

/// The name to pass as `?vfs=` in a database URI.
pub const VFS_NAME: &str = "crashsim";

/// Granularity of the undo log and of the pieces of a torn write: a disk sector.
const SECTOR: u64 = 512;

/// Which files a fault or a sync hold applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The database file and the -wal file.
    Any,
    /// The database file only.
    Main,
    /// The -wal file only.
    Wal,
}

impl Target {
    fn matches(self, kind: Kind) -> bool {
        matches!(
            (self, kind),
            (Target::Any, Kind::Main | Kind::Wal)
                | (Target::Main, Kind::Main)
                | (Target::Wal, Kind::Wal)
        )
    }
}

/// An injected I/O failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// A write fails with `SQLITE_IOERR_WRITE` (EIO) and writes nothing.
    WriteEio,
    /// A sync fails with `SQLITE_IOERR_FSYNC` (EIO); what was written stays unsynced.
    FsyncEio,
    /// A write fails with `SQLITE_FULL` (ENOSPC) and writes nothing.
    Enospc,
    /// A write stores only part of its buffer, then fails with `SQLITE_FULL`, as the unix VFS
    /// reports a short write.
    ShortWrite,
}

impl FaultKind {
    /// Every kind, for tests that pick one.
    pub const ALL: [FaultKind; 4] = [
        FaultKind::WriteEio,
        FaultKind::FsyncEio,
        FaultKind::Enospc,
        FaultKind::ShortWrite,
    ];

    fn on_sync(self) -> bool {
        self == FaultKind::FsyncEio
    }
}

/// When an injected fault fires, counting only the calls it applies to (writes or syncs of
/// the targeted files).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// On the n-th such call from now (1 = the next one), once.
    Nth(u64),
    /// On each such call with this probability in thousandths, until cleared.
    PerMille(u32),
}

/// Faults that fired, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// `WriteEio` faults.
    pub write_eio: u64,
    /// `FsyncEio` faults.
    pub fsync_eio: u64,
    /// `Enospc` faults.
    pub enospc: u64,
    /// `ShortWrite` faults.
    pub short_write: u64,
}

impl FaultCounts {
    /// All faults that fired.
    pub fn total(&self) -> u64 {
        self.write_eio + self.fsync_eio + self.enospc + self.short_write
    }

    fn slot(&mut self, kind: FaultKind) -> &mut u64 {
        match kind {
            FaultKind::WriteEio => &mut self.write_eio,
            FaultKind::FsyncEio => &mut self.fsync_eio,
            FaultKind::Enospc => &mut self.enospc,
            FaultKind::ShortWrite => &mut self.short_write,
        }
    }

    /// Adds another count to this one.
    pub fn add(&mut self, mut other: FaultCounts) {
        for kind in FaultKind::ALL {
            *self.slot(kind) += *other.slot(kind);
        }
    }
}

/// Calls that reached the database and -wal files of a disk (successful or not).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Writes to the database file.
    pub main_writes: u64,
    /// Writes to the -wal file.
    pub wal_writes: u64,
    /// Syncs of the database file.
    pub main_syncs: u64,
    /// Syncs of the -wal file.
    pub wal_syncs: u64,
    /// Truncations of either.
    pub truncates: u64,
}

/// What survives of the writes that were not synced when the power went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Nothing: every file is exactly as at its last sync.
    Clean,
    /// Each unsynced write and truncation survives whole or not at all, at random and
    /// independently (the disk reordered them, as in ALICE's model); the share kept is
    /// drawn at random too (10%, 50%, 90% or all).
    Reordered,
    /// Like `Reordered`, but a write may also survive in part (some of its sectors), and
    /// the last sector written is torn: only a random prefix of it reached the platter.
    Torn,
    /// Everything: the operating system had written every change out (as after a process
    /// crash).
    Flushed,
}

impl Loss {
    /// Every mode, for tests that pick one.
    pub const ALL: [Loss; 4] = [Loss::Clean, Loss::Reordered, Loss::Torn, Loss::Flushed];
}

/// What [`Disk::apply_power_loss`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LossReport {
    /// Files rolled back.
    pub files: usize,
    /// Writes and truncations not synced when the power went.
    pub unsynced_ops: usize,
    /// Unsynced writes and truncations that survived whole.
    pub kept: usize,
    /// Unsynced writes that survived in part.
    pub partial: usize,
    /// Whether a sector was torn.
    pub torn: bool,
}

/// One change since the last sync, kept to replay a random part of it after a power loss.
enum Change {
    Write(u64, Vec<u8>),
    Truncate(u64),
}

/// The undo log of one file (shared by every handle on it: a sync covers the whole file).
struct FileLog {
    /// The file's length at its last sync.
    synced_len: u64,
    /// The content at the last sync of every sector changed since, by sector index.
    saved: BTreeMap<u64, Vec<u8>>,
    /// The changes since the last sync, in order.
    changes: Vec<Change>,
}

impl FileLog {
    /// Saves the synced content of the sectors overlapping `from..to` that are not saved yet,
    /// reading them through `file` (they are unchanged since the sync, so the disk has them).
    fn save(&mut self, file: &Inner, from: u64, to: u64) -> c_int {
        let end = to.min(self.synced_len);
        let mut sector = from / SECTOR;
        while sector * SECTOR < end {
            if !self.saved.contains_key(&sector) {
                let start = sector * SECTOR;
                let len = SECTOR.min(self.synced_len - start);
                let mut buf = vec![0u8; len as usize];
                let rc = file.read(&mut buf, start as i64);
                if rc != ffi::SQLITE_OK {
                    return rc;
                }
                self.saved.insert(sector, buf);
            }
            sector += 1;
        }
        ffi::SQLITE_OK
    }
}

/// The faults armed on a disk.
struct Faults {
    plan: Option<Plan>,
    rng: Rng,
    fired: FaultCounts,
}

#[derive(Clone, Copy)]
struct Plan {
    kind: FaultKind,
    target: Target,
    trigger: Trigger,
    seen: u64,
}

/// A sync hold: syncs of `target` block until it is released, except the first `allowed`.
#[derive(Default)]
struct Hold {
    target: Option<Target>,
    entered: u64,
    allowed: u64,
}

struct DiskState {
    /// The directory, canonical, with a trailing slash.
    dir: String,
    power_off: AtomicBool,
    /// Guards the power going off, for waiters on `power_went_off`.
    power_lock: Mutex<()>,
    power_went_off: Condvar,
    /// Counts down on each write, sync and truncation; the call that takes it from 1 to 0
    /// cuts the power. 0: no cut scheduled.
    cut_after: AtomicU64,
    main_writes: AtomicU64,
    wal_writes: AtomicU64,
    main_syncs: AtomicU64,
    wal_syncs: AtomicU64,
    truncates: AtomicU64,
    /// Cut the power right after the next fault fires.
    cut_on_fault: AtomicBool,
    /// Handles open through the VFS on files of this disk.
    open: AtomicUsize,
    /// What each file went through since its last sync point; ordered by path so that a
    /// power loss draws its random choices in the same order in every process.
    logs: Mutex<BTreeMap<String, Arc<Mutex<FileLog>>>>,
    faults: Mutex<Faults>,
    fired: Condvar,
    hold: Mutex<Hold>,
    hold_changed: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl DiskState {
    fn turn_off(&self) {
        let _guard = lock(&self.power_lock);
        self.power_off.store(true, Ordering::SeqCst);
        self.power_went_off.notify_all();
    }

    /// Fails with `rc` when the power is off.
    fn check_on(&self, rc: c_int) -> Result<(), c_int> {
        if self.power_off.load(Ordering::SeqCst) {
            return Err(rc);
        }
        Ok(())
    }

    /// Fails with `rc` when the power is off; counts a write, sync or truncation towards a
    /// scheduled cut and cuts the power when its turn comes (that call fails too).
    fn power(&self, rc: c_int) -> Result<(), c_int> {
        self.check_on(rc)?;
        let due = self
            .cut_after
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if due == Ok(1) {
            self.turn_off();
            return Err(rc);
        }
        Ok(())
    }

    /// Whether a fault fires on this call; counts it if so.
    fn fault(&self, kind: Kind, sync: bool) -> Option<FaultKind> {
        let mut faults = lock(&self.faults);
        let mut plan = faults.plan?;
        if plan.kind.on_sync() != sync || !plan.target.matches(kind) {
            return None;
        }
        let fire = match plan.trigger {
            Trigger::Nth(n) => {
                plan.seen += 1;
                plan.seen >= n
            }
            Trigger::PerMille(p) => faults.rng.below(1000) < u64::from(p),
        };
        faults.plan = match (fire, plan.trigger) {
            (true, Trigger::Nth(_)) => None,
            _ => Some(plan),
        };
        if fire {
            if self.cut_on_fault.swap(false, Ordering::SeqCst) {
                // This call fails with its fault; every later one finds the power off.
                self.turn_off();
            }
            *faults.fired.slot(plan.kind) += 1;
            self.fired.notify_all();
            Some(plan.kind)
        } else {
            None
        }
    }

    /// Blocks while a sync hold on this kind of file is in place.
    fn pass_hold(&self, kind: Kind) {
        let mut hold = lock(&self.hold);
        if !hold.target.is_some_and(|t| t.matches(kind)) {
            return;
        }
        let ticket = hold.entered;
        hold.entered += 1;
        self.hold_changed.notify_all();
        while hold.target.is_some_and(|t| t.matches(kind)) && ticket >= hold.allowed {
            hold = self
                .hold_changed
                .wait(hold)
                .unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Every disk alive, searched by path when a file opens.
static DISKS: Mutex<Vec<Arc<DiskState>>> = Mutex::new(Vec::new());

fn disk_for(path: &str) -> Option<Arc<DiskState>> {
    lock(&DISKS)
        .iter()
        .find(|d| path.starts_with(&d.dir))
        .cloned()
}

/// A simulated disk: a temporary directory whose database and -wal files, opened through
/// the [`VFS_NAME`] VFS, can lose power and fail on command. Deleted when dropped.
pub struct Disk {
    state: Arc<DiskState>,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Disk {
    /// A new empty disk; `seed` drives the random faults of [`Trigger::PerMille`].
    pub fn new(seed: u64) -> Result<Disk, String> {
        register()?;
        let dir = tempfile::Builder::new()
            .prefix("crashsim")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let path = dir.path().canonicalize().map_err(|e| e.to_string())?;
        let text = path
            .to_str()
            .ok_or_else(|| format!("{} is not UTF-8", path.display()))?;
        let state = Arc::new(DiskState {
            dir: format!("{text}/"),
            power_off: AtomicBool::new(false),
            power_lock: Mutex::new(()),
            power_went_off: Condvar::new(),
            cut_after: AtomicU64::new(0),
            main_writes: AtomicU64::new(0),
            wal_writes: AtomicU64::new(0),
            main_syncs: AtomicU64::new(0),
            wal_syncs: AtomicU64::new(0),
            truncates: AtomicU64::new(0),
            cut_on_fault: AtomicBool::new(false),
            open: AtomicUsize::new(0),
            logs: Mutex::new(BTreeMap::new()),
            faults: Mutex::new(Faults {
                plan: None,
                rng: Rng::new(seed),
                fired: FaultCounts::default(),
            }),
            fired: Condvar::new(),
            hold: Mutex::new(Hold::default()),
            hold_changed: Condvar::new(),
        });
        lock(&DISKS).push(Arc::clone(&state));
        Ok(Disk {
            state,
            path,
            _dir: dir,
        })
    }

    /// The path of a file on this disk (for plain connections, which bypass the VFS).
    pub fn path(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// A URI that opens `name` on this disk through the VFS.
    pub fn uri(&self, name: &str) -> String {
        let mut uri = String::from("file:");
        for c in self.path(name).to_string_lossy().chars() {
            match c {
                '%' => uri.push_str("%25"),
                '?' => uri.push_str("%3f"),
                '#' => uri.push_str("%23"),
                c => uri.push(c),
            }
        }
        uri.push_str("?vfs=");
        uri.push_str(VFS_NAME);
        uri
    }

    /// Calls so far on the database and -wal files.
    pub fn counts(&self) -> Counts {
        let s = &self.state;
        Counts {
            main_writes: s.main_writes.load(Ordering::SeqCst),
            wal_writes: s.wal_writes.load(Ordering::SeqCst),
            main_syncs: s.main_syncs.load(Ordering::SeqCst),
            wal_syncs: s.wal_syncs.load(Ordering::SeqCst),
            truncates: s.truncates.load(Ordering::SeqCst),
        }
    }

    /// Cuts the power now: every later call on this disk's files fails, nothing more is
    /// written, synced, truncated or deleted.
    pub fn cut_power(&self) {
        self.state.turn_off();
    }

    /// Cuts the power on the `calls`-th write, sync or truncation of the database or -wal
    /// file from now (1 = the next one, which then fails).
    pub fn cut_power_after(&self, calls: u64) {
        self.state.cut_after.store(calls.max(1), Ordering::SeqCst);
    }

    /// Cuts the power right after the next fault fires (that call fails with the fault).
    pub fn cut_power_at_next_fault(&self) {
        self.state.cut_on_fault.store(true, Ordering::SeqCst);
    }

    /// Whether the power is off.
    pub fn power_is_off(&self) -> bool {
        self.state.power_off.load(Ordering::SeqCst)
    }

    /// Waits until the power is off; false if `timeout` ran out.
    pub fn wait_power_off(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut guard = lock(&self.state.power_lock);
        while !self.power_is_off() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            guard = self
                .state
                .power_went_off
                .wait_timeout(guard, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    /// Rolls every file back to what a disk keeps after a power loss (see [`Loss`]), deletes
    /// the -shm files (shared memory does not survive a power loss), clears faults and turns
    /// the power back on. Every connection on the disk must be closed first.
    pub fn apply_power_loss(&self, rng: &mut Rng, loss: Loss) -> Result<LossReport, String> {
        let s = &self.state;
        let open = s.open.load(Ordering::SeqCst);
        if open != 0 {
            return Err(format!(
                "{open} files are still open on the disk: close every connection first"
            ));
        }
        // Nothing may open a file while they are rolled back.
        s.turn_off();
        let logs = std::mem::take(&mut *lock(&s.logs));
        let mut report = LossReport::default();
        for (path, log) in logs {
            restore(Path::new(&path), &lock(&log), rng, loss, &mut report)
                .map_err(|e| format!("cannot restore {path}: {e}"))?;
            report.files += 1;
        }
        let entries = std::fs::read_dir(&self.path).map_err(|e| e.to_string())?;
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().ends_with("-shm") {
                std::fs::remove_file(entry.path()).map_err(|e| e.to_string())?;
            }
        }
        self.clear_faults();
        s.cut_after.store(0, Ordering::SeqCst);
        s.cut_on_fault.store(false, Ordering::SeqCst);
        s.power_off.store(false, Ordering::SeqCst);
        Ok(report)
    }

    /// Copies the disk's files into a new directory that outlives the disk (to investigate
    /// a failure) and returns its path.
    pub fn preserve(&self) -> Result<PathBuf, String> {
        let kept = tempfile::Builder::new()
            .prefix("crashsim-kept")
            .tempdir()
            .map_err(|e| e.to_string())?
            .keep();
        let entries = std::fs::read_dir(&self.path).map_err(|e| e.to_string())?;
        for entry in entries.flatten() {
            std::fs::copy(entry.path(), kept.join(entry.file_name())).map_err(|e| e.to_string())?;
        }
        Ok(kept)
    }

    /// Arms a fault (replacing any armed one) on writes or syncs (by `kind`) of `target`.
    pub fn inject(&self, kind: FaultKind, target: Target, trigger: Trigger) {
        lock(&self.state.faults).plan = Some(Plan {
            kind,
            target,
            trigger,
            seen: 0,
        });
    }

    /// Disarms any armed fault.
    pub fn clear_faults(&self) {
        lock(&self.state.faults).plan = None;
    }

    /// Whether a fault is still armed (an `Nth` fault disarms itself once it fired).
    pub fn fault_armed(&self) -> bool {
        lock(&self.state.faults).plan.is_some()
    }

    /// Faults that fired so far.
    pub fn faults_fired(&self) -> FaultCounts {
        lock(&self.state.faults).fired
    }

    /// Waits until at least `total` faults have fired in all; false if `timeout` ran out.
    pub fn wait_faults_fired(&self, total: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut faults = lock(&self.state.faults);
        while faults.fired.total() < total {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            faults = self
                .state
                .fired
                .wait_timeout(faults, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    /// Makes every sync of `target` block until the returned hold is released (dropped).
    pub fn hold_syncs(&self, target: Target) -> SyncHold {
        let mut hold = lock(&self.state.hold);
        *hold = Hold {
            target: Some(target),
            entered: 0,
            allowed: 0,
        };
        SyncHold {
            state: Arc::clone(&self.state),
        }
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        lock(&DISKS).retain(|d| !Arc::ptr_eq(d, &self.state));
    }
}

/// Syncs of the held files block while this lives; see [`Disk::hold_syncs`].
pub struct SyncHold {
    state: Arc<DiskState>,
}

impl SyncHold {
    /// Syncs that reached the hold so far (each is blocked, or was let through).
    pub fn entered(&self) -> u64 {
        lock(&self.state.hold).entered
    }

    /// Waits until `count` syncs have reached the hold; false if `timeout` ran out.
    pub fn wait_entered(&self, count: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut hold = lock(&self.state.hold);
        while hold.entered < count {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            hold = self
                .state
                .hold_changed
                .wait_timeout(hold, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    /// Lets `count` more syncs through, in the order they reached the hold.
    pub fn allow(&self, count: u64) {
        lock(&self.state.hold).allowed += count;
        self.state.hold_changed.notify_all();
    }

    /// Lets the blocked syncs (and every later one) go on.
    pub fn release(self) {}
}

impl Drop for SyncHold {
    fn drop(&mut self) {
        lock(&self.state.hold).target = None;
        self.state.hold_changed.notify_all();
    }
}

/// Puts one file back as it was at its last sync, then replays the part of the later
/// changes that `loss` keeps.
fn restore(
    path: &Path,
    log: &FileLog,
    rng: &mut Rng,
    loss: Loss,
    report: &mut LossReport,
) -> std::io::Result<()> {
    report.unsynced_ops += log.changes.len();
    if loss == Loss::Flushed {
        return Ok(());
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    for (sector, old) in &log.saved {
        file.write_all_at(old, sector * SECTOR)?;
    }
    file.set_len(log.synced_len)?;
    if loss == Loss::Clean {
        return Ok(());
    }
    let keep_percent = *rng.pick(&[10, 50, 90, 100]);
    let last_write = log
        .changes
        .iter()
        .rposition(|c| matches!(c, Change::Write(_, data) if !data.is_empty()));
    for (i, change) in log.changes.iter().enumerate() {
        match change {
            Change::Truncate(len) => {
                if rng.chance(keep_percent) {
                    file.set_len(*len)?;
                    report.kept += 1;
                }
            }
            Change::Write(off, data) => {
                let whole = rng.chance(keep_percent);
                // Otherwise, with `Torn`, some of its sectors may have made it.
                let partial = !whole && loss == Loss::Torn && rng.chance(33);
                let torn = loss == Loss::Torn && last_write == Some(i);
                let pieces: Vec<(u64, &[u8])> = sectors(*off, data).collect();
                for (k, (at, piece)) in pieces.iter().enumerate() {
                    if torn && k + 1 == pieces.len() {
                        // The last sector written: a prefix of it, then what was there.
                        let keep = rng.below(piece.len() as u64) as usize;
                        file.write_all_at(&piece[..keep], *at)?;
                        report.torn = true;
                    } else if whole || (partial && rng.chance(50)) {
                        file.write_all_at(piece, *at)?;
                    }
                }
                report.kept += usize::from(whole);
                report.partial += usize::from(partial);
            }
        }
    }
    Ok(())
}

/// The pieces of a write that fall in each sector, with their offsets.
fn sectors(off: u64, data: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    let end = off + data.len() as u64;
    let mut at = off;
    std::iter::from_fn(move || {
        if at >= end {
            return None;
        }
        let piece_end = ((at / SECTOR + 1) * SECTOR).min(end);
        let piece = (at, &data[(at - off) as usize..(piece_end - off) as usize]);
        at = piece_end;
        Some(piece)
    })
}

// ---------------------------------------------------------------------------------------
// The VFS hooks: `litecommit_vfs_wrap` forwards every other call to the default VFS.

/// Registers the VFS (not as the default); idempotent. [`Disk::new`] calls it.
pub fn register() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| litecommit_vfs_wrap::register(VFS_NAME, CrashSim, false))
        .clone()
}

/// Watches the files opened on a disk.
struct CrashSim;

/// What we know of a file on a disk.
struct Watched {
    disk: Arc<DiskState>,
    /// Rollback journals and temporary files (`Kind::Other`): power cuts apply, faults and
    /// undo do not.
    kind: Kind,
    /// The undo log (database and -wal files only).
    log: Option<Arc<Mutex<FileLog>>>,
}

impl Hooks for CrashSim {
    type File = Watched;

    fn watch(&self, path: Option<&str>, kind: Kind) -> Result<Option<Watched>, c_int> {
        let Some(disk) = path.and_then(disk_for) else {
            return Ok(None);
        };
        if disk.power_off.load(Ordering::SeqCst) {
            return Err(ffi::SQLITE_CANTOPEN);
        }
        Ok(Some(Watched {
            disk,
            kind,
            log: None,
        }))
    }

    fn opened(&self, w: &mut Watched, path: Option<&str>, inner: &Inner) {
        if let (Kind::Main | Kind::Wal, Some(path)) = (w.kind, path) {
            let size = inner.file_size().unwrap_or(0);
            let mut logs = lock(&w.disk.logs);
            let log = logs.entry(path.to_owned()).or_insert_with(|| {
                Arc::new(Mutex::new(FileLog {
                    synced_len: u64::try_from(size).unwrap_or(0),
                    saved: BTreeMap::new(),
                    changes: Vec::new(),
                }))
            });
            w.log = Some(Arc::clone(log));
        }
        w.disk.open.fetch_add(1, Ordering::SeqCst);
    }

    // Closing always reaches the wrapped VFS, even with the power off: it releases locks
    // and file descriptors, and writes nothing. So do locks and shared memory, which are
    // not durable and must be released for a clean close.
    fn closed(&self, w: Watched) {
        w.disk.open.fetch_sub(1, Ordering::SeqCst);
    }

    fn before_delete(&self, path: &str) -> Result<(), c_int> {
        if let Some(disk) = disk_for(path) {
            disk.check_on(ffi::SQLITE_IOERR_DELETE)?;
            // A deletion is taken as durable: the file starts over if it comes back.
            lock(&disk.logs).remove(path);
        }
        Ok(())
    }

    fn before_read(&self, w: &Watched) -> Result<(), c_int> {
        w.disk.check_on(ffi::SQLITE_IOERR_READ)
    }

    fn before_file_size(&self, w: &Watched) -> Result<(), c_int> {
        w.disk.check_on(ffi::SQLITE_IOERR_FSTAT)
    }

    fn write(&self, w: &Watched, inner: &Inner, data: &[u8], off: i64) -> c_int {
        let Some(log) = &w.log else {
            if let Err(rc) = w.disk.check_on(ffi::SQLITE_IOERR_WRITE) {
                return rc;
            }
            return inner.write(data, off);
        };
        let counter = if w.kind == Kind::Main {
            &w.disk.main_writes
        } else {
            &w.disk.wal_writes
        };
        counter.fetch_add(1, Ordering::SeqCst);
        if let Err(rc) = w.disk.power(ffi::SQLITE_IOERR_WRITE) {
            return rc;
        }
        let Ok(start) = u64::try_from(off) else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        let (mut keep, mut fail) = (data.len(), ffi::SQLITE_OK);
        match w.disk.fault(w.kind, false) {
            Some(FaultKind::WriteEio) => return ffi::SQLITE_IOERR_WRITE,
            Some(FaultKind::Enospc) => return ffi::SQLITE_FULL,
            Some(FaultKind::ShortWrite) => {
                keep = data.len() / 2;
                fail = ffi::SQLITE_FULL;
            }
            Some(FaultKind::FsyncEio) | None => {}
        }
        // The sectors' synced content is saved before the write changes it.
        let mut log = lock(log);
        if log.save(inner, start, start + keep as u64) != ffi::SQLITE_OK {
            return ffi::SQLITE_IOERR_WRITE;
        }
        if keep > 0 {
            let rc = inner.write(&data[..keep], off);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
            log.changes
                .push(Change::Write(start, data[..keep].to_vec()));
        }
        fail
    }

    fn truncate(&self, w: &Watched, inner: &Inner, size: i64) -> c_int {
        let Some(log) = &w.log else {
            if let Err(rc) = w.disk.check_on(ffi::SQLITE_IOERR_TRUNCATE) {
                return rc;
            }
            return inner.truncate(size);
        };
        w.disk.truncates.fetch_add(1, Ordering::SeqCst);
        if let Err(rc) = w.disk.power(ffi::SQLITE_IOERR_TRUNCATE) {
            return rc;
        }
        let Ok(len) = u64::try_from(size) else {
            return ffi::SQLITE_IOERR_TRUNCATE;
        };
        let mut log = lock(log);
        let synced_len = log.synced_len;
        if log.save(inner, len, synced_len) != ffi::SQLITE_OK {
            return ffi::SQLITE_IOERR_TRUNCATE;
        }
        let rc = inner.truncate(size);
        if rc == ffi::SQLITE_OK {
            log.changes.push(Change::Truncate(len));
        }
        rc
    }

    fn sync(&self, w: &Watched, inner: &Inner, flags: c_int) -> c_int {
        let Some(log) = &w.log else {
            if let Err(rc) = w.disk.check_on(ffi::SQLITE_IOERR_FSYNC) {
                return rc;
            }
            return inner.sync(flags);
        };
        let counter = if w.kind == Kind::Main {
            &w.disk.main_syncs
        } else {
            &w.disk.wal_syncs
        };
        counter.fetch_add(1, Ordering::SeqCst);
        w.disk.pass_hold(w.kind);
        if let Err(rc) = w.disk.power(ffi::SQLITE_IOERR_FSYNC) {
            return rc;
        }
        if w.disk.fault(w.kind, true).is_some() {
            return ffi::SQLITE_IOERR_FSYNC;
        }
        // The simulated disk is the durability model: what this sync makes durable is
        // recorded below, so the real fsync (slow on a real disk) is skipped. The size is
        // read under the log's lock: writes hold it, so no write of another connection is
        // half done (a growing file's size moves page by page during a write).
        let mut log = lock(log);
        let Ok(size) = inner.file_size() else {
            return ffi::SQLITE_IOERR_FSYNC;
        };
        log.synced_len = u64::try_from(size).unwrap_or(0);
        log.saved.clear();
        log.changes.clear();
        ffi::SQLITE_OK
    }

    fn file_control(&self, _file: Option<&Watched>, op: c_int) -> Option<c_int> {
        // A size hint may preallocate the file behind the undo log's back; it is only a
        // hint. Swallowed for every file.
        (op == ffi::SQLITE_FCNTL_SIZE_HINT).then_some(ffi::SQLITE_OK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, OpenFlags};

    fn open(disk: &Disk) -> Connection {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(disk.uri("t.db"), flags).unwrap();
        conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))
            .unwrap();
        conn.execute_batch("PRAGMA wal_autocheckpoint=0").unwrap();
        conn
    }

    fn count(disk: &Disk) -> i64 {
        let conn = Connection::open(disk.path("t.db")).unwrap();
        conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_power_loss_keeps_synced_commits_and_drops_unsynced_ones() {
        let disk = Disk::new(1).unwrap();
        let conn = open(&disk);
        conn.execute_batch("PRAGMA synchronous=FULL; CREATE TABLE t (x)")
            .unwrap();
        conn.execute("INSERT INTO t VALUES (1)", []).unwrap();
        conn.execute_batch("PRAGMA synchronous=OFF").unwrap();
        conn.execute("INSERT INTO t VALUES (2)", []).unwrap();
        assert!(disk.counts().wal_syncs >= 2, "{:?}", disk.counts());
        disk.cut_power();
        assert!(conn.execute("INSERT INTO t VALUES (3)", []).is_err());
        drop(conn);
        let report = disk
            .apply_power_loss(&mut Rng::new(1), Loss::Clean)
            .unwrap();
        assert!(report.unsynced_ops > 0, "{report:?}");
        assert_eq!(count(&disk), 1);
    }

    #[test]
    fn a_scheduled_cut_fails_that_call_and_every_later_one() {
        let disk = Disk::new(2).unwrap();
        let conn = open(&disk);
        conn.execute_batch("PRAGMA synchronous=FULL; CREATE TABLE t (x)")
            .unwrap();
        disk.cut_power_after(1);
        let err = conn.execute("INSERT INTO t VALUES (1)", []).unwrap_err();
        assert_eq!(
            err.sqlite_error_code(),
            Some(rusqlite::ErrorCode::SystemIoFailure)
        );
        assert!(disk.power_is_off());
        drop(conn);
        disk.apply_power_loss(&mut Rng::new(2), Loss::Torn).unwrap();
        assert_eq!(count(&disk), 0);
    }

    #[test]
    fn faults_fire_on_the_chosen_call_and_carry_their_codes() {
        let disk = Disk::new(3).unwrap();
        let conn = open(&disk);
        conn.execute_batch("PRAGMA synchronous=FULL; CREATE TABLE t (x)")
            .unwrap();
        let cases = [
            (FaultKind::WriteEio, ffi::SQLITE_IOERR_WRITE),
            (FaultKind::FsyncEio, ffi::SQLITE_IOERR_FSYNC),
            (FaultKind::Enospc, ffi::SQLITE_FULL),
            (FaultKind::ShortWrite, ffi::SQLITE_FULL),
        ];
        for (kind, code) in cases {
            disk.inject(kind, Target::Wal, Trigger::Nth(1));
            let err = conn.execute("INSERT INTO t VALUES (1)", []).unwrap_err();
            match err {
                rusqlite::Error::SqliteFailure(e, _) => assert_eq!(e.extended_code, code),
                other => panic!("{kind:?}: {other:?}"),
            }
            assert!(!disk.fault_armed());
            conn.execute("INSERT INTO t VALUES (2)", []).unwrap();
        }
        let fired = disk.faults_fired();
        assert_eq!((fired.total(), fired.short_write), (4, 1), "{fired:?}");
    }

    #[test]
    fn a_sync_hold_blocks_the_sync_until_released() {
        let disk = Disk::new(4).unwrap();
        let conn = open(&disk);
        conn.execute_batch("PRAGMA synchronous=FULL; CREATE TABLE t (x)")
            .unwrap();
        let hold = disk.hold_syncs(Target::Wal);
        let writer = std::thread::spawn(move || conn.execute("INSERT INTO t VALUES (1)", []));
        assert!(hold.wait_entered(1, Duration::from_secs(60)));
        assert!(!writer.is_finished());
        hold.release();
        assert_eq!(writer.join().unwrap().unwrap(), 1);
    }
}
