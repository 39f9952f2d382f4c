// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package events

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/hcsink"
)

var update = flag.Bool("update", false, "rewrite golden inputs and expected outputs")

var goldenCfg = Config{UnknownDataset: "unknown_service", SampleRateAttribute: "SampleRate"}

var goldenLimits = Limits{MaxBatchBytes: 5_000_000, MaxEventBytes: 1_000_000, MaxFields: 2000}

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 123456789, time.UTC)

func ts(d time.Duration) pcommon.Timestamp { return pcommon.NewTimestampFromTime(t0.Add(d)) }

func goldenTraces() ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	rs.Resource().Attributes().PutStr("deployment.environment", "prod")
	rs.Resource().Attributes().PutStr("shared", "from-resource")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp")
	ss.Scope().SetVersion("0.72.0")

	root := ss.Spans().AppendEmpty()
	root.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	root.SetSpanID(pcommon.SpanID{0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8})
	root.SetName("POST /checkout")
	root.SetKind(ptrace.SpanKindServer)
	root.SetStartTimestamp(ts(0))
	root.SetEndTimestamp(ts(1500 * time.Microsecond))
	root.Status().SetCode(ptrace.StatusCodeError)
	root.Status().SetMessage("payment declined")
	root.TraceState().FromRaw("ot=th:8;rv:abcdef12345678,vendor=x")
	root.Attributes().PutStr("http.request.method", "POST")
	root.Attributes().PutInt("http.response.status_code", 502)
	root.Attributes().PutDouble("cart.total", 12.5)
	root.Attributes().PutBool("cart.guest", true)
	root.Attributes().PutStr("shared", "from-span")
	root.Attributes().PutEmptySlice("cart.items").AppendEmpty().SetStr("sku-1")
	m := root.Attributes().PutEmptyMap("user")
	m.PutStr("tier", "gold")
	m.PutEmptyMap("geo").PutStr("country", "NL")
	ev := root.Events().AppendEmpty()
	ev.SetName("exception")
	ev.SetTimestamp(ts(time.Millisecond))
	ev.Attributes().PutStr("exception.message", "card declined")
	link := root.Links().AppendEmpty()
	link.SetTraceID(pcommon.TraceID{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1})
	link.SetSpanID(pcommon.SpanID{0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8})
	link.Attributes().PutStr("link.reason", "retry-of")

	child := ss.Spans().AppendEmpty()
	child.SetTraceID(root.TraceID())
	child.SetSpanID(pcommon.SpanID{0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8})
	child.SetParentSpanID(root.SpanID())
	child.SetName("SELECT orders")
	child.SetKind(ptrace.SpanKindClient)
	child.SetStartTimestamp(ts(100 * time.Microsecond))
	child.SetEndTimestamp(ts(350 * time.Microsecond))
	child.Attributes().PutInt("SampleRate", 10)
	child.Attributes().PutStr("db.system", "postgresql")

	// A resource without service.name goes to unknown_dataset.
	rs2 := td.ResourceSpans().AppendEmpty()
	rs2.Resource().Attributes().PutStr("host.name", "node-1")
	lone := rs2.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	lone.SetTraceID(pcommon.TraceID{0, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9})
	lone.SetSpanID(pcommon.SpanID{0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8})
	lone.SetName("cron tick")
	lone.SetKind(ptrace.SpanKindInternal)
	lone.SetStartTimestamp(ts(time.Second))
	lone.SetEndTimestamp(ts(time.Second + 2*time.Millisecond))
	lone.Status().SetCode(ptrace.StatusCodeOk)
	return td
}

func goldenLogs() plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "checkout")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("app.logger")
	lr := sl.LogRecords().AppendEmpty()
	lr.SetTimestamp(ts(0))
	lr.SetSeverityNumber(plog.SeverityNumberError)
	lr.SetSeverityText("ERROR")
	lr.Body().SetStr("payment declined for order 42")
	lr.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	lr.SetSpanID(pcommon.SpanID{0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8})
	lr.Attributes().PutStr("order.id", "42")
	lr.Attributes().PutInt("SampleRate", 4)

	structured := sl.LogRecords().AppendEmpty()
	structured.SetObservedTimestamp(ts(time.Second))
	structured.SetSeverityNumber(plog.SeverityNumberInfo2)
	structured.SetEventName("order.shipped")
	body := structured.Body().SetEmptyMap()
	body.PutStr("carrier", "dhl")
	body.PutInt("parcels", 2)
	return ld
}

func goldenMetrics() pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "checkout")
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("meter")

	reqs := sm.Metrics().AppendEmpty()
	reqs.SetName("http.server.requests")
	sum := reqs.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for i, route := range []string{"/checkout", "/cart"} {
		dp := sum.DataPoints().AppendEmpty()
		dp.SetTimestamp(ts(time.Duration(i) * time.Millisecond))
		dp.SetIntValue(int64(100 + i))
		dp.Attributes().PutStr("http.route", route)
	}

	inflight := sm.Metrics().AppendEmpty()
	inflight.SetName("http.server.active")
	g := inflight.SetEmptyGauge().DataPoints().AppendEmpty()
	g.SetTimestamp(ts(500 * time.Millisecond)) // same second as /checkout above
	g.SetDoubleValue(3.5)
	g.Attributes().PutStr("http.route", "/checkout")

	lat := sm.Metrics().AppendEmpty()
	lat.SetName("http.server.duration")
	h := lat.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	hp := h.DataPoints().AppendEmpty()
	hp.SetTimestamp(ts(2 * time.Second))
	hp.SetCount(4)
	hp.SetSum(40)
	hp.SetMin(2)
	hp.SetMax(20)
	hp.ExplicitBounds().FromRaw([]float64{5, 10})
	hp.BucketCounts().FromRaw([]uint64{1, 2, 1})
	hp.Attributes().PutStr("http.route", "/checkout")

	rt := sm.Metrics().AppendEmpty()
	rt.SetName("gc.pause")
	sp := rt.SetEmptySummary().DataPoints().AppendEmpty()
	sp.SetTimestamp(ts(2 * time.Second))
	sp.SetCount(2)
	sp.SetSum(3)
	for _, q := range [][2]float64{{0, 1}, {0.5, 1.5}, {0.99, 1.9}, {1, 2}} {
		qv := sp.QuantileValues().AppendEmpty()
		qv.SetQuantile(q[0])
		qv.SetValue(q[1])
	}
	return md
}

// goldenEvent is the comparable form of a decoded event.
type goldenEvent struct {
	Dataset    string         `json:"dataset"`
	Time       string         `json:"time,omitempty"`
	SampleRate int64          `json:"samplerate"`
	Data       map[string]any `json:"data"`
}

func decodeBatches(t *testing.T, f Format, batches []*Batch) []goldenEvent {
	t.Helper()
	var out []goldenEvent
	for _, b := range batches {
		var evs []hcsink.Event
		var err error
		if f == FormatMsgpack {
			evs, err = hcsink.DecodeMsgpack(b.Body)
		} else {
			require.True(t, json.Valid(b.Body), "batch body must be valid JSON")
			evs, err = hcsink.DecodeJSON(b.Body)
		}
		require.NoError(t, err)
		require.Len(t, evs, b.Len())
		for _, ev := range evs {
			g := goldenEvent{Dataset: b.Dataset, SampleRate: ev.SampleRate, Data: ev.Data}
			if ev.HasTime {
				g.Time = ev.Time.Format(time.RFC3339Nano)
			}
			out = append(out, g)
		}
	}
	return out
}

// normalizeJSON round-trips through JSON so that numbers compare equal
// whichever decoder produced them.
func normalizeJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var out any
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

func runGolden(t *testing.T, name string, input []byte, mapFn func(*Mapper)) {
	for _, f := range []Format{FormatJSON, FormatMsgpack} {
		b := NewBatcher(f, goldenLimits, nil)
		m := NewMapper(goldenCfg, b)
		mapFn(m)
		got := decodeBatches(t, f, b.Finish())
		// Golden files stay inside testdata.
		root, err := os.OpenRoot("testdata")
		require.NoError(t, err)
		path := filepath.Join(name, "expected.json")
		if *update && f == FormatJSON {
			require.NoError(t, root.MkdirAll(name, 0o750))
			out, merr := json.MarshalIndent(got, "", "  ")
			require.NoError(t, merr)
			require.NoError(t, root.WriteFile(path, append(out, '\n'), 0o600))
			require.NoError(t, root.WriteFile(filepath.Join(name, "input.json"), input, 0o600))
		}
		raw, err := root.ReadFile(path)
		require.NoError(t, root.Close())
		require.NoError(t, err)
		var want any
		require.NoError(t, json.Unmarshal(raw, &want))
		require.Equal(t, want, normalizeJSON(t, got), "format %d", f)
	}
}

func TestGoldenTraces(t *testing.T) {
	td := goldenTraces()
	if !*update {
		raw, err := os.ReadFile(filepath.Join("testdata", "traces", "input.json"))
		require.NoError(t, err)
		td, err = (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(raw)
		require.NoError(t, err)
	}
	input, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	runGolden(t, "traces", input, func(m *Mapper) { m.Traces(td) })
}

func TestGoldenLogs(t *testing.T) {
	ld := goldenLogs()
	if !*update {
		raw, err := os.ReadFile(filepath.Join("testdata", "logs", "input.json"))
		require.NoError(t, err)
		ld, err = (&plog.JSONUnmarshaler{}).UnmarshalLogs(raw)
		require.NoError(t, err)
	}
	input, err := (&plog.JSONMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)
	runGolden(t, "logs", input, func(m *Mapper) { m.Logs(ld) })
}

func TestGoldenMetrics(t *testing.T) {
	md := goldenMetrics()
	if !*update {
		raw, err := os.ReadFile(filepath.Join("testdata", "metrics", "input.json"))
		require.NoError(t, err)
		md, err = (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(raw)
		require.NoError(t, err)
	}
	input, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
	require.NoError(t, err)
	runGolden(t, "metrics", input, func(m *Mapper) { m.Metrics(md) })
}
