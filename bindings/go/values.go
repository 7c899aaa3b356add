package litecommit

/*
#include <stdlib.h>
#include "litecommit.h"
*/
import "C"

import (
	"database/sql"
	"database/sql/driver"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// Statement is one SQL statement of a transaction and its arguments (all positional or
// all named with sql.Named / NamedArg).
type Statement struct {
	// SQL is exactly one SQL statement.
	SQL string
	// Args are its parameters: positional values, or NamedArg / sql.NamedArg for all.
	Args []any
}

// NamedArg is a named parameter (":id", "@id", "$id" or "id"); sql.NamedArg works too.
type NamedArg struct {
	// Name is the parameter's name, with or without its prefix.
	Name string
	// Value is the parameter's value (see the package documentation for the types).
	Value any
}

// Named returns a NamedArg.
func Named(name string, value any) NamedArg {
	return NamedArg{Name: name, Value: value}
}

// Rows are the rows of a query or a RETURNING clause.
type Rows struct {
	// Columns are the column names, in order.
	Columns []string
	// Values holds each row's values in column order: nil, int64, float64, string or
	// []byte.
	Values [][]any
	// declTypes are the columns' declared types as the library reports them ("" for an
	// expression); the database/sql driver reads time columns by them.
	declTypes []string
}

// Result is what one statement did.
type Result struct {
	// Changes is the number of rows inserted, updated or deleted by the statement.
	Changes int64
	// LastInsertID is the connection's last insert rowid after the statement.
	LastInsertID int64
	// Rows holds the rows of a RETURNING clause (empty otherwise).
	Rows Rows
}

// value is one argument, converted and checked, before it is copied into C memory.
type value struct {
	typ   C.litecommit_value_type // LITECOMMIT_TYPE_*
	i     int64                   // an INTEGER's value
	d     float64                 // a REAL's value
	bytes string                  // text or blob bytes
}

// stmtIn is one statement, converted and checked, before it is copied into C memory.
type stmtIn struct {
	sql    string   // the statement's SQL text
	values []value  // its parameters, in order
	names  []string // the parameters' names; nil for positional
}

// TimeFormat is how a time.Time argument is stored: as TEXT, in the time's own zone, with
// up to nine fractional digits and a numeric offset ("2024-05-06 07:08:09.123456789+02:00",
// "2024-05-06 07:08:09+00:00"), the layout mattn/go-sqlite3 writes by default. SQLite's
// date and time functions read it, and it sorts chronologically for times in one zone.
const TimeFormat = "2006-01-02 15:04:05.999999999-07:00"

// maxIndirections bounds how many driver.Valuer calls and pointer dereferences one
// argument may take to reach a value (a Valuer returning itself would loop forever).
const maxIndirections = 32

var valuerType = reflect.TypeOf((*driver.Valuer)(nil)).Elem()

// argName names an argument in error messages. Its text is built only when an error is
// reported, so that converting an argument costs nothing for its name.
type argName struct {
	stmt  int    // the statement's index in its transaction; -1 for a database/sql argument
	pos   int    // the argument's position, from 1
	name  string // the argument's name, for a named argument
	named bool   // whether the argument is named
}

// String is the argument as error messages name it: "statement 0, argument 2",
// "statement 0, argument :id", "argument $2", "argument :id".
func (a argName) String() string {
	switch {
	case a.stmt >= 0 && a.named:
		return "statement " + strconv.Itoa(a.stmt) + ", argument " + a.name
	case a.stmt >= 0:
		return "statement " + strconv.Itoa(a.stmt) + ", argument " + strconv.Itoa(a.pos)
	case a.named:
		return "argument :" + a.name
	default:
		return "argument $" + strconv.Itoa(a.pos)
	}
}

// baseValue resolves an argument into one of the types convertValue binds directly: nil,
// int64 and the other int kinds, uint kinds up to MaxInt64, bool, float32/64, string,
// []byte and time.Time. It calls driver.Valuer (sql.NullString and the other sql.Null*
// types, a type of the caller's own), dereferences pointers (nil is NULL) and unwraps named
// types such as `type UserID int64`, as database/sql's default converter does.
func baseValue(v any, what argName) (any, error) {
	for i := 0; i <= maxIndirections; i++ {
		switch x := v.(type) {
		case nil, int, int8, int16, int32, int64, uint8, uint16, uint32, bool, float32, float64,
			string, []byte, time.Time:
			return v, nil
		case uint:
			return checkUint(uint64(x), v, what)
		case uint64:
			return checkUint(x, v, what)
		case driver.Valuer:
			rv := reflect.ValueOf(v)
			// A nil pointer to a type whose Value has a value receiver is NULL, as in
			// database/sql (calling Value on it would panic).
			if rv.Kind() == reflect.Pointer && rv.IsNil() && rv.Type().Elem().Implements(valuerType) {
				return nil, nil
			}
			next, err := x.Value()
			if err != nil {
				return nil, argError("%s: %T.Value: %v", what, v, err)
			}
			v = next
			continue
		}
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Pointer:
			if rv.IsNil() {
				return nil, nil
			}
			v = rv.Elem().Interface()
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return rv.Int(), nil
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			return checkUint(rv.Uint(), rv.Uint(), what)
		case reflect.Float32, reflect.Float64:
			return rv.Float(), nil
		case reflect.Bool:
			return rv.Bool(), nil
		case reflect.String:
			return rv.String(), nil
		case reflect.Slice:
			if rv.Type().Elem().Kind() == reflect.Uint8 {
				return rv.Bytes(), nil
			}
			return nil, argError("%s: unsupported type %T", what, v)
		default:
			return nil, argError("%s: unsupported type %T", what, v)
		}
	}
	return nil, argError("%s: more than %d driver.Valuer calls or pointer dereferences", what, maxIndirections)
}

func checkUint(x uint64, v any, what argName) (any, error) {
	if x > math.MaxInt64 {
		return nil, argError("%s: %d overflows int64", what, x)
	}
	return v, nil
}

func convertValue(v any, what argName) (value, error) {
	v, err := baseValue(v, what)
	if err != nil {
		return value{}, err
	}
	switch x := v.(type) {
	case nil:
		return value{typ: C.LITECOMMIT_TYPE_NULL}, nil
	case int:
		return value{typ: C.LITECOMMIT_TYPE_INTEGER, i: int64(x)}, nil
	case int8:
		return value{typ: C.LITECOMMIT_TYPE_INTEGER, i: int64(x)}, nil
	case int16:
		return value{typ: C.LITECOMMIT_TYPE_INTEGER, i: int64(x)}, nil
	case int32:
		return value{typ: C.LITECOMMIT_TYPE_INTEGER, i: int64(x)}, nil
	case int64:
		return value{typ: C.LITECOMMIT_TYPE_INTEGER, i: x}, nil
	case uint:
		return value{typ: C.LITECOMMIT_TYPE_INTEGER, i: int64(x)}, nil
	case uint8:
		return value{typ: C.LITECOMMIT_TYPE_INTEGER, i: int64(x)}, nil
	case uint16:
		return value{typ: C.LITECOMMIT_TYPE_INTEGER, i: int64(x)}, nil
	case uint32:
		return value{typ: C.LITECOMMIT_TYPE_INTEGER, i: int64(x)}, nil
	case uint64:
		return value{typ: C.LITECOMMIT_TYPE_INTEGER, i: int64(x)}, nil
	case bool:
		if x {
			return value{typ: C.LITECOMMIT_TYPE_INTEGER, i: 1}, nil
		}
		return value{typ: C.LITECOMMIT_TYPE_INTEGER, i: 0}, nil
	case float32:
		return value{typ: C.LITECOMMIT_TYPE_REAL, d: float64(x)}, nil
	case float64:
		return value{typ: C.LITECOMMIT_TYPE_REAL, d: x}, nil
	case string:
		return value{typ: C.LITECOMMIT_TYPE_TEXT, bytes: x}, nil
	case []byte:
		if x == nil {
			return value{typ: C.LITECOMMIT_TYPE_NULL}, nil
		}
		return value{typ: C.LITECOMMIT_TYPE_BLOB, bytes: string(x)}, nil
	case time.Time:
		return value{typ: C.LITECOMMIT_TYPE_TEXT, bytes: x.Format(TimeFormat)}, nil
	default:
		// baseValue returns only the types above.
		return value{}, argError("%s: unsupported type %T", what, v)
	}
}

func convertStatement(s Statement, index int) (stmtIn, error) {
	out := stmtIn{sql: s.SQL, values: make([]value, 0, len(s.Args))}
	// The library reads SQL and names up to their first NUL: refuse rather than truncate.
	if strings.IndexByte(s.SQL, 0) >= 0 {
		return out, argError("statement %d: the SQL contains a NUL byte", index)
	}
	named := 0
	for i, a := range s.Args {
		name, v, isNamed := "", a, false
		switch n := a.(type) {
		case sql.NamedArg:
			name, v, isNamed = n.Name, n.Value, true
		case NamedArg:
			name, v, isNamed = n.Name, n.Value, true
		}
		what := argName{stmt: index, pos: i + 1, name: name, named: isNamed}
		if isNamed {
			named++
			if name == "" {
				return out, argError("%s: empty parameter name", what)
			}
			if strings.IndexByte(name, 0) >= 0 {
				return out, argError("%s: the name contains a NUL byte", what)
			}
			out.names = append(out.names, name)
		}
		cv, err := convertValue(v, what)
		if err != nil {
			return out, err
		}
		out.values = append(out.values, cv)
	}
	if named != 0 && named != len(s.Args) {
		return out, argError("statement %d: mixes named and positional arguments", index)
	}
	return out, nil
}

// cStatements is a transaction copied into one C allocation (one malloc and one free per
// transaction instead of one per string).
type cStatements struct {
	mem   unsafe.Pointer          // the allocation, freed by free
	stmts *C.litecommit_statement // the first statement, at the start of mem
	n     C.size_t                // the number of statements
}

func (c *cStatements) free() {
	C.free(c.mem)
}

func align8(n uintptr) uintptr { return (n + 7) &^ 7 }

// toC copies converted statements into C memory laid out as
// [statements][values][name pointers][bytes].
func toC(stmts []stmtIn) cStatements {
	var nValues, nNames, nBytes uintptr
	for _, s := range stmts {
		nValues += uintptr(len(s.values))
		nNames += uintptr(len(s.names))
		nBytes += uintptr(len(s.sql)) + 1
		for _, v := range s.values {
			nBytes += uintptr(len(v.bytes))
		}
		for _, name := range s.names {
			nBytes += uintptr(len(name)) + 1
		}
	}
	stmtSize := unsafe.Sizeof(C.litecommit_statement{})
	valueSize := unsafe.Sizeof(C.litecommit_value{})
	ptrSize := unsafe.Sizeof(uintptr(0))
	offValues := align8(uintptr(len(stmts)) * stmtSize)
	offNames := offValues + align8(nValues*valueSize)
	offBytes := offNames + nNames*ptrSize
	total := offBytes + nBytes
	mem := C.malloc(C.size_t(total))
	if mem == nil {
		panic("litecommit: out of memory")
	}
	cstmts := unsafe.Slice((*C.litecommit_statement)(mem), len(stmts))
	values := unsafe.Slice((*C.litecommit_value)(unsafe.Add(mem, offValues)), nValues)
	names := unsafe.Slice((**C.char)(unsafe.Add(mem, offNames)), nNames)
	bytes := unsafe.Slice((*byte)(unsafe.Add(mem, offBytes)), nBytes)
	vi, ni, bi := 0, 0, 0
	putBytes := func(s string, nul bool) unsafe.Pointer {
		p := unsafe.Pointer(&bytes[0])
		p = unsafe.Add(p, bi)
		bi += copy(bytes[bi:], s)
		if nul {
			bytes[bi] = 0
			bi++
		}
		return p
	}
	for i, s := range stmts {
		cs := &cstmts[i]
		cs.sql = (*C.char)(putBytes(s.sql, true))
		cs.n_params = C.size_t(len(s.values))
		cs.params = nil
		cs.param_names = nil
		if len(s.values) > 0 {
			cs.params = &values[vi]
		}
		if s.names != nil {
			cs.param_names = &names[ni]
			for _, name := range s.names {
				names[ni] = (*C.char)(putBytes(name, true))
				ni++
			}
		}
		for _, v := range s.values {
			cv := &values[vi]
			vi++
			cv._type = v.typ
			cv.i = C.int64_t(v.i)
			cv.d = C.double(v.d)
			cv.ptr = nil
			cv.len = C.size_t(len(v.bytes))
			if len(v.bytes) > 0 {
				cv.ptr = putBytes(v.bytes, false)
			}
		}
	}
	return cStatements{mem: mem, stmts: &cstmts[0], n: C.size_t(len(stmts))}
}

func rowsFromC(rows *C.litecommit_rows) Rows {
	var nCols, nRows C.size_t
	if rows == nil || C.litecommit_rows_size(rows, &nCols, &nRows) != C.LITECOMMIT_OK {
		return Rows{}
	}
	out := Rows{Columns: make([]string, int(nCols)), declTypes: columnDeclTypes(rows, int(nCols))}
	for i := range out.Columns {
		var name *C.char
		if C.litecommit_rows_column_name(rows, C.size_t(i), &name) == C.LITECOMMIT_OK {
			out.Columns[i] = C.GoString(name)
		}
	}
	if nRows == 0 || nCols == 0 {
		return out
	}
	buf := make([]C.litecommit_value, int(nCols))
	out.Values = make([][]any, int(nRows))
	for r := range out.Values {
		row := make([]any, int(nCols))
		if C.litecommit_rows_row(rows, C.size_t(r), &buf[0], nCols) == C.LITECOMMIT_OK {
			for c, v := range buf {
				row[c] = valueFromC(&v)
			}
		}
		out.Values[r] = row
	}
	return out
}

func valueFromC(v *C.litecommit_value) any {
	switch v._type {
	case C.LITECOMMIT_TYPE_INTEGER:
		return int64(v.i)
	case C.LITECOMMIT_TYPE_REAL:
		return float64(v.d)
	case C.LITECOMMIT_TYPE_TEXT:
		return C.GoStringN((*C.char)(v.ptr), C.int(v.len))
	case C.LITECOMMIT_TYPE_BLOB:
		return C.GoBytes(v.ptr, C.int(v.len))
	default:
		return nil
	}
}

// resultsFromC converts a committed transaction's result.
func resultsFromC(r *C.litecommit_result) []Result {
	var n C.size_t
	if C.litecommit_result_statement_count(r, &n) != C.LITECOMMIT_OK {
		return nil
	}
	out := make([]Result, int(n))
	for i := range out {
		var sr C.litecommit_statement_result
		if C.litecommit_result_statement(r, C.size_t(i), &sr) != C.LITECOMMIT_OK {
			continue
		}
		out[i] = Result{
			Changes:      int64(sr.changes),
			LastInsertID: int64(sr.last_insert_rowid),
			Rows:         rowsFromC(sr.rows),
		}
	}
	return out
}
