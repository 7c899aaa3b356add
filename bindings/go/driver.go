package litecommit

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"strings"
	"sync"
	"time"
)

// DriverName is the name of the package's database/sql driver.
const DriverName = "litecommit"

func init() {
	sql.Register(DriverName, &Driver{})
}

// Driver is the database/sql driver registered as "litecommit":
//
//	db, err := sql.Open("litecommit", "app.db?durability=full&maxBatchSize=500")
//
// (the DSN is described at ParseDSN). Every connection of one *sql.DB submits to one
// Committer, opened by the first connection and closed by DB.Close. ExecContext runs one
// statement as one group-committed transaction; QueryContext runs on the read pool (a
// write with a RETURNING clause is sent to the writer); BeginTx with ReadOnly: true gives
// a read snapshot, and a read-write BeginTx fails with ErrReadWriteTx.
type Driver struct{}

var (
	_ driver.Driver        = (*Driver)(nil)
	_ driver.DriverContext = (*Driver)(nil)
	_ driver.Connector     = (*Connector)(nil)
	_ io.Closer            = (*Connector)(nil)

	_ driver.Conn               = (*Conn)(nil)
	_ driver.ConnBeginTx        = (*Conn)(nil)
	_ driver.ConnPrepareContext = (*Conn)(nil)
	_ driver.ExecerContext      = (*Conn)(nil)
	_ driver.QueryerContext     = (*Conn)(nil)
	_ driver.NamedValueChecker  = (*Conn)(nil)
	_ driver.Pinger             = (*Conn)(nil)
	_ driver.Validator          = (*Conn)(nil)
	_ driver.SessionResetter    = (*Conn)(nil)

	_ driver.StmtExecContext  = (*stmt)(nil)
	_ driver.StmtQueryContext = (*stmt)(nil)

	_ driver.RowsColumnTypeDatabaseTypeName = (*rows)(nil)
)

// Open returns a connection with a Committer of its own, closed with the connection.
// database/sql does not call it: it calls OpenConnector, so that the connections of one
// *sql.DB share one Committer.
func (d *Driver) Open(dsn string) (driver.Conn, error) {
	connector, err := d.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	conn, err := connector.Connect(context.Background())
	if err != nil {
		return nil, err
	}
	c := conn.(*Conn)
	c.owner = connector.(*Connector)
	return c, nil
}

// OpenConnector parses and checks the DSN, so that sql.Open fails on an invalid one. It
// does not open the database: the first connection does.
func (d *Driver) OpenConnector(dsn string) (driver.Connector, error) {
	path, opts, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	return NewConnector(path, opts)
}

// Connector opens connections that all submit to one Committer. Use it with sql.OpenDB to
// configure the driver with Options instead of a DSN:
//
//	db := sql.OpenDB(litecommit.NewConnector(path, litecommit.Options{...}))
//
// Close (which DB.Close calls) closes the Committer.
type Connector struct {
	path string
	opts Options

	// mu guards db and closed.
	mu sync.Mutex
	// db is opened by the first Connect (or Committer) call.
	db *Committer
	// closed is set by Close: no Committer is opened after it.
	closed bool
}

// NewConnector checks the options and returns a Connector for the database at path. The
// database is opened by the first connection.
func NewConnector(path string, opts Options) (*Connector, error) {
	if _, err := opts.toC(); err != nil {
		return nil, err
	}
	if strings.IndexByte(path, 0) >= 0 {
		return nil, argError("path contains a NUL byte")
	}
	return &Connector{path: path, opts: opts}, nil
}

// Connect returns a connection that submits to the connector's Committer, opening it if
// this is the first connection. An error opening it (the database cannot be opened) is
// returned here, that is by the first call of the *sql.DB that needs a connection.
func (c *Connector) Connect(context.Context) (driver.Conn, error) {
	db, err := c.Committer()
	if err != nil {
		return nil, err
	}
	return &Conn{db: db}, nil
}

// Driver returns the package's Driver.
func (c *Connector) Driver() driver.Driver { return &Driver{} }

// Committer returns the Committer the connector's connections submit to, opening it if
// needed: use it for what database/sql has no words for (Transaction, Flush, Checkpoint,
// Stats, MetricsText). Do not Close it: close the *sql.DB.
func (c *Connector) Committer() (*Committer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, closedError()
	}
	if c.db == nil {
		db, err := Open(c.path, c.opts)
		if err != nil {
			return nil, err
		}
		c.db = db
	}
	return c.db, nil
}

// Close closes the Committer (committing what is queued). database/sql calls it from
// DB.Close. Idempotent.
func (c *Connector) Close() error {
	c.mu.Lock()
	db := c.db
	c.closed = true
	c.mu.Unlock()
	if db == nil {
		return nil
	}
	return db.Close()
}

// ErrReadWriteTx is the error of a read-write BeginTx. A litecommit transaction is
// submitted whole and runs inside a batch: its statements cannot run one by one with the
// caller looking at each result before sending the next, as database/sql's Tx does.
var ErrReadWriteTx = &Error{
	Status:         StatusRefused,
	Code:           "LITECOMMIT_REFUSED",
	StatementIndex: -1,
	Message: "read-write transactions are not supported by the database/sql driver: " +
		"statements are committed in batches, so a statement cannot see the results of the " +
		"earlier statements of its transaction before the whole transaction commits. Submit " +
		"the statements together, atomically, with Committer.Transaction (from a *sql.DB: " +
		"sql.Conn.Raw, then (*litecommit.Conn).Committer), run a single statement with " +
		"ExecContext, or use BeginTx with ReadOnly: true for a read snapshot",
}

// Conn is a database/sql connection. It holds no database connection of its own: every
// Conn of a Connector submits to the same Committer, and queries use the Committer's read
// pool. A read-only transaction holds a read connection (a Snapshot) until it ends.
type Conn struct {
	// db is the Committer every statement goes to.
	db *Committer
	// owner is set for a connection made by Driver.Open: closing the connection closes it.
	owner *Connector
	// tx is the read-only transaction in progress, if any.
	tx *readTx
	// closed is set by Close.
	closed bool
}

// Committer returns the Committer the connection submits to. From a *sql.DB:
//
//	conn, _ := db.Conn(ctx)
//	defer conn.Close()
//	conn.Raw(func(c any) error {
//		_, err := c.(*litecommit.Conn).Committer().Transaction(ctx, stmts)
//		return err
//	})
func (c *Conn) Committer() *Committer { return c.db }

// Prepare returns a prepared statement (see PrepareContext).
func (c *Conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext returns a prepared statement. Its SQL is compiled, and errors in it
// reported, when it first runs; each connection of the library keeps compiled statements
// in its statement cache (Options.StatementCacheCapacity).
func (c *Conn) PrepareContext(_ context.Context, query string) (driver.Stmt, error) {
	if c.closed {
		return nil, driver.ErrBadConn
	}
	return &stmt{conn: c, query: query}, nil
}

// Close ends the connection's read-only transaction, if any. The Committer stays open
// (the Connector closes it), unless the connection came from Driver.Open.
func (c *Conn) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	var err error
	if c.tx != nil {
		err = c.tx.end()
	}
	if c.owner != nil {
		if cerr := c.owner.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Begin is BeginTx with the default options, which fails with ErrReadWriteTx.
func (c *Conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx starts a read-only transaction (opts.ReadOnly): its statements run on one read
// connection and see the database as it was when the transaction began, whatever commits
// meanwhile. Commit and Rollback both end it. A read-write transaction fails with
// ErrReadWriteTx.
func (c *Conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.closed {
		return nil, driver.ErrBadConn
	}
	if !opts.ReadOnly {
		return nil, ErrReadWriteTx
	}
	// A read transaction of SQLite in WAL mode is a snapshot: serializable.
	if level := sql.IsolationLevel(opts.Isolation); level == sql.LevelLinearizable {
		return nil, argError("isolation level %s is not supported (a read-only transaction is a snapshot, %s)",
			level, sql.LevelSerializable)
	}
	if c.tx != nil {
		return nil, argError("a transaction is already in progress on this connection")
	}
	snap, err := c.db.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	c.tx = &readTx{conn: c, snap: snap}
	return c.tx, nil
}

// ExecContext runs one statement as one transaction (in a read-only transaction: in its
// snapshot, where a write fails with SQLITE_READONLY).
func (c *Conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if c.closed {
		return nil, driver.ErrBadConn
	}
	if c.tx != nil {
		if _, err := c.tx.snap.Query(ctx, query, namedArgs(args)...); err != nil {
			return nil, err
		}
		return driver.RowsAffected(0), nil
	}
	r, err := c.db.Exec(ctx, query, namedArgs(args)...)
	if err != nil {
		return nil, err
	}
	return result(r), nil
}

// sqliteReadOnly is SQLite's SQLITE_READONLY: a write on a read-only connection.
const sqliteReadOnly = 8

// QueryContext runs a query on the read pool (in a read-only transaction: in its
// snapshot). A statement that writes (INSERT/UPDATE/DELETE ... RETURNING, whose rows are
// read with QueryRowContext) runs as one transaction instead, as ExecContext does.
func (c *Conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if c.closed {
		return nil, driver.ErrBadConn
	}
	a := namedArgs(args)
	if c.tx != nil {
		r, err := c.tx.snap.Query(ctx, query, a...)
		if err != nil {
			return nil, err
		}
		return newRows(r), nil
	}
	if !isWriteKeyword(firstKeyword(query)) {
		r, err := c.db.Query(ctx, query, a...)
		var e *Error
		if err == nil {
			return newRows(r), nil
		} else if !errors.As(err, &e) || e.ExtendedCode != sqliteReadOnly {
			return nil, err
		}
		// A write the first keyword did not reveal (WITH ... INSERT, a PRAGMA assignment):
		// the read-only connection refused it before it changed anything.
	}
	res, err := c.db.Exec(ctx, query, a...)
	if err != nil {
		return nil, err
	}
	return newRows(res.Rows), nil
}

// CheckNamedValue converts an argument as the native API does (see the package
// documentation): driver.Valuer (sql.Null*), pointers and named types are resolved here,
// time.Time is written as TimeFormat text.
func (c *Conn) CheckNamedValue(nv *driver.NamedValue) error {
	what := argName{stmt: -1, pos: nv.Ordinal, name: nv.Name, named: nv.Name != ""}
	v, err := baseValue(nv.Value, what)
	if err != nil {
		return err
	}
	nv.Value = v
	return nil
}

// Ping reports whether the Committer is open.
func (c *Conn) Ping(context.Context) error {
	if c.closed {
		return driver.ErrBadConn
	}
	if c.db.c.closed.Load() {
		return closedError()
	}
	return nil
}

// IsValid reports whether database/sql may keep the connection in its pool.
func (c *Conn) IsValid() bool {
	return !c.closed && !c.db.c.closed.Load()
}

// ResetSession has nothing to reset (a connection has no session state of its own).
func (c *Conn) ResetSession(context.Context) error {
	if !c.IsValid() {
		return driver.ErrBadConn
	}
	return nil
}

// namedArgs turns database/sql's arguments into the native API's: sql.Named("id", v)
// binds :id (or @id, $id).
func namedArgs(args []driver.NamedValue) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if a.Name != "" {
			out[i] = NamedArg{Name: a.Name, Value: a.Value}
		} else {
			out[i] = a.Value
		}
	}
	return out
}

// result is what ExecContext returns.
type result Result

func (r result) LastInsertId() (int64, error) { return r.LastInsertID, nil }
func (r result) RowsAffected() (int64, error) { return r.Changes, nil }

// readTx is a read-only transaction: a Snapshot held by its connection.
type readTx struct {
	conn *Conn
	snap *Snapshot
}

// Commit ends the read transaction.
func (t *readTx) Commit() error { return t.end() }

// Rollback ends the read transaction.
func (t *readTx) Rollback() error { return t.end() }

func (t *readTx) end() error {
	if t.conn.tx == t {
		t.conn.tx = nil
	}
	return t.snap.Close()
}

// stmt is a prepared statement: its SQL, run by its connection.
type stmt struct {
	conn  *Conn
	query string
}

// Close does nothing: the library's statement caches own the compiled statements.
func (s *stmt) Close() error { return nil }

// NumInput is -1: the library checks the arguments against the SQL when it runs.
func (s *stmt) NumInput() int { return -1 }

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), ordinal(args))
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), ordinal(args))
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.conn.ExecContext(ctx, s.query, args)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.conn.QueryContext(ctx, s.query, args)
}

func ordinal(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, v := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out
}

// rows hands a query's rows (already read in full) to database/sql.
type rows struct {
	r    Rows
	next int
}

func newRows(r Rows) *rows {
	if r.Columns == nil {
		r.Columns = []string{}
	}
	return &rows{r: r}
}

func (r *rows) Columns() []string { return r.r.Columns }

func (r *rows) Close() error { return nil }

// Next copies the next row. TEXT in a column declared DATE, DATETIME or TIMESTAMP (the
// declared type the library reports for each column) that parses as one of timeLayouts
// comes out as a time.Time; other text, and every expression's value, as it is.
func (r *rows) Next(dest []driver.Value) error {
	if r.next >= len(r.r.Values) {
		return io.EOF
	}
	row := r.r.Values[r.next]
	r.next++
	for i := range dest {
		v := row[i]
		if s, ok := v.(string); ok && isTimeDeclType(r.declType(i)) {
			if t, ok := parseTime(s); ok {
				v = t
			}
		}
		dest[i] = v
	}
	return nil
}

// ColumnTypeDatabaseTypeName is the column's declared type, upper-cased ("" for an
// expression).
func (r *rows) ColumnTypeDatabaseTypeName(i int) string {
	return strings.ToUpper(r.declType(i))
}

func (r *rows) declType(i int) string {
	if i < len(r.r.declTypes) {
		return r.r.declTypes[i]
	}
	return ""
}

// isTimeDeclType reports whether a column's declared type (as the library reports it,
// "" for an expression) holds times, as mattn/go-sqlite3 decides: DATE, DATETIME or
// TIMESTAMP, in any case.
func isTimeDeclType(decl string) bool {
	switch strings.ToLower(decl) {
	case "date", "datetime", "timestamp":
		return true
	}
	return false
}

// timeLayouts are the layouts a time column's text is parsed with, in order: TimeFormat
// first, then the other layouts mattn/go-sqlite3 reads (SQLite's own datetime() writes
// "2006-01-02 15:04:05").
var timeLayouts = []string{
	TimeFormat,
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
}

// parseTime reads a time column's text; a text without an offset is UTC, a trailing "Z"
// is UTC.
func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSuffix(s, "Z")
	for _, layout := range timeLayouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
