package litecommit

/*
#include "litecommit.h"
*/
import "C"

import (
	"fmt"
)

// sqliteConstraint is SQLite's primary result code SQLITE_CONSTRAINT.
const sqliteConstraint = 19

// Status is the status code of a failed call, as in include/litecommit.h.
type Status int32

// The status codes.
const (
	StatusOK              Status = C.LITECOMMIT_OK
	StatusSQLiteError     Status = C.LITECOMMIT_SQLITE_ERROR
	StatusRefused         Status = C.LITECOMMIT_REFUSED
	StatusParameter       Status = C.LITECOMMIT_PARAMETER
	StatusInvalidConfig   Status = C.LITECOMMIT_INVALID_CONFIG
	StatusClosed          Status = C.LITECOMMIT_CLOSED
	StatusQueueFull       Status = C.LITECOMMIT_QUEUE_FULL
	StatusTimeout         Status = C.LITECOMMIT_TIMEOUT
	StatusOpenError       Status = C.LITECOMMIT_OPEN_ERROR // named "LITECOMMIT_OPEN"
	StatusInvalidArgument Status = C.LITECOMMIT_INVALID_ARGUMENT
	StatusInternal        Status = C.LITECOMMIT_INTERNAL
	// StatusForked: the Committer was opened by another process (this one is its forked
	// child, where it cannot be used).
	StatusForked Status = C.LITECOMMIT_FORKED
)

// String is the status's symbolic name, e.g. "LITECOMMIT_CLOSED", also the Code of its
// errors (but for StatusSQLiteError, whose errors carry SQLite's names).
func (s Status) String() string {
	return C.GoString(C.litecommit_status_name(C.int32_t(s)))
}

// Error is every error litecommit returns (besides ctx.Err()).
type Error struct {
	// Status says what kind of error it is.
	Status Status
	// Code is a symbolic name: "SQLITE_CONSTRAINT_UNIQUE", "LITECOMMIT_CLOSED", ...
	Code string
	// SQLiteCode is SQLite's primary result code (19 for SQLITE_CONSTRAINT), 0 if the
	// error did not come from SQLite.
	SQLiteCode int
	// ExtendedCode is SQLite's extended result code (2067 for SQLITE_CONSTRAINT_UNIQUE).
	ExtendedCode int
	// StatementIndex is the index of the failing statement in its transaction, -1 if
	// none applies.
	StatementIndex int
	// Message is the human-readable message.
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("litecommit: %s: %s", e.Code, e.Message)
}

// Is makes errors.Is(err, ErrClosed) (and the other sentinels) match by status.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == "" && t.Status == e.Status
}

// IsConstraint reports whether the error is a constraint violation (UNIQUE, NOT NULL,
// CHECK, FOREIGN KEY, ...).
func (e *Error) IsConstraint() bool {
	return e.SQLiteCode == sqliteConstraint
}

// Sentinels for errors.Is.
var (
	ErrClosed        = &Error{Status: StatusClosed}
	ErrQueueFull     = &Error{Status: StatusQueueFull}
	ErrInvalidConfig = &Error{Status: StatusInvalidConfig}
	ErrInvalidArg    = &Error{Status: StatusInvalidArgument}
	ErrForked        = &Error{Status: StatusForked}
	// ErrSQLite matches every error SQLite reported, including a failed Open (a file that
	// is not a database: SQLiteCode 26, SQLITE_NOTADB; a locked database: 5, SQLITE_BUSY).
	ErrSQLite = &Error{Status: StatusSQLiteError}
)

func errorFromInfo(info *C.litecommit_error_info) *Error {
	return &Error{
		Status:         Status(info.status),
		Code:           C.GoString(info.code_name),
		SQLiteCode:     int(info.sqlite_code),
		ExtendedCode:   int(info.extended_code),
		StatementIndex: int(info.statement_index),
		Message:        C.GoString(info.message),
	}
}

// call runs one library call and, if it fails, reads the thread-local last error on the
// same OS thread (hence the lock, see lockThread).
func call(f func() C.litecommit_status) error {
	lockThread()
	defer unlockThread()
	if f() == C.LITECOMMIT_OK {
		return nil
	}
	var info C.litecommit_error_info
	if C.litecommit_last_error(&info) != C.LITECOMMIT_OK {
		return &Error{Status: StatusInternal, Code: "LITECOMMIT_INTERNAL", StatementIndex: -1,
			Message: "cannot read the error"}
	}
	return errorFromInfo(&info)
}

func closedError() error {
	return &Error{Status: StatusClosed, Code: "LITECOMMIT_CLOSED", StatementIndex: -1,
		Message: "committer is closed"}
}

func argError(format string, args ...any) error {
	return &Error{Status: StatusInvalidArgument, Code: "LITECOMMIT_INVALID_ARGUMENT",
		StatementIndex: -1, Message: fmt.Sprintf(format, args...)}
}

func configError(format string, args ...any) error {
	return &Error{Status: StatusInvalidConfig, Code: "LITECOMMIT_INVALID_CONFIG",
		StatementIndex: -1, Message: fmt.Sprintf(format, args...)}
}
