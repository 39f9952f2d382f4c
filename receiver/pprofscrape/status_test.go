// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package pprofscrape

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pprofile"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/prodscope/prodscope/internal/statusregistry"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/fetch"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/metadata"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/metadatatest"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/pproftest"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/scrape"
)

// serveBody serves body at every path on 127.0.0.1 and counts the requests.
func serveBody(t *testing.T, body []byte) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := pproftest.Loopback(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n.Add(1)
		_, _ = w.Write(body)
	}))
	return srv, &n
}

// TestStatusOfAnUpAndADownTarget runs the receiver (both signals, one shared instance)
// against a target serving a known 2-sample goroutine profile and a target that refuses
// connections, whose endpoint carries credentials. The instance registers once while
// running, shows one target up and one down with its reason (and no credentials
// anywhere, logs included), counts what the pipelines got, and unregisters on Shutdown.
func TestStatusOfAnUpAndADownTarget(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("internal", "scrape", "testdata", "golden", "goroutine_1.pb"))
	require.NoError(t, err)
	good, served := serveBody(t, body)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	downURL := strings.Replace(closed.URL, "http://", "http://scraper:s3cret@", 1)

	cfg := testConfig(
		TargetConfig{Name: "good", Endpoint: good.URL, Profiles: []string{"goroutine"}},
		TargetConfig{Endpoint: downURL, Profiles: []string{"goroutine"}},
	)
	tt := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tt.Shutdown(context.Background())) }()
	set := metadatatest.NewSettings(tt)
	set.ID = component.MustNewIDWithName(metadata.Type.String(), "status")
	core, logs := observer.New(zapcore.DebugLevel)
	set.Logger = zap.New(core)
	shared, err := load(set, cfg)
	require.NoError(t, err)
	rcv := shared.Unwrap()

	require.Empty(t, statusregistry.Default.SnapshotsOf(set.ID, 100), "nothing registered before Start")
	r := start(t, cfg, set, true, true)
	require.Len(t, statusregistry.Default.SnapshotsOf(set.ID, 100), 1, "the instance the two pipelines share registers once")

	var snap statusregistry.Snapshot
	require.Eventually(t, func() bool {
		snaps := statusregistry.Default.SnapshotsOf(set.ID, 100)
		if len(snaps) != 1 {
			return false
		}
		snap = snaps[0]
		ps := snap.PprofScrape
		return ps.TargetsUp == 1 && ps.TargetsDown == 1 && !ps.Targets[0].LastScrape.IsZero()
	}, 30*time.Second, 20*time.Millisecond)
	assert.Equal(t, "pprofscrape", snap.Type)
	assert.Equal(t, "Receiver", snap.Kind)
	assert.Equal(t, "samples", snap.Unit)
	assert.False(t, snap.Started.IsZero())
	require.Len(t, snap.Holding, 2)
	assert.Equal(t, "concurrent scrapes (max_concurrent_scrapes)", snap.Holding[0].What)
	assert.Equal(t, int64(16), snap.Holding[0].Limit)
	assert.LessOrEqual(t, snap.Holding[0].Now, int64(2))
	assert.Equal(t, "concurrent parses (max_concurrent_parses)", snap.Holding[1].What)
	assert.Equal(t, int64(2), snap.Holding[1].Limit)
	assert.LessOrEqual(t, snap.Holding[1].Now, int64(2))

	ps := snap.PprofScrape
	require.Len(t, ps.Targets, 2)
	assert.Zero(t, ps.TargetsOmitted)
	down, up := ps.Targets[0], ps.Targets[1]
	assert.Equal(t, closed.URL, down.Name, "down targets first; named by the endpoint without credentials")
	assert.Equal(t, closed.URL, down.Endpoint)
	assert.False(t, down.Up)
	assert.True(t, strings.HasPrefix(down.LastError, "http: "), down.LastError)
	assert.Contains(t, down.LastError, "(profile goroutine)")
	assert.False(t, down.LastErrorAt.IsZero())
	assert.True(t, down.NextScrape.After(down.LastScrape))
	assert.Equal(t, []string{"goroutine"}, down.ProfileTypes)

	assert.Equal(t, "good", up.Name)
	assert.Equal(t, good.URL, up.Endpoint)
	assert.True(t, up.Up)
	assert.Equal(t, int64(len(body)), up.LastBytes)
	assert.Empty(t, up.LastError)
	assert.Positive(t, up.LastDuration)
	assert.Equal(t, []string{"goroutine"}, up.ProfileTypes)

	r.stop()
	assert.Empty(t, statusregistry.Default.SnapshotsOf(set.ID, 100), "Shutdown unregisters")
	assert.Positive(t, served.Load())

	// After Shutdown nothing moves: the counts are exactly what the pipelines got.
	final := rcv.status.StatusSnapshot(10)
	scrapes := len(r.profiles.AllProfiles())
	require.Positive(t, scrapes)
	assert.Equal(t, int64(2*scrapes), final.ItemsIn, "each good scrape parses the profile's 2 samples")
	assert.Equal(t, int64(r.profiles.SampleCount()), final.ItemsOut)
	assert.Equal(t, int64(2*scrapes), final.ItemsOut, "both samples have non-zero values: both are sent")
	points := 0
	for _, md := range r.metrics.AllMetrics() {
		points += md.DataPointCount()
	}
	require.Positive(t, points)
	assert.Equal(t, []statusregistry.Count{
		{What: "metric points computed from profiles", N: int64(points)},
		{What: "cumulative profiles turned into deltas", N: 0},
		{What: "delta baselines reset (values went backwards)", N: 0},
	}, final.Changed, "most first, then by name")
	errs := errorsByReason(t, tt)
	require.Equal(t, []string{"http"}, keys(errs))
	assert.Equal(t, []statusregistry.Count{{What: "http", N: errs["http"]}}, final.Refused, "the telemetry and the status count the same failures")

	for _, e := range logs.All() {
		line := fmt.Sprint(e.Message, e.ContextMap())
		assert.NotContains(t, line, "s3cret")
		assert.NotContains(t, line, "scraper")
	}
	assert.Positive(t, logs.FilterMessage("pprof scrape failed").Len())
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestReportRecordsTelemetryAndCounts feeds the shell Results and checks the
// self-telemetry and the status counts against sums worked out by hand.
func TestReportRecordsTelemetryAndCounts(t *testing.T) {
	tt := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tt.Shutdown(context.Background())) }()
	cfg := testConfig(TargetConfig{Endpoint: "http://127.0.0.1:1"})
	r, err := newReceiver(cfg, metadatatest.NewSettings(tt))
	require.NoError(t, err)
	profiles, metrics := new(consumertest.ProfilesSink), new(consumertest.MetricsSink)
	r.setProfiles(profiles)
	r.setMetrics(metrics)
	r.tel, err = metadata.NewTelemetryBuilder(metadatatest.NewSettings(tt).TelemetrySettings)
	require.NoError(t, err)

	md := pmetric.NewMetrics()
	for range 3 {
		md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty()
	}
	ctx := context.Background()
	r.report(ctx, &scrape.Result{
		Target: "a", Up: true, Deltas: 1,
		Profiles: []scrape.ProfileResult{
			{Type: "goroutine", WireBytes: 100, Duration: time.Millisecond, Samples: 2},
			{Type: "heap", WireBytes: 300, Duration: time.Millisecond, Samples: 5},
		},
		ProfileData: pprofile.NewProfiles(), ProfileSamples: 9, HasProfiles: true,
		Metrics: md, HasMetrics: true,
	})
	r.report(ctx, &scrape.Result{Target: "b", Profiles: []scrape.ProfileResult{{Type: "goroutine", Reason: fetch.ReasonHTTP}}})
	r.report(ctx, &scrape.Result{Target: "b", Refused: scrape.RefusedBackoff})
	r.report(ctx, &scrape.Result{Target: "a", Refused: scrape.RefusedConcurrencyLimit})
	r.report(ctx, &scrape.Result{Target: "a", Refused: scrape.RefusedConcurrencyLimit})
	r.report(ctx, &scrape.Result{
		Target: "c", Panicked: true, Resets: 1,
		Profiles: []scrape.ProfileResult{{Type: "cpu", WireBytes: 50, Samples: 3}},
	})

	snap := r.counts.snapshot(scrape.Status{}, 10)
	assert.Equal(t, int64(2+5+3), snap.ItemsIn)
	assert.Equal(t, int64(9), snap.ItemsOut)
	assert.Equal(t, []statusregistry.Count{
		{What: "concurrency_limit", N: 2}, {What: "backoff", N: 1}, {What: "http", N: 1}, {What: "parse", N: 1},
	}, snap.Refused, "most first, then by name")
	assert.Equal(t, []statusregistry.Count{
		{What: "metric points computed from profiles", N: 3},
		{What: "cumulative profiles turned into deltas", N: 1},
		{What: "delta baselines reset (values went backwards)", N: 1},
	}, snap.Changed)
	assert.Equal(t, []statusregistry.Count{
		{What: "concurrency_limit", N: 2}, {What: "(3 more)", N: 3},
	}, r.counts.snapshot(scrape.Status{}, 2).Refused, "bounded by limit; the last entry sums what was left out")

	assert.Equal(t, map[string]int64{"http": 1, "parse": 1}, errorsByReason(t, tt))
	refused, err := tt.GetMetric("otelcol_receiver_pprofscrape_scrapes_refused")
	require.NoError(t, err)
	byReason := map[string]int64{}
	for _, dp := range refused.Data.(metricdata.Sum[int64]).DataPoints {
		v, _ := dp.Attributes.Value("reason")
		byReason[v.AsString()] = dp.Value
	}
	assert.Equal(t, map[string]int64{"backoff": 1, "concurrency_limit": 2}, byReason)
	samples, err := tt.GetMetric("otelcol_receiver_pprofscrape_samples")
	require.NoError(t, err)
	total := int64(0)
	for _, dp := range samples.Data.(metricdata.Sum[int64]).DataPoints {
		total += dp.Value
	}
	assert.Equal(t, snap.ItemsIn, total, "the status and the telemetry count the same samples")
	wire, err := tt.GetMetric("otelcol_receiver_pprofscrape_scrape_bytes")
	require.NoError(t, err)
	bytesByTarget := map[string]int64{}
	for _, dp := range wire.Data.(metricdata.Sum[int64]).DataPoints {
		v, _ := dp.Attributes.Value("target")
		bytesByTarget[v.AsString()] = dp.Value
	}
	assert.Equal(t, map[string]int64{"a": 400, "b": 0, "c": 50}, bytesByTarget)
	up, err := tt.GetMetric("otelcol_receiver_pprofscrape_target_up")
	require.NoError(t, err)
	upByTarget := map[string]int64{}
	for _, dp := range up.Data.(metricdata.Gauge[int64]).DataPoints {
		v, _ := dp.Attributes.Value("target")
		upByTarget[v.AsString()] = dp.Value
	}
	assert.Equal(t, map[string]int64{"a": 1, "b": 0, "c": 0}, upByTarget, "refused scrapes leave target_up alone")
	assert.Len(t, profiles.AllProfiles(), 1)
	assert.Equal(t, 3, metrics.DataPointCount())
}

// TestSnapshotTargetsMergedSortedAndBounded: one entry per configured target (its loops
// merged), down targets first then by name, at most limit of them.
func TestSnapshotTargetsMergedSortedAndBounded(t *testing.T) {
	t0 := time.Unix(1_750_000_000, 0)
	loops := []scrape.TargetStatus{
		{Name: "zeta", Endpoint: "http://z", Types: []string{"cpu"}, Scraped: true, Up: true, LastScrape: t0, NextScrape: t0.Add(time.Minute)},
		// alpha's cpu every 60 s and goroutine every 15 s: two loops, one target.
		{
			Name: "alpha", Endpoint: "http://a", Types: []string{"cpu"}, Scraped: true, Up: false, LastScrape: t0, LastBytes: 10,
			LastError: "timeout: slow (profile cpu)", LastErrorAt: t0, NextScrape: t0.Add(time.Minute),
		},
		{
			Name: "alpha", Endpoint: "http://a", Types: []string{"goroutine"}, Scraped: true, Up: true, LastScrape: t0.Add(time.Second), LastBytes: 20,
			NextScrape: t0.Add(15 * time.Second),
		},
		{Name: "mid", Endpoint: "http://m", Types: []string{"heap"}, Scraped: true, Up: false, LastScrape: t0, LastError: "http: refused (profile heap)", LastErrorAt: t0},
		{Name: "beta", Endpoint: "http://b", Types: []string{"heap"}, NextScrape: t0.Add(time.Second)}, // not scraped yet
	}
	c := newCounts()
	snap := c.snapshot(scrape.Status{Targets: loops}, 2)
	ps := snap.PprofScrape
	assert.Equal(t, 2, ps.TargetsUp, "alpha (its goroutine loop got a profile) and zeta")
	assert.Equal(t, 2, ps.TargetsDown, "mid, and beta that was not scraped yet")
	assert.Equal(t, 2, ps.TargetsOmitted)
	require.Len(t, ps.Targets, 2)
	assert.Equal(t, "beta", ps.Targets[0].Name, "down first, then by name")
	assert.Equal(t, "mid", ps.Targets[1].Name)

	all := c.snapshot(scrape.Status{Targets: loops}, 10).PprofScrape
	assert.Zero(t, all.TargetsOmitted)
	var names []string
	for _, tg := range all.Targets {
		names = append(names, tg.Name)
	}
	assert.Equal(t, []string{"beta", "mid", "alpha", "zeta"}, names)
	assert.Equal(t, statusregistry.Target{
		Name: "alpha", Endpoint: "http://a", Up: true,
		LastScrape: t0.Add(time.Second), LastBytes: 20,
		LastError: "timeout: slow (profile cpu)", LastErrorAt: t0,
		NextScrape: t0.Add(15 * time.Second), ProfileTypes: []string{"cpu", "goroutine"},
	}, all.Targets[2])
	assert.Equal(t, []string{"cpu"}, loops[1].Types, "the scheduler's slices are not appended to")
}
