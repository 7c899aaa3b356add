package litecommit

/*
#include "litecommit.h"
*/
import "C"

// columnDeclTypes reads each column's declared type ("" for an expression).
func columnDeclTypes(rows *C.litecommit_rows, n int) []string {
	out := make([]string, n)
	for i := range out {
		var decl *C.char
		if C.litecommit_rows_column_decltype(rows, C.size_t(i), &decl) == C.LITECOMMIT_OK && decl != nil {
			out[i] = C.GoString(decl)
		}
	}
	return out
}
