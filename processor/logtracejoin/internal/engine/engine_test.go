// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/prodscope/prodscope/processor/logtracejoin/internal/extract"
	"github.com/prodscope/prodscope/processor/logtracejoin/internal/join"
)

const (
	tHex = "4bf92f3577b34da6a3ce929d0e0e4736"
	sHex = "00f067aa0ba902b7"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func newEngine(join bool) *Engine {
	ex := extract.New(extract.DefaultKeys(), true, false)
	if !join {
		return New(ex, nil)
	}
	return New(ex, &JoinConfig{Wait: 5 * time.Second, MaxWaitingLogs: 10, IndexTTL: time.Minute, MaxIndexEntries: 100})
}

func serverSpan(requestID string, tid byte) ptrace.Traces {
	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(pcommon.TraceID{tid, 1})
	sp.SetSpanID(pcommon.SpanID{tid, 2})
	sp.SetKind(ptrace.SpanKindServer)
	sp.Attributes().PutStr("request_id", requestID)
	return td
}

// batch holds one record of each kind the engine tells apart.
func batch() plog.Logs {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	lrs.AppendEmpty().SetTraceID(pcommon.TraceID{9}) // its own context
	lrs.AppendEmpty().Attributes().PutStr("traceparent", "00-"+tHex+"-"+sHex+"-01")
	lrs.AppendEmpty().Body().SetStr("level=info trace_id=" + tHex)
	lrs.AppendEmpty().Body().SetEmptyMap().PutStr("dd.trace_id", "5208512171318403364")
	lrs.AppendEmpty().Attributes().PutStr("request_id", "known")   // joins at once
	lrs.AppendEmpty().Attributes().PutStr("request_id", "unknown") // waits
	lrs.AppendEmpty().Body().SetStr("no ids here")
	lrs.AppendEmpty().Attributes().PutStr("trace_id", "00000000000000000000000000000000")
	return ld
}

func TestProcessLogsReturnsWhatItDid(t *testing.T) {
	e := newEngine(true)
	require.Equal(t, join.Evictions{}, e.IndexTraces(serverSpan("known", 1), t0))
	ld := batch()
	r := e.ProcessLogs(ld, 0, true, t0)

	var want LogsResult
	want.Records = 8
	want.HadContext = 1
	want.Extracted[extract.ViaAttribute][extract.ConvW3C] = 1
	want.Extracted[extract.ViaBodyText][extract.ConvTraceID] = 1
	want.Extracted[extract.ViaBodyField][extract.ConvDatadog] = 1
	want.Joined = 1
	want.Held = 1
	want.NoKey = 2 // "no ids here" and the all-zero id
	want.Invalid[extract.ReasonAllZero] = 1
	assert.Equal(t, want, r)
	assert.Equal(t, int64(7), r.Passed())
	assert.Equal(t, 7, ld.LogRecordCount(), "the waiting record left the batch")
	assert.Equal(t, State{Joins: true, CanHold: true, Waiting: 1, MaxWaitingLogs: 10, IndexEntries: 1, MaxIndexEntries: 100}, e.State())

	// its span comes: the record is released, joined
	require.Equal(t, join.Evictions{}, e.IndexTraces(serverSpan("unknown", 2), t0.Add(time.Second)))
	rel := join.GetReleased()
	defer join.PutReleased(rel)
	e.TakeReleased(rel)
	assert.Equal(t, int64(1), rel.Matched)
	require.Len(t, rel.Logs, 1)
	lr := rel.Logs[0].Logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	assert.Equal(t, pcommon.TraceID{2, 1}, lr.TraceID())
	assert.Equal(t, State{Joins: true, CanHold: true, Waiting: 0, MaxWaitingLogs: 10, IndexEntries: 2, MaxIndexEntries: 100}, e.State())
}

func TestProcessLogsWithoutHold(t *testing.T) {
	e := newEngine(true)
	ld := batch()
	r := e.ProcessLogs(ld, 0, false, t0)
	assert.Equal(t, int64(2), r.NoSpan, "known and unknown: nothing indexed, and they cannot wait")
	assert.Zero(t, r.Held)
	assert.Zero(t, r.Joined)
	assert.Equal(t, 8, ld.LogRecordCount())
	assert.Zero(t, e.State().Waiting)
}

func TestJoinOff(t *testing.T) {
	e := newEngine(false)
	assert.False(t, e.Joins())
	assert.Equal(t, join.Evictions{}, e.IndexTraces(serverSpan("known", 1), t0))
	r := e.ProcessLogs(batch(), 0, true, t0)
	assert.Equal(t, int64(4), r.NoKey, "correlation keys are not read with the join off")
	assert.Zero(t, r.Held+r.Joined+r.NoSpan)
	assert.Equal(t, join.Evictions{}, e.Expire(t0.Add(time.Hour)))
	assert.Equal(t, State{}, e.State())
}

func TestExpireAndIndexBounds(t *testing.T) {
	ex := extract.New(extract.DefaultKeys(), true, false)
	e := New(ex, &JoinConfig{Wait: time.Second, MaxWaitingLogs: 10, IndexTTL: time.Minute, MaxIndexEntries: 1})
	e.IndexTraces(serverSpan("a", 1), t0)
	assert.Equal(t, join.Evictions{Size: 1}, e.IndexTraces(serverSpan("b", 2), t0), "over max_index_entries the oldest goes")
	assert.Equal(t, join.Evictions{TTL: 1}, e.Expire(t0.Add(time.Minute)))
	assert.Zero(t, e.State().IndexEntries)
}
