package litecommit

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// The Go structs mirror the C structs of include/litecommit.h field by field. These tests
// walk the C structs (as cgo sees them) and fail when a C field has no Go counterpart or
// when toC or statsFromC does not copy it.

// goName is a C field's Go name: transactions_committed -> TransactionsCommitted.
func goName(cField string) string {
	parts := strings.Split(cField, "_")
	for i, p := range parts {
		parts[i] = strings.ToUpper(p[:1]) + p[1:]
	}
	return strings.Join(parts, "")
}

// cFields lists the named fields of a cgo struct type (cgo's padding fields start with _).
func cFields(t reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); !strings.HasPrefix(f.Name, "_") {
			out = append(out, f)
		}
	}
	return out
}

// changedCFields names the fields whose values differ between two C option structs.
func changedCFields(a, b any) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var out []string
	for _, f := range cFields(va.Type()) {
		if fmt.Sprint(va.FieldByIndex(f.Index)) != fmt.Sprint(vb.FieldByIndex(f.Index)) {
			out = append(out, f.Name)
		}
	}
	return out
}

// nonDefaults are values to try for an Options field, by type, until one changes the C
// struct (a *bool may default to on or off).
func nonDefaults(t reflect.Type) []any {
	switch t {
	case reflect.TypeOf(Durability("")):
		return []any{DurabilityOff}
	case reflect.TypeOf(FlushPolicy("")):
		return []any{FlushTicker}
	case reflect.TypeOf(0):
		return []any{12345}
	case reflect.TypeOf(int64(0)):
		return []any{int64(12345)}
	case reflect.TypeOf(0.0):
		return []any{12.5}
	case reflect.TypeOf(false):
		return []any{true}
	case reflect.TypeOf((*bool)(nil)):
		return []any{Bool(false), Bool(true)}
	case reflect.TypeOf((*int64)(nil)):
		return []any{Int64(-1)}
	case reflect.TypeOf(""):
		return []any{"orders"}
	}
	return nil
}

func TestToCSetsEveryOptionOfTheCStruct(t *testing.T) {
	defaults, err := (&Options{}).toC()
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	ot := reflect.TypeOf(Options{})
	for i := 0; i < ot.NumField(); i++ {
		f := ot.Field(i)
		if f.Name == "PollBatch" { // the Go poller's own setting, not the library's
			continue
		}
		candidates := nonDefaults(f.Type)
		if candidates == nil {
			t.Fatalf("Options.%s: no test value for type %s", f.Name, f.Type)
		}
		var changed []string
		for _, v := range candidates {
			var o Options
			reflect.ValueOf(&o).Elem().Field(i).Set(reflect.ValueOf(v))
			c, err := o.toC()
			if err != nil {
				t.Fatalf("Options.%s = %v: %v", f.Name, v, err)
			}
			changed = changedCFields(defaults, c)
			freeOptions(&c)
			if len(changed) > 0 {
				break
			}
		}
		if len(changed) != 1 || goName(changed[0]) != f.Name {
			t.Errorf("Options.%s changed the C fields %v, want exactly its own", f.Name, changed)
		}
		for _, c := range changed {
			set[c] = true
		}
	}
	for _, f := range cFields(reflect.TypeOf(defaults)) {
		if f.Name != "struct_size" && !set[f.Name] {
			t.Errorf("litecommit_options.%s: no Options field sets it (add one, and copy it in toC)", f.Name)
		}
	}
}

func TestStatsFromCCopiesEveryFieldOfTheCStruct(t *testing.T) {
	// A C stats struct whose every field holds its own value (statsFromC's parameter is
	// *C.litecommit_stats, which a test file cannot name).
	fn := reflect.ValueOf(statsFromC)
	cs := reflect.New(fn.Type().In(0).Elem())
	want := map[string]any{}
	for i, f := range cFields(cs.Elem().Type()) {
		p := unsafe.Add(cs.UnsafePointer(), f.Offset)
		switch f.Type.Kind() {
		case reflect.Uint64:
			*(*uint64)(p) = uint64(100 + i)
			want[f.Name] = uint64(100 + i)
		case reflect.Float64:
			*(*float64)(p) = float64(100+i) + 0.5
			want[f.Name] = float64(100+i) + 0.5
		case reflect.Int32: // a flag
			*(*int32)(p) = 1
			want[f.Name] = true
		default:
			t.Fatalf("litecommit_stats.%s: no test value for kind %s", f.Name, f.Type.Kind())
		}
	}
	got := reflect.ValueOf(fn.Call([]reflect.Value{cs})[0].Interface().(Stats))
	filled := map[string]bool{}
	for cName, w := range want {
		// A C field is a Stats field of the same name, or one entry of a map named by its
		// prefix: flushes_timer is Flushes["timer"].
		var g any
		if gf := got.FieldByName(goName(cName)); gf.IsValid() {
			g, filled[goName(cName)] = gf.Interface(), true
		} else if prefix, key, ok := strings.Cut(cName, "_"); ok {
			if m := got.FieldByName(goName(prefix)); m.IsValid() && m.Kind() == reflect.Map {
				if v := m.MapIndex(reflect.ValueOf(key)); v.IsValid() {
					g, filled[goName(prefix)] = v.Interface(), true
				}
			}
		}
		if g == nil {
			t.Errorf("litecommit_stats.%s: no Stats field holds it (add one, and copy it in statsFromC)", cName)
		} else if g != w {
			t.Errorf("litecommit_stats.%s = %v, but Stats has %v", cName, w, g)
		}
	}
	for i := 0; i < got.NumField(); i++ {
		if name := got.Type().Field(i).Name; !filled[name] {
			t.Errorf("Stats.%s: no field of litecommit_stats fills it", name)
		}
	}
}
