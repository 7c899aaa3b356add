package litecommit

/*
#include "litecommit.h"
*/
import "C"

// snapshotHandle is the library's snapshot; nil once freed.
type snapshotHandle = *C.litecommit_snapshot

func snapshotBegin(db *C.litecommit_committer) (snapshotHandle, error) {
	var h snapshotHandle
	err := call(func() C.litecommit_status { return C.litecommit_snapshot_begin(db, &h) })
	return h, err
}

func snapshotQuery(h snapshotHandle, stmt *C.litecommit_statement) (Rows, error) {
	var r *C.litecommit_rows
	if err := call(func() C.litecommit_status { return C.litecommit_snapshot_query(h, stmt, &r) }); err != nil {
		return Rows{}, err
	}
	rows := rowsFromC(r)
	C.litecommit_rows_free(&r)
	return rows, nil
}

func snapshotFree(h *snapshotHandle) {
	// A copy on its own: cgo checks all of the Go memory a pointer argument points into,
	// and h may point into a struct that holds Go pointers.
	p := *h
	C.litecommit_snapshot_free(&p)
	*h = nil
}
