// Package litecommit is the Go binding of litecommit, a group-commit engine for SQLite.
//
// Many goroutines submit small write transactions; litecommit runs them together inside
// one SQLite transaction (one fsync per batch), each under its own SAVEPOINT, and returns
// to each caller once its own transaction is durable. A failing transaction is rolled
// back alone; the rest of its batch commits.
//
// The package links the static library of the repository's ffi/ crate, liblitecommit.a,
// through cgo. A released module carries it prebuilt for linux/amd64 and linux/arm64
// (prebuilt/<goos>-<goarch>/), so `go get` and `go build` need no Rust toolchain there; a C
// compiler is needed as for any cgo package. In a checkout of the repository the package
// links target/release/liblitecommit.a instead; build it first with `make ffi-lib` or:
//
//	go generate    # in bindings/go: cargo build -p litecommit-ffi --release
//
// One goroutine per Committer polls the library's completion queue, taking up to
// Options.PollBatch completions per cgo call, and hands each result to the goroutine that
// waits for it: thousands of waiting goroutines do not hold thousands of OS threads.
//
// Backpressure: at most Options.QueueCapacity transactions are in flight per Committer;
// further callers wait in Go (not in a cgo call) until an outcome frees a slot.
//
// Context cancellation: Exec, Transaction, Query, Flush and Checkpoint return ctx.Err()
// as soon as ctx is done. A transaction still waiting for a slot is never submitted, but
// one that was already queued is NOT withdrawn: it may still commit after the call
// returned. Check the database (or make the transaction idempotent) when a cancelled
// write matters.
//
// Errors: every error is an *Error (besides ctx.Err()); match kinds with errors.Is and
// the sentinels (ErrClosed, ErrQueueFull, ErrSQLite, ...). What SQLite reports keeps
// SQLite's codes, also from Open: a file that is not a database is SQLiteCode 26
// (SQLITE_NOTADB), a database locked by another process 5 (SQLITE_BUSY).
//
// Options: the zero value means every default; see Options for how to ask for an
// explicit 0 or false.
//
// Close commits what is queued and releases the database. A Committer that becomes
// unreachable without Close is closed by a finalizer (its queued work still commits), but
// as with files, call Close rather than rely on it.
//
// Values: nil, bool (as 0/1), every int and uint kind (uint64 above MaxInt64 is an
// error), float32/64, string, []byte and time.Time (as TimeFormat text) go in, as do a
// driver.Valuer (sql.NullString and the other sql.Null* types), a pointer (nil is NULL)
// and a named type such as `type UserID int64`, resolved as database/sql does; NULL, int64,
// float64, string and []byte come out. Named parameters are given with sql.Named("id", 1)
// or NamedArg.
//
// database/sql: the package registers the driver "litecommit" (see Driver, ParseDSN for
// the DSN, and Connector). The connections of one *sql.DB share one Committer; ExecContext
// is one transaction, QueryContext runs on the read pool, a read-only BeginTx is a read
// snapshot (Committer.Snapshot), and a read-write BeginTx fails with ErrReadWriteTx (use
// Committer.Transaction). Text in a column declared DATE, DATETIME or TIMESTAMP scans into
// a time.Time.
//
// All methods of a Committer are safe for concurrent use.
package litecommit

//go:generate cargo build -p litecommit-ffi --release
