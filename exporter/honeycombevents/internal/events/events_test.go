// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package events

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/hcsink"
)

func TestJSONStringEscaping(t *testing.T) {
	for _, s := range []string{"", "plain", `quo"te`, `back\slash`, "new\nline\ttab\r", "\x00\x1f ctrl", "héllo 世界", "bad \xff utf8", "\u2028"} {
		out := appendJSONString(nil, s)
		require.True(t, json.Valid(out), "%q -> %s", s, out)
		var back string
		require.NoError(t, json.Unmarshal(out, &back))
		assert.Equal(t, replaceInvalidBytes(s), back)
	}
}

func TestJSONFloat(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{{1.5, "1.5"}, {3, "3"}, {1e21, "1e+21"}, {1e-7, "1e-07"}, {math.NaN(), "null"}, {math.Inf(1), "null"}, {-0.25, "-0.25"}} {
		assert.Equal(t, tc.want, string(appendJSONFloat(nil, tc.in)))
	}
}

func TestEventEncodingRoundTrip(t *testing.T) {
	ev := Event{
		TimeUnixNano: time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC).UnixNano(),
		SampleRate:   7,
		Fields: []Field{
			strField("s", "v", false), intField("small", 5, false), intField("neg", -20, false),
			intField("mid", 1<<20, false), intField("big", 1<<40, false), intField("vneg", -1<<40, false),
			floatField("f", 2.25, false), boolField("t", true, false), boolField("f2", false, false),
			traceIDField("tid", [16]byte{15: 1}), spanIDField("sid", [8]byte{1, 2, 3, 4, 5, 6, 7, 8}),
			strField("long", strings.Repeat("x", 300), false), strField("huge", strings.Repeat("y", 70000), false),
		},
	}
	want := map[string]any{
		"s": "v", "small": int64(5), "neg": int64(-20), "mid": int64(1 << 20), "big": int64(1 << 40), "vneg": int64(-1 << 40),
		"f": 2.25, "t": true, "f2": false, "tid": "0000000000000001", "sid": "0102030405060708",
		"long": strings.Repeat("x", 300), "huge": strings.Repeat("y", 70000),
	}
	for _, f := range []Format{FormatJSON, FormatMsgpack} {
		body := AppendEvent(nil, f, &ev)
		var evs []hcsink.Event
		var err error
		if f == FormatJSON {
			evs, err = hcsink.DecodeJSON(append(append([]byte{'['}, body...), ']'))
		} else {
			evs, err = hcsink.DecodeMsgpack(append([]byte{0x91}, body...))
		}
		require.NoError(t, err)
		require.Len(t, evs, 1)
		assert.Equal(t, want, evs[0].Data)
		assert.Equal(t, int64(7), evs[0].SampleRate)
		assert.True(t, evs[0].HasTime)
		assert.Equal(t, ev.TimeUnixNano, evs[0].Time.UnixNano())
	}
}

func TestMsgpackTimeForms(t *testing.T) {
	for _, tm := range []time.Time{
		time.Unix(1700000000, 0),                    // timestamp32
		time.Unix(1700000000, 5),                    // timestamp64
		time.Date(1960, 1, 1, 0, 0, 0, 1, time.UTC), // negative seconds
		time.Unix(1<<33, 999_999_999),               // timestamp64 near its top
	} {
		b := appendMsgpackTime(nil, tm.UnixNano())
		var got time.Time
		require.NoError(t, msgpack.Unmarshal(b, &got))
		assert.True(t, tm.Equal(got), "want %v got %v", tm, got)
	}
}

func TestMsgpackIntForms(t *testing.T) {
	for _, v := range []int64{
		0, 1, 127, // positive fixint
		-1, -32, // negative fixint
		128, -33, math.MaxInt32, math.MinInt32, // int32
		math.MaxInt32 + 1, math.MinInt32 - 1, math.MaxInt64, math.MinInt64, // int64
	} {
		var got int64
		require.NoError(t, msgpack.Unmarshal(appendMsgpackInt(nil, v), &got))
		assert.Equal(t, v, got)
		f := intField("n", v, false)
		assert.Equal(t, v, f.Int(), "stored in Field.Num and read back")
	}
	assert.Equal(t, []byte{0xe0}, appendMsgpackInt(nil, -32))
	assert.Equal(t, []byte{0xff}, appendMsgpackInt(nil, -1))
	assert.Equal(t, []byte{0xd2, 0xff, 0xff, 0xff, 0xdf}, appendMsgpackInt(nil, -33))
}

func TestOmitsTimeAndUnitSampleRate(t *testing.T) {
	ev := Event{SampleRate: 1, Fields: []Field{strField("a", "b", false)}}
	assert.JSONEq(t, `{"data":{"a":"b"}}`, string(AppendEvent(nil, FormatJSON, &ev)))
}

// Expected counts worked out by hand from the OTel sampling spec: the
// threshold is right-padded to 14 hex digits, count = 2^56 / (2^56 - th).
// Where the member is found follows Honeycomb's ingest (husky
// otlp/common.go getSampleRateFromOTelSamplingThreshold).
func TestAdjustedCountFromTraceState(t *testing.T) {
	for _, tc := range []struct {
		ts   string
		want float64 // 0: no threshold
	}{
		{"ot=th:0", 1},
		{"ot=th:8", 2},
		{"ot=th:c", 4},
		{"ot=th:fc", 64},
		{"ot=th:5", 16.0 / 11},
		{"ot=rv:abcdef12345678;th:e", 8},
		{"vendor=a,ot=th:8", 2},
		{"vendor=a, ot=th:8", 2}, // W3C optional white space (husky would miss it)
		{"th=8", 2},              // legacy form
		{"th=c;rv=1", 4},         // legacy form, pairs split at ";"
		{"a=b,th=8", 0},          // legacy form only as a ";" pair, as husky reads it
		{"ot=rv:1", 0},
		{"vendor=th:8", 0},
		{"ot=th:", 0},
		{"ot=th:xyz", 0},
		{"ot=th:123456789abcdef0", 0}, // more than 14 digits
		{"", 0},
	} {
		got, ok := AdjustedCountFromTraceState(tc.ts)
		if tc.want == 0 {
			assert.False(t, ok, tc.ts)
			continue
		}
		assert.True(t, ok, tc.ts)
		assert.InDelta(t, tc.want, got, 1e-12, tc.ts)
	}
}

func TestWholeSampleRate(t *testing.T) {
	never := func() float64 { return 0.999999 }
	always := func() float64 { return 0 }
	assert.Equal(t, int64(1), wholeSampleRate(16.0/11, never))
	assert.Equal(t, int64(2), wholeSampleRate(16.0/11, always))
	assert.Equal(t, int64(4), wholeSampleRate(4, always), "whole counts are not randomized")
	assert.Equal(t, int64(128), wholeSampleRate(128.9, always), "over 100: truncated, as husky")
	assert.Equal(t, int64(math.MaxInt32), wholeSampleRate(float64(1<<56), always), "clamped to int32")
}

// Expected values from husky's getSampleRateFromAnyValue: ints as they are,
// floats and strings (strconv.ParseFloat, no trimming) rounded half up,
// everything else or <= 0 is 1.
func TestSampleRateFieldTypes(t *testing.T) {
	for _, tc := range []struct {
		f    Field
		want int64
	}{
		{intField("r", 5, false), 5},
		{floatField("r", 2.6, false), 3},
		{floatField("r", 2.4, false), 2},
		{floatField("r", 2.5, false), 3},
		{strField("r", " 12 ", false), 1},
		{strField("r", "3.0", false), 3},
		{strField("r", "7", false), 7},
		{strField("r", "many", false), 1},
		{strField("r", "NaN", false), 1},
		{intField("r", 0, false), 1},
		{intField("r", -3, false), 1},
		{intField("r", 1<<40, false), math.MaxInt32},
		{floatField("r", 3e10, false), math.MaxInt32},
		{boolField("r", true, false), 1},
	} {
		assert.Equal(t, tc.want, sampleRateOfField(&tc.f), "%v", tc.f.Value())
	}
}

func mapOneSpan(t *testing.T, cfg Config, limits Limits, setup func(ptrace.Span, pcommon.Resource)) (*Batcher, []goldenEvent) {
	t.Helper()
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetTraceID(pcommon.TraceID{1})
	span.SetSpanID(pcommon.SpanID{2})
	span.SetName("op")
	span.SetStartTimestamp(ts(0))
	span.SetEndTimestamp(ts(time.Millisecond))
	setup(span, rs.Resource())
	b := NewBatcher(FormatJSON, limits, nil)
	NewMapper(cfg, b).Traces(td)
	return b, decodeBatches(t, FormatJSON, b.Finish())
}

func TestAttributePrecedenceAndDedupe(t *testing.T) {
	_, evs := mapOneSpan(t, goldenCfg, goldenLimits, func(s ptrace.Span, r pcommon.Resource) {
		r.Attributes().PutStr("name", "resource-wins-over-mapped")
		r.Attributes().PutStr("k", "resource")
		s.Attributes().PutStr("k", "span")
		s.Attributes().PutEmptyMap("a").PutStr("b", "nested")
		s.Attributes().PutStr("a.b", "flat")
	})
	require.Len(t, evs, 1)
	assert.Equal(t, "resource-wins-over-mapped", evs[0].Data["name"])
	assert.Equal(t, "span", evs[0].Data["k"])
	assert.Contains(t, []any{"nested", "flat"}, evs[0].Data["a.b"])
}

func TestDatasetSelection(t *testing.T) {
	for _, tc := range []struct {
		cfg     Config
		service string
		want    string
	}{
		{Config{UnknownDataset: "fallback"}, "checkout", "checkout"},
		{Config{UnknownDataset: "fallback"}, "  spaced  ", "spaced"},
		{Config{UnknownDataset: "fallback"}, "unknown_service:java", "fallback"},
		{Config{UnknownDataset: "fallback"}, "", "fallback"},
		{Config{Dataset: "fixed", UnknownDataset: "fallback"}, "checkout", "fixed"},
	} {
		_, evs := mapOneSpan(t, tc.cfg, goldenLimits, func(_ ptrace.Span, r pcommon.Resource) {
			if tc.service != "" {
				r.Attributes().PutStr("service.name", tc.service)
			}
		})
		require.Len(t, evs, 1)
		assert.Equal(t, tc.want, evs[0].Dataset)
	}
}

func TestSampleRatePrecedence(t *testing.T) {
	_, evs := mapOneSpan(t, goldenCfg, goldenLimits, func(s ptrace.Span, r pcommon.Resource) {
		r.Attributes().PutInt("SampleRate", 3)
		s.TraceState().FromRaw("ot=th:8")
	})
	assert.Equal(t, int64(3), evs[0].SampleRate, "attribute (here on the resource) beats tracestate")
	assert.NotContains(t, evs[0].Data, "SampleRate")

	_, evs = mapOneSpan(t, Config{UnknownDataset: "u", SampleRateAttribute: "rate"}, goldenLimits, func(s ptrace.Span, _ pcommon.Resource) {
		s.Attributes().PutStr("rate", "20")
		s.Attributes().PutInt("SampleRate", 5)
	})
	assert.Equal(t, int64(20), evs[0].SampleRate)
	assert.NotContains(t, evs[0].Data, "rate")
	assert.Equal(t, int64(5), evs[0].Data["SampleRate"], "only the configured attribute is consumed")
}

func TestTooManyFieldsTrimsAttributes(t *testing.T) {
	limits := goldenLimits
	limits.MaxFields = 20
	b, evs := mapOneSpan(t, goldenCfg, limits, func(s ptrace.Span, _ pcommon.Resource) {
		for i := range 30 {
			s.Attributes().PutInt("attr."+string(rune('a'+i%26))+string(rune('a'+i/26)), int64(i))
		}
	})
	require.Len(t, evs, 1)
	assert.Len(t, evs[0].Data, 20)
	assert.Equal(t, "op", evs[0].Data["name"], "mapped fields survive")
	assert.Equal(t, 1, b.Stats.Trimmed[ReasonTooManyFields])
	assert.Zero(t, b.Stats.RefusedFor(ReasonTooManyFields))
}

func TestTooManyFixedFieldsRefused(t *testing.T) {
	b := NewBatcher(FormatJSON, Limits{MaxBatchBytes: 10000, MaxEventBytes: 5000, MaxFields: 2}, nil)
	ev := Event{SampleRate: 1, Fields: []Field{strField("a", "1", true), strField("b", "2", true), strField("c", "3", true)}}
	r, ok := b.Add("d", &ev, 0)
	assert.False(t, ok)
	assert.Equal(t, ReasonTooManyFields, r)
	assert.Equal(t, 1, b.Stats.RefusedFor(ReasonTooManyFields))
	assert.Empty(t, b.Finish())
}

func TestRefusalsCountedPerDatasetAndReason(t *testing.T) {
	b := NewBatcher(FormatJSON, Limits{MaxBatchBytes: 10000, MaxEventBytes: 1024, MaxFields: 2}, nil)
	tooMany := func() *Event {
		return &Event{SampleRate: 1, Fields: []Field{strField("a", "1", true), strField("b", "2", true), strField("c", "3", true)}}
	}
	tooLarge := func() *Event {
		return &Event{SampleRate: 1, Fields: []Field{strField("name", strings.Repeat("n", 2000), true)}}
	}
	ok := &Event{SampleRate: 1, Fields: []Field{strField("a", "1", true)}}
	// shop: 2 too many fields, 1 too large; cart: 1 too many fields; 1 kept.
	for _, add := range []struct {
		dataset string
		ev      *Event
	}{{"shop", tooMany()}, {"cart", tooMany()}, {"shop", tooLarge()}, {"shop", tooMany()}, {"shop", ok}} {
		b.Add(add.dataset, add.ev, 0)
	}
	assert.Equal(t, []Refusal{
		{Dataset: "shop", Reason: ReasonTooManyFields, Events: 2},
		{Dataset: "cart", Reason: ReasonTooManyFields, Events: 1},
		{Dataset: "shop", Reason: ReasonEventTooLarge, Events: 1},
	}, b.Stats.Refused)
	assert.Equal(t, 3, b.Stats.RefusedFor(ReasonTooManyFields))
	assert.Equal(t, 5, b.Stats.Events)

	b.Reset()
	assert.Empty(t, b.Stats.Refused, "Reset starts the counts over")
	assert.Zero(t, b.Stats.Events)
}

func TestOversizedEventTruncatesLargestStrings(t *testing.T) {
	limits := Limits{MaxBatchBytes: 100_000, MaxEventBytes: 4000, MaxFields: 2000}
	b, evs := mapOneSpan(t, goldenCfg, limits, func(s ptrace.Span, _ pcommon.Resource) {
		s.Attributes().PutStr("big", strings.Repeat("b", 10_000))
		s.Attributes().PutStr("medium", strings.Repeat("m", 1_500))
		s.Attributes().PutStr("small", "keep me")
	})
	require.Len(t, evs, 1)
	assert.Equal(t, "keep me", evs[0].Data["small"])
	big := evs[0].Data["big"].(string)
	assert.Less(t, len(big), 4000)
	assert.Equal(t, 1, b.Stats.Trimmed[ReasonEventTooLarge])
	encoded := AppendEvent(nil, FormatJSON, &Event{SampleRate: 1, Fields: nil})
	assert.NotEmpty(t, encoded)
}

func TestOversizedEventDropsFieldsThenRefuses(t *testing.T) {
	limits := Limits{MaxBatchBytes: 100_000, MaxEventBytes: 1024, MaxFields: 2000}
	// Many small non-string fields: truncation cannot help, dropping does.
	b, evs := mapOneSpan(t, goldenCfg, limits, func(s ptrace.Span, _ pcommon.Resource) {
		for i := range 200 {
			s.Attributes().PutInt(strings.Repeat("k", 10)+string(rune('A'+i%50))+string(rune('A'+i/50)), int64(i))
		}
	})
	require.Len(t, evs, 1)
	assert.Equal(t, "op", evs[0].Data["name"])
	assert.Equal(t, 1, b.Stats.Trimmed[ReasonEventTooLarge])

	// Fixed fields alone over the limit: refused.
	b = NewBatcher(FormatJSON, limits, nil)
	ev := Event{SampleRate: 1, Fields: []Field{strField("name", strings.Repeat("n", 2000), true)}}
	r, ok := b.Add("d", &ev, 0)
	assert.False(t, ok)
	assert.Equal(t, ReasonEventTooLarge, r)
	assert.Equal(t, 1, b.Stats.RefusedFor(ReasonEventTooLarge))
}

func TestLongStringsCutAt64KiB(t *testing.T) {
	b, evs := mapOneSpan(t, goldenCfg, goldenLimits, func(s ptrace.Span, _ pcommon.Resource) {
		s.Attributes().PutStr("huge", strings.Repeat("é", 40_000)) // 80,000 bytes
	})
	huge := evs[0].Data["huge"].(string)
	assert.LessOrEqual(t, len(huge), MaxStringBytes)
	assert.Greater(t, len(huge), MaxStringBytes-2)
	assert.Equal(t, strings.Repeat("é", len(huge)/2), huge, "cut on a rune boundary")
	assert.Equal(t, 1, b.Stats.Trimmed[ReasonStringTruncated])
}

func TestBatchesSplitUnderMaxBatchBytes(t *testing.T) {
	for _, f := range []Format{FormatJSON, FormatMsgpack} {
		limits := Limits{MaxBatchBytes: 4096, MaxEventBytes: 2048, MaxFields: 100}
		b := NewBatcher(f, limits, nil)
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "svc")
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		for i := range 100 {
			s := spans.AppendEmpty()
			s.SetTraceID(pcommon.TraceID{byte(i + 1)})
			s.SetSpanID(pcommon.SpanID{byte(i + 1)})
			s.SetName("op")
			s.Attributes().PutStr("payload", strings.Repeat("p", 200))
		}
		NewMapper(goldenCfg, b).Traces(td)
		batches := b.Finish()
		require.Greater(t, len(batches), 5)
		total := 0
		seen := map[int32]bool{}
		for _, bt := range batches {
			assert.LessOrEqual(t, len(bt.Body), limits.MaxBatchBytes)
			total += bt.Len()
			for _, it := range bt.Items {
				seen[it] = true
			}
		}
		assert.Equal(t, 100, total)
		assert.Len(t, seen, 100)
		evs := decodeBatches(t, f, batches)
		assert.Len(t, evs, 100)
	}
}

func TestBatcherResetReusesBuffers(t *testing.T) {
	b := NewBatcher(FormatJSON, goldenLimits, nil)
	m := NewMapper(goldenCfg, b)
	td := goldenTraces()
	m.Traces(td)
	first := decodeBatches(t, FormatJSON, b.Finish())
	m.Reset()
	m.Traces(td)
	second := decodeBatches(t, FormatJSON, b.Finish())
	assert.Equal(t, first, second)
}

func TestSubsets(t *testing.T) {
	td := goldenTraces()
	keep := NewItemSet(td.SpanCount())
	keep.Add(1)
	keep.Add(2)
	keep.Add(99) // ignored
	sub := SubsetTraces(td, keep)
	require.Equal(t, 2, sub.SpanCount())
	assert.Equal(t, "SELECT orders", sub.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Name())
	assert.Equal(t, "cron tick", sub.ResourceSpans().At(1).ScopeSpans().At(0).Spans().At(0).Name())
	sn, _ := sub.ResourceSpans().At(0).Resource().Attributes().Get("service.name")
	assert.Equal(t, "checkout", sn.Str())

	ld := goldenLogs()
	lk := NewItemSet(ld.LogRecordCount())
	lk.Add(1)
	subL := SubsetLogs(ld, lk)
	require.Equal(t, 1, subL.LogRecordCount())
	assert.Equal(t, "order.shipped", subL.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).EventName())

	md := goldenMetrics()
	b := NewBatcher(FormatJSON, goldenLimits, nil)
	m := NewMapper(goldenCfg, b)
	m.Metrics(md)
	require.Len(t, m.MetricGroups(), 4)
	mk := NewItemSet(md.DataPointCount())
	for _, dp := range m.MetricGroups()[0] { // /checkout at second 0: requests + active
		mk.Add(dp)
	}
	subM := SubsetMetrics(md, mk)
	require.Equal(t, 2, subM.DataPointCount())
	ms := subM.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	assert.Equal(t, "http.server.requests", ms.At(0).Name())
	assert.True(t, ms.At(0).Sum().IsMonotonic())
	assert.Equal(t, int64(100), ms.At(0).Sum().DataPoints().At(0).IntValue())
	assert.Equal(t, "http.server.active", ms.At(1).Name())
	assert.Equal(t, pmetric.MetricTypeGauge, ms.At(1).Type())
}

func TestLogTimestampFallsBackToObserved(t *testing.T) {
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetObservedTimestamp(ts(0))
	lr.Body().SetInt(42)
	b := NewBatcher(FormatJSON, goldenLimits, nil)
	NewMapper(goldenCfg, b).Logs(ld)
	evs := decodeBatches(t, FormatJSON, b.Finish())
	require.Len(t, evs, 1)
	assert.Equal(t, t0.Format(time.RFC3339Nano), evs[0].Time)
	assert.EqualValues(t, 42, evs[0].Data["body"])
}

func TestSinkReceivesFullBatchesEarlyAndTheyAreReused(t *testing.T) {
	limits := Limits{MaxBatchBytes: 4096, MaxEventBytes: 2048, MaxFields: 100}
	sink := &collectingSink{t: t, limit: limits.MaxBatchBytes, seen: map[*Batch]bool{}}
	b := NewBatcher(FormatJSON, limits, sink)
	td := ptrace.NewTraces()
	spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	for i := range 50 {
		s := spans.AppendEmpty()
		s.SetName(strings.Repeat("n", 10) + string(rune('a'+i%26)))
		s.Attributes().PutStr("payload", strings.Repeat("p", 300))
	}
	NewMapper(goldenCfg, b).Traces(td)
	rest := b.Finish()
	require.Len(t, rest, 1, "only the last, still open batch is left for Finish")
	assert.Equal(t, 50, len(sink.early)+rest[0].Len())
	assert.Greater(t, len(sink.early), 20)
	assert.LessOrEqual(t, len(sink.seen), 2, "full batches are reused, not accumulated")
}

// collectingSink decodes the batches the batcher sends early.
type collectingSink struct {
	t     *testing.T
	limit int
	seen  map[*Batch]bool
	early []goldenEvent
}

func (s *collectingSink) SendBatch(bt *Batch) {
	s.seen[bt] = true
	assert.LessOrEqual(s.t, len(bt.Body), s.limit)
	s.early = append(s.early, decodeBatches(s.t, FormatJSON, []*Batch{bt})...)
}

func TestTrimmingManyLargeStringsIsLinear(t *testing.T) {
	// 2,000 strings of 1,000 bytes (2 MB) into 1 MB: one planning round
	// cuts them all, instead of re-encoding once per string.
	limits := Limits{MaxBatchBytes: 5_000_000, MaxEventBytes: 1_000_000, MaxFields: 2000}
	b := NewBatcher(FormatJSON, limits, nil)
	ev := Event{SampleRate: 1, Fields: []Field{strField("name", "n", true)}}
	for i := range 1999 {
		ev.Fields = append(ev.Fields, strField(fmt.Sprintf("f%04d", i), strings.Repeat("x", 1000), false))
	}
	_, ok := b.Add("d", &ev, 0)
	require.True(t, ok)
	batches := b.Finish()
	require.Len(t, batches, 1)
	assert.LessOrEqual(t, len(batches[0].Body), limits.MaxEventBytes+2)
	assert.Equal(t, 1, b.Stats.Trimmed[ReasonEventTooLarge])
	evs := decodeBatches(t, FormatJSON, batches)
	assert.Len(t, evs[0].Data, 2000, "truncation sufficed: no field dropped")
}

func TestBatchSplitKeepsEveryEventOnce(t *testing.T) {
	for _, f := range []Format{FormatJSON, FormatMsgpack} {
		for _, n := range []int{2, 3, 7} {
			b := NewBatcher(f, goldenLimits, nil)
			for i := range n {
				ev := Event{SampleRate: int64(i + 1), TimeUnixNano: int64(i) * 1e9, Fields: []Field{strField("name", fmt.Sprintf("e%d", i), true), intField("i", int64(i), false)}}
				_, ok := b.Add("ds", &ev, int32(i*10))
				require.True(t, ok)
			}
			batches := b.Finish()
			require.Len(t, batches, 1)
			all := decodeBatches(t, f, batches)
			first, second := batches[0].Split(f)
			assert.Equal(t, n/2, first.Len())
			assert.Equal(t, n-n/2, second.Len())
			assert.Equal(t, "ds", second.Dataset)
			halves := decodeBatches(t, f, []*Batch{first, second})
			assert.Equal(t, all, halves, "format %d, %d events", f, n)
			assert.Equal(t, batches[0].Items, append(append([]int32{}, first.Items...), second.Items...))
			if n > 3 { // halves split again
				a, c := second.Split(f)
				assert.Equal(t, halves[n/2:], decodeBatches(t, f, []*Batch{a, c}))
			}
		}
	}
}
