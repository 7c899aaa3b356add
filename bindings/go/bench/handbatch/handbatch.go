// Package handbatch is the batching writer Go services write themselves to put many small
// write transactions into few SQLite commits: one goroutine owns one connection; callers
// hand it a statement and a reply channel; it takes whatever is queued (up to a cap), runs
// it in one BEGIN ... COMMIT with a SAVEPOINT per request, so that a failing request is
// rolled back alone while the others commit, and answers each request after the COMMIT.
package handbatch

import (
	"context"
	"database/sql"
	"errors"
)

// The statements around each request.
const (
	savepoint  = "SAVEPOINT request"
	rollbackTo = "ROLLBACK TO request"
	release    = "RELEASE request"
)

// request is one caller's statement and where its outcome goes.
type request struct {
	sql   string
	args  []any
	reply chan reply // buffered: the writer never blocks on it
}

// reply is one request's outcome.
type reply struct {
	result sql.Result
	err    error
}

// Writer owns one connection and commits what callers hand it in batches.
type Writer struct {
	conn     *sql.Conn
	requests chan request
	maxBatch int
	done     chan struct{}
	// batches counts the transactions the writer has run; read it after Close.
	batches uint64
}

// New takes one connection of db for the writer goroutine and starts it: it commits up to
// maxBatch requests per transaction, and up to queue requests wait for it before callers
// block. The connection must begin IMMEDIATE transactions (a driver option) so that BEGIN
// takes the write lock.
func New(ctx context.Context, db *sql.DB, maxBatch, queue int) (*Writer, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	w := &Writer{
		conn:     conn,
		requests: make(chan request, queue),
		maxBatch: maxBatch,
		done:     make(chan struct{}),
	}
	go w.loop()
	return w, nil
}

// Exec runs one statement as a transaction and returns once its batch has committed.
func (w *Writer) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	r := request{sql: query, args: args, reply: make(chan reply, 1)}
	select {
	case w.requests <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case out := <-r.reply:
		return out.result, out.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Batches is the number of transactions the writer has run; call it after Close.
func (w *Writer) Batches() uint64 { return w.batches }

// Close stops the writer once what is queued is committed, and releases its connection.
// Call it after every Exec has returned.
func (w *Writer) Close() error {
	close(w.requests)
	<-w.done
	return w.conn.Close()
}

func (w *Writer) loop() {
	defer close(w.done)
	batch := make([]request, 0, w.maxBatch)
	replies := make([]reply, w.maxBatch)
	for first := range w.requests {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < w.maxBatch {
			select {
			case r, ok := <-w.requests:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		w.commit(batch, replies[:len(batch)])
		w.batches++
	}
}

// commit runs batch in one transaction and answers each request: its own error if its
// statement failed (rolled back to its savepoint), the batch's error if BEGIN, a rollback
// or COMMIT failed, else its result.
func (w *Writer) commit(batch []request, replies []reply) {
	ctx := context.Background()
	tx, err := w.conn.BeginTx(ctx, nil)
	for i := 0; err == nil && i < len(batch); i++ {
		replies[i], err = run(ctx, tx, batch[i])
	}
	if err == nil {
		err = tx.Commit()
	} else if tx != nil {
		err = errors.Join(err, tx.Rollback())
	}
	for i, r := range batch {
		if err != nil {
			replies[i] = reply{err: err}
		}
		r.reply <- replies[i]
	}
}

// run runs one request under its own savepoint. A failing statement is rolled back alone
// and becomes the request's reply; the returned error is for a failure that leaves the
// transaction in an unknown state.
func run(ctx context.Context, tx *sql.Tx, r request) (reply, error) {
	if _, err := tx.ExecContext(ctx, savepoint); err != nil {
		return reply{}, err
	}
	result, err := tx.ExecContext(ctx, r.sql, r.args...)
	if err != nil {
		if _, rbErr := tx.ExecContext(ctx, rollbackTo); rbErr != nil {
			return reply{}, rbErr
		}
	}
	if _, relErr := tx.ExecContext(ctx, release); relErr != nil {
		return reply{}, relErr
	}
	return reply{result: result, err: err}, nil
}
