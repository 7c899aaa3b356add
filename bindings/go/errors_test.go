package litecommit

import "testing"

// An error's Code is its Status's name (SQLite's errors aside, which SQLite names): for the
// errors the Go package builds itself, and for a failed Open, whose name is the one every
// binding reports.
func TestErrorCodeIsStatusName(t *testing.T) {
	for _, err := range []error{closedError(), argError("x"), configError("x")} {
		if e := asError(t, err); e.Code != e.Status.String() {
			t.Errorf("an error of status %s has the code %s", e.Status, e.Code)
		}
	}
	if name := StatusOpenError.String(); name != "LITECOMMIT_OPEN" {
		t.Errorf("StatusOpenError is named %s, but its errors LITECOMMIT_OPEN", name)
	}
}
