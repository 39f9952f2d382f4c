// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package logtracejoin

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/prodscope/prodscope/internal/logthrottle"
	"github.com/prodscope/prodscope/processor/logtracejoin/internal/metadata"
	"github.com/prodscope/prodscope/processor/logtracejoin/internal/metadatatest"
)

const (
	tHex = "4bf92f3577b34da6a3ce929d0e0e4736"
	sHex = "00f067aa0ba902b7"
)

// fakeClock is the processor's clock in tests: waits and TTLs are decided
// by it, never by the wall clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// harness is one component id used by a traces and a logs pipeline.
type harness struct {
	tel    *componenttest.Telemetry
	clock  *fakeClock
	logs   processor.Logs
	traces processor.Traces
	logOut *consumertest.LogsSink
	trOut  *consumertest.TracesSink
	state  *joinState
}

func newHarness(t *testing.T, cfg *Config, start bool) *harness {
	t.Helper()
	h := &harness{tel: componenttest.NewTelemetry(), clock: newFakeClock(), logOut: new(consumertest.LogsSink), trOut: new(consumertest.TracesSink)}
	t.Cleanup(func() { require.NoError(t, h.tel.Shutdown(context.Background())) })
	set := metadatatest.NewSettings(h.tel)
	f := NewFactory()
	var err error
	h.logs, err = f.CreateLogs(context.Background(), set, cfg, h.logOut)
	require.NoError(t, err)
	h.traces, err = f.CreateTraces(context.Background(), set, cfg, h.trOut)
	require.NoError(t, err)
	h.state = h.logs.(*logsProcessor).state
	h.state.now = h.clock.Now
	if start {
		require.NoError(t, h.traces.Start(context.Background(), componenttest.NewNopHost()))
		require.NoError(t, h.logs.Start(context.Background(), componenttest.NewNopHost()))
	}
	t.Cleanup(func() {
		require.NoError(t, h.logs.Shutdown(context.Background()))
		require.NoError(t, h.traces.Shutdown(context.Background()))
	})
	return h
}

// expire runs what the release loop runs on a tick, deterministically.
func (h *harness) expire() {
	h.state.releaseTick(context.Background())
}

func logWith(fill func(lr plog.LogRecord)) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "shop")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("shop/orders")
	fill(sl.LogRecords().AppendEmpty())
	return ld
}

func logsWithRequestIDs(ids ...string) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "shop")
	sl := rl.ScopeLogs().AppendEmpty()
	for _, id := range ids {
		lr := sl.LogRecords().AppendEmpty()
		lr.Body().SetStr(`{"level":"INFO","msg":"charge","request_id":"` + id + `","user_id":"1234"}`)
	}
	return ld
}

func traceIDFor(key string) pcommon.TraceID {
	var id pcommon.TraceID
	copy(id[:], fmt.Sprintf("%-16s", key))
	return id
}

func spanIDFor(key string) pcommon.SpanID {
	var id pcommon.SpanID
	copy(id[:], fmt.Sprintf("%-8s", key))
	return id
}

// serverSpans returns, per request id, an internal child span and the
// SERVER span carrying the x-request-id header as a string slice.
func serverSpans(ids ...string) ptrace.Traces {
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	for _, id := range ids {
		child := ss.AppendEmpty()
		child.SetTraceID(traceIDFor(id))
		child.SetSpanID(spanIDFor("child"))
		child.SetParentSpanID(spanIDFor(id))
		child.SetKind(ptrace.SpanKindInternal)
		child.Attributes().PutStr("request_id", id)

		sp := ss.AppendEmpty()
		sp.SetTraceID(traceIDFor(id))
		sp.SetSpanID(spanIDFor(id))
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetFlags(1)
		sp.Attributes().PutEmptySlice("http.request.header.x-request-id").AppendEmpty().SetStr(id)
	}
	return td
}

// outRecords returns every log record that reached the logs sink.
func outRecords(sink *consumertest.LogsSink) []plog.LogRecord {
	var out []plog.LogRecord
	for _, ld := range sink.AllLogs() {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			sls := rls.At(i).ScopeLogs()
			for k := 0; k < sls.Len(); k++ {
				lrs := sls.At(k).LogRecords()
				for n := 0; n < lrs.Len(); n++ {
					out = append(out, lrs.At(n))
				}
			}
		}
	}
	return out
}

func requestIDOf(lr plog.LogRecord) string {
	var res struct{ id string }
	s := lr.Body().Str()
	const k = `"request_id":"`
	for i := 0; i+len(k) < len(s); i++ {
		if s[i:i+len(k)] == k {
			j := i + len(k)
			e := j
			for e < len(s) && s[e] != '"' {
				e++
			}
			res.id = s[j:e]
		}
	}
	return res.id
}

func sumPoint(v int64, kv ...string) metricdata.DataPoint[int64] {
	var attrs []attribute.KeyValue
	for i := 0; i+1 < len(kv); i += 2 {
		attrs = append(attrs, attribute.String(kv[i], kv[i+1]))
	}
	return metricdata.DataPoint[int64]{Value: v, Attributes: attribute.NewSet(attrs...)}
}

func TestRecordWithTraceIDIsLeftAlone(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config), true)
	ld := logWith(func(lr plog.LogRecord) {
		lr.SetTraceID(traceIDFor("own"))
		lr.SetSpanID(spanIDFor("own"))
		lr.Attributes().PutStr("trace_id", tHex) // must not override the record's own id
		lr.Attributes().PutStr("span_id", sHex)
	})
	want := plog.NewLogs()
	ld.CopyTo(want)
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
	require.Len(t, h.logOut.AllLogs(), 1)
	assert.Equal(t, want, h.logOut.AllLogs()[0])
	metadatatest.AssertEqualProcessorLogtracejoinRecordsEnriched(t, h.tel,
		[]metricdata.DataPoint[int64]{sumPoint(1, "source", "record")}, metricdatatest.IgnoreTimestamp())
}

func TestEnrichFromAttributesBodyAndInvalid(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config), true)
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	a := lrs.AppendEmpty()
	a.Attributes().PutStr("traceparent", "00-"+tHex+"-"+sHex+"-01")
	b := lrs.AppendEmpty()
	b.Body().SetStr("level=error msg=failed trace_id=" + tHex + " span_id=" + sHex)
	c := lrs.AppendEmpty()
	c.Attributes().PutStr("trace_id", "00000000000000000000000000000000")
	c.Attributes().PutStr("traceparent", "ff-"+tHex+"-"+sHex+"-01")
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))

	out := outRecords(h.logOut)
	require.Len(t, out, 3)
	for _, lr := range out[:2] {
		assert.Equal(t, tHex, lr.TraceID().String())
		assert.Equal(t, sHex, lr.SpanID().String())
	}
	assert.Equal(t, plog.LogRecordFlags(1), out[0].Flags())
	assert.True(t, out[2].TraceID().IsEmpty(), "invalid ids are never set")
	assert.True(t, out[2].SpanID().IsEmpty())

	metadatatest.AssertEqualProcessorLogtracejoinRecordsEnriched(t, h.tel, []metricdata.DataPoint[int64]{
		sumPoint(1, "source", "attribute"), sumPoint(1, "source", "body"),
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorLogtracejoinInvalidIds(t, h.tel, []metricdata.DataPoint[int64]{
		sumPoint(1, "reason", "all_zero"), sumPoint(1, "reason", "version"),
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorLogtracejoinRecordsUnmatched(t, h.tel, []metricdata.DataPoint[int64]{
		sumPoint(1, "reason", "no_key"),
	}, metricdatatest.IgnoreTimestamp())
}

func TestSharedInstancePerComponentID(t *testing.T) {
	f := NewFactory()
	cfg := f.CreateDefaultConfig()
	setA := metadatatest.NewSettings(componenttest.NewTelemetry())
	setB := setA
	setB.ID = component.NewIDWithName(metadata.Type, "other")
	la, err := f.CreateLogs(context.Background(), setA, cfg, consumertest.NewNop())
	require.NoError(t, err)
	ta, err := f.CreateTraces(context.Background(), setA, cfg, consumertest.NewNop())
	require.NoError(t, err)
	lb, err := f.CreateLogs(context.Background(), setB, cfg, consumertest.NewNop())
	require.NoError(t, err)
	assert.Same(t, la.(*logsProcessor).state, ta.(*tracesProcessor).state, "traces and logs of one id share state")
	assert.NotSame(t, la.(*logsProcessor).state, lb.(*logsProcessor).state)
	// another config under the same id (a test reusing an id) is another instance
	lc, err := f.CreateLogs(context.Background(), setA, f.CreateDefaultConfig(), consumertest.NewNop())
	require.NoError(t, err)
	assert.NotSame(t, la.(*logsProcessor).state, lc.(*logsProcessor).state)
	for _, c := range []component.Component{la, ta, lb, lc} {
		require.NoError(t, c.Start(context.Background(), componenttest.NewNopHost()))
	}
	for _, c := range []component.Component{la, ta, lb, lc} {
		require.NoError(t, c.Shutdown(context.Background()))
	}
}

// TestJoinLogsBeforeSpans: logs sent 0-3 s before their spans all come out
// joined to the SERVER span; logs whose spans never come come out unmatched
// after `wait`; records in == records out.
func TestJoinLogsBeforeSpans(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	h := newHarness(t, cfg, true)
	ctx := context.Background()

	// 40 requests, their logs spread over 3 s; 10 more whose spans never come
	var joined, orphans []string
	for i := range 40 {
		joined = append(joined, fmt.Sprintf("req-%02d", i))
	}
	for i := range 10 {
		orphans = append(orphans, fmt.Sprintf("orphan-%d", i))
	}
	in := 0
	for step := range 4 { // t = 0s, 1s, 2s, 3s
		var batch []string
		for i := step; i < len(joined); i += 4 {
			batch = append(batch, joined[i])
		}
		batch = append(batch, orphans[step*2], orphans[step*2+1])
		if step == 3 {
			batch = append(batch, orphans[8], orphans[9])
		}
		require.NoError(t, h.logs.ConsumeLogs(ctx, logsWithRequestIDs(batch...)))
		in += len(batch)
		h.expire()
		if step < 3 {
			h.clock.Advance(time.Second)
		}
	}
	assert.Zero(t, h.logOut.LogRecordCount(), "every log is waiting for its span")
	metadatatest.AssertEqualProcessorLogtracejoinWaitingLogs(t, h.tel, []metricdata.DataPoint[int64]{sumPoint(int64(in))}, metricdatatest.IgnoreTimestamp())

	// the spans arrive at t = 3 s
	require.NoError(t, h.traces.ConsumeTraces(ctx, serverSpans(joined...)))
	assert.Equal(t, 2*len(joined), h.trOut.SpanCount(), "spans pass on")
	out := outRecords(h.logOut)
	require.Len(t, out, len(joined))
	for _, lr := range out {
		id := requestIDOf(lr)
		assert.Equal(t, traceIDFor(id), lr.TraceID(), id)
		assert.Equal(t, spanIDFor(id), lr.SpanID(), "%s joined to the SERVER span", id)
		assert.Equal(t, plog.LogRecordFlags(1), lr.Flags())
	}

	// the orphans go on unmatched once they waited `wait`
	h.clock.Advance(cfg.Join.Wait - 3*time.Second - time.Millisecond)
	h.expire()
	assert.Len(t, outRecords(h.logOut), len(joined), "orphans from t=0 waited 1 ms less than wait")
	h.clock.Advance(time.Millisecond)
	h.expire()
	assert.Len(t, outRecords(h.logOut), len(joined)+2)
	h.clock.Advance(3 * time.Second)
	h.expire()
	out = outRecords(h.logOut)
	require.Len(t, out, in, "records in == records out")
	for _, lr := range out[len(joined):] {
		assert.True(t, lr.TraceID().IsEmpty())
		assert.Contains(t, requestIDOf(lr), "orphan-")
	}
	// released records keep their resource
	for _, ld := range h.logOut.AllLogs() {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			v, ok := ld.ResourceLogs().At(i).Resource().Attributes().Get("service.name")
			require.True(t, ok)
			assert.Equal(t, "shop", v.Str())
		}
	}

	metadatatest.AssertEqualProcessorLogtracejoinRecordsEnriched(t, h.tel,
		[]metricdata.DataPoint[int64]{sumPoint(int64(len(joined)), "source", "join")}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorLogtracejoinRecordsUnmatched(t, h.tel,
		[]metricdata.DataPoint[int64]{sumPoint(int64(len(orphans)), "reason", "wait_expired")}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorLogtracejoinWaitingLogs(t, h.tel, []metricdata.DataPoint[int64]{sumPoint(0)}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorLogtracejoinIndexEntries(t, h.tel, []metricdata.DataPoint[int64]{sumPoint(int64(len(joined)))}, metricdatatest.IgnoreTimestamp())

	wt, err := h.tel.GetMetric("otelcol_processor_logtracejoin_wait_time")
	require.NoError(t, err)
	hist := wt.Data.(metricdata.Histogram[float64])
	counts := map[string]uint64{}
	for _, dp := range hist.DataPoints {
		o, _ := dp.Attributes.Value("outcome")
		counts[o.AsString()] = dp.Count
		minV, _ := dp.Min.Value()
		maxV, _ := dp.Max.Value()
		if o.AsString() == "matched" {
			assert.InDelta(t, 0.0, minV, 1e-9)
			assert.InDelta(t, 3.0, maxV, 1e-9, "the longest matched wait was 3 s")
		} else {
			assert.InDelta(t, 5.0, minV, 1e-9)
		}
	}
	assert.Equal(t, map[string]uint64{"matched": uint64(len(joined)), "unmatched": uint64(len(orphans))}, counts)
}

func TestLogAfterSpanJoinsAtOnce(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config), true)
	ctx := context.Background()
	require.NoError(t, h.traces.ConsumeTraces(ctx, serverSpans("r1")))
	ld := logWith(func(lr plog.LogRecord) {
		lr.Attributes().PutStr("requestID", "r1")
	})
	require.NoError(t, h.logs.ConsumeLogs(ctx, ld))
	out := outRecords(h.logOut)
	require.Len(t, out, 1)
	assert.Equal(t, traceIDFor("r1"), out[0].TraceID())
	assert.Equal(t, spanIDFor("r1"), out[0].SpanID())
	metadatatest.AssertEqualProcessorLogtracejoinWaitingLogs(t, h.tel, []metricdata.DataPoint[int64]{sumPoint(0)}, metricdatatest.IgnoreTimestamp())
}

func TestShutdownReleasesWaitingLogs(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	sink := new(consumertest.LogsSink)
	f := NewFactory()
	cfg := f.CreateDefaultConfig() // one *Config for both pipelines, as the collector hands it
	lp, err := f.CreateLogs(context.Background(), metadatatest.NewSettings(tel), cfg, sink)
	require.NoError(t, err)
	tp, err := f.CreateTraces(context.Background(), metadatatest.NewSettings(tel), cfg, consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, lp.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, tp.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, lp.ConsumeLogs(context.Background(), logsWithRequestIDs("a", "b", "c")))
	assert.Zero(t, sink.LogRecordCount())
	require.NoError(t, lp.Shutdown(context.Background()))
	assert.Equal(t, 3, sink.LogRecordCount())
	metadatatest.AssertEqualProcessorLogtracejoinRecordsUnmatched(t, tel,
		[]metricdata.DataPoint[int64]{sumPoint(3, "reason", "shutdown")}, metricdatatest.IgnoreTimestamp())

	// after Shutdown nothing is held any more
	require.NoError(t, lp.ConsumeLogs(context.Background(), logsWithRequestIDs("d")))
	assert.Equal(t, 4, sink.LogRecordCount())
	require.NoError(t, tp.Shutdown(context.Background()))
}

func TestShutdownWithoutStart(t *testing.T) {
	f := NewFactory()
	lp, err := f.CreateLogs(context.Background(), metadatatest.NewSettings(componenttest.NewTelemetry()), f.CreateDefaultConfig(), consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, lp.Shutdown(context.Background()))
}

func TestNotStartedPassesThrough(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config), false)
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), logsWithRequestIDs("a")))
	assert.Equal(t, 1, h.logOut.LogRecordCount(), "without a release loop no log is held")
	metadatatest.AssertEqualProcessorLogtracejoinRecordsUnmatched(t, h.tel,
		[]metricdata.DataPoint[int64]{sumPoint(1, "reason", "no_span")}, metricdatatest.IgnoreTimestamp())
}

func TestMaxWaitingLogsReleasesOldest(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Join.MaxWaitingLogs = 3
	h := newHarness(t, cfg, true)
	ctx := context.Background()
	require.NoError(t, h.logs.ConsumeLogs(ctx, logsWithRequestIDs("a", "b", "c")))
	assert.Zero(t, h.logOut.LogRecordCount())
	require.NoError(t, h.logs.ConsumeLogs(ctx, logsWithRequestIDs("d", "e")))
	out := outRecords(h.logOut)
	require.Len(t, out, 2)
	assert.Equal(t, "a", requestIDOf(out[0]))
	assert.Equal(t, "b", requestIDOf(out[1]))
	metadatatest.AssertEqualProcessorLogtracejoinRecordsUnmatched(t, h.tel,
		[]metricdata.DataPoint[int64]{sumPoint(2, "reason", "overflow")}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorLogtracejoinWaitingLogs(t, h.tel, []metricdata.DataPoint[int64]{sumPoint(3)}, metricdatatest.IgnoreTimestamp())
}

func TestIndexBoundsCounted(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Join.MaxIndexEntries = 2
	cfg.Join.IndexTTL = time.Minute
	h := newHarness(t, cfg, true)
	ctx := context.Background()
	require.NoError(t, h.traces.ConsumeTraces(ctx, serverSpans("a", "b", "c")))
	metadatatest.AssertEqualProcessorLogtracejoinIndexEvictions(t, h.tel,
		[]metricdata.DataPoint[int64]{sumPoint(1, "reason", "size")}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorLogtracejoinIndexEntries(t, h.tel, []metricdata.DataPoint[int64]{sumPoint(2)}, metricdatatest.IgnoreTimestamp())

	h.clock.Advance(time.Minute)
	h.state.releaseTick(ctx)
	metadatatest.AssertEqualProcessorLogtracejoinIndexEvictions(t, h.tel, []metricdata.DataPoint[int64]{
		sumPoint(1, "reason", "size"), sumPoint(2, "reason", "ttl"),
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorLogtracejoinIndexEntries(t, h.tel, []metricdata.DataPoint[int64]{sumPoint(0)}, metricdatatest.IgnoreTimestamp())

	// an evicted key no longer joins: the log waits instead
	require.NoError(t, h.logs.ConsumeLogs(ctx, logsWithRequestIDs("b")))
	assert.Zero(t, h.logOut.LogRecordCount())
}

func TestJoinDisabledNeverHolds(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Join.Enabled = false
	h := newHarness(t, cfg, true)
	require.NoError(t, h.traces.ConsumeTraces(context.Background(), serverSpans("a")))
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), logsWithRequestIDs("a")))
	out := outRecords(h.logOut)
	require.Len(t, out, 1)
	assert.True(t, out[0].TraceID().IsEmpty())
	assert.Equal(t, 2, h.trOut.SpanCount())
}

// TestReleaseLoopExpires checks the background loop itself (real time):
// a log whose span never comes leaves after a short wait.
func TestReleaseLoopExpires(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Join.Wait = 20 * time.Millisecond
	sink := new(consumertest.LogsSink)
	f := NewFactory()
	set := metadatatest.NewSettings(componenttest.NewTelemetry())
	lp, err := f.CreateLogs(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	tp, err := f.CreateTraces(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, lp.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, tp.Start(context.Background(), componenttest.NewNopHost()))
	defer func() {
		require.NoError(t, lp.Shutdown(context.Background()))
		require.NoError(t, tp.Shutdown(context.Background()))
	}()
	require.NoError(t, lp.ConsumeLogs(context.Background(), logsWithRequestIDs("never")))
	require.Eventually(t, func() bool { return sink.LogRecordCount() == 1 }, 10*time.Second, 5*time.Millisecond)
}

// TestTwoLogsPipelines: a held log goes back to the pipeline it came from.
func TestTwoLogsPipelines(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	set := metadatatest.NewSettings(tel)
	f := NewFactory()
	cfg := f.CreateDefaultConfig()
	s1, s2 := new(consumertest.LogsSink), new(consumertest.LogsSink)
	l1, err := f.CreateLogs(context.Background(), set, cfg, s1)
	require.NoError(t, err)
	l2, err := f.CreateLogs(context.Background(), set, cfg, s2)
	require.NoError(t, err)
	tp, err := f.CreateTraces(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	for _, c := range []component.Component{l1, l2, tp} {
		require.NoError(t, c.Start(context.Background(), componenttest.NewNopHost()))
	}
	require.NoError(t, l1.ConsumeLogs(context.Background(), logsWithRequestIDs("x")))
	require.NoError(t, l2.ConsumeLogs(context.Background(), logsWithRequestIDs("x", "y")))
	require.NoError(t, tp.ConsumeTraces(context.Background(), serverSpans("x")))
	assert.Equal(t, 1, s1.LogRecordCount())
	assert.Equal(t, 1, s2.LogRecordCount())
	for _, c := range []component.Component{l1, l2, tp} {
		require.NoError(t, c.Shutdown(context.Background()))
	}
	assert.Equal(t, 2, s2.LogRecordCount(), "y released to its own pipeline at shutdown")
	assert.Equal(t, 1, s1.LogRecordCount())
}

// TestRecordsConservedUnderConcurrency: logs and spans from concurrent
// goroutines in random order, random batch shapes; after Shutdown every
// record that went in came out exactly once.
func TestRecordsConservedUnderConcurrency(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Join.MaxWaitingLogs = 50
	cfg.Join.Wait = 30 * time.Millisecond
	sink := new(consumertest.LogsSink)
	f := NewFactory()
	set := metadatatest.NewSettings(componenttest.NewTelemetry())
	lp, err := f.CreateLogs(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	tp, err := f.CreateTraces(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, lp.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, tp.Start(context.Background(), componenttest.NewNopHost()))

	var wg sync.WaitGroup
	const workers, batches = 4, 50
	var inMu sync.Mutex
	in := map[string]int{}
	for w := range uint64(workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(w, 1))
			for b := range batches {
				var ids []string
				for range rng.IntN(8) + 1 {
					ids = append(ids, fmt.Sprintf("w%d-b%d-%d", w, b, rng.IntN(20)))
				}
				inMu.Lock()
				for _, id := range ids {
					in[id]++
				}
				inMu.Unlock()
				ld := logsWithRequestIDs(ids...)
				if rng.IntN(3) == 0 {
					ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().AppendEmpty().SetTraceID(traceIDFor("own"))
					inMu.Lock()
					in[""]++
					inMu.Unlock()
				}
				assert.NoError(t, lp.ConsumeLogs(context.Background(), ld))
				if rng.IntN(2) == 0 {
					assert.NoError(t, tp.ConsumeTraces(context.Background(), serverSpans(ids[:rng.IntN(len(ids))+1]...)))
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, tp.Shutdown(context.Background()))
	require.NoError(t, lp.Shutdown(context.Background()))
	out := map[string]int{}
	for _, lr := range outRecords(sink) {
		out[requestIDOf(lr)]++
	}
	assert.Equal(t, in, out)

	// the status counts agree: every record in went out, none waits, and
	// each one with a correlation key was a join hit or a miss
	st := lp.(*logsProcessor).state.StatusSnapshot(10)
	total := int64(sink.LogRecordCount())
	assert.Equal(t, total, st.ItemsIn)
	assert.Equal(t, total, st.ItemsOut)
	assert.Zero(t, st.LogTraceJoin.Waiting)
	assert.Equal(t, total-int64(in[""]), st.LogTraceJoin.JoinHits+st.LogTraceJoin.JoinMisses)
}

// TestNoTracesPipelineNeverHolds: with the join on but the component in no
// traces pipeline, no span can ever come: logs are not held.
func TestNoTracesPipelineNeverHolds(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	sink := new(consumertest.LogsSink)
	f := NewFactory()
	lp, err := f.CreateLogs(context.Background(), metadatatest.NewSettings(tel), f.CreateDefaultConfig(), sink)
	require.NoError(t, err)
	require.NoError(t, lp.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, lp.ConsumeLogs(context.Background(), logsWithRequestIDs("a")))
	assert.Equal(t, 1, sink.LogRecordCount())
	metadatatest.AssertEqualProcessorLogtracejoinRecordsUnmatched(t, tel,
		[]metricdata.DataPoint[int64]{sumPoint(1, "reason", "no_span")}, metricdatatest.IgnoreTimestamp())
	require.NoError(t, lp.Shutdown(context.Background()))
}

func TestRemoveSourceFieldsThroughProcessor(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.RemoveSourceFields = true
	h := newHarness(t, cfg, true)
	ld := logWith(func(lr plog.LogRecord) {
		lr.Attributes().PutStr("dd.trace_id", "5208512171318403364")
		lr.Attributes().PutStr("dd.span_id", "7918400239128113537")
		lr.Attributes().PutStr("user_id", "1234")
	})
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
	out := outRecords(h.logOut)
	require.Len(t, out, 1)
	assert.Equal(t, "000000000000000048485a3953bb6124", out[0].TraceID().String())
	assert.Equal(t, "6de3cf1062997181", out[0].SpanID().String())
	assert.Equal(t, map[string]any{"user_id": "1234"}, out[0].Attributes().AsRaw())
}

// TestZeroWaitJoinsButNeverHolds: with wait 0 a log whose span is indexed
// is still joined; one whose span is not goes on at once.
func TestZeroWaitJoinsButNeverHolds(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Join.Wait = 0
	require.NoError(t, cfg.Validate())
	h := newHarness(t, cfg, true)
	ctx := context.Background()
	require.NoError(t, h.traces.ConsumeTraces(ctx, serverSpans("known")))
	require.NoError(t, h.logs.ConsumeLogs(ctx, logsWithRequestIDs("known", "unknown")))
	out := outRecords(h.logOut)
	require.Len(t, out, 2)
	assert.Equal(t, traceIDFor("known"), out[0].TraceID())
	assert.True(t, out[1].TraceID().IsEmpty())
	metadatatest.AssertEqualProcessorLogtracejoinRecordsUnmatched(t, h.tel,
		[]metricdata.DataPoint[int64]{sumPoint(1, "reason", "no_span")}, metricdatatest.IgnoreTimestamp())
}

func TestTickFor(t *testing.T) {
	assert.Equal(t, 500*time.Millisecond, tickFor(5*time.Second, 2*time.Minute))
	assert.Equal(t, time.Second, tickFor(time.Minute, time.Hour))
	assert.Equal(t, 5*time.Millisecond, tickFor(time.Millisecond, time.Minute))
	assert.Equal(t, time.Second, tickFor(0, 2*time.Minute), "wait 0: the TTL decides")
}

// TestNestedSkippedTelemetry: what the nested-search bounds leave unread is
// counted by reason, for records that got no trace context; a record whose
// own fields hold its ids is not counted, however much it nests.
func TestNestedSkippedTelemetry(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config), true)
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	// 34 nested maps: 32 searched, 2 refused; the ids are in the last
	a := lrs.AppendEmpty().Body().SetEmptyMap()
	for i := 1; i <= 34; i++ {
		o := a.PutEmptyMap("o" + strconv.Itoa(i))
		if i == 34 {
			o.PutStr("trace_id", tHex)
		}
	}
	// ids at the top: found, its 40 nested maps not counted
	b := lrs.AppendEmpty().Body().SetEmptyMap()
	b.PutStr("trace_id", tHex)
	for i := 1; i <= 40; i++ {
		b.PutEmptyMap("o" + strconv.Itoa(i))
	}
	// a string body: the object under "e" is at depth 5 (top 0, "a" 1): refused
	lrs.AppendEmpty().Body().SetStr(`{"a":{"b":{"c":{"d":{"e":{"trace_id":"` + tHex + `"}}}}}}`)
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))

	out := outRecords(h.logOut)
	require.Len(t, out, 3)
	assert.True(t, out[0].TraceID().IsEmpty())
	assert.Equal(t, tHex, out[1].TraceID().String())
	assert.True(t, out[2].TraceID().IsEmpty())
	metadatatest.AssertEqualProcessorLogtracejoinNestedSkipped(t, h.tel, []metricdata.DataPoint[int64]{
		sumPoint(2, "reason", "count"), sumPoint(1, "reason", "depth"),
	}, metricdatatest.IgnoreTimestamp())
}

// TestRefusedReleaseWarnsRateLimited: a release the next consumer refuses
// is logged at most once per period, the next line saying how many were
// left out (logthrottle's one field).
func TestRefusedReleaseWarnsRateLimited(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	set := metadatatest.NewSettings(tel)
	set.Logger = zap.New(core)
	cfg := createDefaultConfig().(*Config)
	cfg.Join.Wait = time.Hour // only a span releases the logs here
	f := NewFactory()
	ctx := context.Background()
	lp, err := f.CreateLogs(ctx, set, cfg, consumertest.NewErr(errors.New("downstream full")))
	require.NoError(t, err)
	tp, err := f.CreateTraces(ctx, set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	clock := newFakeClock()
	st := lp.(*logsProcessor).state
	st.now = clock.Now
	st.warn.WithClock(clock.Now)
	require.NoError(t, lp.Start(ctx, componenttest.NewNopHost()))
	require.NoError(t, tp.Start(ctx, componenttest.NewNopHost()))

	require.NoError(t, lp.ConsumeLogs(ctx, logsWithRequestIDs("a", "b", "c")), "all three wait: nothing is sent")
	require.NoError(t, tp.ConsumeTraces(ctx, serverSpans("a")))
	require.NoError(t, tp.ConsumeTraces(ctx, serverSpans("b")))
	clock.Advance(10 * time.Second)
	require.NoError(t, tp.ConsumeTraces(ctx, serverSpans("c")))
	require.NoError(t, lp.Shutdown(ctx))
	require.NoError(t, tp.Shutdown(ctx))

	entries := logs.FilterMessage("Next consumer refused released log records").AllUntimed()
	require.Len(t, entries, 2, "b's refusal is left out")
	assert.Equal(t, map[string]any{"records": int64(1), "error": "downstream full"}, entries[0].ContextMap())
	assert.Equal(t, map[string]any{"records": int64(1), "error": "downstream full", logthrottle.SuppressedField: int64(1)}, entries[1].ContextMap())
}
