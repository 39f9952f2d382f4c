// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package delta

import (
	"bytes"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/pproftest"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/profiletype"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var sink [][]byte

func allocate(n int) {
	for i := range n {
		sink = append(sink, make([]byte, 256+i%2048))
	}
	sink = nil
}

func contend(n int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				mu.Lock()
				time.Sleep(10 * time.Microsecond)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// frameKey names a sample by its frames (function:line, leaf first) and labels.
func frameKey(s *profile.Sample) string {
	var b strings.Builder
	for _, l := range s.Location {
		for _, ln := range l.Line {
			fmt.Fprintf(&b, "%s:%d;", ln.Function.Name, ln.Line)
		}
	}
	var labels []string
	for k, vs := range s.Label {
		labels = append(labels, fmt.Sprintf("%s=%v", k, vs))
	}
	for k, vs := range s.NumLabel {
		labels = append(labels, fmt.Sprintf("%s=%v", k, vs))
	}
	sort.Strings(labels)
	b.WriteString(strings.Join(labels, ","))
	return b.String()
}

func parse(t *testing.T, raw []byte) *profile.Profile {
	t.Helper()
	p, err := profile.Parse(bytes.NewReader(raw))
	require.NoError(t, err)
	return p
}

// TestDeltaEqualsPprofBase computes our delta on pairs of real runtime profiles and
// compares it, per stack and per cumulative sample type, with `go tool pprof -base`.
func TestDeltaEqualsPprofBase(t *testing.T) {
	prevBlock := runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	defer func() {
		runtime.SetMutexProfileFraction(prevBlock)
		runtime.SetBlockProfileRate(0)
	}()
	for _, typ := range []string{"allocs", "heap", "mutex", "block"} {
		t.Run(typ, func(t *testing.T) {
			allocate(500)
			contend(20)
			raw1 := pproftest.Profile(t, typ)
			allocate(5000)
			contend(50)
			runtime.GC()
			raw2 := pproftest.Profile(t, typ)

			p1, p2 := parse(t, raw1), parse(t, raw2)
			tr := NewTracker()
			cum := profiletype.CumulativeIndices(typ, p1)
			require.NotEmpty(t, cum)
			_, out := tr.Next(p1, cum)
			require.Equal(t, Baseline, out, "the first profile gives no delta")
			d, out := tr.Next(p2, cum)
			require.Equal(t, Delta, out)

			ours := map[string]map[int]int64{}
			for r, si := range d.Samples {
				for j, vi := range cum {
					if v := d.Row(r)[j]; v != 0 {
						k := frameKey(p2.Sample[si])
						if ours[k] == nil {
							ours[k] = map[int]int64{}
						}
						ours[k][vi] += v
					}
				}
			}

			f1 := pproftest.WriteTemp(t, "base.pb.gz", raw1)
			f2 := pproftest.WriteTemp(t, "cur.pb.gz", raw2)
			out2 := pproftest.GoToolPprof(t, "-proto", "-base", f1, f2)
			ref := parse(t, out2)
			theirs := map[string]map[int]int64{}
			for _, s := range ref.Sample {
				for _, vi := range cum {
					if v := s.Value[vi]; v != 0 {
						k := frameKey(s)
						if theirs[k] == nil {
							theirs[k] = map[int]int64{}
						}
						theirs[k][vi] += v
					}
				}
			}
			// -base keeps a stack whose sum is zero as +x/-x pairs of differently grouped
			// locations only when the grouping differs; compare per stack after netting.
			for k, m := range theirs {
				for vi, v := range m {
					if v == 0 {
						delete(m, vi)
					}
				}
				if len(m) == 0 {
					delete(theirs, k)
				}
			}
			require.NotEmpty(t, theirs, "the workload must show up in the delta")
			assert.Equal(t, theirs, ours)
		})
	}
}

func TestBaselineResetAndSignature(t *testing.T) {
	allocate(100)
	runtime.GC()
	runtime.GC()
	p1 := parse(t, pproftest.Profile(t, "allocs"))
	allocate(1000)
	runtime.GC()
	runtime.GC()
	p2 := parse(t, pproftest.Profile(t, "allocs"))
	cum := profiletype.CumulativeIndices("allocs", p1)

	tr := NewTracker()
	_, out := tr.Next(p2, cum)
	require.Equal(t, Baseline, out)
	// p1 is older: its counters are lower, as after a restart.
	_, out = tr.Next(p1, cum)
	require.Equal(t, Reset, out)
	// The reset profile is the new baseline.
	d, out := tr.Next(p2, cum)
	require.Equal(t, Delta, out)
	assert.NotEmpty(t, d.Samples)

	// Same profile twice: an empty delta.
	d, out = tr.Next(p2, cum)
	require.Equal(t, Delta, out)
	assert.Empty(t, d.Samples)

	// Different sample types start a new baseline.
	g := parse(t, pproftest.Profile(t, "goroutine"))
	_, out = tr.Next(g, profiletype.CumulativeIndices("block", g))
	assert.Equal(t, Baseline, out)
}

// TestKeyIgnoresLocationGrouping: two inlined frames in one location or in two give one key.
func TestKeyIgnoresLocationGrouping(t *testing.T) {
	fa := &profile.Function{ID: 1, Name: "a"}
	fb := &profile.Function{ID: 2, Name: "b"}
	fc := &profile.Function{ID: 3, Name: "c"}
	one := &profile.Profile{
		Location: []*profile.Location{{ID: 1, Address: 0x10, Line: []profile.Line{{Function: fa, Line: 1}, {Function: fb, Line: 2}}}, {ID: 2, Address: 0x20, Line: []profile.Line{{Function: fc, Line: 3}}}},
		Function: []*profile.Function{fa, fb, fc},
	}
	two := &profile.Profile{
		Location: []*profile.Location{{ID: 7, Address: 0x99, Line: []profile.Line{{Function: fa, Line: 1}}}, {ID: 8, Address: 0x98, Line: []profile.Line{{Function: fb, Line: 2}}}, {ID: 9, Line: []profile.Line{{Function: fc, Line: 3}}}},
		Function: []*profile.Function{fa, fb, fc},
	}
	tr := NewTracker()
	k1 := newKeyer(tr.seed, one).sampleKey(&profile.Sample{Location: one.Location})
	k2 := newKeyer(tr.seed, two).sampleKey(&profile.Sample{Location: two.Location})
	assert.Equal(t, k1, k2)
	k3 := newKeyer(tr.seed, two).sampleKey(&profile.Sample{Location: two.Location[:2]})
	assert.NotEqual(t, k1, k3)
	k4 := newKeyer(tr.seed, one).sampleKey(&profile.Sample{Location: one.Location, NumLabel: map[string][]int64{"bytes": {8}}})
	assert.NotEqual(t, k1, k4)
}
