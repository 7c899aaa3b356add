//! Random transactions over a small schema for the differential test.
