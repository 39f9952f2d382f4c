// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package honeycombevents

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/hcsink"
	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/metadatatest"
	"github.com/prodscope/prodscope/internal/logthrottle"
)

const testKey = "hcaik_secret-test-key-0123456789"

type testEnv struct {
	sink *hcsink.Sink
	srv  *httptest.Server
	tt   *componenttest.Telemetry
	exp  *eventsExporter
	logs *observer.ObservedLogs
}

func newTestEnv(t *testing.T, mutate func(*Config)) *testEnv {
	t.Helper()
	return newTestEnvFor(t, signalTraces, mutate)
}

// newTestEnvFor builds the exporter instance of one signal; the sink
// accepts testKey only.
func newTestEnvFor(t *testing.T, sig signal, mutate func(*Config)) *testEnv {
	t.Helper()
	sink := hcsink.New(testKey)
	srv := httptest.NewServer(sink)
	tt := componenttest.NewTelemetry()
	core, logs := observer.New(zapcore.InfoLevel)
	cfg := createDefaultConfig().(*Config)
	cfg.ClientConfig.Endpoint = srv.URL
	cfg.APIKey = testKey
	if mutate != nil {
		mutate(cfg)
	}
	require.NoError(t, cfg.Validate())
	set := metadatatest.NewSettings(tt)
	set.Logger = zap.New(core)
	exp, err := newEventsExporter(cfg, set, sig)
	require.NoError(t, err)
	require.NoError(t, exp.start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() {
		require.NoError(t, exp.shutdown(context.Background()))
		srv.Close()
		sink.Close()
		require.NoError(t, tt.Shutdown(context.Background()))
	})
	return &testEnv{sink: sink, srv: srv, tt: tt, exp: exp, logs: logs}
}

// testTraces builds n spans named span-<i> for service svc.
func testTraces(svc string, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", svc)
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	start := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for i := range n {
		s := spans.AppendEmpty()
		s.SetTraceID(pcommon.TraceID{1, byte(i >> 8), byte(i)})
		s.SetSpanID(pcommon.SpanID{2, byte(i >> 8), byte(i)})
		s.SetName(fmt.Sprintf("span-%d", i))
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i) * time.Millisecond)))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i)*time.Millisecond + 250*time.Microsecond)))
		s.Attributes().PutInt("i", int64(i))
	}
	return td
}

func namesOf(evs []hcsink.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Data["name"].(string))
	}
	return out
}

func TestWireFormatPerEncodingAndCompression(t *testing.T) {
	for _, enc := range []Encoding{EncodingJSON, EncodingMsgpack} {
		for _, comp := range []configcompression.Type{configcompression.TypeZstd, configcompression.TypeGzip, "none"} {
			t.Run(fmt.Sprintf("%s-%s", enc, comp), func(t *testing.T) {
				env := newTestEnv(t, func(c *Config) {
					c.Encoding = enc
					c.ClientConfig.Compression = comp
				})
				td := testTraces("shop / eu", 3)
				td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(1).Attributes().PutInt("SampleRate", 5)
				require.NoError(t, env.exp.pushTraces(context.Background(), td))

				reqs := env.sink.Requests()
				require.Len(t, reqs, 1)
				r := reqs[0]
				assert.Equal(t, "shop - eu", r.Dataset, "the slash the Events API refuses is replaced; the spaces are path-escaped and arrive intact")
				assert.Equal(t, testKey, r.Team)
				wantType := map[Encoding]string{EncodingJSON: "application/json", EncodingMsgpack: "application/msgpack"}[enc]
				assert.Equal(t, wantType, r.ContentType)
				wantEnc := string(comp)
				if comp == "none" {
					wantEnc = ""
				}
				assert.Equal(t, wantEnc, r.ContentEncoding)
				assert.Equal(t, http.StatusOK, r.Status)

				evs := env.sink.Events()
				require.Len(t, evs, 3)
				assert.Equal(t, []string{"span-0", "span-1", "span-2"}, namesOf(evs))
				assert.Equal(t, int64(1), evs[0].SampleRate)
				assert.Equal(t, int64(5), evs[1].SampleRate)
				assert.NotContains(t, evs[1].Data, "SampleRate")
				assert.Equal(t, "0200000000000000", evs[0].Data["trace.span_id"])
				assert.InDelta(t, 0.25, evs[0].Data["duration_ms"], 1e-9)
				assert.Equal(t, time.Date(2026, 11, 23, 12, 0, 0, 1e6, time.UTC), evs[1].Time)

				metadatatest.AssertEqualExporterHoneycombeventsEventsSent(t, env.tt, []metricdata.DataPoint[int64]{{Value: 3}}, metricdatatest.IgnoreTimestamp())
				metadatatest.AssertEqualExporterHoneycombeventsBatchesSent(t, env.tt, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
			})
		}
	}
}

func TestSamplerateOmittedWhenOne(t *testing.T) {
	var body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 4096)
		n, _ := r.Body.Read(buf)
		body.Store(string(buf[:n]))
		_, _ = w.Write([]byte(`[{"status":202}]`))
	}))
	defer srv.Close()
	cfg := createDefaultConfig().(*Config)
	cfg.ClientConfig.Endpoint = srv.URL
	cfg.ClientConfig.Compression = "none"
	cfg.APIKey = "k"
	exp, err := newEventsExporter(cfg, exportertestSettings(), signalTraces)
	require.NoError(t, err)
	require.NoError(t, exp.start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, exp.shutdown(context.Background())) }()
	require.NoError(t, exp.pushTraces(context.Background(), testTraces("svc", 1)))
	got := body.Load().(string)
	assert.True(t, strings.HasPrefix(got, `[{"time":"2026-11-23T12:00:00Z","data":{`), got)
	assert.NotContains(t, got, "samplerate")
}

func TestPerEventStatusesMappedBackByIndex(t *testing.T) {
	env := newTestEnv(t, nil)
	var seen sync32
	env.sink.SetFaults(hcsink.Faults{EventStatus: func(ev hcsink.Event) int {
		switch ev.Data["name"] {
		case "span-1":
			if seen.inc("span-1") == 1 {
				return http.StatusInternalServerError
			}
		case "span-2":
			if seen.inc("span-2") == 1 {
				return http.StatusTooManyRequests
			}
		case "span-3":
			return http.StatusBadRequest
		}
		return http.StatusAccepted
	}})
	td := testTraces("svc", 5)
	err := env.exp.pushTraces(context.Background(), td)
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err))
	var partial consumererror.Traces
	require.ErrorAs(t, err, &partial)
	retry := partial.Data()
	require.Equal(t, 2, retry.SpanCount(), "only the 500 and 429 events are retried")
	spans := retry.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	assert.Equal(t, "span-1", spans.At(0).Name())
	assert.Equal(t, "span-2", spans.At(1).Name())

	// What exporterhelper's retry sender does next: send the subset alone.
	require.NoError(t, env.exp.pushTraces(context.Background(), retry))
	reqs := env.sink.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, 5, reqs[0].Events)
	assert.Equal(t, 2, reqs[1].Events)
	assert.ElementsMatch(t, []string{"span-0", "span-4", "span-1", "span-2"}, namesOf(env.sink.Events()))

	metadatatest.AssertEqualExporterHoneycombeventsEventsSent(t, env.tt, []metricdata.DataPoint[int64]{{Value: 4}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualExporterHoneycombeventsEventsRefused(t, env.tt, []metricdata.DataPoint[int64]{{
		Value:      1,
		Attributes: attribute.NewSet(attribute.String("reason", "rejected"), attribute.Int("status_code", 400)),
	}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualExporterHoneycombeventsEventsRetried(t, env.tt, []metricdata.DataPoint[int64]{{
		Value: 2, Attributes: attribute.NewSet(attribute.String("reason", "per_event_status")),
	}}, metricdatatest.IgnoreTimestamp())
	rejected := env.logs.FilterMessage("Events API rejected events; they are dropped").All()
	require.Len(t, rejected, 1)
	assert.Equal(t, int64(400), rejected[0].ContextMap()["status_code"])
}

// sync32 counts calls per key from the sink's handler goroutines.
type sync32 struct {
	m atomic.Pointer[map[string]int]
}

func (s *sync32) inc(k string) int {
	for {
		old := s.m.Load()
		next := map[string]int{}
		if old != nil {
			for kk, v := range *old {
				next[kk] = v
			}
		}
		next[k]++
		if s.m.CompareAndSwap(old, &next) {
			return next[k]
		}
	}
}

func TestRejectedEventLogIsRateLimitedPerDataset(t *testing.T) {
	env := newTestEnv(t, nil)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	env.exp.throttled.WithClock(func() time.Time { return now })
	env.sink.SetFaults(hcsink.Faults{EventStatus: func(hcsink.Event) int { return http.StatusBadRequest }})
	for range 5 {
		require.NoError(t, env.exp.pushTraces(context.Background(), testTraces("svc", 10)))
	}
	const msg = "Events API rejected events; they are dropped"
	lines := env.logs.FilterMessage(msg).All()
	require.Len(t, lines, 1, "50 rejected events over 5 batches of one dataset: one line per period")
	assert.NotContains(t, lines[0].ContextMap(), logthrottle.SuppressedField)

	require.NoError(t, env.exp.pushTraces(context.Background(), testTraces("cart", 10)))
	require.Len(t, env.logs.FilterMessage(msg).All(), 2, "another dataset has its own line")

	now = now.Add(logEvery)
	require.NoError(t, env.exp.pushTraces(context.Background(), testTraces("svc", 10)))
	lines = env.logs.FilterMessage(msg).All()
	require.Len(t, lines, 3)
	assert.Equal(t, "svc", lines[2].ContextMap()["dataset"])
	assert.Equal(t, int64(4), lines[2].ContextMap()[logthrottle.SuppressedField], "the 4 batches left out since the first line")

	metadatatest.AssertEqualExporterHoneycombeventsEventsRefused(t, env.tt, []metricdata.DataPoint[int64]{{
		Value:      70,
		Attributes: attribute.NewSet(attribute.String("reason", "rejected"), attribute.Int("status_code", 400)),
	}}, metricdatatest.IgnoreTimestamp())
}

func TestShortStatusArrayRetriesTheUnansweredTail(t *testing.T) {
	env := newTestEnv(t, nil)
	env.sink.SetFaults(hcsink.Faults{ShortBy: 2})
	err := env.exp.pushTraces(context.Background(), testTraces("svc", 5))
	var partial consumererror.Traces
	require.ErrorAs(t, err, &partial)
	spans := partial.Data().ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	require.Equal(t, 2, spans.Len())
	assert.Equal(t, "span-3", spans.At(0).Name())
	assert.Equal(t, "span-4", spans.At(1).Name())
	metadatatest.AssertEqualExporterHoneycombeventsEventsRetried(t, env.tt, []metricdata.DataPoint[int64]{{
		Value: 2, Attributes: attribute.NewSet(attribute.String("reason", "no_status")),
	}}, metricdatatest.IgnoreTimestamp())
}

func TestWholeRequestThrottle(t *testing.T) {
	for _, tc := range []struct {
		status     int
		retryAfter string
		wantDelay  string
	}{
		{http.StatusTooManyRequests, "7", "Throttle (7s)"},
		{http.StatusServiceUnavailable, "", ""},
		{http.StatusServiceUnavailable, "3", "Throttle (3s)"},
	} {
		t.Run(fmt.Sprintf("%d-%q", tc.status, tc.retryAfter), func(t *testing.T) {
			env := newTestEnv(t, nil)
			env.sink.SetFaults(hcsink.Faults{RequestStatuses: []int{tc.status}, RetryAfter: tc.retryAfter})
			err := env.exp.pushTraces(context.Background(), testTraces("svc", 3))
			require.Error(t, err)
			assert.False(t, consumererror.IsPermanent(err))
			var partial consumererror.Traces
			assert.NotErrorAs(t, err, &partial, "the whole request failed: no subset")
			if tc.wantDelay != "" {
				assert.Contains(t, err.Error(), tc.wantDelay)
			} else {
				assert.NotContains(t, err.Error(), "Throttle")
			}
			assert.Contains(t, err.Error(), fmt.Sprintf("HTTP %d", tc.status))
			// The next attempt goes through.
			require.NoError(t, env.exp.pushTraces(context.Background(), testTraces("svc", 3)))
			assert.Len(t, env.sink.Events(), 3)
		})
	}
}

func TestPermanentRequestErrorsNameTheCauseNotTheKey(t *testing.T) {
	for _, tc := range []struct {
		status int
		cause  string
	}{
		{http.StatusBadRequest, "malformed request"},
		{http.StatusUnauthorized, "API key rejected: check api_key"},
		{http.StatusForbidden, "lacks permission"},
		{http.StatusNotFound, "check endpoint and dataset"},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			env := newTestEnv(t, nil)
			env.sink.SetFaults(hcsink.Faults{RequestStatuses: []int{tc.status}})
			err := env.exp.pushTraces(context.Background(), testTraces("svc", 4))
			require.Error(t, err)
			assert.True(t, consumererror.IsPermanent(err))
			assert.Contains(t, err.Error(), tc.cause)
			assert.NotContains(t, err.Error(), testKey)
			lines := env.logs.FilterMessage("Events API rejected a batch; its events are dropped").All()
			require.Len(t, lines, 1)
			assert.Contains(t, lines[0].ContextMap()["cause"], tc.cause)
			for _, l := range env.logs.All() {
				assert.NotContains(t, fmt.Sprint(l.ContextMap()), testKey)
				assert.NotContains(t, l.Message, testKey)
			}
			metadatatest.AssertEqualExporterHoneycombeventsEventsRefused(t, env.tt, []metricdata.DataPoint[int64]{{
				Value:      4,
				Attributes: attribute.NewSet(attribute.String("reason", "request_rejected"), attribute.Int("status_code", tc.status)),
			}}, metricdatatest.IgnoreTimestamp())
		})
	}
}

func TestWrongKeyIsPermanent(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.APIKey = "wrong-key-value" })
	err := env.exp.pushTraces(context.Background(), testTraces("svc", 1))
	require.True(t, consumererror.IsPermanent(err))
	assert.Contains(t, err.Error(), "HTTP 401")
	assert.NotContains(t, err.Error(), "wrong-key-value")
}

func TestServerErrorAndTransportErrorAreRetryable(t *testing.T) {
	env := newTestEnv(t, nil)
	env.sink.SetFaults(hcsink.Faults{RequestStatuses: []int{http.StatusBadGateway}})
	err := env.exp.pushTraces(context.Background(), testTraces("svc", 2))
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err))

	env.srv.Close()
	err = env.exp.pushTraces(context.Background(), testTraces("svc", 2))
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err))
	metadatatest.AssertEqualExporterHoneycombeventsEventsRetried(t, env.tt, []metricdata.DataPoint[int64]{{
		Value: 4, Attributes: attribute.NewSet(attribute.String("reason", "request_failed")),
	}}, metricdatatest.IgnoreTimestamp())
}

func TestResponseBodiesAreReadThroughACap(t *testing.T) {
	huge := strings.Repeat("x", 640*1024) // ten times what the exporter reads of an error body
	var status atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write([]byte(`[{"status":202}` + strings.Repeat(`,{"status":202}`, 200000) + `]`))
		_, _ = w.Write([]byte(huge))
	}))
	defer srv.Close()
	cfg := createDefaultConfig().(*Config)
	cfg.ClientConfig.Endpoint = srv.URL
	cfg.APIKey = "k"
	exp, err := newEventsExporter(cfg, exportertestSettings(), signalTraces)
	require.NoError(t, err)
	require.NoError(t, exp.start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, exp.shutdown(context.Background())) }()

	status.Store(http.StatusOK)
	err = exp.pushTraces(context.Background(), testTraces("svc", 2))
	require.Error(t, err, "a status array over its cap is not trusted")
	assert.False(t, consumererror.IsPermanent(err))

	status.Store(http.StatusBadRequest)
	err = exp.pushTraces(context.Background(), testTraces("svc", 2))
	require.True(t, consumererror.IsPermanent(err))
	assert.Less(t, len(err.Error()), 1024, "the error message is cut")
}

func TestEmptyOKBodyAcknowledgesTheBatch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer srv.Close()
	cfg := createDefaultConfig().(*Config)
	cfg.ClientConfig.Endpoint = srv.URL
	cfg.APIKey = "k"
	exp, err := newEventsExporter(cfg, exportertestSettings(), signalTraces)
	require.NoError(t, err)
	require.NoError(t, exp.start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, exp.shutdown(context.Background())) }()
	require.NoError(t, exp.pushTraces(context.Background(), testTraces("svc", 2)))
}

func TestBatchesSplitAndTelemetryCountsBytes(t *testing.T) {
	env := newTestEnv(t, func(c *Config) {
		c.MaxBatchBytes = 4096
		c.MaxEventBytes = 2048
	})
	td := testTraces("svc", 60)
	for i := 0; i < 60; i++ {
		td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(i).Attributes().PutStr("payload", strings.Repeat("p", 300))
	}
	require.NoError(t, env.exp.pushTraces(context.Background(), td))
	reqs := env.sink.Requests()
	require.Greater(t, len(reqs), 5)
	total := 0
	for _, r := range reqs {
		total += r.Events
	}
	assert.Equal(t, 60, total)
	assert.Len(t, env.sink.Events(), 60)
	got, err := env.tt.GetMetric("otelcol_exporter_honeycombevents_bytes_uncompressed")
	require.NoError(t, err)
	uncompressed := got.Data.(metricdata.Sum[int64]).DataPoints[0].Value
	got, err = env.tt.GetMetric("otelcol_exporter_honeycombevents_bytes_compressed")
	require.NoError(t, err)
	compressed := got.Data.(metricdata.Sum[int64]).DataPoints[0].Value
	assert.Greater(t, uncompressed, int64(60*300))
	assert.Less(t, compressed, uncompressed/3, "zstd shrinks repetitive batches")
	metadatatest.AssertEqualExporterHoneycombeventsBatchesSent(t, env.tt, []metricdata.DataPoint[int64]{{Value: int64(len(reqs))}}, metricdatatest.IgnoreTimestamp())
}

func TestOversizedEventsCountedTrimmedAndRefused(t *testing.T) {
	env := newTestEnv(t, func(c *Config) {
		c.MaxEventBytes = 2048
		c.MaxFields = 20
	})
	td := testTraces("svc", 3)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	spans.At(0).Attributes().PutStr("blob", strings.Repeat("b", 5000)) // trimmed
	spans.At(1).SetName(strings.Repeat("n", 5000))                     // name is never cut: refused
	require.NoError(t, env.exp.pushTraces(context.Background(), td))
	evs := env.sink.Events()
	require.Len(t, evs, 2)
	assert.Equal(t, "span-0", evs[0].Data["name"])
	assert.Less(t, len(evs[0].Data["blob"].(string)), 2048)
	metadatatest.AssertEqualExporterHoneycombeventsEventsTrimmed(t, env.tt, []metricdata.DataPoint[int64]{{
		Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "event_too_large")),
	}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualExporterHoneycombeventsEventsRefused(t, env.tt, []metricdata.DataPoint[int64]{{
		Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "event_too_large")),
	}}, metricdatatest.IgnoreTimestamp())
}

func TestLogsAndMetricsPartialRetry(t *testing.T) {
	env := newTestEnv(t, nil)
	env.sink.SetFaults(hcsink.Faults{EventStatus: func(ev hcsink.Event) int {
		if ev.Data["body"] == "second" || ev.Data["route"] == "/b" {
			return http.StatusServiceUnavailable
		}
		return http.StatusAccepted
	}})
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "svc")
	for _, body := range []string{"first", "second", "third"} {
		rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr(body)
	}
	err := env.exp.pushLogs(context.Background(), ld)
	var pl consumererror.Logs
	require.ErrorAs(t, err, &pl)
	require.Equal(t, 1, pl.Data().LogRecordCount())
	assert.Equal(t, "second", pl.Data().ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().Str())

	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "svc")
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	now := pcommon.NewTimestampFromTime(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	for _, name := range []string{"requests", "errors"} {
		g := ms.AppendEmpty()
		g.SetName(name)
		dps := g.SetEmptyGauge().DataPoints()
		for _, route := range []string{"/a", "/b"} {
			dp := dps.AppendEmpty()
			dp.SetTimestamp(now)
			dp.SetIntValue(1)
			dp.Attributes().PutStr("route", route)
		}
	}
	err = env.exp.pushMetrics(context.Background(), md)
	var pm consumererror.Metrics
	require.ErrorAs(t, err, &pm)
	require.Equal(t, 2, pm.Data().DataPointCount(), "the /b event carried both metrics' /b points")
	sub := pm.Data().ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for i := 0; i < sub.Len(); i++ {
		route, _ := sub.At(i).Gauge().DataPoints().At(0).Attributes().Get("route")
		assert.Equal(t, "/b", route.Str())
	}
	events := env.sink.Events()
	require.Len(t, events, 3)
	assert.Equal(t, "/a", events[2].Data["route"])
	assert.EqualValues(t, 1, events[2].Data["requests"])
	assert.EqualValues(t, 1, events[2].Data["errors"])
}

func TestMsgpackStatusesDecoded(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.Encoding = EncodingMsgpack })
	env.sink.SetFaults(hcsink.Faults{EventStatus: func(ev hcsink.Event) int {
		if ev.Data["name"] == "span-0" {
			return http.StatusServiceUnavailable
		}
		return http.StatusAccepted
	}})
	err := env.exp.pushTraces(context.Background(), testTraces("svc", 3))
	var partial consumererror.Traces
	require.ErrorAs(t, err, &partial)
	require.Equal(t, 1, partial.Data().SpanCount())
	assert.Equal(t, "span-0", partial.Data().ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Name())
}

// headerEchoServer answers status with a body repeating the request's
// headers, as a misconfigured proxy or a debugging endpoint might.
func headerEchoServer(t *testing.T, status int) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(status)
		for k, v := range r.Header {
			_, _ = fmt.Fprintf(w, "%s: %s\n", k, strings.Join(v, ","))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestEchoedSecretsStayOutOfErrorsAndLogs(t *testing.T) {
	const tenant = "tenant-secret-value"
	srv := headerEchoServer(t, http.StatusUnauthorized)
	core, logs := observer.New(zapcore.DebugLevel)
	cfg := createDefaultConfig().(*Config)
	cfg.ClientConfig.Endpoint = srv.URL
	cfg.ClientConfig.Headers.Set("X-Tenant", tenant)
	cfg.APIKey = testKey
	set := exportertestSettings()
	set.Logger = zap.New(core)
	exp, err := newEventsExporter(cfg, set, signalTraces)
	require.NoError(t, err)
	require.NoError(t, exp.start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, exp.shutdown(context.Background())) }()

	err = exp.pushTraces(context.Background(), testTraces("svc", 2))
	require.Error(t, err)
	lines := logs.FilterMessage("Events API rejected a batch; its events are dropped").All()
	require.Len(t, lines, 1)
	assert.Contains(t, lines[0].ContextMap()["server_message"], "X-Honeycomb-Team: [redacted]", "the echo is logged, without the key")
	for _, text := range []string{err.Error(), fmt.Sprint(lines[0].ContextMap())} {
		assert.NotContains(t, text, testKey)
		assert.NotContains(t, text, tenant)
	}
}
