package litecommit

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode"
)

// snakeName is a Go field name in snake_case: MaxBatchSize -> max_batch_size.
func snakeName(field string) string {
	var b strings.Builder
	for i, r := range field {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// dsnValue is a DSN value for an Options field that differs from its zero value, and the
// value the field must then hold.
func dsnValue(t *testing.T, f reflect.StructField) (string, any) {
	switch f.Type {
	case reflect.TypeOf(Durability("")):
		return "NORMAL", DurabilityNormal
	case reflect.TypeOf(FlushPolicy("")):
		return "ticker", FlushTicker
	case reflect.TypeOf(""):
		return "orders%20db", "orders db"
	case reflect.TypeOf(0):
		return "12345", 12345
	case reflect.TypeOf(int64(0)):
		return "1234567890123", int64(1234567890123)
	case reflect.TypeOf(0.0):
		return "12.5", 12.5
	case reflect.TypeOf(false):
		return "on", true
	case reflect.TypeOf((*bool)(nil)):
		return "false", Bool(false)
	case reflect.TypeOf((*int64)(nil)):
		return "-1", Int64(-1)
	}
	t.Fatalf("Options.%s: no DSN test value for type %s", f.Name, f.Type)
	return "", nil
}

// Every Options field can be set in the DSN, by its camelCase and its snake_case name.
func TestParseDSNSetsEveryOption(t *testing.T) {
	ot := reflect.TypeOf(Options{})
	for i := 0; i < ot.NumField(); i++ {
		f := ot.Field(i)
		value, want := dsnValue(t, f)
		camel := string(unicode.ToLower(rune(f.Name[0]))) + f.Name[1:]
		for _, name := range []string{camel, snakeName(f.Name), f.Name} {
			path, opts, err := ParseDSN("dir/app.db?" + name + "=" + value)
			if err != nil {
				t.Fatalf("%s=%s: %v", name, value, err)
			}
			if path != "dir/app.db" {
				t.Fatalf("%s: path %q", name, path)
			}
			got := reflect.ValueOf(opts).Field(i).Interface()
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s=%s: Options.%s = %#v, want %#v", name, value, f.Name, got, want)
			}
			// Nothing else changed.
			rest := opts
			reflect.ValueOf(&rest).Elem().Field(i).Set(reflect.Zero(f.Type))
			if !reflect.DeepEqual(rest, Options{}) {
				t.Fatalf("%s=%s also set %+v", name, value, rest)
			}
		}
	}
}

func TestParseDSN(t *testing.T) {
	path, opts, err := ParseDSN("/tmp/x.db?durability=off&max_batch_size=500&checkpoint=no&journalSizeLimit=0&busyTimeoutMs=-1&passive_threshold_mb=0.5")
	if err != nil {
		t.Fatal(err)
	}
	want := Options{Durability: DurabilityOff, MaxBatchSize: 500, Checkpoint: Bool(false),
		JournalSizeLimit: Int64(0), BusyTimeoutMs: -1, PassiveThresholdMb: 0.5}
	if path != "/tmp/x.db" || !reflect.DeepEqual(opts, want) {
		t.Fatalf("got %q %+v", path, opts)
	}
	if path, opts, err := ParseDSN("plain.db"); err != nil || path != "plain.db" || !reflect.DeepEqual(opts, Options{}) {
		t.Fatalf("no options: %q %+v %v", path, opts, err)
	}
	if path, _, err := ParseDSN("with space %41.db?"); err != nil || path != "with space %41.db" {
		t.Fatalf("the path is taken as is: %q %v", path, err)
	}
	for dsn, want := range map[string]string{
		"x.db?bogus=1":                       `unknown option "bogus" (options: durability, flushPolicy, maxBatchSize,`,
		"x.db?maxBatchSize=1.5":              `option maxBatchSize="1.5": expected an integer`,
		"x.db?passiveThresholdMb=lots":       `option passiveThresholdMb="lots": expected a number`,
		"x.db?truncateWhenIdle=2":            `option truncateWhenIdle="2": expected a boolean`,
		"x.db?maxBatchSize=1&maxBatchSize=2": `option "maxBatchSize" is given more than once`,
		"x.db?flushPolicy=eager":             `FlushPolicy: unknown value "eager" (expected adaptive or ticker)`,
		"x.db?queueCapacity=-3":              "QueueCapacity: must not be negative, got -3",
		"x.db?idleVacuumPages=99999999999":   "IdleVacuumPages: out of range",
		"x.db?durability=%zz":                "invalid URL escape",
		"":                                   "the database path is empty",
	} {
		_, _, err := ParseDSN(dsn)
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%q: %v, want %q", dsn, err, want)
		}
	}
}
