//! Waking crowds of parked threads from the CPU each parked on, a group at a time.
//!
//! Waking a thread that last ran on another CPU has the kernel lock and update that CPU's
//! run queue from here, pulling its cache lines across, and on a virtual machine whose CPUs
//! are far apart that is most of the cost of a wake-up. So a batch's threads are woken where
//! they parked: those of the waking thread's CPU by it, the others by a thread pinned to
//! their CPU, started for it at its first batch and kept for the process's life (one per
//! CPU at most), which gets them all with one wake-up.
//!
//! And a system call per thread let each woken thread preempt its waker before the next
//! call. So consecutive threads to park on a CPU share a futex word, [`GROUP`] to a word,
//! and one call wakes the group. A group can straddle two batches: a thread woken before
//! its outcome came waits again.
//!
//! Threads whose CPU the system does not tell (everywhere but Linux) park and are woken one
//! by one. Measured on 2 CPUs, 512 threads blocked in `transaction`: 447k transactions/s in
//! groups from their CPUs, 348k one by one from their CPUs, 240k one by one from the writer
//! (averages of seven alternating pairs; docs/performance.md has the figures).

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::thread::Thread;

/// The CPU the calling thread runs on, where the system tells.
pub(crate) fn this_cpu() -> Option<u32> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: no arguments; -1 on failure.
        u32::try_from(unsafe { libc::sched_getcpu() }).ok()
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// What wakes with one call: a parked thread, or a group of them.
#[derive(Debug)]
pub(crate) enum Sleeper {
    /// A thread parked on its own.
    Thread(Thread),
    /// The threads parked with a group.
    Group(Group),
}

impl Sleeper {
    /// Wakes the thread, or every thread of the group.
    fn wake(self) {
        match self {
            Sleeper::Thread(thread) => thread.unpark(),
            Sleeper::Group(group) => group.wake(),
        }
    }
}

/// Wakes every sleeper of `parked`, each with the CPU it parked on.
pub(crate) fn wake(parked: Vec<(Sleeper, Option<u32>)>) {
    let here = this_cpu();
    let mut local = Vec::new();
    let mut remote: Vec<(u32, Vec<Sleeper>)> = Vec::new();
    for (sleeper, cpu) in parked {
        match cpu.filter(|&cpu| Some(cpu) != here) {
            None => local.push(sleeper),
            Some(cpu) => match remote.iter_mut().find(|(c, _)| *c == cpu) {
                Some((_, sleepers)) => sleepers.push(sleeper),
                None => remote.push((cpu, vec![sleeper])),
            },
        }
    }
    // Handed over first, so that the other CPUs wake theirs while this one wakes its own.
    for (cpu, sleepers) in remote {
        match waker(cpu) {
            Some(waker) => waker.hand(sleepers),
            None => local.extend(sleepers),
        }
    }
    local.into_iter().for_each(Sleeper::wake);
}

/// Rows of groups: the threads parked on a CPU join the groups of its row (CPUs further
/// apart than this share rows, and their groups may wake each other's threads for nothing).
const ROWS: usize = 64;
/// Words per row: a thread shares its word only with its group while fewer than
/// `GROUP * WORDS` threads are parked on its CPU at once.
const WORDS: usize = 128;
/// Consecutive threads to park on a CPU that share a word.
const GROUP: usize = 32;

/// The futex words of the groups; each counts its group's wake-ups.
static TABLE: [[AtomicU32; WORDS]; ROWS] = [const { [const { AtomicU32::new(0) }; WORDS] }; ROWS];
/// Threads that joined a group of each row so far.
static JOINED: [AtomicUsize; ROWS] = [const { AtomicUsize::new(0) }; ROWS];

/// Threads parked on one CPU that one call wakes together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Group {
    /// The CPU they parked on.
    cpu: u32,
    /// Their word in the CPU's row.
    word: u16,
}

impl Group {
    /// The group of the next thread to park on `cpu`.
    pub(crate) fn join(cpu: u32) -> Group {
        let n = JOINED[cpu as usize % ROWS].fetch_add(1, Ordering::Relaxed);
        Group {
            cpu,
            word: ((n / GROUP) % WORDS) as u16,
        }
    }

    /// The CPU its threads parked on.
    pub(crate) fn cpu(self) -> u32 {
        self.cpu
    }

    /// Its futex word.
    fn word(self) -> &'static AtomicU32 {
        &TABLE[self.cpu as usize % ROWS][usize::from(self.word)]
    }

    /// The group's wake-ups so far: read it before checking for the outcome, and wait with it.
    pub(crate) fn wakeups(self) -> u32 {
        self.word().load(Ordering::Acquire)
    }

    /// Blocks until the group is woken, unless it was since `wakeups` was read. May return
    /// spuriously.
    pub(crate) fn wait(self, wakeups: u32) {
        #[cfg(target_os = "linux")]
        atomic_wait::wait(self.word(), wakeups);
        #[cfg(not(target_os = "linux"))]
        if self.wakeups() == wakeups {
            std::thread::yield_now();
        }
    }

    /// Wakes every thread of the group (after their outcomes were left).
    pub(crate) fn wake(self) {
        self.word().fetch_add(1, Ordering::Release);
        #[cfg(target_os = "linux")]
        atomic_wait::wake_all(self.word());
    }
}

/// The thread that wakes the threads parked on one CPU.
struct CpuWaker {
    /// The CPU.
    cpu: u32,
    /// The process that started it: a forked child has no such thread and starts its own.
    pid: u32,
    /// Sleepers to wake, shared with the waker.
    todo: Arc<Mutex<Vec<Sleeper>>>,
    /// The waker itself, unparked when there is something to wake.
    thread: Thread,
}

impl CpuWaker {
    /// Has the waker wake `sleepers`.
    fn hand(&self, mut sleepers: Vec<Sleeper>) {
        let mut todo = lock(&self.todo);
        if todo.is_empty() {
            std::mem::swap(&mut *todo, &mut sleepers);
        } else {
            todo.append(&mut sleepers);
        }
        drop(todo);
        self.thread.unpark();
    }

    /// The waker's loop: wakes what it is handed, parks when there is nothing.
    fn serve(todo: &Mutex<Vec<Sleeper>>) {
        let mut batch = Vec::new();
        loop {
            std::mem::swap(&mut batch, &mut *lock(todo));
            if batch.is_empty() {
                std::thread::park();
            }
            batch.drain(..).for_each(Sleeper::wake);
        }
    }
}

/// The wakers started so far.
static WAKERS: Mutex<Vec<Arc<CpuWaker>>> = Mutex::new(Vec::new());

/// The waker of `cpu`, started if there is none; `None` if it cannot be, or if another
/// thread is looking one up (after a fork, the lock may be held by a thread that is gone).
fn waker(cpu: u32) -> Option<Arc<CpuWaker>> {
    let pid = std::process::id();
    let mut wakers = match WAKERS.try_lock() {
        Ok(wakers) => wakers,
        Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(TryLockError::WouldBlock) => return None,
    };
    wakers.retain(|w| w.pid == pid);
    if let Some(w) = wakers.iter().find(|w| w.cpu == cpu) {
        return Some(Arc::clone(w));
    }
    let todo = Arc::new(Mutex::new(Vec::new()));
    let served = Arc::clone(&todo);
    let thread = std::thread::Builder::new()
        .name("litecommit-wake".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            pin_to(cpu);
            CpuWaker::serve(&served);
        })
        .ok()?
        .thread()
        .clone();
    let waker = Arc::new(CpuWaker {
        cpu,
        pid,
        todo,
        thread,
    });
    wakers.push(Arc::clone(&waker));
    Some(waker)
}

/// Keeps the calling thread on `cpu`; where it cannot (not allowed, beyond what a cpu_set_t
/// holds, not Linux) it runs anywhere and its wake-ups are merely not local.
fn pin_to(cpu: u32) {
    #[cfg(target_os = "linux")]
    {
        let cpu = cpu as usize;
        if cpu >= libc::CPU_SETSIZE as usize {
            return;
        }
        // SAFETY: `set` is a zeroed cpu_set_t holding `cpu`, of the size passed.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cpu;
}

/// Locks a mutex whose data stays consistent even if a holder panicked.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::sync::mpsc::{channel, Receiver, TryRecvError};
    use std::time::Duration;

    use super::*;

    /// A CPU other than this one where there is one, else this one.
    fn another_cpu() -> Option<u32> {
        let cpus = crate::slot::cpus() as u32;
        this_cpu().map(|cpu| (cpu + 1) % cpus)
    }

    /// Waits for `n` threads to report.
    fn reported(done: &Receiver<usize>, n: usize) -> Vec<usize> {
        (0..n)
            .map(|i| {
                done.recv_timeout(Duration::from_secs(60))
                    .unwrap_or_else(|_| panic!("{i} of {n} threads woken"))
            })
            .collect()
    }

    #[test]
    fn threads_parked_on_any_cpu_are_all_woken() {
        let cpus = crate::slot::cpus() as u32;
        let go = Arc::new(AtomicBool::new(false));
        let (done, finished) = channel();
        let parked: Vec<_> = (0..64u32)
            .map(|i| {
                let (go, done) = (Arc::clone(&go), done.clone());
                let thread = std::thread::spawn(move || {
                    while !go.load(Ordering::Acquire) {
                        std::thread::park();
                    }
                    done.send(i as usize).unwrap();
                });
                // Every CPU in turn, and one beyond any cpu_set_t, whose waker runs unpinned.
                let cpu = if i % 8 == 7 { 1 << 20 } else { i % cpus };
                (Sleeper::Thread(thread.thread().clone()), Some(cpu))
            })
            .collect();
        go.store(true, Ordering::Release);
        wake(parked);
        reported(&finished, 64);
    }

    #[test]
    fn a_group_woken_from_its_cpu_wakes_every_thread_and_the_early_ones_wait_again() {
        let Some(cpu) = another_cpu() else {
            eprintln!("this system does not tell CPUs: no groups");
            return;
        };
        let group = Group::join(cpu);
        let ready: Arc<Vec<AtomicBool>> =
            Arc::new((0..8).map(|_| AtomicBool::new(false)).collect());
        let (done, finished) = channel();
        for i in 0..8 {
            let (ready, done) = (Arc::clone(&ready), done.clone());
            std::thread::spawn(move || loop {
                let wakeups = group.wakeups();
                if ready[i].load(Ordering::Acquire) {
                    done.send(i).unwrap();
                    return;
                }
                group.wait(wakeups);
            });
        }
        // Half of them have their outcome: the other half are woken too, and wait again.
        (0..4).for_each(|i| ready[i].store(true, Ordering::Release));
        wake(vec![(Sleeper::Group(group), Some(cpu))]);
        let mut first = reported(&finished, 4);
        first.sort_unstable();
        assert_eq!(first, [0, 1, 2, 3]);
        assert_eq!(finished.try_recv(), Err(TryRecvError::Empty));
        (4..8).for_each(|i| ready[i].store(true, Ordering::Release));
        wake(vec![(Sleeper::Group(group), Some(cpu))]);
        let mut rest = reported(&finished, 4);
        rest.sort_unstable();
        assert_eq!(rest, [4, 5, 6, 7]);
    }
}
