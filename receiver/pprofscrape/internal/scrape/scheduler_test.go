// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package scrape

import (
	"bytes"
	"context"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pprofile"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/convert"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/delta"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/fetch"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/metadata"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/pproftest"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/profiletype"
)

func TestJitterSpreadsTargets(t *testing.T) {
	interval := 5 * time.Second
	buckets := make([]int, 10)
	for i := range 1000 {
		j := Jitter("http://10.0.0."+strconv.Itoa(i%250)+":"+strconv.Itoa(6060+i/250), interval)
		require.GreaterOrEqual(t, j, time.Duration(0))
		require.Less(t, j, interval)
		buckets[int(j*10/interval)]++
	}
	for i, n := range buckets {
		assert.Greater(t, n, 50, "bucket %d of the interval holds %d of 1000 targets", i, n)
	}
	// Stable per endpoint, across restarts and versions: FNV-1a of the endpoint modulo the interval.
	assert.Equal(t, 1146085287*time.Nanosecond, Jitter("http://a:1", interval))
	assert.Equal(t, time.Duration(0), Jitter("x", 0))
}

var testLimits = fetch.Limits{MaxDecompressedBytes: 64 << 20, MaxSamples: 1 << 20, MaxLocations: 1 << 20, MaxStrings: 1 << 20}

// reports collects the Results a scheduler reports.
type reports struct {
	mu  sync.Mutex
	all []Result
}

func (r *reports) report(_ context.Context, res *Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, *res)
}

func (r *reports) results() []Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.all)
}

// refused counts the reported scrapes refused for reason.
func (r *reports) refused(reason string) int {
	n := 0
	for _, res := range r.results() {
		if res.Refused == reason {
			n++
		}
	}
	return n
}

// newTestScheduler returns a scheduler whose Results go to the returned reports.
func newTestScheduler(t *testing.T, set Settings) (*Scheduler, *reports) {
	t.Helper()
	rep := &reports{}
	set.Report = rep.report
	if set.Logger == nil {
		set.Logger = zap.NewNop()
	}
	if set.Limits == (fetch.Limits{}) {
		set.Limits = testLimits
	}
	if set.Client == nil {
		set.Client = &http.Client{Transport: &http.Transport{}}
		t.Cleanup(set.Client.CloseIdleConnections)
	}
	return New(set), rep
}

// TestConcurrencyLimitRefusesAndCounts: with one slot held by a target whose body never
// ends, the other target's scrapes are refused after waiting an interval, and counted.
func TestConcurrencyLimitRefusesAndCounts(t *testing.T) {
	srv := pproftest.NewServer(t)
	s, rep := newTestScheduler(t, Settings{
		Targets: []Target{
			{Endpoint: srv.URL + pproftest.PrefixStall, Types: []string{"heap"}},
			{Endpoint: srv.URL, Types: []string{"goroutine"}},
		},
		Interval:      200 * time.Millisecond,
		Timeout:       time.Minute,
		MaxBodyBytes:  1 << 20,
		MaxConcurrent: 1,
	})
	s.Start(context.Background())
	require.Eventually(t, func() bool { return rep.refused(RefusedConcurrencyLimit) >= 1 }, 20*time.Second, 20*time.Millisecond)
	require.NoError(t, s.Shutdown(context.Background()))
	// The healthy target may have been scraped before the stalled one took the slot;
	// from its first refusal on, it is refused every interval.
	refused := false
	for _, res := range rep.results() {
		assert.Equal(t, srv.URL, res.Target, "the stalled target never completes a scrape")
		if res.Refused != "" {
			refused = true
			assert.Equal(t, RefusedConcurrencyLimit, res.Refused)
			assert.Empty(t, res.Profiles)
		} else {
			assert.False(t, refused, "the slot stays held once the stalled target has it")
		}
	}
	st := s.Status()
	assert.Equal(t, 0, st.ScrapeSlots, "Shutdown released the stalled target's slot")
	assert.False(t, st.Targets[0].Scraped)
}

func TestShutdownWithoutStart(t *testing.T) {
	s, _ := newTestScheduler(t, Settings{MaxConcurrent: 1})
	require.NoError(t, s.Shutdown(context.Background()))
}

// TestShutdownDuringProcessingDeliversNothing: a scrape whose bodies are in when
// Shutdown begins is cut short while it is decoded; that is the collector stopping, not
// the target failing, so nothing of it is delivered, recorded or logged as a failure
// (it used to be reported as a "timeout: parsing outlasted the timeout: context
// canceled" and an "http: context canceled" error, counted by the benchmark as errors).
func TestShutdownDuringProcessingDeliversNothing(t *testing.T) {
	body, err := fs.ReadFile(golden, "goroutine_1.pb")
	require.NoError(t, err)
	srv := servePprof(t, body)
	core, logs := observer.New(zapcore.WarnLevel)
	s, rep := newTestScheduler(t, Settings{
		Targets:  []Target{{Endpoint: srv.URL, Types: []string{"goroutine", "heap"}}},
		Interval: time.Minute, Timeout: 10 * time.Second, MaxBodyBytes: 1 << 20, MaxConcurrent: 1,
		Profiles: true, NewMetricsBuilder: newMetricsBuilder, Logger: zap.New(core),
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	called := 0
	s.beforeProcess = func() {
		called++
		cancel() // Shutdown cancels the loops' context first
	}
	_, ran := s.scrapeTarget(ctx, s.targets[0], time.Now().Add(time.Minute))
	require.Equal(t, 1, called, "the bodies were in")
	assert.False(t, ran, "cut short by shutdown")
	assert.Empty(t, rep.results(), "nothing delivered")
	assert.False(t, s.Status().Targets[0].Scraped, "nothing recorded")
	assert.Zero(t, logs.Len(), "no failure logged: %v", logs.All())
}

func TestParseRejects(t *testing.T) {
	_, err := Parse([]byte{0xff, 0x01, 0x02})
	require.Error(t, err)
	_, err = Parse(nil)
	require.Error(t, err, "an empty body has no sample types")
}

// FuzzParseAndConvert feeds arbitrary bytes through everything a scrape body goes through.
func FuzzParseAndConvert(f *testing.F) {
	for _, name := range []string{"cpu_1", "heap_1", "heap_2", "goroutine_2"} {
		data, err := fs.ReadFile(golden, name+".pb")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "heap")
	}
	f.Add([]byte{}, "cpu")
	f.Fuzz(func(_ *testing.T, data []byte, typ string) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		if !profiletype.IsKnown(typ) {
			typ = "heap"
		}
		cum := profiletype.CumulativeIndices(typ, p)
		tr := delta.NewTracker()
		tr.Next(p, cum)
		d, _ := tr.Next(p, cum)
		pd := pprofile.NewProfiles()
		b := convert.NewBuilder(pd)
		sp := pd.ResourceProfiles().AppendEmpty().ScopeProfiles().AppendEmpty()
		b.Append(sp, convert.Input{Profile: p, Type: typ, Cumulative: cum, Delta: d, Links: convert.LinkLabels{TraceID: convert.DefaultTraceIDLabel, SpanID: convert.DefaultSpanIDLabel}})
		if sp.Profiles().Len() > 0 {
			var profiles []pprofile.Profile
			for _, pr := range sp.Profiles().All() {
				profiles = append(profiles, pr)
			}
			_, _ = convert.ToPprof(pd.Dictionary(), profiles)
		}
		s := New(Settings{TopN: 3, NewMetricsBuilder: newMetricsBuilder})
		_ = s.buildMetrics(newTargetState(Target{Types: []string{typ}}), []parsed{{typ: typ, kind: typ, p: p, cumulative: cum, delta: d}}, 1)
		_ = pmetric.NewMetrics()
	})
}

// TestUnchangedCumulativeProfile: a scrape identical to the previous one gives an empty
// delta; the metrics say zero allocations and the top-N has no entries for it.
func TestUnchangedCumulativeProfile(t *testing.T) {
	s, _ := newTestScheduler(t, Settings{TopN: 3, MaxConcurrent: 1, NewMetricsBuilder: newMetricsBuilder})
	ts := newTargetState(Target{Endpoint: "http://x", Types: []string{"heap"}})
	data, err := fs.ReadFile(golden, "heap_2.pb")
	require.NoError(t, err)
	var got []pmetric.Metrics
	for i := range 2 {
		var res Result
		s.process(context.Background(), ts, []fetched{{typ: "heap", res: fetch.Result{Data: data}}}, &res)
		require.True(t, res.HasMetrics)
		assert.Equal(t, i, res.Deltas, "the second scrape is a delta")
		got = append(got, res.Metrics)
	}
	require.Len(t, got, 2)
	var alloc int64 = -1
	var heapTop []string
	for _, m := range got[1].ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().All() {
		switch m.Name() {
		case metadata.MetricsInfo.PprofAllocBytes.Name:
			alloc = m.Sum().DataPoints().At(0).IntValue()
		case metadata.MetricsInfo.PprofFunctionFlat.Name:
			for _, dp := range m.Gauge().DataPoints().All() {
				fn, _ := dp.Attributes().Get("code.function.name")
				heapTop = append(heapTop, fn.Str())
			}
		}
	}
	assert.Equal(t, int64(0), alloc)
	assert.Equal(t, []string{"main.newOrder", "encoding/json.Marshal", "main.handle", OtherFunction}, heapTop, "in-use top-N only")

	// A delta whose keys repeat in the profile (two samples with the same frames) must not
	// read past the delta's rows.
	p, err := Parse(data)
	require.NoError(t, err)
	p.Sample = append(p.Sample, p.Sample...)
	cum := profiletype.CumulativeIndices("heap", p)
	tr := delta.NewTracker()
	tr.Next(p, cum)
	d, out := tr.Next(p, cum)
	require.Equal(t, delta.Delta, out)
	require.NotNil(t, d.Samples)
	md := s.buildMetrics(ts, []parsed{{typ: "heap", kind: "heap", p: p, cumulative: cum, delta: d}}, 1)
	assert.Positive(t, md.DataPointCount())
}

// contentionProfile is a block or mutex profile at scrape k: one stack whose cumulative
// contentions and delay grow by (n, d) a scrape.
func contentionProfile(k, n, d int64) *profile.Profile {
	f := &profile.Function{ID: 1, Name: "main.lock"}
	l := &profile.Location{ID: 1, Line: []profile.Line{{Function: f}}}
	return &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "contentions", Unit: "count"}, {Type: "delay", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "contentions", Unit: "count"},
		Period:     1,
		TimeNanos:  t0 + k*60e9,
		Function:   []*profile.Function{f},
		Location:   []*profile.Location{l},
		Sample:     []*profile.Sample{{Location: []*profile.Location{l}, Value: []int64{n * k, d * k}}},
	}
}

// TestContentionMetricsOfBlockAndMutex: block and mutex deltas share pprof.contentions
// and pprof.delay (in seconds), told apart by pprof.profile.type, each over the window
// since the previous scrape.
func TestContentionMetricsOfBlockAndMutex(t *testing.T) {
	s, _ := newTestScheduler(t, Settings{MaxConcurrent: 1, NewMetricsBuilder: newMetricsBuilder})
	ts := newTargetState(Target{Endpoint: "http://x", Types: []string{"block", "mutex"}})
	var res Result
	for k := int64(1); k <= 2; k++ {
		var results []fetched
		for typ, p := range map[string]*profile.Profile{"block": contentionProfile(k, 10, 1e9), "mutex": contentionProfile(k, 5, 5e8)} {
			var buf bytes.Buffer
			require.NoError(t, p.WriteUncompressed(&buf))
			results = append(results, fetched{typ: typ, res: fetch.Result{Data: buf.Bytes()}})
		}
		slices.SortFunc(results, func(a, b fetched) int { return strings.Compare(a.typ, b.typ) })
		res = Result{}
		s.process(context.Background(), ts, results, &res)
		if k == 1 {
			assert.False(t, res.HasMetrics, "no delta on the first scrape, and no other metric")
		}
	}
	require.True(t, res.HasMetrics)
	type point struct {
		typ        string
		start, end pcommon.Timestamp
		v          float64
	}
	got := map[string][]point{}
	for _, m := range res.Metrics.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().All() {
		require.True(t, m.Sum().IsMonotonic())
		require.Equal(t, pmetric.AggregationTemporalityDelta, m.Sum().AggregationTemporality())
		for _, dp := range m.Sum().DataPoints().All() {
			typ, _ := dp.Attributes().Get("pprof.profile.type")
			v := dp.DoubleValue()
			if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
				v = float64(dp.IntValue())
			}
			got[m.Name()+" "+m.Unit()] = append(got[m.Name()+" "+m.Unit()], point{typ.Str(), dp.StartTimestamp(), dp.Timestamp(), v})
		}
	}
	prev, cur := pcommon.Timestamp(t0+60e9), pcommon.Timestamp(t0+120e9)
	assert.Equal(t, map[string][]point{
		"pprof.contentions {contention}": {{"block", prev, cur, 10}, {"mutex", prev, cur, 5}},
		"pprof.delay s":                  {{"block", prev, cur, 1}, {"mutex", prev, cur, 0.5}},
	}, got)
}

// TestDisabledMetricsAreNotEmitted: metrics disabled in the configuration are left out.
func TestDisabledMetricsAreNotEmitted(t *testing.T) {
	cfg := metadata.NewDefaultMetricsBuilderConfig()
	cfg.Metrics.PprofGoroutines.Enabled = false
	cfg.Metrics.PprofFunctionCum.Enabled = false
	s, _ := newTestScheduler(t, Settings{TopN: 2, MaxConcurrent: 1, NewMetricsBuilder: func() *metadata.MetricsBuilder {
		return metadata.NewMetricsBuilder(cfg, receivertest.NewNopSettings(metadata.Type))
	}})
	ts := newTargetState(Target{Endpoint: "http://x", Types: []string{"goroutine", "heap"}})
	var results []fetched
	for _, typ := range ts.cfg.Types {
		data, err := fs.ReadFile(golden, typ+"_1.pb")
		require.NoError(t, err)
		results = append(results, fetched{typ: typ, res: fetch.Result{Data: data}})
	}
	var res Result
	s.process(context.Background(), ts, results, &res)
	require.True(t, res.HasMetrics)
	var names []string
	for _, m := range res.Metrics.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().All() {
		names = append(names, m.Name())
	}
	assert.Equal(t, []string{"pprof.function.flat", "pprof.heap.inuse.bytes", "pprof.heap.inuse.objects"}, names)
}
