//! How long a write on one CPU takes to reach another: two threads pinned to CPUs 0 and 1
//! pass a counter back and forth. On a virtual machine this moves as the host places the
//! two virtual CPUs on cores near or far apart (about 40-55 ns or 160-210 ns one way on the
//! development machine), and the cost of every wake-up across CPUs moves with it.

/// Round trips measured at most.
#[cfg(target_os = "linux")]
const ROUND_TRIPS: u64 = 100_000;

/// How long the measurement runs at most: with another busy process on either CPU a round
/// trip waits for a time slice.
#[cfg(target_os = "linux")]
const BUDGET: std::time::Duration = std::time::Duration::from_millis(50);

/// The one-way latency between CPUs 0 and 1 in ns; `None` where this process may not run
/// on both or the system cannot pin threads.
pub fn one_way_ns() -> Option<f64> {
    #[cfg(target_os = "linux")]
    {
        linux::one_way_ns()
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// [`one_way_ns`] for printing: whole ns, or "n/a".
pub fn show(ns: Option<f64>) -> String {
    ns.map_or("n/a".into(), |ns| format!("{ns:.0}"))
}

/// `figure` with the latency measured before it: "`figure` (`ns` ns)".
pub fn beside(figure: &str, ns: Option<f64>) -> String {
    format!("{figure} ({} ns)", show(ns))
}

#[cfg(target_os = "linux")]
mod linux {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Instant;

    use super::{BUDGET, ROUND_TRIPS};

    /// Set when the answering thread cannot be pinned, and once the measurement is over.
    const STOP: u64 = u64::MAX;

    /// Pins the calling thread to `cpu`.
    pub(super) fn pin(cpu: usize) -> bool {
        // SAFETY: `set` is a plain bit set, zeroed then filled by CPU_SET; the call only
        // reads it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) == 0
        }
    }

    pub(super) fn one_way_ns() -> Option<f64> {
        let turn = AtomicU64::new(0);
        std::thread::scope(|s| {
            // Answers each odd value with the next even one.
            s.spawn(|| {
                if !pin(1) {
                    turn.store(STOP, Ordering::Release);
                    return;
                }
                loop {
                    match turn.load(Ordering::Acquire) {
                        STOP => return,
                        now if now % 2 == 1 => turn.store(now + 1, Ordering::Release),
                        _ => std::hint::spin_loop(),
                    }
                }
            });
            let measured = s
                .spawn(|| {
                    if !pin(0) {
                        return None;
                    }
                    let start = Instant::now();
                    let mut done = 0;
                    'trips: while done < ROUND_TRIPS && start.elapsed() < BUDGET {
                        let ask = 2 * done + 1;
                        if turn
                            .compare_exchange(ask - 1, ask, Ordering::AcqRel, Ordering::Acquire)
                            .is_err()
                        {
                            break;
                        }
                        loop {
                            match turn.load(Ordering::Acquire) {
                                STOP => break 'trips,
                                now if now == ask + 1 => break,
                                _ => std::hint::spin_loop(),
                            }
                        }
                        done += 1;
                    }
                    let elapsed = start.elapsed();
                    (done > 0).then(|| elapsed.as_nanos() as f64 / done as f64 / 2.0)
                })
                .join()
                .ok()
                .flatten();
            turn.store(STOP, Ordering::Release);
            measured
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether a thread of this process can be pinned to CPU 0 and to CPU 1 (tried on a
    /// thread of its own, which ends with it).
    fn can_pin_0_and_1() -> bool {
        #[cfg(target_os = "linux")]
        {
            std::thread::spawn(|| linux::pin(0) && linux::pin(1))
                .join()
                .unwrap_or(false)
        }
        #[cfg(not(target_os = "linux"))]
        {
            false
        }
    }

    #[test]
    fn the_latency_is_measured_wherever_threads_can_be_pinned_to_cpus_0_and_1() {
        if !can_pin_0_and_1() {
            assert_eq!(one_way_ns(), None);
            return;
        }
        let ns = one_way_ns().expect("no latency measured on two CPUs");
        assert!(ns.is_finite() && ns > 0.0, "{ns} ns");
    }
}
