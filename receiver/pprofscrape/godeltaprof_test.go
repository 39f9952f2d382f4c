// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package pprofscrape

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	deltapprof "github.com/grafana/pyroscope-go/godeltaprof/http/pprof"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pprofile"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/metadatatest"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/pproftest"
)

// The workload of TestGodeltaprofConformance, done between its first and second scrape.
const (
	gdpAllocs    = 1000
	gdpAllocSize = 4096 // a Go size class (runtime/sizeclasses.go): no rounding, each object is exactly 4096 bytes
	gdpHandoffs  = 25
)

// gdpSink keeps the allocations alive, so they are still in use at the later scrapes.
var gdpSink [][]byte

// gdpAllocate makes exactly len(dst) heap allocations of gdpAllocSize bytes, every one
// with this function on its stack (dst is allocated by the caller, not here).
//
//go:noinline
func gdpAllocate(dst [][]byte) {
	for i := range dst {
		dst[i] = make([]byte, gdpAllocSize)
	}
}

// gdpBlockSend and gdpBlockReceive hand n values over an unbuffered channel. At each
// handoff exactly one side blocks (parks) until the other arrives: the one that came
// first; the other finds it waiting and does not block (Go spec, "Channel types":
// unbuffered communication succeeds only when both sender and receiver are ready; the
// runtime parks the first comer). So the two functions' stacks carry n blocking events
// in all, however the goroutines are scheduled.
//
//go:noinline
func gdpBlockSend(ch chan<- int, n int) {
	for i := range n {
		ch <- i
	}
}

//go:noinline
func gdpBlockReceive(ch <-chan int, n int, done chan<- struct{}) {
	for range n {
		<-ch
	}
	close(done) // after the last receive's blocking event was recorded
}

// stackThrough reports whether a frame of s (inlined ones included) is a function whose
// name ends with suffix.
func stackThrough(dict pprofile.ProfilesDictionary, s pprofile.Sample, suffix string) bool {
	for _, li := range dict.StackTable().At(int(s.StackIndex())).LocationIndices().All() {
		for _, ln := range dict.LocationTable().At(int(li)).Lines().All() {
			if strings.HasSuffix(dict.StringTable().At(int(dict.FunctionTable().At(int(ln.FunctionIndex())).NameStrindex())), suffix) {
				return true
			}
		}
	}
	return false
}

// gdpProfile is one OTLP Profile of a scrape: one sample type of one pprof profile.
type gdpProfile struct {
	unit         string
	total        int64 // every sample
	through      int64 // samples whose stack goes through the workload's functions
	throughCount int   // how many such samples
}

// gdpProfiles returns the Profiles of one scrape by profile type and sample type, with
// the sample type order of each profile type.
func gdpProfiles(pd pprofile.Profiles, through map[string][]string) (map[string]map[string]gdpProfile, map[string][]string) {
	out := map[string]map[string]gdpProfile{}
	order := map[string][]string{}
	eachProfile(pd, func(typ, st string, p pprofile.Profile, dict pprofile.ProfilesDictionary) {
		g := gdpProfile{unit: dict.StringTable().At(int(p.SampleType().UnitStrindex()))}
		for _, s := range p.Samples().All() {
			var v int64
			for _, x := range s.Values().All() {
				v += x
			}
			g.total += v
			for _, fn := range through[typ] {
				if stackThrough(dict, s, fn) {
					g.through += v
					g.throughCount++
					break
				}
			}
		}
		if out[typ] == nil {
			out[typ] = map[string]gdpProfile{}
		}
		out[typ][st] = g
		order[typ] = append(order[typ], st+"/"+g.unit)
	})
	return out, order
}

// metricSums returns the sum of the points of each metric of one scrape, by metric name
// and pprof.profile.type attribute (empty when the metric has none).
func metricSums(md pmetric.Metrics) map[string]int64 {
	out := map[string]int64{}
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Type() != pmetric.MetricTypeSum {
					continue
				}
				for _, dp := range m.Sum().DataPoints().All() {
					key := m.Name()
					if v, ok := dp.Attributes().Get("pprof.profile.type"); ok {
						key += "/" + v.Str()
					}
					out[key] += dp.IntValue()
				}
			}
		}
	}
	return out
}

// gdpServer serves godeltaprof's own HTTP handlers (Heap, Block) on a mux of its own
// from 127.0.0.1. (Importing godeltaprof/http/pprof also registers them on
// http.DefaultServeMux in its init; nothing here serves that mux.) It holds each profile's second request until
// release is closed, so the test's workload falls between the first and second scrape.
type gdpServer struct {
	*httptest.Server
	mu        sync.Mutex
	requests  map[string]int
	served    map[string]int
	release   chan struct{}
	firstDone chan struct{} // closed when the first request of every profile was answered
}

func newGdpServer(t *testing.T) *gdpServer {
	t.Helper()
	s := &gdpServer{
		requests: map[string]int{}, served: map[string]int{},
		release: make(chan struct{}), firstDone: make(chan struct{}),
	}
	mux := http.NewServeMux()
	for path, h := range map[string]http.HandlerFunc{
		"/debug/pprof/delta_heap":  deltapprof.Heap,
		"/debug/pprof/delta_block": deltapprof.Block,
	} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			s.mu.Lock()
			s.requests[path]++
			n := s.requests[path]
			s.mu.Unlock()
			if n == 2 {
				select {
				case <-s.release:
				case <-r.Context().Done():
					return
				}
			}
			h(w, r)
			s.mu.Lock()
			defer s.mu.Unlock()
			s.served[path]++
			if n == 1 && s.served["/debug/pprof/delta_heap"] >= 1 && s.served["/debug/pprof/delta_block"] >= 1 {
				close(s.firstDone)
			}
		})
	}
	s.Server = pproftest.Loopback(t, mux)
	return s
}

// TestGodeltaprofConformance scrapes the real godeltaprof library
// (github.com/grafana/pyroscope-go/godeltaprof/http/pprof) served by this test process:
// delta_heap and delta_block are sent as godeltaprof serves them, the change since its
// previous request, and the receiver does not subtract again.
//
// Scrape 1 is godeltaprof's first request (everything since the process started: its
// baseline). Between scrape 1 and 2 the test allocates gdpAllocs objects of gdpAllocSize
// bytes in gdpAllocate and makes gdpHandoffs blocking channel handoffs in
// gdpBlockSend/gdpBlockReceive; between scrape 2 and 3 it does nothing. Expected values,
// worked out from the sources, not from the output:
//
//   - runtime.MemProfileRate = 1 records every allocation (runtime docs: "To include
//     every allocated block in the profile, set MemProfileRate to 1"), and godeltaprof
//     does not scale values at rate 1 (ScaleHeapSample: "if rate==1 all samples were
//     collected so no adjustment is needed"). The profile is published by a GC (runtime
//     docs of MemProfile: "The returned profile may be up to two garbage collection
//     cycles old"): the scrape path carries godeltaprof's ?gc=1, which runs runtime.GC
//     before the profile is taken.
//   - godeltaprof's README ("delta" profiles): alloc_* and the block profile's
//     contentions/delay are the change since the previous request; in-use values are
//     not deltas (delta_heap.go: inuse is the current value).
//   - runtime.SetBlockProfileRate(1) records every blocking event ("To include every
//     blocking event in the profile, pass rate = 1"), unscaled at rate 1.
//
// So, for stacks through the workload's functions:
//
//	scrape            1    2              3
//	alloc_objects     0    1000           0
//	alloc_space       0    1000*4096      0
//	inuse_objects     0    1000           1000 (kept alive in gdpSink)
//	inuse_space       0    1000*4096      1000*4096
//	contentions       0    25             0
//
// A receiver that also applied a client-side delta (read delta_heap as heap, which
// subtracts the previous scrape's alloc_*, and delta_block as block, all values) would
// subtract one godeltaprof delta from the previous one, stack by stack: scrape 1 has no
// baseline, so no alloc_* and no block Profiles and no pprof.alloc.* or
// pprof.contentions metrics; in scrape 2 gdpAllocate's stack would be 1000-0 = 1000
// (indistinguishable), but any stack that allocated less than in scrape 1 goes down,
// which the receiver reads as a restart ("reset": README, "Deltas"): no alloc_* at all;
// scrape 3 has 0-1000 < 0 on gdpAllocate's stack: a reset again, and 0-25 on the
// handoffs. The sample type lists and metrics asserted present in every scrape fail in
// that case (checked by making profiletype.Table read the two types as heap and block:
// this test then fails on every scrape); the values through the workload at scrape 3
// (0 allocated, 1000 in use) are read from Profiles that must be there.
func TestGodeltaprofConformance(t *testing.T) {
	prevRate := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	runtime.SetBlockProfileRate(1)
	// Restored in a cleanup registered before the server's: cleanups run last-in
	// first-out, so the receiver is stopped and the server closed (Close waits for the
	// handlers, which read MemProfileRate) before the rates are restored.
	t.Cleanup(func() {
		runtime.SetBlockProfileRate(0)
		runtime.MemProfileRate = prevRate
		// Unreachable again: with -count=N the next run's first scrape (its ?gc=1 GC)
		// sees these objects freed, and gdpAllocate's stack starts at zero in use.
		gdpSink = nil
	})

	srv := newGdpServer(t)
	cfg := testConfig(TargetConfig{Endpoint: srv.URL, Profiles: []string{"delta_heap", "delta_block"}})
	cfg.ProfileSettings = map[string]ProfileSettings{"delta_heap": {Path: "/debug/pprof/delta_heap?gc=1"}}
	cfg.CollectionInterval = 1100 * time.Millisecond // > cpu_duration (1 s), the shortest allowed
	cfg.ClientConfig.Timeout = 10 * time.Second
	tt := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tt.Shutdown(context.Background())) }()
	r := start(t, cfg, metadatatest.NewSettings(tt), true, true)

	// The workload, between godeltaprof's first and second answers.
	select {
	case <-srv.firstDone:
	case <-time.After(10 * time.Second):
		require.FailNow(t, "no first scrape within 10 s")
	}
	dst := make([][]byte, gdpAllocs)
	gdpAllocate(dst)
	gdpSink = dst
	ch, done := make(chan int), make(chan struct{})
	go gdpBlockReceive(ch, gdpHandoffs, done)
	gdpBlockSend(ch, gdpHandoffs)
	<-done
	close(srv.release)

	require.Eventually(t, func() bool {
		return len(r.profiles.AllProfiles()) >= 3 && len(r.metrics.AllMetrics()) >= 3
	}, 10*time.Second, 20*time.Millisecond, "three scrapes")
	r.stop()
	assert.Empty(t, errorsByReason(t, tt), "no scrape failed")

	through := map[string][]string{
		"delta_heap":  {".gdpAllocate"},
		"delta_block": {".gdpBlockSend", ".gdpBlockReceive"},
	}
	// Sample types and units as godeltaprof declares them (HeapProfileConfig,
	// MutexProfileConfig; the same as runtime/pprof's heap and block profiles), in every
	// scrape: nothing is held back for a baseline.
	wantOrder := map[string][]string{
		"delta_heap":  {"alloc_objects/count", "alloc_space/bytes", "inuse_objects/count", "inuse_space/bytes"},
		"delta_block": {"contentions/count", "delay/nanoseconds"},
	}
	type want struct{ allocObjects, allocSpace, inuseObjects, inuseSpace, contentions int64 }
	wants := []want{
		{0, 0, 0, 0, 0},
		{gdpAllocs, gdpAllocs * gdpAllocSize, gdpAllocs, gdpAllocs * gdpAllocSize, gdpHandoffs},
		{0, 0, gdpAllocs, gdpAllocs * gdpAllocSize, 0},
	}
	profiles, metrics := r.profiles.AllProfiles(), r.metrics.AllMetrics()
	for i, w := range wants {
		got, order := gdpProfiles(profiles[i], through)
		assert.Equal(t, wantOrder, order, "scrape %d: sample types", i+1)
		heap, block := got["delta_heap"], got["delta_block"]
		assert.Equal(t, w.allocObjects, heap["alloc_objects"].through, "scrape %d: alloc_objects through gdpAllocate", i+1)
		assert.Equal(t, w.allocSpace, heap["alloc_space"].through, "scrape %d: alloc_space through gdpAllocate", i+1)
		assert.Equal(t, w.inuseObjects, heap["inuse_objects"].through, "scrape %d: inuse_objects through gdpAllocate", i+1)
		assert.Equal(t, w.inuseSpace, heap["inuse_space"].through, "scrape %d: inuse_space through gdpAllocate", i+1)
		assert.Equal(t, w.contentions, block["contentions"].through, "scrape %d: contentions through the handoffs", i+1)
		if w.contentions > 0 {
			assert.Positive(t, block["delay"].through, "scrape %d: a blocked handoff waited", i+1)
		} else {
			assert.Zero(t, block["delay"].through, "scrape %d: no handoff, no delay", i+1)
			assert.Zero(t, block["delay"].throughCount, "scrape %d", i+1)
		}
		if w.allocObjects > 0 {
			// One stack (the loop's make) and one size: one sample.
			assert.Equal(t, 1, heap["alloc_objects"].throughCount, "scrape %d", i+1)
		}

		// The metrics of the same scrape are the totals of the same Profiles
		// (metadata.yaml: pprof.alloc.* are the allocations since the previous scrape,
		// read from delta_heap's alloc_* as served; pprof.contentions from delta_block).
		sums := metricSums(metrics[i])
		for name, st := range map[string]gdpProfile{
			"pprof.alloc.objects":           heap["alloc_objects"],
			"pprof.alloc.bytes":             heap["alloc_space"],
			"pprof.contentions/delta_block": block["contentions"],
		} {
			v, ok := sums[name]
			if assert.True(t, ok, "scrape %d: %s present", i+1, name) {
				assert.Equal(t, st.total, v, "scrape %d: %s is the Profile's total", i+1, name)
			}
		}
		assert.GreaterOrEqual(t, sums["pprof.alloc.objects"], w.allocObjects, "scrape %d", i+1)
		assert.GreaterOrEqual(t, sums["pprof.alloc.bytes"], w.allocSpace, "scrape %d", i+1)
		assert.GreaterOrEqual(t, sums["pprof.contentions/delta_block"], w.contentions, "scrape %d", i+1)
	}
}
