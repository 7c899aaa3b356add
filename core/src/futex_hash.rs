//! Sizing the process's futex hash table for the threads parked on their outcomes.
//!
//! Since Linux 6.16 a process's futexes hash into a private table of 4 buckets per CPU (at
//! least 16) whatever its number of threads, and a wake-up walks its bucket's whole chain
//! under the bucket's lock: 4,096 threads parked on 2 CPUs make each wake-up walk about 256
//! others. So once [`FIT_FROM`] threads wait in `Slot::wait`, the table is grown (never
//! shrunk) to a bucket per waiting thread with `prctl(PR_FUTEX_HASH)`. A process on the
//! shared global table, or a kernel without the call, is left as it is.

#[cfg(target_os = "linux")]
use std::sync::atomic::{AtomicUsize, Ordering};

/// Waiting threads from which the table is fitted.
#[cfg(target_os = "linux")]
const FIT_FROM: usize = 128;

/// Buckets asked for at most (64 KiB of kernel memory per 1,024).
#[cfg(target_os = "linux")]
const MAX_BUCKETS: usize = 1 << 14;

/// `prctl` option and its operations (`linux/prctl.h`, not in the `libc` crate yet).
#[cfg(target_os = "linux")]
const PR_FUTEX_HASH: libc::c_int = 78;
#[cfg(target_os = "linux")]
const PR_FUTEX_HASH_SET_SLOTS: libc::c_ulong = 1;
#[cfg(target_os = "linux")]
const PR_FUTEX_HASH_GET_SLOTS: libc::c_ulong = 2;

/// The most buckets this process asked for.
#[cfg(target_os = "linux")]
static ASKED: AtomicUsize = AtomicUsize::new(0);

/// Grows the table to a bucket per thread when `waiting` threads wait, if it is smaller.
/// One thread asks for each size; the others return at once.
#[cfg(target_os = "linux")]
pub(crate) fn fit(waiting: usize) {
    if waiting < FIT_FROM {
        return;
    }
    let want = waiting.next_power_of_two().min(MAX_BUCKETS);
    if ASKED.load(Ordering::Relaxed) >= want || ASKED.fetch_max(want, Ordering::Relaxed) >= want {
        return;
    }
    match buckets() {
        // `None`: no such call; 0: the global table.
        Some(have) if have > 0 && have < want => {}
        _ => return,
    }
    // SAFETY: integer arguments only. A failure (an immutable table, no memory) leaves the
    // table as it was.
    unsafe {
        libc::prctl(
            PR_FUTEX_HASH,
            PR_FUTEX_HASH_SET_SLOTS,
            want as libc::c_ulong,
            0,
            0,
        )
    };
}

/// Other systems hash futexes (or their equivalent) by themselves.
#[cfg(not(target_os = "linux"))]
pub(crate) fn fit(_waiting: usize) {}

/// The buckets of the process's private table: 0 on the global table, `None` without the call.
#[cfg(target_os = "linux")]
pub(crate) fn buckets() -> Option<usize> {
    // SAFETY: integer arguments only; an unknown option fails with EINVAL.
    let have = unsafe { libc::prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_GET_SLOTS, 0, 0, 0) };
    usize::try_from(have).ok()
}
