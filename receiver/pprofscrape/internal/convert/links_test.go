// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package convert

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pprofile"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/pproftest"
)

const (
	traceA = "4bf92f3577b34da6a3ce929d0e0e4736" // the W3C trace-context example trace id
	spanA  = "00f067aa0ba902b7"                 // and its parent id
	spanB  = "b7ad6b7169203331"
)

func labelledProfile() *profile.Profile {
	p := syntheticProfile()
	la, lb := p.Location[0], p.Location[1]
	p.Sample = []*profile.Sample{
		{Location: []*profile.Location{la}, Value: []int64{1, 1}, Label: map[string][]string{"trace_id": {traceA}, "span_id": {spanA}, "order": {"1234"}}},
		{Location: []*profile.Location{lb}, Value: []int64{2, 2}, Label: map[string][]string{"trace_id": {traceA}, "span_id": {spanA}}},
		{Location: []*profile.Location{la, lb}, Value: []int64{3, 3}, Label: map[string][]string{"trace_id": {traceA}, "span_id": {spanB}}},
		{Location: []*profile.Location{lb}, Value: []int64{4, 4}, Label: map[string][]string{"span_id": {spanB}}},                      // otel-profiling-go: span only
		{Location: []*profile.Location{la}, Value: []int64{5, 5}, Label: map[string][]string{"trace_id": {"xyz"}, "span_id": {spanA}}}, // not hex
		{Location: []*profile.Location{la}, Value: []int64{6, 6}},
	}
	return p
}

func TestSamplesWithTraceAndSpanLabelsPointAtLinks(t *testing.T) {
	pd := pprofile.NewProfiles()
	b := NewBuilder(pd)
	sp := pd.ResourceProfiles().AppendEmpty().ScopeProfiles().AppendEmpty()
	b.Append(sp, Input{Profile: labelledProfile(), Type: "cpu", Links: LinkLabels{TraceID: DefaultTraceIDLabel, SpanID: DefaultSpanIDLabel}})
	dict := pd.Dictionary()
	lt := dict.LinkTable()
	require.Equal(t, 3, lt.Len(), "the zero entry and one link per (trace, span)")
	assert.Equal(t, traceA, lt.At(1).TraceID().String())
	assert.Equal(t, spanA, lt.At(1).SpanID().String())
	assert.Equal(t, spanB, lt.At(2).SpanID().String())

	pr := sp.Profiles().At(0)
	require.Equal(t, 6, pr.Samples().Len())
	type got struct {
		link  int32
		attrs map[string]any
	}
	var samples []got
	for _, s := range pr.Samples().All() {
		attrs, err := pprofile.FromAttributeIndices(dict.AttributeTable(), s, dict)
		require.NoError(t, err)
		samples = append(samples, got{s.LinkIndex(), attrs.AsRaw()})
	}
	assert.Equal(t, []got{
		{1, map[string]any{"order": "1234"}},
		{1, map[string]any{}},
		{2, map[string]any{}},
		{0, map[string]any{"span_id": spanB}},
		{0, map[string]any{"trace_id": "xyz", "span_id": spanA}},
		{0, map[string]any{}},
	}, samples)

	// Back to pprof: the link is the two labels again.
	back, err := ToPprof(dict, profilesOf(pd))
	require.NoError(t, err)
	assert.Equal(t, byStack(labelledProfile()), byStack(back))
}

func TestLinksOff(t *testing.T) {
	pd, _ := convertOne(t, labelledProfile(), "cpu", nil, nil)
	assert.Equal(t, 1, pd.Dictionary().LinkTable().Len(), "no label keys configured: only the zero entry")
}

// TestToPprofKeepsMappingFlags: a real CPU profile of this process (the runtime marks
// its executable's mapping HasFunctions: symbolized, inlined frames included) keeps the flags
// through OTLP, and `go tool pprof -top` with its default symbolization prints the same
// table for the raw and the round-tripped profile (without the flags it re-symbolizes
// the rebuilt one from the binary and moves inlined frames).
func TestToPprofKeepsMappingFlags(t *testing.T) {
	raw := cpuProfile(t)
	orig, err := profile.Parse(bytes.NewReader(raw))
	require.NoError(t, err)
	// Without -race the runtime marks its executable HasFunctions; under -race the race
	// runtime's C frames are not symbolized, so it does not. Either way the flags must
	// come back as they were; TestSyntheticMappingFlags covers every flag set.
	pd, _ := convertOne(t, orig, "cpu", nil, nil)
	back, err := ToPprof(pd.Dictionary(), profilesOf(pd))
	require.NoError(t, err)
	require.NotEmpty(t, back.Mapping)
	for _, bm := range back.Mapping { // the mappings some sample uses
		i := slices.IndexFunc(orig.Mapping, func(m *profile.Mapping) bool { return m.File == bm.File })
		require.GreaterOrEqual(t, i, 0, bm.File)
		m := orig.Mapping[i]
		assert.Equal(t, [4]bool{m.HasFunctions, m.HasFilenames, m.HasLineNumbers, m.HasInlineFrames},
			[4]bool{bm.HasFunctions, bm.HasFilenames, bm.HasLineNumbers, bm.HasInlineFrames}, "mapping %s", m.File)
	}
	var buf bytes.Buffer
	require.NoError(t, back.Write(&buf))
	top := func(data []byte) string {
		out := string(pproftest.GoToolPprof(t, "-top", "-nodecount=1000", pproftest.WriteTemp(t, "p.pb.gz", data)))
		// Drop the header lines that name the file and the time.
		_, table, ok := strings.Cut(out, "flat  flat%")
		require.True(t, ok, out)
		return table
	}
	assert.Equal(t, top(raw), top(buf.Bytes()))
}

func TestSyntheticMappingFlags(t *testing.T) {
	p := syntheticProfile()
	m := p.Mapping[0]
	m.HasFunctions, m.HasFilenames, m.HasLineNumbers, m.HasInlineFrames = true, true, false, true
	pd, _ := convertOne(t, p, "heap", nil, nil)
	back, err := ToPprof(pd.Dictionary(), profilesOf(pd))
	require.NoError(t, err)
	bm := back.Mapping[0]
	assert.Equal(t, [4]bool{true, true, false, true}, [4]bool{bm.HasFunctions, bm.HasFilenames, bm.HasLineNumbers, bm.HasInlineFrames})
}
