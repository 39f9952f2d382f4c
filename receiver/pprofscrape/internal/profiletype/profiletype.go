// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package profiletype is the one table of what the receiver knows about each pprof
// profile type: its path, its default sample type, which values are cumulative, and
// whether the endpoint serves deltas itself.
package profiletype // import "github.com/prodscope/prodscope/receiver/pprofscrape/internal/profiletype"

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// Facts is everything the receiver knows about one profile type, in one place.
type Facts struct {
	// Path is the default URL path under the target's endpoint (and path prefix).
	Path string
	// Primary is the sample type the top-N functions metrics use (go tool pprof's default).
	Primary string
	// Cumulative reports the sample types that are counters since process start, turned
	// into deltas by the receiver; nil: none (as scraped, or already deltas).
	Cumulative func(sampleType string) bool
	// Family groups the types the metrics read the same way: cpu, heap, goroutine,
	// block, mutex, threadcreate.
	Family string
	// PreDelta: the endpoint serves deltas itself (godeltaprof): no client-side delta.
	PreDelta bool
}

func allValues(string) bool { return true }

func allocValues(st string) bool { return strings.HasPrefix(st, "alloc_") }

// Table is the table of profile types. The `delta_*` ones are godeltaprof's endpoints
// (github.com/grafana/pyroscope-go/godeltaprof/http/pprof), which answer with the change
// since their previous request: the receiver sends them as scraped.
var Table = map[string]Facts{
	"cpu":          {Path: "/debug/pprof/profile", Primary: "cpu", Family: "cpu"},
	"heap":         {Path: "/debug/pprof/heap", Primary: "inuse_space", Cumulative: allocValues, Family: "heap"},
	"allocs":       {Path: "/debug/pprof/allocs", Primary: "alloc_space", Cumulative: allocValues, Family: "heap"},
	"goroutine":    {Path: "/debug/pprof/goroutine", Primary: "goroutine", Family: "goroutine"},
	"block":        {Path: "/debug/pprof/block", Primary: "delay", Cumulative: allValues, Family: "block"},
	"mutex":        {Path: "/debug/pprof/mutex", Primary: "delay", Cumulative: allValues, Family: "mutex"},
	"threadcreate": {Path: "/debug/pprof/threadcreate", Primary: "threadcreate", Cumulative: allValues, Family: "threadcreate"},
	"delta_heap":   {Path: "/debug/pprof/delta_heap", Primary: "inuse_space", Family: "heap", PreDelta: true},
	"delta_block":  {Path: "/debug/pprof/delta_block", Primary: "delay", Family: "block", PreDelta: true},
	"delta_mutex":  {Path: "/debug/pprof/delta_mutex", Primary: "delay", Family: "mutex", PreDelta: true},
}

// Names are the known profile types, in the order the docs list them. /cmdline,
// /trace and debug=2 are never requested.
var Names = []string{"cpu", "heap", "allocs", "goroutine", "block", "mutex", "threadcreate", "delta_heap", "delta_block", "delta_mutex"}

// IsKnown reports whether t is a known profile type.
func IsKnown(t string) bool { _, ok := Table[t]; return ok }

// Path returns the default URL path (and query) of profile type t.
func Path(t string, cpuDuration time.Duration) string {
	return WithCPUSeconds(t, Table[t].Path, cpuDuration)
}

// WithCPUSeconds adds seconds=N to the path of a cpu-type profile.
func WithCPUSeconds(t, path string, cpuDuration time.Duration) string {
	if Table[t].Family != "cpu" {
		return path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "seconds=" + strconv.Itoa(int(cpuDuration/time.Second))
}

// CumulativeIndices returns the value indices of p that the receiver turns into deltas
// for profile type t.
func CumulativeIndices(t string, p *profile.Profile) []int {
	f := Table[t]
	if f.Cumulative == nil || f.PreDelta {
		return nil
	}
	var out []int
	for i, st := range p.SampleType {
		if f.Cumulative(st.Type) {
			out = append(out, i)
		}
	}
	return slices.Clip(out)
}
