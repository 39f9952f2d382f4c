// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package pages

import (
	"cmp"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/pipeline"
	"go.uber.org/goleak"

	"github.com/prodscope/prodscope/internal/statusregistry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var update = flag.Bool("update", false, "rewrite the golden files")

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// fixture registers one instance of each component type with known state, the
// way the components publish it.
func fixture() *statusregistry.Registry {
	reg := statusregistry.New()
	reg.Register(component.MustNewID("cardinalityguard"), component.KindProcessor, statusregistry.SourceFunc(func(limit int) statusregistry.Snapshot {
		limited := []statusregistry.LimitedLabel{
			{Scope: "service.name=shop", Metric: "operation_error", Label: "user_id", DistinctValues: 612, Action: "drop", Reason: "value_limit", Since: now.Add(-90 * time.Second), PointsAffected: 4321},
			{Scope: "service.name=shop", Metric: "http.server.duration", Label: "http.target", DistinctValues: 140, Action: "overflow", Reason: "value_limit", Since: now.Add(-2 * time.Hour), PointsAffected: 77},
			{Scope: "service.name=cart", Metric: "<script>alert(1)</script>", Label: "session", DistinctValues: 20, Action: "drop", Reason: "always_drop", Since: now.Add(-3 * 24 * time.Hour), PointsAffected: 5},
		}
		kept, omitted := statusregistry.Top(limited, limit, func(a, b statusregistry.LimitedLabel) int { return cmp.Compare(b.DistinctValues, a.DistinctValues) })
		return statusregistry.Snapshot{
			Started: now.Add(-time.Hour), ItemsIn: 10000, ItemsOut: 9000, Unit: "points",
			Changed: []statusregistry.Count{{What: "label dropped", N: 4326}, {What: "merged", N: 1000}},
			Refused: []statusregistry.Count{{What: "total_limit", N: 3}},
			Holding: []statusregistry.Gauge{{What: "series", Now: 180, Limit: 100000}},
			CardinalityGuard: &statusregistry.CardinalityGuard{
				Limited: kept, LimitedOmitted: omitted,
				Series:      []statusregistry.SeriesLimit{{Scope: "service.name=shop", Metric: "operation_error", Tracked: 20, Limit: 20}},
				SeriesTotal: 180, SeriesBudget: 100000,
			},
		}
	}))
	reg.Register(component.MustNewID("logtracejoin"), component.KindProcessor, statusregistry.SourceFunc(func(int) statusregistry.Snapshot {
		return statusregistry.Snapshot{
			Started: now.Add(-time.Hour), ItemsIn: 2019, ItemsOut: 2019, Unit: "log records",
			Changed: []statusregistry.Count{{What: "trace context set", N: 2019}},
			Holding: []statusregistry.Gauge{{What: "logs waiting", Now: 12, Limit: 10000}},
			LogTraceJoin: &statusregistry.LogTraceJoin{
				Enriched: []statusregistry.Count{{What: "attribute trace_id/span_id", N: 1368}, {What: "body text traceparent", N: 651}, {What: "join request_id", N: 0}},
				JoinHits: 651, JoinMisses: 3, Waiting: 12, MaxWaiting: 10000, IndexSize: 40, MaxIndex: 100000, ReleasedUnjoined: 3,
			},
		}
	}))
	reg.Register(component.MustNewID("pprofscrape"), component.KindReceiver, statusregistry.SourceFunc(func(int) statusregistry.Snapshot {
		return statusregistry.Snapshot{
			Started: now.Add(-time.Hour), ItemsIn: 240, ItemsOut: 240, Unit: "profiles",
			Refused: []statusregistry.Count{{What: "timeout", N: 2}},
			PprofScrape: &statusregistry.PprofScrape{
				TargetsUp: 1, TargetsDown: 1,
				Targets: []statusregistry.Target{
					{Name: "http://user:secret@127.0.0.1:7070", Endpoint: "http://user:secret@127.0.0.1:7070", Up: false, LastScrape: now.Add(-20 * time.Second), LastDuration: 10 * time.Second, LastError: "timeout: context deadline exceeded", LastErrorAt: now.Add(-10 * time.Second), NextScrape: now.Add(5 * time.Second), ProfileTypes: []string{"cpu"}}, //nolint:gosec // G101: a made-up credential the page must strip
					{Name: "shopdemo", Endpoint: "http://127.0.0.1:6060", Up: true, LastScrape: now.Add(-3 * time.Second), LastDuration: 42 * time.Millisecond, LastBytes: 58213, NextScrape: now.Add(12 * time.Second), ProfileTypes: []string{"cpu", "heap", "goroutine"}},
				},
			},
		}
	}))
	reg.Register(component.MustNewIDWithName("honeycombevents", "prod"), component.KindExporter, statusregistry.SourceFunc(func(int) statusregistry.Snapshot {
		return statusregistry.Snapshot{
			Started: now.Add(-time.Hour), ItemsIn: 5000, ItemsOut: 4990, Unit: "events",
			Refused: []statusregistry.Count{{What: "too_large", N: 10}},
			Holding: []statusregistry.Gauge{{What: "queued batches", Now: 2, Limit: 1000}},
			HoneycombEvents: &statusregistry.HoneycombEvents{
				Sent: 4990, Retried: 7, QueueSize: 2, QueueCapacity: 1000,
				Refused:     []statusregistry.DatasetRefusal{{Dataset: "shop", Reason: "too_large", N: 10}},
				LastError:   "HTTP 429: rate limited",
				LastErrorAt: now.Add(-time.Minute),
			},
		}
	}))
	return reg
}

func newTestHandler(reg *statusregistry.Registry, maxItems int) *Handler {
	idx := NewPipelineIndex(10)
	idx.Add(componentstatus.NewInstanceID(component.MustNewID("cardinalityguard"), component.KindProcessor, pipeline.NewID(pipeline.SignalMetrics)))
	idx.Add(componentstatus.NewInstanceID(component.MustNewID("logtracejoin"), component.KindProcessor, pipeline.NewID(pipeline.SignalLogs)))
	idx.Add(componentstatus.NewInstanceID(component.MustNewID("logtracejoin"), component.KindProcessor, pipeline.NewID(pipeline.SignalTraces)))
	return NewHandler(Options{Snapshots: reg.Snapshots, Pipelines: idx, Refresh: 5 * time.Second, MaxItems: maxItems, Now: func() time.Time { return now }})
}

func get(t *testing.T, h http.Handler, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, http.NoBody))
	return rec
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		require.NoError(t, os.WriteFile(p, got, 0o600))
	}
	want, err := os.ReadFile(p) //nolint:gosec // G304: a golden file under testdata, named by the test
	require.NoError(t, err, "run go test -update to create %s", p)
	assert.Equal(t, string(want), string(got), "golden %s (go test -update rewrites it; review the diff)", p)
}

func TestPagesGolden(t *testing.T) {
	h := newTestHandler(fixture(), 50)
	for path, file := range map[string]string{
		"/statusz":                      "overview.html",
		"/statusz/cardinalityguard":     "cardinalityguard.html",
		"/statusz/logtracejoin":         "logtracejoin.html",
		"/statusz/pprofscrape":          "pprofscrape.html",
		"/statusz/honeycombevents":      "honeycombevents.html",
		"/statusz/api/components":       "components.json",
		"/statusz/api/cardinalityguard": "cardinalityguard.json",
		"/statusz/api/pprofscrape":      "pprofscrape.json",
		"/statusz/api/logtracejoin":     "logtracejoin.json",
		"/statusz/api/honeycombevents":  "honeycombevents.json",
	} {
		t.Run(file, func(t *testing.T) {
			rec := get(t, h, http.MethodGet, path)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
			golden(t, file, rec.Body.Bytes())
		})
	}
}

// What a person reads on each page, checked independently of the golden files.
func TestPagesShowWhatTheComponentsDo(t *testing.T) {
	h := newTestHandler(fixture(), 50)

	over := get(t, h, http.MethodGet, "/statusz").Body.String()
	for _, want := range []string{
		`<meta http-equiv="refresh" content="5">`,
		"cardinalityguard", "logtracejoin", "pprofscrape", "honeycombevents/prod",
		"pipelines: logs, traces", // from two status events of the shared instance
		"label dropped: 4326", "logs waiting: 12 of 10000", "queued batches: 2 of 1000",
	} {
		assert.Contains(t, over, want)
	}

	cg := get(t, h, http.MethodGet, "/statusz/cardinalityguard").Body.String()
	assert.Regexp(t, `<td>operation_error</td><td>user_id</td><td class="n">612</td><td>drop</td><td>value_limit</td><td>2026-12-01 11:58:30Z \(1m30s ago\)</td><td class="n">4321</td>`, cg)
	assert.Less(t, strings.Index(cg, "user_id"), strings.Index(cg, "http.target"), "most distinct values first")
	assert.NotContains(t, cg, "<script>alert(1)</script>", "metric names are escaped")
	assert.Contains(t, cg, "&lt;script&gt;alert(1)&lt;/script&gt;")
	assert.Contains(t, cg, "series tracked: 180 of 100000 (max_series_total, 0%)")

	pp := get(t, h, http.MethodGet, "/statusz/pprofscrape").Body.String()
	assert.NotContains(t, pp, "secret", "credentials in an endpoint never reach the page")
	assert.Contains(t, pp, `<span class="up">1 up</span>`)
	assert.Contains(t, pp, "timeout: context deadline exceeded")
	assert.Contains(t, pp, "(in 5s)")
	api := get(t, h, http.MethodGet, "/statusz/api/pprofscrape").Body.String()
	assert.NotContains(t, api, "secret", "nor the API")

	ltj := get(t, h, http.MethodGet, "/statusz/logtracejoin").Body.String()
	assert.Contains(t, ltj, `<td class="n">651</td><td class="n">3</td><td class="n">12 of 10000 (max_waiting_logs)</td>`)

	hc := get(t, h, http.MethodGet, "/statusz/honeycombevents").Body.String()
	assert.Contains(t, hc, "<tr><td>shop</td><td>too_large</td><td class=\"n\">10</td></tr>")
	assert.Contains(t, hc, "HTTP 429: rate limited")
}

func TestAPIDecodesToTheSnapshots(t *testing.T) {
	h := newTestHandler(fixture(), 50)
	rec := get(t, h, http.MethodGet, "/statusz/api/components")
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var resp apiResponse
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
	require.Len(t, resp.Components, 4)
	assert.Equal(t, now, resp.GeneratedAt)
	cg := resp.Components[0]
	assert.Equal(t, "cardinalityguard", cg.ID)
	assert.Equal(t, []string{"metrics"}, cg.Pipelines)
	require.NotNil(t, cg.CardinalityGuard)
	assert.Equal(t, uint64(612), cg.CardinalityGuard.Limited[0].DistinctValues)

	rec = get(t, h, http.MethodGet, "/statusz/api/honeycombevents")
	resp = apiResponse{}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
	require.Len(t, resp.Components, 1)
	assert.Equal(t, "honeycombevents/prod", resp.Components[0].ID)
}

func TestListsAreBoundedAndSaySo(t *testing.T) {
	reg := fixture()
	for i := range 5 {
		reg.Register(component.MustNewIDWithName("logtracejoin", string(rune('a'+i))), component.KindProcessor, statusregistry.SourceFunc(func(int) statusregistry.Snapshot { return statusregistry.Snapshot{} }))
	}
	h := newTestHandler(reg, 2)
	cg := get(t, h, http.MethodGet, "/statusz/cardinalityguard").Body.String()
	assert.Contains(t, cg, "1 more limited labels not shown (max_items 2).")
	assert.NotContains(t, cg, "&lt;script&gt;", "the third label is left out")

	ltj := get(t, h, http.MethodGet, "/statusz/logtracejoin").Body.String()
	assert.Contains(t, ltj, "4 more component instances not shown (max_items 2).")

	var resp apiResponse
	require.NoError(t, json.Unmarshal(get(t, h, http.MethodGet, "/statusz/api/components").Body.Bytes(), &resp))
	assert.Len(t, resp.Components, 2)
	assert.Equal(t, 7, resp.ComponentsOmitted)
}

func TestEmptyCollector(t *testing.T) {
	h := newTestHandler(statusregistry.New(), 10)
	assert.Contains(t, get(t, h, http.MethodGet, "/statusz").Body.String(), "No prodscope component is running in this collector.")
	assert.Contains(t, get(t, h, http.MethodGet, "/statusz/pprofscrape").Body.String(), "No pprofscrape instance is running")
	assert.Contains(t, get(t, h, http.MethodGet, "/statusz/api/components").Body.String(), `"components": []`)
}

func TestBadRequests(t *testing.T) {
	h := newTestHandler(fixture(), 10)
	for _, tc := range []struct {
		method, path string
		code         int
		body         string
	}{
		{http.MethodGet, "/statusz/nosuch", http.StatusNotFound, `statusz: no page at "/statusz/nosuch"; see /statusz`},
		{http.MethodGet, "/statusz/api/nosuch", http.StatusNotFound, "no page at"},
		{http.MethodGet, "/other", http.StatusNotFound, "no page at"},
		{http.MethodGet, "/statusz/%3Cscript%3E", http.StatusNotFound, `"/statusz/<script>"`},
		{http.MethodPost, "/statusz", http.StatusMethodNotAllowed, "statusz: method POST not allowed; use GET"},
		{http.MethodDelete, "/statusz/api/components", http.StatusMethodNotAllowed, "not allowed"},
		{http.MethodGet, "/", http.StatusFound, ""},
	} {
		rec := get(t, h, tc.method, tc.path)
		assert.Equal(t, tc.code, rec.Code, "%s %s", tc.method, tc.path)
		assert.Contains(t, rec.Body.String(), tc.body, "%s %s", tc.method, tc.path)
		if tc.code >= 400 {
			assert.Equal(t, "text/plain; charset=utf-8", rec.Header().Get("Content-Type"), "an error is never rendered as HTML")
		}
		if tc.code == http.StatusMethodNotAllowed {
			assert.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
		}
	}
	head := get(t, h, http.MethodHead, "/statusz/api/components")
	assert.Equal(t, http.StatusOK, head.Code)
	assert.Equal(t, "/statusz", get(t, h, http.MethodGet, "/").Header().Get("Location"))
	assert.Equal(t, http.StatusOK, get(t, h, http.MethodGet, "/statusz/").Code, "a trailing slash is the same page")
}

func TestPipelineIndexBounded(t *testing.T) {
	idx := NewPipelineIndex(1)
	idx.Add(componentstatus.NewInstanceID(component.MustNewID("a"), component.KindProcessor, pipeline.NewID(pipeline.SignalLogs)))
	idx.Add(componentstatus.NewInstanceID(component.MustNewID("a"), component.KindProcessor, pipeline.NewID(pipeline.SignalLogs), pipeline.NewIDWithName(pipeline.SignalMetrics, "x")))
	idx.Add(componentstatus.NewInstanceID(component.MustNewID("b"), component.KindProcessor, pipeline.NewID(pipeline.SignalLogs)))
	idx.Add(nil)
	assert.Equal(t, []string{"logs", "metrics/x"}, idx.Of("a"))
	assert.Nil(t, idx.Of("b"))
	assert.Equal(t, int64(1), idx.Refused())
}

func TestTimeFormatting(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "now", -500 * time.Millisecond: "now", 59 * time.Second: "59s ago", 61 * time.Second: "1m01s ago",
		3*time.Hour + 5*time.Minute: "3h05m ago", 72 * time.Hour: "3d ago", -5 * time.Second: "in 5s",
	} {
		assert.Equal(t, want, ago(now, now.Add(-d)), "%s", d)
	}
	assert.Equal(t, "never", ago(now, time.Time{}))
	assert.Equal(t, "never", timestamp(time.Time{}))
	assert.Equal(t, "42ms", duration(42*time.Millisecond))
	assert.Equal(t, "-", duration(0))
	assert.Equal(t, "12µs", duration(12*time.Microsecond))
	assert.Equal(t, "1.5s", duration(1500*time.Millisecond))
	assert.Equal(t, "50%", percent(10, 20))
	assert.Equal(t, "-", percent(1, 0))
}
