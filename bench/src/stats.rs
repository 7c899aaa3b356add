//! Exact percentiles over recorded samples, and small formatting helpers.

use std::sync::Mutex;
use std::time::Duration;

/// Latency samples in milliseconds, recorded from any thread.
#[derive(Default)]
pub struct Samples(Mutex<Vec<f64>>);

impl Samples {
    pub fn push(&self, ms: f64) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(ms);
    }

    pub fn push_duration(&self, d: Duration) {
        self.push(d.as_secs_f64() * 1000.0);
    }

    pub fn take(&self) -> Summary {
        let v = std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()));
        Summary::of(v)
    }
}

/// Sorted samples.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    sorted: Vec<f64>,
}

impl Summary {
    pub fn of(mut v: Vec<f64>) -> Summary {
        v.sort_by(f64::total_cmp);
        Summary { sorted: v }
    }

    /// The samples of both.
    pub fn merged(a: Summary, b: Summary) -> Summary {
        let mut v = a.sorted;
        v.extend(b.sorted);
        Summary::of(v)
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// The nearest-rank quantile `q` in [0, 1]; 0 when empty.
    pub fn q(&self, q: f64) -> f64 {
        if self.sorted.is_empty() {
            return 0.0;
        }
        let rank = (q * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }

    pub fn p50(&self) -> f64 {
        self.q(0.50)
    }

    pub fn p99(&self) -> f64 {
        self.q(0.99)
    }

    pub fn p999(&self) -> f64 {
        self.q(0.999)
    }

    pub fn min(&self) -> f64 {
        self.sorted.first().copied().unwrap_or(0.0)
    }

    pub fn max(&self) -> f64 {
        self.sorted.last().copied().unwrap_or(0.0)
    }

    pub fn mean(&self) -> f64 {
        if self.sorted.is_empty() {
            0.0
        } else {
            self.sorted.iter().sum::<f64>() / self.sorted.len() as f64
        }
    }
}

/// `a / b`, or NaN-free "n/a" handling left to the printer: returns `None` when `b` is 0.
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0 && a.is_finite()).then(|| a / b)
}

pub fn fmt_ratio(r: Option<f64>) -> String {
    match r {
        Some(r) if r >= 100.0 => format!("{r:.0}x"),
        Some(r) if r >= 10.0 => format!("{r:.1}x"),
        Some(r) => format!("{r:.2}x"),
        None => "n/a".into(),
    }
}

/// Milliseconds with a precision that suits their size.
pub fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

pub fn mb(bytes: f64) -> String {
    format!("{:.1}", bytes / (1024.0 * 1024.0))
}

/// Bytes written to the block device that holds `path`, by every process, ext4's journal
/// included (sectors written, from sysfs). `None` where `path` is not on a block device
/// (tmpfs) or sysfs is not readable.
pub fn device_write_bytes(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(path).ok()?.dev();
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let stat = std::fs::read_to_string(format!("/sys/dev/block/{major}:{minor}/stat")).ok()?;
    let sectors: u64 = stat.split_whitespace().nth(6)?.parse().ok()?;
    Some(sectors * 512)
}

/// The 1-minute load average (other work on the machine makes every figure noisier).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "n/a".into())
}

/// Prints the load average now beside `at_start`, the one read when the benchmark began.
pub fn print_load_average(at_start: &str) {
    println!(
        "load average {at_start} at the start, {} now ({} cores; other work makes every figure noisier)",
        load_average(),
        cpus()
    );
}

/// CPUs this process may run on (1 when unknown).
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let s = Summary::of((1..=1000).map(f64::from).rev().collect());
        assert_eq!(s.p50(), 500.0);
        assert_eq!(s.p99(), 990.0);
        assert_eq!(s.p999(), 999.0);
        assert_eq!(s.max(), 1000.0);
        assert_eq!(Summary::default().p99(), 0.0);
    }
}
