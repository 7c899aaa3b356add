package litecommit

import (
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// ParseDSN splits a data source name of the database/sql driver into a path and Options.
//
// The DSN is a path, optionally followed by "?" and options in URL query syntax:
//
//	app.db?durability=normal&maxBatchSize=500&checkpoint=false
//
// Every field of Options can be set, by its camelCase name ("maxBatchSize") or its
// snake_case name ("max_batch_size"); case does not matter. Values are numbers, booleans
// (true/false, 1/0, on/off, yes/no), the names of Durability and FlushPolicy values, and
// text (URL-escaped where needed).
// A value means what the Options field means: 0 keeps a default, so "busyTimeoutMs=-1"
// asks for no wait, and "checkpoint=false" turns the scheduler off. An unknown option, a
// value that does not parse, an option given twice or an invalid combination is an error
// that names the option. The path is passed to SQLite as is (relative to the working
// directory); it may not contain "?".
func ParseDSN(dsn string) (path string, opts Options, err error) {
	path, query, _ := strings.Cut(dsn, "?")
	if path == "" {
		return "", opts, configError("DSN %q: the database path is empty", dsn)
	}
	values, perr := url.ParseQuery(query)
	if perr != nil {
		return "", opts, configError("DSN %q: %v", dsn, perr)
	}
	fields := optionFields()
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the first error is the same on every run
	seen := map[int]string{}
	rv := reflect.ValueOf(&opts).Elem()
	for _, key := range keys {
		i, ok := fields[normalizeOptionName(key)]
		if !ok {
			return "", opts, configError("DSN: unknown option %q (options: %s)", key, optionNames())
		}
		if len(values[key]) > 1 {
			return "", opts, configError("DSN: option %q is given more than once", key)
		}
		if other, dup := seen[i]; dup {
			return "", opts, configError("DSN: options %q and %q are the same option", other, key)
		}
		seen[i] = key
		if err := setOption(rv.Field(i), values[key][0]); err != nil {
			return "", opts, configError("DSN: option %s=%q: %v", key, values[key][0], err)
		}
	}
	if _, err := opts.toC(); err != nil {
		return "", opts, err
	}
	return path, opts, nil
}

// normalizeOptionName folds "maxBatchSize", "MaxBatchSize" and "max_batch_size" to one key.
func normalizeOptionName(name string) string {
	return strings.ToLower(strings.ReplaceAll(name, "_", ""))
}

// optionFields maps each Options field's normalized name to its index.
func optionFields() map[string]int {
	t := reflect.TypeOf(Options{})
	out := make(map[string]int, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		out[normalizeOptionName(t.Field(i).Name)] = i
	}
	return out
}

// optionNames lists the DSN options by their camelCase names.
func optionNames() string {
	t := reflect.TypeOf(Options{})
	names := make([]string, t.NumField())
	for i := range names {
		name := []rune(t.Field(i).Name)
		name[0] = unicode.ToLower(name[0])
		names[i] = string(name)
	}
	return strings.Join(names, ", ")
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "on", "yes":
		return true, nil
	case "off", "no":
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, errBadValue("a boolean (true/false, 1/0, on/off, yes/no)")
	}
	return b, nil
}

type errBadValue string

func (e errBadValue) Error() string { return "expected " + string(e) }

// setOption parses s into one Options field, by the field's type.
func setOption(f reflect.Value, s string) error {
	switch f.Interface().(type) {
	case Durability, FlushPolicy:
		f.SetString(strings.ToLower(s))
	case string:
		f.SetString(s)
	case bool:
		b, err := parseBool(s)
		if err != nil {
			return err
		}
		f.SetBool(b)
	case *bool:
		b, err := parseBool(s)
		if err != nil {
			return err
		}
		f.Set(reflect.ValueOf(Bool(b)))
	case int, int64:
		n, err := strconv.ParseInt(s, 10, f.Type().Bits())
		if err != nil {
			return errBadValue("an integer")
		}
		f.SetInt(n)
	case *int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return errBadValue("an integer")
		}
		f.Set(reflect.ValueOf(Int64(n)))
	case float64:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return errBadValue("a number")
		}
		f.SetFloat(x)
	default:
		// A field of a type this function does not know yet: dsn_test.go sets every field.
		return errBadValue("a value of a type the DSN cannot set: " + f.Type().String())
	}
	return nil
}
