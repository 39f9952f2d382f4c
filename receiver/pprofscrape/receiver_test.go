// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package pprofscrape

import (
	"context"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	rpprof "runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pprofile"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/xreceiver"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/convert"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/metadatatest"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/pproftest"
)

func testConfig(targets ...TargetConfig) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.CollectionInterval = 2 * time.Second
	cfg.InitialDelay = 0
	cfg.CPUDuration = time.Second
	// timeout covers the whole scrape (fetch, decode, parse, convert): room for the 1 s
	// CPU profile plus parsing under -race on a loaded machine.
	cfg.ClientConfig.Timeout = 5 * time.Second
	cfg.Targets = targets
	return cfg
}

// running starts the receiver for both signals (one shared instance) and returns a stop func.
type running struct {
	profiles *consumertest.ProfilesSink
	metrics  *consumertest.MetricsSink
	stop     func()
}

func start(t *testing.T, cfg *Config, set receiver.Settings, withProfiles, withMetrics bool) *running {
	t.Helper()
	require.NoError(t, cfg.Validate())
	f := NewFactory()
	r := &running{profiles: new(consumertest.ProfilesSink), metrics: new(consumertest.MetricsSink)}
	// As the collector does: create every pipeline's receiver, then start them.
	var comps []component.Component
	if withProfiles {
		p, err := f.(xreceiver.Factory).CreateProfiles(context.Background(), set, cfg, r.profiles)
		require.NoError(t, err)
		comps = append(comps, p)
	}
	if withMetrics {
		m, err := f.CreateMetrics(context.Background(), set, cfg, r.metrics)
		require.NoError(t, err)
		comps = append(comps, m)
	}
	var started []func(context.Context) error
	for _, c := range comps {
		require.NoError(t, c.Start(context.Background(), componenttest.NewNopHost()))
		started = append(started, c.Shutdown)
	}
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			for _, s := range started {
				require.NoError(t, s(context.Background()))
			}
		})
	}
	t.Cleanup(r.stop)
	return r
}

// eachProfile calls fn with every profile of pd, its profile type (the
// pprof.profile.type attribute) and its sample type.
func eachProfile(pd pprofile.Profiles, fn func(typ, sampleType string, p pprofile.Profile, dict pprofile.ProfilesDictionary)) {
	dict := pd.Dictionary()
	for _, rp := range pd.ResourceProfiles().All() {
		for _, sp := range rp.ScopeProfiles().All() {
			for _, p := range sp.Profiles().All() {
				attrs, _ := pprofile.FromAttributeIndices(dict.AttributeTable(), p, dict)
				typ, _ := attrs.Get(convert.AttrProfileType)
				fn(typ.Str(), dict.StringTable().At(int(p.SampleType().TypeStrindex())), p, dict)
			}
		}
	}
}

func profileTypes(pd pprofile.Profiles) map[string][]string {
	out := map[string][]string{}
	eachProfile(pd, func(typ, st string, _ pprofile.Profile, _ pprofile.ProfilesDictionary) {
		out[typ] = append(out[typ], st)
	})
	return out
}

func metricNames(md pmetric.Metrics) []string {
	var names []string
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				names = append(names, m.Name())
			}
		}
	}
	slices.Sort(names)
	return names
}

var mu sync.Mutex

func contend() {
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				mu.Lock()
				time.Sleep(20 * time.Microsecond)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestScrapeRealTargetFeedsBothSignals scrapes the test process's own net/http/pprof:
// one scrape per interval feeds the profiles and the metrics pipeline (shared instance),
// cumulative types give no delta on the first scrape and deltas afterwards.
func TestScrapeRealTargetFeedsBothSignals(t *testing.T) {
	prevMutex := runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	defer func() {
		runtime.SetMutexProfileFraction(prevMutex)
		runtime.SetBlockProfileRate(0)
	}()
	srv := pproftest.NewServer(t)
	cfg := testConfig(TargetConfig{
		Endpoint:           srv.URL,
		ResourceAttributes: map[string]string{"service.name": "checkout"},
		Profiles:           []string{"cpu", "heap", "allocs", "goroutine", "block", "mutex", "threadcreate"},
	})
	cfg.CollectionInterval = 1500 * time.Millisecond
	tt := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tt.Shutdown(context.Background())) }()

	// Both factories return the same instance for one component ID and config.
	f := NewFactory()
	set := metadatatest.NewSettings(tt)
	rp, err := f.(xreceiver.Factory).CreateProfiles(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	rm, err := f.CreateMetrics(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	assert.Same(t, rp, rm, "one shared instance per component ID")
	require.NoError(t, rp.Shutdown(context.Background()))

	go func() {
		for range 20 {
			contend()
			time.Sleep(50 * time.Millisecond)
		}
	}()
	r := start(t, cfg, set, true, true)
	require.Eventually(t, func() bool {
		return len(r.profiles.AllProfiles()) >= 2 && len(r.metrics.AllMetrics()) >= 2
	}, 30*time.Second, 50*time.Millisecond)
	r.stop()

	profiles, metrics := r.profiles.AllProfiles(), r.metrics.AllMetrics()
	assert.Len(t, metrics, len(profiles), "every scrape feeds both signals")
	heapRequests := srv.Count("/debug/pprof/heap")
	assert.GreaterOrEqual(t, heapRequests, len(profiles))
	assert.LessOrEqual(t, heapRequests, len(profiles)+1, "one request per scrape, not one per signal (+1 in flight at shutdown)")
	assert.Equal(t, heapRequests, srv.Count("/debug/pprof/profile?seconds=1"))

	for _, uri := range srv.Requests() {
		assert.NotContains(t, uri, "cmdline")
		assert.NotContains(t, uri, "trace")
		assert.NotContains(t, uri, "debug=")
		assert.Contains(t, []string{
			"/debug/pprof/profile?seconds=1", "/debug/pprof/heap", "/debug/pprof/allocs", "/debug/pprof/goroutine",
			"/debug/pprof/block", "/debug/pprof/mutex", "/debug/pprof/threadcreate",
		}, uri)
	}

	for _, pd := range profiles {
		require.Equal(t, 1, pd.ResourceProfiles().Len(), "one ResourceProfiles per scrape")
		v, ok := pd.ResourceProfiles().At(0).Resource().Attributes().Get("service.name")
		require.True(t, ok)
		assert.Equal(t, "checkout", v.Str())
	}
	first := profileTypes(profiles[0])
	assert.Equal(t, []string{"samples", "cpu"}, first["cpu"])
	assert.Equal(t, []string{"inuse_objects", "inuse_space"}, first["heap"], "heap in-use sent as scraped, no alloc delta yet")
	assert.Equal(t, []string{"inuse_objects", "inuse_space"}, first["allocs"])
	assert.Equal(t, []string{"goroutine"}, first["goroutine"])
	assert.NotContains(t, first, "block", "first scrape: no delta")
	assert.NotContains(t, first, "mutex")
	assert.NotContains(t, first, "threadcreate")
	second := profileTypes(profiles[1])
	assert.Equal(t, []string{"alloc_objects", "alloc_space", "inuse_objects", "inuse_space"}, second["heap"])
	assert.Equal(t, []string{"alloc_objects", "alloc_space", "inuse_objects", "inuse_space"}, second["allocs"])
	assert.Equal(t, []string{"contentions", "delay"}, second["block"])
	assert.Equal(t, []string{"contentions", "delay"}, second["mutex"])
	assert.Equal(t, []string{"threadcreate"}, second["threadcreate"])

	assert.Equal(t, []string{
		"pprof.cpu.time", "pprof.function.cum", "pprof.function.flat", "pprof.goroutines",
		"pprof.heap.inuse.bytes", "pprof.heap.inuse.objects",
	}, metricNames(metrics[0]))
	assert.Equal(t, []string{
		"pprof.alloc.bytes", "pprof.alloc.objects", "pprof.contentions", "pprof.cpu.time",
		"pprof.delay", "pprof.function.cum", "pprof.function.flat", "pprof.goroutines",
		"pprof.heap.inuse.bytes", "pprof.heap.inuse.objects",
	}, metricNames(metrics[1]))
	res := metrics[1].ResourceMetrics().At(0)
	v, _ := res.Resource().Attributes().Get("service.name")
	assert.Equal(t, "checkout", v.Str())

	// Self-telemetry.
	metadatatest.AssertEqualReceiverPprofscrapeTargetUp(t, tt, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("target", srv.URL)), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
	_, err = tt.GetMetric("otelcol_receiver_pprofscrape_scrape_errors")
	require.Error(t, err, "no scrape error was recorded")
	samples, err := tt.GetMetric("otelcol_receiver_pprofscrape_samples")
	require.NoError(t, err)
	for _, dp := range samples.Data.(metricdata.Sum[int64]).DataPoints {
		typ, _ := dp.Attributes.Value("profile.type")
		assert.Positive(t, dp.Value, "samples of %s", typ.AsString())
	}
	assert.Len(t, samples.Data.(metricdata.Sum[int64]).DataPoints, 7)
	wire, err := tt.GetMetric("otelcol_receiver_pprofscrape_scrape_bytes")
	require.NoError(t, err)
	assert.Positive(t, wire.Data.(metricdata.Sum[int64]).DataPoints[0].Value)
	dur, err := tt.GetMetric("otelcol_receiver_pprofscrape_scrape_duration")
	require.NoError(t, err)
	for _, dp := range dur.Data.(metricdata.Histogram[float64]).DataPoints {
		assert.GreaterOrEqual(t, dp.Count, uint64(len(profiles)))
		typ, _ := dp.Attributes.Value("profile.type")
		if typ.AsString() == "cpu" {
			minimum, ok := dp.Min.Value()
			require.True(t, ok)
			assert.GreaterOrEqual(t, minimum, 1.0, "a CPU scrape lasts cpu_duration")
		}
	}
}

func errorsByReason(t *testing.T, tt *componenttest.Telemetry) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	m, err := tt.GetMetric("otelcol_receiver_pprofscrape_scrape_errors")
	if err != nil {
		return out
	}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		r, _ := dp.Attributes.Value("reason")
		out[r.AsString()] += dp.Value
	}
	return out
}

func resourceNames(profiles []pprofile.Profiles) map[string]int {
	out := map[string]int{}
	for _, pd := range profiles {
		v, _ := pd.ResourceProfiles().At(0).Resource().Attributes().Get("service.name")
		out[v.Str()]++
	}
	return out
}

// TestFaultyTargetsFailAlone: busy, never answering, 100 MB, gzip bomb, garbage and 404
// targets each fail, are counted by reason, and never delay the healthy targets.
func TestFaultyTargetsFailAlone(t *testing.T) {
	srv := pproftest.NewServer(t)
	srv2 := pproftest.NewServer(t)
	target := func(prefix, name string, types ...string) TargetConfig {
		return TargetConfig{Endpoint: srv.URL + prefix, ResourceAttributes: map[string]string{"service.name": name}, Profiles: types}
	}
	good2 := target("", "good2", "heap", "goroutine")
	good2.Endpoint = srv2.URL
	cfg := testConfig(
		target("", "good1", "heap", "goroutine"),
		good2,
		target(pproftest.PrefixBusy, "busy", "cpu"),
		target(pproftest.PrefixHang, "hang", "heap"),
		target(pproftest.PrefixHuge, "huge", "heap"),
		target(pproftest.PrefixBomb, "bomb", "heap"),
		target(pproftest.PrefixGarbage, "garbage", "heap"),
		target(pproftest.PrefixMissing, "missing", "heap"),
	)
	cfg.MaxBodyBytes = 1 << 20
	// The hanging target stays in flight for the whole test: the healthy targets must
	// still be scraped, interval after interval.
	cfg.ClientConfig.Timeout = time.Minute
	tt := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tt.Shutdown(context.Background())) }()
	r := start(t, cfg, metadatatest.NewSettings(tt), true, true)

	require.Eventually(t, func() bool {
		names := resourceNames(r.profiles.AllProfiles())
		errs := errorsByReason(t, tt)
		up, err := tt.GetMetric("otelcol_receiver_pprofscrape_target_up")
		return err == nil && len(up.Data.(metricdata.Gauge[int64]).DataPoints) == 7 && // all but the hanging one
			names["good1"] >= 2 && names["good2"] >= 2 &&
			errs["busy"] >= 1 && errs["size"] >= 1 && errs["not_pprof"] >= 2 && errs["http"] >= 1
	}, 30*time.Second, 50*time.Millisecond)
	assert.Equal(t, 1, srv.Hanging(), "the hanging request is still in flight while the others were scraped twice")

	names := resourceNames(r.profiles.AllProfiles())
	assert.Equal(t, []string{"good1", "good2"}, slices.Sorted(func(yield func(string) bool) {
		for n := range names {
			if !yield(n) {
				return
			}
		}
	}), "only healthy targets produce profiles")
	r.stop()
	assert.Eventually(t, func() bool { return srv.Hanging() == 0 }, 10*time.Second, 10*time.Millisecond,
		"Shutdown cancels the in-flight request")

	// Each failure is counted with its reason and profile type.
	m, err := tt.GetMetric("otelcol_receiver_pprofscrape_scrape_errors")
	require.NoError(t, err)
	got := map[string]bool{}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		r, _ := dp.Attributes.Value("reason")
		typ, _ := dp.Attributes.Value("profile.type")
		got[r.AsString()+"/"+typ.AsString()] = true
	}
	// The bomb inflates to zeros, which no protobuf starts with: refused after its first
	// inflated chunk as not_pprof, like the garbage.
	assert.Equal(t, map[string]bool{"busy/cpu": true, "size/heap": true, "not_pprof/heap": true, "http/heap": true}, got)

	up := map[string]int64{}
	upm, err := tt.GetMetric("otelcol_receiver_pprofscrape_target_up")
	require.NoError(t, err)
	for _, dp := range upm.Data.(metricdata.Gauge[int64]).DataPoints {
		e, _ := dp.Attributes.Value("target")
		up[strings.TrimPrefix(e.AsString(), srv.URL)] = dp.Value
	}
	assert.Equal(t, map[string]int64{
		"": 1, srv2.URL: 1, pproftest.PrefixBusy: 1, // busy is not down
		pproftest.PrefixHuge: 0, pproftest.PrefixBomb: 0, pproftest.PrefixGarbage: 0, pproftest.PrefixMissing: 0,
	}, up, "the hanging target has no result yet")
}

// TestNeverAnsweringTargetTimesOut counts a target that never answers as a timeout.
func TestNeverAnsweringTargetTimesOut(t *testing.T) {
	srv := pproftest.NewServer(t)
	cfg := testConfig(TargetConfig{Endpoint: srv.URL + pproftest.PrefixHang, Profiles: []string{"goroutine"}})
	tt := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tt.Shutdown(context.Background())) }()
	r := start(t, cfg, metadatatest.NewSettings(tt), true, true)
	require.Eventually(t, func() bool { return errorsByReason(t, tt)["timeout"] >= 1 }, 30*time.Second, 50*time.Millisecond)
	r.stop()
	assert.Empty(t, r.profiles.AllProfiles())
	assert.Empty(t, r.metrics.AllMetrics())
	metadatatest.AssertEqualReceiverPprofscrapeTargetUp(t, tt, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("target", srv.URL+pproftest.PrefixHang)), Value: 0},
	}, metricdatatest.IgnoreTimestamp())
}

// TestBusyCPUProfilerIsBusyNotDown: while this process's CPU profiler runs, its real
// net/http/pprof answers 500 "cpu profiling already in use"; the target counts as busy and
// up, and its other profile types are still delivered.
func TestBusyCPUProfilerIsBusyNotDown(t *testing.T) {
	require.NoError(t, rpprof.StartCPUProfile(io.Discard))
	defer rpprof.StopCPUProfile()
	srv := pproftest.NewServer(t)
	cfg := testConfig(TargetConfig{Endpoint: srv.URL, Profiles: []string{"cpu", "goroutine"}})
	tt := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tt.Shutdown(context.Background())) }()
	r := start(t, cfg, metadatatest.NewSettings(tt), true, false)
	require.Eventually(t, func() bool { return len(r.profiles.AllProfiles()) >= 1 }, 30*time.Second, 50*time.Millisecond)
	r.stop()
	assert.Equal(t, map[string][]string{"goroutine": {"goroutine"}}, profileTypes(r.profiles.AllProfiles()[0]))
	errs := errorsByReason(t, tt)
	assert.Equal(t, []string{"busy"}, slices.Collect(func(yield func(string) bool) {
		for k := range errs {
			if !yield(k) {
				return
			}
		}
	}))
	metadatatest.AssertEqualReceiverPprofscrapeTargetUp(t, tt, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("target", srv.URL)), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
}

// TestConfighttpClientSettings: the confighttp client settings (TLS with a CA file,
// static headers) are applied to every target request.
func TestConfighttpClientSettings(t *testing.T) {
	var mu sync.Mutex
	var scopes []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		scopes = append(scopes, r.Header.Get("X-Scope"))
		mu.Unlock()
		_ = rpprof.Lookup("goroutine").WriteTo(w, 0)
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv.Listener = ln
	srv.StartTLS()
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))

	cfg := testConfig(TargetConfig{Endpoint: srv.URL, Profiles: []string{"goroutine"}})
	cfg.ClientConfig.TLS.CAFile = caFile
	cfg.ClientConfig.Headers.Set("X-Scope", "prod")
	tt := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tt.Shutdown(context.Background())) }()
	r := start(t, cfg, metadatatest.NewSettings(tt), true, false)
	require.Eventually(t, func() bool { return len(r.profiles.AllProfiles()) >= 1 }, 30*time.Second, 50*time.Millisecond)
	r.stop()
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, scopes)
	for _, s := range scopes {
		assert.Equal(t, "prod", s)
	}
	assert.Empty(t, errorsByReason(t, tt), "the TLS handshake against the test CA succeeded")

	// Without the CA the same target fails the handshake: counted as an http error.
	cfg2 := testConfig(TargetConfig{Endpoint: srv.URL, Profiles: []string{"goroutine"}})
	tt2 := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tt2.Shutdown(context.Background())) }()
	r2 := start(t, cfg2, metadatatest.NewSettings(tt2), true, false)
	require.Eventually(t, func() bool { return errorsByReason(t, tt2)["http"] >= 1 }, 30*time.Second, 50*time.Millisecond)
	r2.stop()
	assert.Empty(t, r2.profiles.AllProfiles())
}

// TestMetricsOnlyWithMetricsDisabled: a receiver in a metrics pipeline only emits the
// metrics its configuration enables (as hostmetrics' scrapers do), and with both top-N
// metrics disabled the top-N is not computed.
func TestMetricsOnlyWithMetricsDisabled(t *testing.T) {
	srv := pproftest.NewServer(t)
	cfg := testConfig(TargetConfig{Endpoint: srv.URL, Profiles: []string{"heap", "goroutine"}})
	cfg.Metrics.PprofGoroutines.Enabled = false
	cfg.Metrics.PprofFunctionFlat.Enabled = false
	cfg.Metrics.PprofFunctionCum.Enabled = false
	tt := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tt.Shutdown(context.Background())) }()
	set := metadatatest.NewSettings(tt)
	shared, err := load(set, cfg)
	require.NoError(t, err)
	r := start(t, cfg, set, false, true)
	assert.Zero(t, shared.Unwrap().topN(), "no top-N metric enabled: none computed")
	require.Eventually(t, func() bool { return len(r.metrics.AllMetrics()) >= 1 }, 30*time.Second, 50*time.Millisecond)
	r.stop()
	assert.Equal(t, []string{"pprof.heap.inuse.bytes", "pprof.heap.inuse.objects"}, metricNames(r.metrics.AllMetrics()[0]))
	assert.Empty(t, r.profiles.AllProfiles())
}
