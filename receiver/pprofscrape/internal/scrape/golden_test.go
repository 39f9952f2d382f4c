// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package scrape

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pprofile"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/fetch"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/metadata"
)

var update = flag.Bool("update", false, "rewrite the golden inputs and expected outputs")

// newMetricsBuilder returns a builder of every default metric, scope version "golden".
func newMetricsBuilder() *metadata.MetricsBuilder {
	set := receivertest.NewNopSettings(metadata.Type)
	set.BuildInfo.Version = "golden"
	return metadata.NewMetricsBuilder(metadata.NewDefaultMetricsBuilderConfig(), set)
}

// golden holds the golden inputs and outputs (testdata/golden).
var golden = os.DirFS(filepath.Join("testdata", "golden"))

const t0 = int64(1_750_000_000_000_000_000)

// syntheticProfiles builds the deterministic pprof inputs of the golden test: a heap
// profile at two scrapes (allocations grow, a stack is new in the second), a CPU profile
// with a label, and a goroutine profile.
func syntheticProfiles(scrape int) map[string]*profile.Profile {
	m := &profile.Mapping{ID: 1, Start: 0x400000, Limit: 0x800000, File: "/app/shop", BuildID: "abc123", HasFunctions: true}
	fMain := &profile.Function{ID: 1, Name: "main.main", SystemName: "main.main", Filename: "/app/main.go", StartLine: 10}
	fHandle := &profile.Function{ID: 2, Name: "main.handle", SystemName: "main.handle", Filename: "/app/main.go", StartLine: 20}
	fEncode := &profile.Function{ID: 3, Name: "encoding/json.Marshal", SystemName: "encoding/json.Marshal", Filename: "/go/src/encoding/json/encode.go", StartLine: 160}
	fAlloc := &profile.Function{ID: 4, Name: "main.newOrder", SystemName: "main.newOrder", Filename: "/app/order.go", StartLine: 5}
	lMain := &profile.Location{ID: 1, Mapping: m, Address: 0x401000, Line: []profile.Line{{Function: fMain, Line: 12}}}
	lHandle := &profile.Location{ID: 2, Mapping: m, Address: 0x402000, Line: []profile.Line{{Function: fHandle, Line: 25}}}
	// An inlined frame: newOrder inlined into handle.
	lInl := &profile.Location{ID: 3, Mapping: m, Address: 0x402100, Line: []profile.Line{{Function: fAlloc, Line: 7}, {Function: fHandle, Line: 27}}}
	lEnc := &profile.Location{ID: 4, Mapping: m, Address: 0x403000, Line: []profile.Line{{Function: fEncode, Line: 170}}}
	base := func() *profile.Profile {
		return &profile.Profile{
			Mapping:  []*profile.Mapping{m},
			Function: []*profile.Function{fMain, fHandle, fEncode, fAlloc},
			Location: []*profile.Location{lMain, lHandle, lInl, lEnc},
		}
	}
	k := int64(scrape)
	heap := base()
	heap.SampleType = []*profile.ValueType{{Type: "alloc_objects", Unit: "count"}, {Type: "alloc_space", Unit: "bytes"}, {Type: "inuse_objects", Unit: "count"}, {Type: "inuse_space", Unit: "bytes"}}
	heap.PeriodType = &profile.ValueType{Type: "space", Unit: "bytes"}
	heap.Period = 524288
	heap.TimeNanos = t0 + k*60e9
	heap.Sample = []*profile.Sample{
		{Location: []*profile.Location{lInl, lMain}, Value: []int64{100 * k, 6400 * k, 10, 640}, NumLabel: map[string][]int64{"bytes": {64}}},
		{Location: []*profile.Location{lEnc, lHandle, lMain}, Value: []int64{50 * k, 51200 * k, 0, 0}, NumLabel: map[string][]int64{"bytes": {1024}}},
	}
	if scrape == 2 {
		heap.Sample = append(heap.Sample, &profile.Sample{Location: []*profile.Location{lEnc, lMain}, Value: []int64{3, 384, 3, 384}, NumLabel: map[string][]int64{"bytes": {128}}})
	}
	cpu := base()
	cpu.SampleType = []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}}
	cpu.PeriodType = &profile.ValueType{Type: "cpu", Unit: "nanoseconds"}
	cpu.Period = 10000000
	cpu.TimeNanos = t0 + k*60e9 - 10e9
	cpu.DurationNanos = 10e9
	cpu.Sample = []*profile.Sample{
		{Location: []*profile.Location{lEnc, lHandle, lMain}, Value: []int64{30 * k, 300000000 * k}, Label: map[string][]string{"route": {"/checkout"}}},
		{Location: []*profile.Location{lHandle, lMain}, Value: []int64{10, 100000000}},
	}
	gor := base()
	gor.SampleType = []*profile.ValueType{{Type: "goroutine", Unit: "count"}}
	gor.PeriodType = &profile.ValueType{Type: "goroutine", Unit: "count"}
	gor.Period = 1
	gor.TimeNanos = t0 + k*60e9
	gor.Sample = []*profile.Sample{
		{Location: []*profile.Location{lHandle, lMain}, Value: []int64{40 + k}},
		{Location: []*profile.Location{lMain}, Value: []int64{1}},
	}
	return map[string]*profile.Profile{"cpu": cpu, "heap": heap, "goroutine": gor}
}

func readOrWriteInput(t *testing.T, name string, p *profile.Profile) []byte {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".pb")
	if *update {
		var buf bytes.Buffer
		require.NoError(t, p.WriteUncompressed(&buf))
		require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))
	}
	data, err := fs.ReadFile(golden, name+".pb")
	require.NoError(t, err)
	return data
}

func compareGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	var pretty bytes.Buffer
	require.NoError(t, json.Indent(&pretty, got, "", "  "))
	pretty.WriteByte('\n')
	path := filepath.Join("testdata", "golden", name)
	if *update {
		require.NoError(t, os.WriteFile(path, pretty.Bytes(), 0o600))
	}
	want, err := fs.ReadFile(golden, name)
	require.NoError(t, err)
	require.JSONEq(t, string(want), pretty.String(), "golden %s (run with -update to rewrite)", name)
}

// TestGoldenScrapes runs two scrapes of golden pprof inputs through the engine (parse,
// delta, conversion, metrics) and compares the OTLP output with golden JSON files.
func TestGoldenScrapes(t *testing.T) {
	var gotProfiles []pprofile.Profiles
	var gotMetrics []pmetric.Metrics
	s := New(Settings{
		TopN:              2,
		Logger:            zap.NewNop(),
		Profiles:          true,
		NewMetricsBuilder: newMetricsBuilder,
		ScopeVersion:      "golden",
		MaxConcurrent:     1,
		Limits:            testLimits,
	})
	ts := newTargetState(Target{Endpoint: "http://127.0.0.1:6060", Resource: map[string]string{"service.name": "shop"}, Types: []string{"cpu", "heap", "goroutine"}})
	for scrape := 1; scrape <= 2; scrape++ {
		inputs := syntheticProfiles(scrape)
		var results []fetched
		for _, typ := range ts.cfg.Types {
			data := readOrWriteInput(t, typ+"_"+string(rune('0'+scrape)), inputs[typ])
			results = append(results, fetched{typ: typ, res: fetch.Result{Data: data, WireBytes: int64(len(data))}})
		}
		var res Result
		s.process(context.Background(), ts, results, &res)
		require.True(t, res.HasProfiles)
		require.True(t, res.HasMetrics)
		gotProfiles = append(gotProfiles, res.ProfileData)
		gotMetrics = append(gotMetrics, res.Metrics)
	}
	require.Len(t, gotProfiles, 2)
	require.Len(t, gotMetrics, 2)
	for i := range 2 {
		pd := gotProfiles[i]
		for _, rp := range pd.ResourceProfiles().All() {
			for _, sp := range rp.ScopeProfiles().All() {
				for _, p := range sp.Profiles().All() {
					p.SetProfileID(pprofile.ProfileID{}) // random per profile
				}
			}
		}
		pj, err := (&pprofile.JSONMarshaler{}).MarshalProfiles(pd)
		require.NoError(t, err)
		compareGolden(t, "scrape"+string(rune('1'+i))+"_profiles.json", pj)
		mj, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(gotMetrics[i])
		require.NoError(t, err)
		compareGolden(t, "scrape"+string(rune('1'+i))+"_metrics.json", mj)
	}
}
