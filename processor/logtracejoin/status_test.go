// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package logtracejoin

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/prodscope/prodscope/internal/statusregistry"
	"github.com/prodscope/prodscope/processor/logtracejoin/internal/metadata"
	"github.com/prodscope/prodscope/processor/logtracejoin/internal/metadatatest"
)

func snapshotOf(t *testing.T, id component.ID, limit int) statusregistry.Snapshot {
	t.Helper()
	s := statusregistry.Default.SnapshotsOf(id, limit)
	require.Len(t, s, 1, "%s registered once", id)
	return s[0]
}

var harnessID = component.NewID(metadata.Type)

// TestStatusJoinHitAndWaiting: a span with a request id, then a log with
// that request id and no trace id: one join hit; a log whose span has not
// come waits, and leaves unjoined after `wait`.
func TestStatusJoinHitAndWaiting(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	h := newHarness(t, cfg, true)
	ctx := context.Background()
	started := h.clock.Now()

	require.NoError(t, h.traces.ConsumeTraces(ctx, serverSpans("r1"))) // a child and the SERVER span: one key
	require.NoError(t, h.logs.ConsumeLogs(ctx, logWith(func(lr plog.LogRecord) { lr.Attributes().PutStr("requestID", "r1") })))
	require.NoError(t, h.logs.ConsumeLogs(ctx, logsWithRequestIDs("r2")))

	want := statusregistry.Snapshot{
		Type: "logtracejoin", ID: "logtracejoin", Kind: "Processor",
		Started: started, ItemsIn: 2, ItemsOut: 1, Unit: "log records",
		Changed: []statusregistry.Count{{What: "trace context from join", N: 1}},
		Holding: []statusregistry.Gauge{{What: "waiting logs", Now: 1, Limit: 100000}, {What: "index entries", Now: 1, Limit: 1000000}},
		LogTraceJoin: &statusregistry.LogTraceJoin{
			Enriched: []statusregistry.Count{{What: "join", N: 1}},
			JoinHits: 1, Waiting: 1, MaxWaiting: 100000, IndexSize: 1, MaxIndex: 1000000,
		},
	}
	assert.Equal(t, want, snapshotOf(t, harnessID, 10))

	// r2's span never comes: it leaves unjoined once it waited `wait`
	h.clock.Advance(cfg.Join.Wait)
	h.expire()
	want.ItemsOut = 2
	want.Holding[0].Now = 0
	want.LogTraceJoin.Waiting = 0
	want.LogTraceJoin.JoinMisses = 1
	want.LogTraceJoin.ReleasedUnjoined = 1
	assert.Equal(t, want, snapshotOf(t, harnessID, 10))
	assert.Equal(t, 2, h.logOut.LogRecordCount())
}

// TestStatusEnrichedBySourceAndConvention: records enriched by source and
// convention, most first; lists bounded by the limit with what was left out
// summed in a last "(N more)" entry.
func TestStatusEnrichedBySourceAndConvention(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config), true)
	ctx := context.Background()
	require.NoError(t, h.traces.ConsumeTraces(ctx, serverSpans("r1")))
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for range 3 {
		lrs.AppendEmpty().Attributes().PutStr("traceparent", "00-"+tHex+"-"+sHex+"-01")
	}
	for range 2 {
		lrs.AppendEmpty().Body().SetStr("level=info trace_id=" + tHex)
	}
	lrs.AppendEmpty().Body().SetEmptyMap().PutStr("dd.trace_id", "5208512171318403364")
	lrs.AppendEmpty().Attributes().PutStr("request_id", "r1")
	lrs.AppendEmpty().SetTraceID(traceIDFor("own")) // not changed: not counted as enriched
	require.NoError(t, h.logs.ConsumeLogs(ctx, ld))

	s := snapshotOf(t, harnessID, 10)
	assert.Equal(t, int64(8), s.ItemsIn)
	assert.Equal(t, int64(8), s.ItemsOut)
	assert.Equal(t, []statusregistry.Count{
		{What: "attribute: w3c traceparent", N: 3},
		{What: "text scan: trace id field", N: 2},
		{What: "body field: datadog", N: 1},
		{What: "join", N: 1},
	}, s.LogTraceJoin.Enriched)
	assert.Equal(t, []statusregistry.Count{
		{What: "trace context from attribute", N: 3},
		{What: "trace context from text scan", N: 2},
		{What: "trace context from body field", N: 1},
		{What: "trace context from join", N: 1},
	}, s.Changed)

	s = snapshotOf(t, harnessID, 2)
	assert.Equal(t, []statusregistry.Count{{What: "attribute: w3c traceparent", N: 3}, {What: "(3 more)", N: 4}}, s.LogTraceJoin.Enriched)
	assert.Equal(t, []statusregistry.Count{{What: "trace context from attribute", N: 3}, {What: "(3 more)", N: 4}}, s.Changed)
	s = snapshotOf(t, harnessID, 1)
	assert.Equal(t, []statusregistry.Count{{What: "(4 more)", N: 7}}, s.LogTraceJoin.Enriched)
}

// TestStatusRefusedAndBounds: what hit a bound, by reason, and what is held
// against max_waiting_logs and max_index_entries.
func TestStatusRefusedAndBounds(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Join.MaxWaitingLogs = 2
	cfg.Join.MaxIndexEntries = 1
	h := newHarness(t, cfg, true)
	ctx := context.Background()
	require.NoError(t, h.logs.ConsumeLogs(ctx, logsWithRequestIDs("a", "b", "c"))) // a leaves at the bound
	require.NoError(t, h.traces.ConsumeTraces(ctx, serverSpans("x", "y")))         // x evicted for y
	require.NoError(t, h.logs.ConsumeLogs(ctx, logWith(func(lr plog.LogRecord) {
		lr.Attributes().PutStr("trace_id", "00000000000000000000000000000000")
		lr.Attributes().PutStr("span_id", "0000000000000000")
	})))

	s := snapshotOf(t, harnessID, 10)
	assert.Equal(t, []statusregistry.Count{
		{What: "invalid id: all_zero", N: 2},
		{What: "index entries evicted at max_index_entries", N: 1},
		{What: "waiting logs released unjoined at max_waiting_logs", N: 1},
	}, s.Refused)
	assert.Equal(t, []statusregistry.Gauge{{What: "waiting logs", Now: 2, Limit: 2}, {What: "index entries", Now: 1, Limit: 1}}, s.Holding)
	assert.Equal(t, int64(4), s.ItemsIn)
	assert.Equal(t, int64(2), s.ItemsOut, "a (released at the bound) and the invalid one")
	assert.Equal(t, int64(1), s.LogTraceJoin.ReleasedUnjoined)
	assert.Equal(t, int64(1), s.LogTraceJoin.JoinMisses)
	assert.Equal(t, []statusregistry.Count{
		{What: "invalid id: all_zero", N: 2},
		{What: "(2 more)", N: 2},
	}, snapshotOf(t, harnessID, 2).Refused)
}

// TestStatusRegisteredOncePerSharedInstance: the traces and logs pipelines
// of one id register one source, from Start to Shutdown.
func TestStatusRegisteredOncePerSharedInstance(t *testing.T) {
	f := NewFactory()
	cfg := f.CreateDefaultConfig()
	set := metadatatest.NewSettings(componenttest.NewTelemetry())
	set.ID = component.NewIDWithName(metadata.Type, "status")
	ctx := context.Background()
	lp, err := f.CreateLogs(ctx, set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	tp, err := f.CreateTraces(ctx, set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	assert.Empty(t, statusregistry.Default.SnapshotsOf(set.ID, 10), "not before Start")
	require.NoError(t, tp.Start(ctx, componenttest.NewNopHost()))
	require.NoError(t, lp.Start(ctx, componenttest.NewNopHost()))
	assert.Len(t, statusregistry.Default.SnapshotsOf(set.ID, 10), 1)
	require.NoError(t, lp.Shutdown(ctx))
	require.NoError(t, tp.Shutdown(ctx))
	assert.Empty(t, statusregistry.Default.SnapshotsOf(set.ID, 10), "unregistered on Shutdown")
}

func TestStatusJoinDisabled(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Join.Enabled = false
	h := newHarness(t, cfg, true)
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), logsWithRequestIDs("a")))
	s := snapshotOf(t, harnessID, 10)
	assert.Empty(t, s.Holding, "nothing is held with the join off")
	assert.Equal(t, statusregistry.LogTraceJoin{}, *s.LogTraceJoin)
	assert.Equal(t, int64(1), s.ItemsIn)
	assert.Equal(t, int64(1), s.ItemsOut)
	assert.WithinDuration(t, h.clock.Now(), s.Started, time.Second)
}
