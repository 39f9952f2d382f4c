// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package convert

import (
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pprofile"
	"go.uber.org/goleak"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/delta"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/pproftest"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/profiletype"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var sink [][]byte

func allocate(n int) {
	for i := range n {
		sink = append(sink, make([]byte, 512+i%4096))
	}
}

// stackKey names a sample by its frames (function:line, leaf first) and labels.
func stackKey(s *profile.Sample) string {
	var b strings.Builder
	for _, l := range s.Location {
		for _, ln := range l.Line {
			name := "?"
			if ln.Function != nil {
				name = ln.Function.Name
			}
			fmt.Fprintf(&b, "%s:%d;", name, ln.Line)
		}
		if len(l.Line) == 0 {
			fmt.Fprintf(&b, "%#x;", l.Address)
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

// byStack sums each sample type per stack key, leaving out zero values.
func byStack(p *profile.Profile) map[string]map[string]int64 {
	out := map[string]map[string]int64{}
	for _, s := range p.Sample {
		for i, v := range s.Value {
			if v == 0 {
				continue
			}
			st := p.SampleType[i].Type + "/" + p.SampleType[i].Unit
			if out[st] == nil {
				out[st] = map[string]int64{}
			}
			out[st][stackKey(s)] += v
		}
	}
	return out
}

func profilesOf(pd pprofile.Profiles) []pprofile.Profile {
	var out []pprofile.Profile
	for _, rp := range pd.ResourceProfiles().All() {
		for _, sp := range rp.ScopeProfiles().All() {
			for _, p := range sp.Profiles().All() {
				out = append(out, p)
			}
		}
	}
	return out
}

func convertOne(t *testing.T, p *profile.Profile, typ string, cum []int, d *delta.Result) (pprofile.Profiles, int) {
	t.Helper()
	pd := pprofile.NewProfiles()
	b := NewBuilder(pd)
	sp := pd.ResourceProfiles().AppendEmpty().ScopeProfiles().AppendEmpty()
	n := b.Append(sp, Input{Profile: p, Type: typ, Cumulative: cum, Delta: d})
	return pd, n
}

// TestRoundTrip converts real runtime profiles to OTLP and back and compares sample
// types, stacks and per-stack sums with the original.
func TestRoundTrip(t *testing.T) {
	allocate(2000)
	runtime.GC()
	for _, name := range []string{"heap", "allocs", "goroutine", "threadcreate"} {
		t.Run(name, func(t *testing.T) {
			orig, err := profile.Parse(strings.NewReader(string(pproftest.Profile(t, name))))
			require.NoError(t, err)
			pd, n := convertOne(t, orig, name, nil, nil)
			require.Positive(t, n)

			profiles := profilesOf(pd)
			require.Len(t, profiles, len(orig.SampleType), "one OTLP profile per pprof sample type")
			back, err := ToPprof(pd.Dictionary(), profiles)
			require.NoError(t, err)

			var wantTypes, gotTypes []string
			for _, st := range orig.SampleType {
				wantTypes = append(wantTypes, st.Type+"/"+st.Unit)
			}
			for _, st := range back.SampleType {
				gotTypes = append(gotTypes, st.Type+"/"+st.Unit)
			}
			assert.Equal(t, wantTypes, gotTypes)
			assert.Equal(t, orig.Period, back.Period)
			assert.Equal(t, orig.PeriodType.Type, back.PeriodType.Type)
			assert.Equal(t, orig.TimeNanos, back.TimeNanos)

			want, got := byStack(orig), byStack(back)
			assert.Equal(t, want, got)
			for i := range orig.SampleType {
				var ws, gs int64
				for _, s := range orig.Sample {
					ws += s.Value[i]
				}
				for _, s := range back.Sample {
					gs += s.Value[i]
				}
				assert.Equal(t, ws, gs, "sum of %s", orig.SampleType[i].Type)
			}
			// The dictionary's tables start with their zero entry.
			dict := pd.Dictionary()
			assert.Empty(t, dict.StringTable().At(0))
			assert.Equal(t, int32(0), dict.FunctionTable().At(0).NameStrindex())
			assert.Equal(t, 0, dict.StackTable().At(0).LocationIndices().Len())
			// Every Profile says which pprof type it came from.
			for _, pr := range profiles {
				attrs, err := pprofile.FromAttributeIndices(dict.AttributeTable(), pr, dict)
				require.NoError(t, err)
				v, ok := attrs.Get(AttrProfileType)
				require.True(t, ok)
				assert.Equal(t, name, v.Str())
			}
		})
	}
}

func TestRoundTripCPU(t *testing.T) {
	// A CPU profile written by the runtime profiler of this process.
	raw := cpuProfile(t)
	orig, err := profile.Parse(strings.NewReader(string(raw)))
	require.NoError(t, err)
	pd, _ := convertOne(t, orig, "cpu", nil, nil)
	back, err := ToPprof(pd.Dictionary(), profilesOf(pd))
	require.NoError(t, err)
	assert.Equal(t, byStack(orig), byStack(back))
	require.Len(t, back.SampleType, 2)
	assert.Equal(t, "cpu", back.SampleType[1].Type)
}

func TestDeltaProfilesCarryOnlyDeltas(t *testing.T) {
	allocate(100)
	p1, err := profile.Parse(strings.NewReader(string(pproftest.Profile(t, "allocs"))))
	require.NoError(t, err)
	allocate(3000)
	p2, err := profile.Parse(strings.NewReader(string(pproftest.Profile(t, "allocs"))))
	require.NoError(t, err)

	tr := delta.NewTracker()
	cum := profiletype.CumulativeIndices("allocs", p1)
	require.Len(t, cum, 2)
	_, out := tr.Next(p1, cum)
	require.Equal(t, delta.Baseline, out)

	// Without a delta only the in-use types are converted.
	pd, _ := convertOne(t, p1, "allocs", cum, nil)
	var types []string
	for _, pr := range profilesOf(pd) {
		types = append(types, pd.Dictionary().StringTable().At(int(pr.SampleType().TypeStrindex())))
	}
	assert.Equal(t, []string{"inuse_objects", "inuse_space"}, types)

	d, out := tr.Next(p2, cum)
	require.Equal(t, delta.Delta, out)
	pd, _ = convertOne(t, p2, "allocs", cum, d)
	profiles := profilesOf(pd)
	require.Len(t, profiles, 4)
	var sum int64
	for _, s := range profiles[1].Samples().All() { // alloc_space
		sum += s.Values().At(0)
	}
	var want int64
	for r := range d.Samples {
		want += d.Row(r)[1]
	}
	assert.Equal(t, want, sum)
	assert.Positive(t, sum)
	assert.EqualValues(t, p2.TimeNanos-p1.TimeNanos, profiles[1].DurationNano())
	dict := pd.Dictionary()
	attrs, err := pprofile.FromAttributeIndices(dict.AttributeTable(), profiles[1], dict)
	require.NoError(t, err)
	v, ok := attrs.Get(AttrDelta)
	require.True(t, ok)
	assert.True(t, v.Bool())
	inuse, err := pprofile.FromAttributeIndices(dict.AttributeTable(), profiles[2], dict)
	require.NoError(t, err)
	_, ok = inuse.Get(AttrDelta)
	assert.False(t, ok, "in-use profiles are not deltas")
}

// TestSharedDictionary converts two profiles into one message: strings are not repeated.
func TestSharedDictionary(t *testing.T) {
	p1, err := profile.Parse(strings.NewReader(string(pproftest.Profile(t, "goroutine"))))
	require.NoError(t, err)
	pd := pprofile.NewProfiles()
	b := NewBuilder(pd)
	sp := pd.ResourceProfiles().AppendEmpty().ScopeProfiles().AppendEmpty()
	b.Append(sp, Input{Profile: p1, Type: "goroutine"})
	b.Append(sp, Input{Profile: p1, Type: "goroutine"})
	strs := pd.Dictionary().StringTable().AsRaw()
	sorted := slices.Clone(strs)
	slices.Sort(sorted)
	assert.Len(t, slices.Compact(sorted), len(strs), "every string once")
	assert.Equal(t, 2, sp.Profiles().Len())
}

func syntheticProfile() *profile.Profile {
	m := &profile.Mapping{ID: 1, Start: 0x1000, Limit: 0x2000, File: "/bin/app", BuildID: "b1"}
	fa := &profile.Function{ID: 1, Name: "a", SystemName: "a", Filename: "a.go"}
	fb := &profile.Function{ID: 2, Name: "b", SystemName: "b", Filename: "b.go"}
	la := &profile.Location{ID: 1, Mapping: m, Address: 0x1100, Line: []profile.Line{{Function: fa, Line: 3}, {Function: fb, Line: 9}}}
	lb := &profile.Location{ID: 2, Mapping: m, Address: 0x1200, Line: []profile.Line{{Function: fb, Line: 4}}}
	return &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "alloc_objects", Unit: "count"}, {Type: "inuse_space", Unit: "bytes"}},
		PeriodType: &profile.ValueType{Type: "space", Unit: "bytes"},
		Period:     512,
		TimeNanos:  1,
		Mapping:    []*profile.Mapping{m},
		Function:   []*profile.Function{fa, fb},
		Location:   []*profile.Location{la, lb},
		Sample: []*profile.Sample{
			{Location: []*profile.Location{la, lb}, Value: []int64{1, 64}, Label: map[string][]string{"k": {"v"}, "a": {"z"}}, NumLabel: map[string][]int64{"bytes": {64}}},
			{Location: []*profile.Location{lb}, Value: []int64{2, 0}},
		},
	}
}

func TestSyntheticRoundTripKeepsLabels(t *testing.T) {
	p := syntheticProfile()
	pd, n := convertOne(t, p, "heap", nil, nil)
	assert.Equal(t, 3, n, "the zero inuse_space value of the second sample is left out")
	back, err := ToPprof(pd.Dictionary(), profilesOf(pd))
	require.NoError(t, err)
	assert.Equal(t, byStack(p), byStack(back))
	assert.Equal(t, "b1", back.Mapping[0].BuildID)
	assert.Equal(t, uint64(0x1100), back.Location[0].Address)
}
