package main

import (
	"fmt"
	"strings"
)

// verdict is what a run shows about one target: met, MISSED, or not reached (the run did
// not produce the situation the target is about; the text says why).
type verdict struct {
	met, reached bool
	why          string
}

func verdictOf(reached, ok bool, why string) verdict {
	return verdict{met: ok, reached: reached, why: why}
}

func (v verdict) String() string {
	switch {
	case !v.reached:
		return "not reached (" + v.why + ")"
	case v.met:
		return "met"
	default:
		return "MISSED"
	}
}

// judge collects the MISSED targets of one run.
type judge struct {
	missed []string
}

func newJudge() *judge { return &judge{} }

// judge returns v, remembering target when v is MISSED.
func (j *judge) judge(target string, v verdict) verdict {
	if v.reached && !v.met {
		j.missed = append(j.missed, target)
	}
	return v
}

// finish is an error naming the MISSED targets, unless noFail.
func (j *judge) finish(noFail bool) error {
	if len(j.missed) == 0 || noFail {
		return nil
	}
	return fmt.Errorf("%d target(s) MISSED: %s (pass -no-fail, or BENCH_NO_FAIL=1 to make, to report without failing)",
		len(j.missed), strings.Join(j.missed, "; "))
}
