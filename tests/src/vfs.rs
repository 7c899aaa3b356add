//! A test VFS that simulates power loss and injects I/O faults.
