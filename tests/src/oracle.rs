//! Runs each transaction alone on a fresh plain rusqlite connection: the reference outcome.
