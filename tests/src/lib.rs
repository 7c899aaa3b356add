//! Shared machinery of the end-to-end tests: workload generation and the alone-oracle of the
//! differential test, and the crash-simulating VFS of the power-loss and I/O-fault tests.

pub mod oracle;
pub mod rng;
pub mod vfs;
pub mod workload;
