//! `litecommit-bench`: the benchmarks of litecommit.
//!
//! - `core`: group commit against the naive pattern (a connection per thread, one
//!   transaction per insert) and against one big transaction.
//! - `demo`: checkpoint strategies under sustained single-row inserts, `make demo`.
//! - `scaling`: 1 to 4,096 concurrent submitters (threads, then async tasks), a
//!   10-million-row table against an empty one, and the memory of one in-flight transaction.
//!
//! Each ends with verdicts on its targets; a MISSED target makes the run fail (exit
//! status 1) unless `--no-fail` is given.

mod baseline;
mod core_bench;
mod cpu_hop;
mod demo;
mod disk;
mod record;
mod report;
mod scaling;
mod stats;
mod table;
mod verdict;
mod vfs;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use litecommit::Durability;

/// Counts allocations while the `scaling` benchmark measures the memory of a transaction;
/// otherwise the system allocator.
#[global_allocator]
static ALLOCATOR: scaling::CountingAlloc = scaling::CountingAlloc;

#[derive(Parser)]
#[command(name = "litecommit-bench", version, about = "Benchmarks of litecommit")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Group commit vs a connection per thread vs one big transaction.
    Core(core_bench::Args),
    /// Checkpoint strategies under 200,000 single-row insert transactions.
    Demo(demo::Args),
    /// Throughput, latency and memory from 1 to 4,096 submitters and on a big table.
    Scaling(scaling::Args),
}

fn main() -> std::process::ExitCode {
    let result = match Cli::parse().command {
        Command::Core(args) => core_bench::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Scaling(args) => scaling::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("litecommit-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `PRAGMA synchronous` value matching a durability.
pub(crate) fn synchronous(d: Durability) -> &'static str {
    match d {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
        Durability::Off => "OFF",
    }
}

pub(crate) fn wal_path(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push("-wal");
    PathBuf::from(s)
}

pub(crate) fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The filesystem type `dir` lives on, from /proc/mounts (the longest matching mount point).
fn filesystem_type(dir: &Path) -> Option<String> {
    let dir = std::fs::canonicalize(dir).ok()?;
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_, mount_point, fs_type) = (fields.next()?, fields.next()?, fields.next()?);
            dir.starts_with(mount_point)
                .then(|| (mount_point.len(), fs_type.to_string()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, fs_type)| fs_type)
}

/// Warns when the databases would live in memory, where fsync costs nothing.
pub(crate) fn warn_if_memory_backed(dir: &Path) {
    if let Some(fs) = filesystem_type(dir) {
        if fs == "tmpfs" || fs == "ramfs" {
            eprintln!(
                "warning: {} is on {fs}: fsync is free there, so durability costs are not \
                 measured; pass --dir (or BENCH_DIR=...) on a real disk",
                dir.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_fail_may_come_twice_as_make_passes_it_beside_the_args() {
        for command in ["core", "demo", "scaling"] {
            let once = Cli::try_parse_from(["litecommit-bench", command, "--no-fail"]);
            let twice =
                Cli::try_parse_from(["litecommit-bench", command, "--no-fail", "--no-fail"]);
            let without = Cli::try_parse_from(["litecommit-bench", command]);
            let no_fail = |cli: Cli| match cli.command {
                Command::Core(args) => args.no_fail,
                Command::Demo(args) => args.no_fail,
                Command::Scaling(args) => args.no_fail,
            };
            assert!(no_fail(once.unwrap()), "{command}");
            assert!(no_fail(twice.unwrap()), "{command}");
            assert!(!no_fail(without.unwrap()), "{command}");
        }
    }
}
