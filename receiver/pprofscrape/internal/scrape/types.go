// Copyright prodscope authors
// SPDX-License-Identifier: Apache-2.0

// Package scrape schedules and runs the scrapes of pprof targets: one goroutine per
// target with a per-target jitter, a bound on concurrent target scrapes, and per
// target delta state for cumulative profile types.
package scrape // import "github.com/prodscope/prodscope/receiver/pprofscrape/internal/scrape"

import (
	"slices"
	"strconv"
	"time"
)

// ProfileTypes are the net/http/pprof profiles the receiver can scrape. /cmdline,
// /trace and debug=2 are never requested.
var ProfileTypes = []string{"cpu", "heap", "allocs", "goroutine", "block", "mutex", "threadcreate"}

// IsProfileType reports whether t is a known profile type.
func IsProfileType(t string) bool { return slices.Contains(ProfileTypes, t) }

// Path returns the URL path (and query) of profile type t.
func Path(t string, cpuDuration time.Duration) string {
	if t == "cpu" {
		return "/debug/pprof/profile?seconds=" + strconv.Itoa(int(cpuDuration/time.Second))
	}
	return "/debug/pprof/" + t
}

// primarySampleType is the sample type the top-N functions metrics are computed on
// (the value `go tool pprof` shows by default, allocs and contention as deltas).
var primarySampleType = map[string]string{
	"cpu":          "cpu",
	"heap":         "inuse_space",
	"allocs":       "alloc_space",
	"goroutine":    "goroutine",
	"block":        "delay",
	"mutex":        "delay",
	"threadcreate": "threadcreate",
}
