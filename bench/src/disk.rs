//! A latency model of the disk under the benchmarks' databases, charged by the counting VFS
//! on every sync: a sync waits until the bytes written to that file since its previous sync
//! have crossed the device, then for the device's fixed flush latency.
//!
//! - `Shared` (a network block device with a deep queue): syncs that run at the same time
//!   share the device's bandwidth equally (processor sharing) and their flush latencies
//!   overlap.
//! - `Serialized` (the worst case): one sync at a time, each taking latency plus transfer.
//!
//! The real sync runs first, so the model adds its cost to what this machine's disk costs.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How concurrent syncs use the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queue {
    Shared,
    Serialized,
}

/// A disk whose syncs cost `latency` plus the dirty bytes over `bandwidth`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Disk {
    /// The name `--disk` takes.
    pub name: &'static str,
    /// Fixed cost of one sync (the flush round trip); zero for this machine as it is.
    pub latency: Duration,
    /// Bytes per second the device moves; infinite for this machine as it is.
    pub bandwidth: f64,
    pub queue: Queue,
    /// Where the figures come from.
    pub source: &'static str,
}

const MB: f64 = 1_000_000.0;

/// The named disks `--disk` picks from.
pub const PRESETS: [Disk; 5] = [
    Disk {
        name: "machine",
        latency: Duration::ZERO,
        bandwidth: f64::INFINITY,
        queue: Queue::Shared,
        source: "this machine's own disk, nothing added",
    },
    Disk {
        name: "cloud-ssd",
        latency: Duration::from_micros(1500),
        bandwidth: 250.0 * MB,
        queue: Queue::Shared,
        source: "a network-attached cloud SSD: 1-2 ms per flush round trip and a few hundred \
                 MB/s (AWS EBS gp3: 125-1000 MiB/s, 'single-digit millisecond' latency; \
                 GCP pd-balanced: 240 MB/s write at small sizes)",
    },
    Disk {
        name: "cloud-ssd-serialized",
        latency: Duration::from_micros(1500),
        bandwidth: 250.0 * MB,
        queue: Queue::Serialized,
        source: "cloud-ssd with one sync at a time (the worst case: no queue depth)",
    },
    Disk {
        name: "hdd",
        latency: Duration::from_millis(8),
        bandwidth: 100.0 * MB,
        queue: Queue::Shared,
        source: "a 7200 rpm disk: about 4 ms seek plus 4 ms half a rotation per flush, \
                 100 MB/s sequential",
    },
    Disk {
        name: "hdd-serialized",
        latency: Duration::from_millis(8),
        bandwidth: 100.0 * MB,
        queue: Queue::Serialized,
        source: "hdd with one sync at a time",
    },
];

impl Disk {
    /// The preset called `name`.
    pub fn named(name: &str) -> Result<Disk, String> {
        PRESETS
            .iter()
            .find(|d| d.name == name)
            .copied()
            .ok_or_else(|| {
                let names: Vec<_> = PRESETS.iter().map(|d| d.name).collect();
                format!("unknown disk {name:?}; one of {}", names.join(", "))
            })
    }

    /// Whether syncs cost nothing beyond the real disk's.
    pub fn is_real(&self) -> bool {
        self.latency.is_zero() && self.bandwidth.is_infinite()
    }

    /// "1.5 ms + bytes / 250 MB/s, shared queue".
    pub fn describe(&self) -> String {
        if self.is_real() {
            return "this machine's disk as it is".into();
        }
        let queue = match self.queue {
            Queue::Shared => "concurrent syncs share the bandwidth",
            Queue::Serialized => "one sync at a time",
        };
        format!(
            "each sync costs {:.1} ms + dirty bytes / {:.0} MB/s, {queue}",
            self.latency.as_secs_f64() * 1000.0,
            self.bandwidth / MB
        )
    }
}

/// The transfers in progress on the shared device.
struct Device {
    /// Bytes each running transfer still has to move, by ticket.
    transfers: Vec<(u64, f64)>,
    /// When `transfers` was last brought up to date.
    updated: Instant,
    next_ticket: u64,
}

impl Device {
    /// Moves every transfer forward to `now`, each at its share of `bandwidth`.
    fn advance(&mut self, now: Instant, bandwidth: f64) {
        let n = self.transfers.len();
        if n > 0 {
            let moved = now.duration_since(self.updated).as_secs_f64() * bandwidth / n as f64;
            for (_, left) in &mut self.transfers {
                *left -= moved;
            }
        }
        self.updated = now;
    }
}

static DISK: Mutex<Option<Disk>> = Mutex::new(None);
static DEVICE: Mutex<Option<Device>> = Mutex::new(None);
static DEVICE_CHANGED: Condvar = Condvar::new();
/// Held by a sync for its whole cost in `Serialized` mode.
static SERIAL: Mutex<()> = Mutex::new(());

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Charges every later sync against `disk`.
pub fn set(disk: Disk) {
    *lock(&DISK) = (!disk.is_real()).then_some(disk);
}

/// Waits for what a sync of `dirty` bytes costs on the current disk.
pub fn sync(dirty: u64) {
    let Some(disk) = *lock(&DISK) else { return };
    let bytes = dirty as f64;
    match disk.queue {
        Queue::Serialized => {
            let _one_at_a_time = lock(&SERIAL);
            std::thread::sleep(disk.latency + Duration::from_secs_f64(bytes / disk.bandwidth));
        }
        Queue::Shared => {
            transfer(bytes, disk.bandwidth);
            std::thread::sleep(disk.latency);
        }
    }
}

/// Moves `bytes` across the shared device, which splits its bandwidth equally among the
/// transfers in progress; returns when this one is done.
fn transfer(bytes: f64, bandwidth: f64) {
    if bytes <= 0.0 {
        return;
    }
    let mut device = lock(&DEVICE);
    let dev = device.get_or_insert_with(|| Device {
        transfers: Vec::new(),
        updated: Instant::now(),
        next_ticket: 0,
    });
    dev.advance(Instant::now(), bandwidth);
    let ticket = dev.next_ticket;
    dev.next_ticket += 1;
    dev.transfers.push((ticket, bytes));
    DEVICE_CHANGED.notify_all();
    loop {
        let Some(dev) = device.as_mut() else { return };
        dev.advance(Instant::now(), bandwidth);
        let Some(i) = dev.transfers.iter().position(|(t, _)| *t == ticket) else {
            return;
        };
        let left = dev.transfers[i].1;
        if left <= 0.0 {
            dev.transfers.swap_remove(i);
            // The others now get a larger share.
            DEVICE_CHANGED.notify_all();
            return;
        }
        // Done by then unless another transfer starts or ends first (which wakes us).
        let eta = Duration::from_secs_f64(left * dev.transfers.len() as f64 / bandwidth);
        device = DEVICE_CHANGED
            .wait_timeout(device, eta)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_found_by_name() {
        assert_eq!(Disk::named("cloud-ssd").unwrap().latency.as_micros(), 1500);
        assert!(Disk::named("machine").unwrap().is_real());
        let err = Disk::named("floppy").unwrap_err();
        assert!(err.contains("cloud-ssd"), "{err}");
    }

    #[test]
    fn concurrent_transfers_share_the_bandwidth() {
        // Two 1 MB transfers side by side on a 100 MB/s device: the device never moves more
        // than its bandwidth (a lower bound, which a loaded machine cannot break), and
        // both transfers leave the device when done.
        let start = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| transfer(1_000_000.0, 100.0 * MB));
            }
        });
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert!(lock(&DEVICE)
            .as_ref()
            .is_some_and(|d| d.transfers.is_empty()));
    }
}
