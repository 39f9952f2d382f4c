// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package events

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The cases below are the rows of the comparison with Honeycomb's own OTLP
// translation (github.com/honeycombio/husky, otlp/traces.go TranslateTraceRequest,
// otlp/traces_direct.go, otlp/logs.go TranslateLogsRequest, otlp/common.go).
// Each expected value is read off that code, not off this exporter's output;
// the source is named per case. Every case runs in both encodings.

// rowEvent picks one event of a case's output and states what it must hold.
type rowEvent struct {
	// pick selects the event: by name, or by meta.annotation_type when
	// annotation is set.
	name       string
	annotation string
	dataset    string
	sampleRate int64 // 0: not checked
	fields     map[string]any
	absent     []string
}

type huskyRow struct {
	name   string
	source string
	cfg    Config
	traces func() ptrace.Traces
	logs   func() plog.Logs
	want   []rowEvent
}

func oneSpan(setup func(ptrace.ResourceSpans, ptrace.ScopeSpans, ptrace.Span)) func() ptrace.Traces {
	return func() ptrace.Traces {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "svc")
		ss := rs.ScopeSpans().AppendEmpty()
		span := ss.Spans().AppendEmpty()
		span.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
		span.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
		span.SetName("op")
		span.SetStartTimestamp(ts(0))
		span.SetEndTimestamp(ts(4 * time.Millisecond))
		setup(rs, ss, span)
		return td
	}
}

func oneLog(setup func(plog.ResourceLogs, plog.ScopeLogs, plog.LogRecord)) func() plog.Logs {
	return func() plog.Logs {
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", "svc")
		sl := rl.ScopeLogs().AppendEmpty()
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(ts(0))
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		setup(rl, sl, lr)
		return ld
	}
}

var huskyRows = []huskyRow{
	{
		name:   "exception span event copied onto the span, never over a span attribute",
		source: "traces.go: sevent.Name == \"exception\": message/type/stacktrace via GetStringValue, escaped via GetBoolValue, only if not present",
		traces: oneSpan(func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
			s.Attributes().PutStr("exception.type", "from-span")
			e1 := s.Events().AppendEmpty()
			e1.SetName("exception")
			e1.SetTimestamp(ts(time.Millisecond))
			e1.Attributes().PutStr("exception.message", "first")
			e1.Attributes().PutStr("exception.type", "FirstError")
			e1.Attributes().PutBool("exception.escaped", true)
			e1.Attributes().PutStr("other", "not copied")
			e2 := s.Events().AppendEmpty()
			e2.SetName("exception")
			e2.SetTimestamp(ts(2 * time.Millisecond))
			e2.Attributes().PutStr("exception.message", "second")
			e2.Attributes().PutStr("exception.stacktrace", "at main()")
			e3 := s.Events().AppendEmpty()
			e3.SetName("log")
			e3.Attributes().PutStr("exception.message", "not an exception event")
		}),
		want: []rowEvent{{
			name: "op",
			fields: map[string]any{
				"exception.message":    "first",
				"exception.type":       "from-span",
				"exception.escaped":    true,
				"exception.stacktrace": "at main()", // the loop fills keys still absent
			},
			absent: []string{"other"},
		}},
	},
	{
		name:   "sampleRate is read before SampleRate",
		source: "common.go getSampleRateKey: sampleRate, then SampleRate; the key used is deleted",
		traces: oneSpan(func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
			s.Attributes().PutInt("sampleRate", 7)
			s.Attributes().PutInt("SampleRate", 3)
		}),
		want: []rowEvent{{name: "op", sampleRate: 7, fields: map[string]any{"SampleRate": 3}, absent: []string{"sampleRate"}}},
	},
	{
		name:   "sampleRate on the resource beats SampleRate on the span",
		source: "traces.go: resource, scope and span attributes merged into one map before getSampleRate",
		traces: oneSpan(func(rs ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
			rs.Resource().Attributes().PutStr("sampleRate", "5")
			s.Attributes().PutInt("SampleRate", 3)
			s.TraceState().FromRaw("ot=th:8")
		}),
		want: []rowEvent{{name: "op", sampleRate: 5, fields: map[string]any{"SampleRate": 3}, absent: []string{"sampleRate"}}},
	},
	{
		name:   "a sample-rate attribute that does not parse is rate 1, and tracestate is not consulted",
		source: "common.go getSampleRateFromHoneycombAttribute returns (rate, true) once the key exists",
		traces: oneSpan(func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
			s.Attributes().PutStr("SampleRate", "often")
			s.TraceState().FromRaw("ot=th:c")
		}),
		want: []rowEvent{{name: "op", sampleRate: 1, absent: []string{"SampleRate"}}},
	},
	{
		name:   "legacy tracestate th=8",
		source: "common.go getSampleRateFromOTelSamplingThreshold: fallback th=value pairs; 1/(1-0.5) = 2",
		traces: oneSpan(func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
			s.TraceState().FromRaw("th=8")
		}),
		want: []rowEvent{{name: "op", sampleRate: 2, fields: map[string]any{"trace.trace_state": "th=8"}}},
	},
	{
		name:   "arrays, bytes and deep maps as JSON strings without HTML escaping",
		source: "common.go addAttributeToMapAsJson: json Encoder, SetEscapeHTML(false), trailing newline; maxDepth 5",
		traces: oneSpan(func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
			fromRaw(s.Attributes().PutEmptySlice("list"), []any{"a<b&c>", int64(1), true})
			s.Attributes().PutEmptyBytes("raw").FromRaw([]byte{0x01, 0xff})
			m := s.Attributes().PutEmptyMap("d")
			for _, k := range []string{"l1", "l2", "l3", "l4", "l5"} {
				m = m.PutEmptyMap(k)
			}
			m.PutStr("x", "<&>")
		}),
		want: []rowEvent{{name: "op", fields: map[string]any{
			"list":             "[\"a<b&c>\",1,true]\n",
			"raw":              "\"Af8=\"\n",
			"d.l1.l2.l3.l4.l5": "{\"x\":\"<&>\"}\n",
		}}},
	},
	{
		name:   "an array holding NaN is left out",
		source: "common.go addAttributeToMapAsJson: an Encode error returns before the field is set",
		traces: oneSpan(func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
			fromRaw(s.Attributes().PutEmptySlice("bad"), []any{1.5, math.NaN()})
			s.Attributes().PutStr("good", "kept")
		}),
		want: []rowEvent{{name: "op", fields: map[string]any{"good": "kept"}, absent: []string{"bad"}}},
	},
	{
		name:   "span events carry the time since span start",
		source: "traces_direct.go: meta.time_since_span_start_ms; before the start: 0 and meta.invalid_time_since_span_start",
		traces: oneSpan(func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
			s.SetStartTimestamp(ts(time.Second))
			s.SetEndTimestamp(ts(2 * time.Second))
			late := s.Events().AppendEmpty()
			late.SetName("late")
			late.SetTimestamp(ts(time.Second + 2500*time.Microsecond))
			early := s.Events().AppendEmpty()
			early.SetName("early")
			early.SetTimestamp(ts(0))
		}),
		want: []rowEvent{
			{name: "late", fields: map[string]any{"meta.time_since_span_start_ms": 2.5}, absent: []string{"meta.invalid_time_since_span_start"}},
			{name: "early", fields: map[string]any{"meta.time_since_span_start_ms": 0, "meta.invalid_time_since_span_start": true}},
		},
	},
	{
		name:   "end before start",
		source: "traces_direct.go: durationMs = 0, meta.invalid_duration = true",
		traces: oneSpan(func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
			s.SetStartTimestamp(ts(time.Second))
			s.SetEndTimestamp(ts(0))
		}),
		want: []rowEvent{{name: "op", fields: map[string]any{"duration_ms": 0, "meta.invalid_duration": true}}},
	},
	{
		name:   "schema URLs of resource and scope",
		source: "traces.go, logs.go: resource.schema_url, scope.schema_url",
		traces: oneSpan(func(rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, _ ptrace.Span) {
			rs.SetSchemaUrl("https://opentelemetry.io/schemas/1.26.0")
			ss.SetSchemaUrl("https://opentelemetry.io/schemas/1.24.0")
		}),
		want: []rowEvent{{name: "op", fields: map[string]any{
			"resource.schema_url": "https://opentelemetry.io/schemas/1.26.0",
			"scope.schema_url":    "https://opentelemetry.io/schemas/1.24.0",
		}}},
	},
	{
		name:   "telemetry.instrumentation_library for Honeycomb's and the collector's scopes",
		source: "common.go instrumentationLibraryPrefixes: @honeycombio/, github.com/open-telemetry/opentelemetry-collector",
		traces: func() ptrace.Traces {
			td := oneSpan(func(_ ptrace.ResourceSpans, ss ptrace.ScopeSpans, _ ptrace.Span) {
				ss.Scope().SetName("@honeycombio/opentelemetry-web")
			})()
			rs := td.ResourceSpans().At(0)
			for _, scope := range []string{"github.com/open-telemetry/opentelemetry-collector/processor/batchprocessor", "shop.checkout"} {
				ss := rs.ScopeSpans().AppendEmpty()
				ss.Scope().SetName(scope)
				sp := ss.Spans().AppendEmpty()
				sp.SetName(scope)
			}
			return td
		},
		want: []rowEvent{
			{name: "op", fields: map[string]any{"telemetry.instrumentation_library": true, "library.name": "@honeycombio/opentelemetry-web"}},
			{name: "github.com/open-telemetry/opentelemetry-collector/processor/batchprocessor", fields: map[string]any{"telemetry.instrumentation_library": true}},
			{name: "shop.checkout", absent: []string{"telemetry.instrumentation_library"}},
		},
	},
	{
		name:   "error on span events and links of an error span wins over an error attribute",
		source: "traces.go: attrs[\"error\"] = true after AddAttributesToMap for span events and links",
		traces: oneSpan(func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
			s.Status().SetCode(ptrace.StatusCodeError)
			ev := s.Events().AppendEmpty()
			ev.SetName("retry")
			ev.SetTimestamp(ts(time.Millisecond))
			ev.Attributes().PutBool("error", false)
			link := s.Links().AppendEmpty()
			link.SetTraceID(pcommon.TraceID{9})
			link.SetSpanID(pcommon.SpanID{9})
			link.Attributes().PutBool("error", false)
		}),
		want: []rowEvent{
			{name: "retry", fields: map[string]any{"error": true}},
			{annotation: "link", fields: map[string]any{"error": true}},
			{name: "op", fields: map[string]any{"error": true}},
		},
	},
	{
		name:   "map log body: flattened and whole as an unescaped JSON string; schema URLs on logs",
		source: "logs.go: addAttributeToMap(body), then addAttributeToMapAsJson when body is unset",
		logs: oneLog(func(rl plog.ResourceLogs, sl plog.ScopeLogs, lr plog.LogRecord) {
			rl.SetSchemaUrl("https://opentelemetry.io/schemas/1.26.0")
			sl.SetSchemaUrl("https://opentelemetry.io/schemas/1.25.0")
			body := lr.Body().SetEmptyMap()
			body.PutStr("msg", "a<b&c>")
			body.PutInt("n", 2)
		}),
		want: []rowEvent{{
			fields: map[string]any{
				"body":                "{\"msg\":\"a<b&c>\",\"n\":2}\n",
				"body.msg":            "a<b&c>",
				"body.n":              2,
				"resource.schema_url": "https://opentelemetry.io/schemas/1.26.0",
				"scope.schema_url":    "https://opentelemetry.io/schemas/1.25.0",
			},
		}},
	},
	{
		name:   "array log body as a JSON string",
		source: "logs.go: addAttributeToMap(body) of an array sets body to its JSON",
		logs: oneLog(func(_ plog.ResourceLogs, _ plog.ScopeLogs, lr plog.LogRecord) {
			fromRaw(lr.Body().SetEmptySlice(), []any{"x>y"})
			lr.Attributes().PutInt("sampleRate", 4)
		}),
		want: []rowEvent{{sampleRate: 4, fields: map[string]any{"body": "[\"x>y\"]\n"}, absent: []string{"sampleRate"}}},
	},
	{
		name:   "logs without service.name go to the unknown dataset of logs",
		source: "common.go getLogsDataset: unknown_log_source (the exporter passes it as the logs' unknown dataset)",
		cfg:    Config{UnknownDataset: "unknown_log_source"},
		logs: oneLog(func(rl plog.ResourceLogs, _ plog.ScopeLogs, _ plog.LogRecord) {
			rl.Resource().Attributes().Remove("service.name")
		}),
		want: []rowEvent{{dataset: "unknown_log_source"}},
	},
	{
		name:   "a service.name with a slash becomes a dataset the Events API accepts",
		source: "docs.honeycomb.io Create Events: names may not contain (URL-encoded) slashes; slugs replace them with -",
		traces: oneSpan(func(rs ptrace.ResourceSpans, _ ptrace.ScopeSpans, _ ptrace.Span) {
			rs.Resource().Attributes().PutStr("service.name", " shop/checkout ")
		}),
		want: []rowEvent{{name: "op", dataset: "shop-checkout", fields: map[string]any{"service.name": " shop/checkout "}}},
	},
}

func TestHuskyRows(t *testing.T) {
	for _, row := range huskyRows {
		t.Run(row.name, func(t *testing.T) {
			for _, f := range []Format{FormatJSON, FormatMsgpack} {
				cfg := row.cfg
				if cfg.UnknownDataset == "" {
					cfg.UnknownDataset = "unknown_service"
				}
				b := NewBatcher(f, goldenLimits, nil)
				m := NewMapper(cfg, b)
				if row.traces != nil {
					m.Traces(row.traces())
				} else {
					m.Logs(row.logs())
				}
				got := decodeBatches(t, f, b.Finish())
				for _, w := range row.want {
					ev := pickEvent(t, got, w)
					if ev == nil {
						continue
					}
					if w.dataset != "" {
						assert.Equal(t, w.dataset, ev.Dataset, "format %d (%s)", f, row.source)
					}
					if w.sampleRate != 0 {
						assert.Equal(t, w.sampleRate, ev.SampleRate, "format %d (%s)", f, row.source)
					}
					data := normalizeJSON(t, ev.Data).(map[string]any)
					for k, v := range w.fields {
						assert.Equal(t, normalizeJSON(t, v), data[k], "field %s, format %d (%s)", k, f, row.source)
					}
					for _, k := range w.absent {
						assert.NotContains(t, data, k, "format %d (%s)", f, row.source)
					}
				}
			}
		})
	}
}

func pickEvent(t *testing.T, evs []goldenEvent, w rowEvent) *goldenEvent {
	t.Helper()
	for i := range evs {
		d := evs[i].Data
		switch {
		case w.annotation != "":
			if d["meta.annotation_type"] == w.annotation {
				return &evs[i]
			}
		case w.name != "":
			if d["name"] == w.name {
				return &evs[i]
			}
		default:
			return &evs[i]
		}
	}
	t.Errorf("no event %q/%q among %d", w.name, w.annotation, len(evs))
	return nil
}

// TestThresholdRandomisationIsUnbiased: th:5 means probability 11/16, so
// adjusted count 16/11 = 1.4545; the whole rates (1 or 2) of 10,000 spans
// must average to it within 1 % (the standard error is 0.35 %), for several
// seeds of the mapper's random source.
func TestThresholdRandomisationIsUnbiased(t *testing.T) {
	const n = 10_000
	td := ptrace.NewTraces()
	spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	for i := range n {
		s := spans.AppendEmpty()
		s.SetSpanID(pcommon.SpanID{byte(i), byte(i >> 8), 1})
		s.SetName("op")
		s.TraceState().FromRaw("ot=th:5")
	}
	want := 16.0 / 11
	for seed := uint64(1); seed <= 5; seed++ {
		b := NewBatcher(FormatJSON, goldenLimits, nil)
		m := NewMapper(goldenCfg, b)
		m.rnd = rand.New(rand.NewPCG(seed, seed*7919))
		m.Traces(td)
		evs := decodeBatches(t, FormatJSON, b.Finish())
		require.Len(t, evs, n)
		var sum int64
		seen := map[int64]int{}
		for _, ev := range evs {
			sum += ev.SampleRate
			seen[ev.SampleRate]++
		}
		assert.Len(t, seen, 2, "only floor and ceil: %v", seen)
		assert.Positive(t, seen[1])
		assert.Positive(t, seen[2])
		mean := float64(sum) / n
		assert.InDelta(t, want, mean, want*0.01, "seed %d: mean %.4f", seed, mean)
	}
}

// fromRaw fills a slice attribute from Go values; the rows use only types
// FromRaw takes, so an error is a mistake in the row.
func fromRaw(s pcommon.Slice, raw []any) {
	if err := s.FromRaw(raw); err != nil {
		panic(err)
	}
}
