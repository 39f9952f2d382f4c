// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package logtracejoin

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

// heldOut is one record that reached the sink, with where it sat.
type heldOut struct {
	resource, rlSchema, scope, slSchema, id string
	lr                                      plog.LogRecord
}

func outWithContainers(t *testing.T, lds []plog.Logs) map[string]heldOut {
	t.Helper()
	out := map[string]heldOut{}
	for _, ld := range lds {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			rl := rls.At(i)
			res, _ := rl.Resource().Attributes().Get("service.name")
			sls := rl.ScopeLogs()
			for k := 0; k < sls.Len(); k++ {
				sl := sls.At(k)
				require.Positive(t, sl.LogRecords().Len(), "no empty scope is sent")
				for n := 0; n < sl.LogRecords().Len(); n++ {
					lr := sl.LogRecords().At(n)
					id := requestIDOf(lr)
					if id == "" {
						id = lr.Body().Str()
					}
					_, dup := out[id]
					require.False(t, dup, "%s sent twice", id)
					out[id] = heldOut{res.Str(), rl.SchemaUrl(), sl.Scope().Name(), sl.SchemaUrl(), id, lr}
				}
			}
		}
	}
	return out
}

// TestHeldBatchShapes: held records of every container shape (a resource
// whose only scope waits whole, a scope that waits whole next to another,
// a scope of which only some records wait) leave with their own resource
// and scope, exactly once, whether the records of one incoming scope leave
// together or in several releases (in any order), by span, expiry or
// shutdown.
func TestHeldBatchShapes(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	h := newHarness(t, cfg, true)
	ctx := context.Background()

	ld := plog.NewLogs()
	addScope := func(rl plog.ResourceLogs, scope string, recs ...string) {
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName(scope)
		sl.SetSchemaUrl("https://scope/" + scope)
		for _, r := range recs {
			lr := sl.LogRecords().AppendEmpty()
			switch r {
			case "own":
				lr.Body().SetStr(scope + "-own")
				lr.SetTraceID(traceIDFor("own"))
			case "nokey":
				lr.Body().SetStr(scope + "-nokey")
			default:
				lr.Body().SetStr(`{"msg":"x","request_id":"` + r + `"}`)
			}
		}
	}
	rl1 := ld.ResourceLogs().AppendEmpty()
	rl1.Resource().Attributes().PutStr("service.name", "one")
	rl1.SetSchemaUrl("https://res/one")
	addScope(rl1, "a", "a1", "a2", "a3")                 // waits whole, next to b
	addScope(rl1, "b", "b1", "own", "b2", "nokey", "b3") // mostly waits
	addScope(rl1, "e", "own", "e1", "nokey")             // mostly passes
	rl2 := ld.ResourceLogs().AppendEmpty()
	rl2.Resource().Attributes().PutStr("service.name", "two")
	rl2.SetSchemaUrl("https://res/two")
	addScope(rl2, "c", "c1", "c2") // the resource's only scope waits whole
	rl3 := ld.ResourceLogs().AppendEmpty()
	rl3.Resource().Attributes().PutStr("service.name", "three")
	addScope(rl3, "d", "nokey", "own") // nothing waits

	require.NoError(t, h.logs.ConsumeLogs(ctx, ld))
	passed := outWithContainers(t, h.logOut.AllLogs())
	assert.Len(t, passed, 6, "b-own, b-nokey, e-own, e-nokey, d-nokey, d-own pass at once")
	for _, id := range []string{"b-own", "b-nokey", "e-own", "e-nokey"} {
		assert.Equal(t, "one", passed[id].resource, id)
		assert.Equal(t, "https://res/one", passed[id].rlSchema, id)
		assert.Equal(t, id[:1], passed[id].scope, id)
		assert.Equal(t, "https://scope/"+id[:1], passed[id].slSchema, id)
	}
	assert.Equal(t, 3+3+1+2, h.state.engine.State().Waiting)

	// releases cut across the incoming scopes, in any order
	h.clock.Advance(time.Second)
	require.NoError(t, h.traces.ConsumeTraces(ctx, serverSpans("a2", "b3", "c2")))
	require.NoError(t, h.traces.ConsumeTraces(ctx, serverSpans("b1", "a1", "a3", "e1")))
	h.clock.Advance(cfg.Join.Wait) // b2 and c1 expire
	h.expire()
	assert.Zero(t, h.state.engine.State().Waiting)

	out := outWithContainers(t, h.logOut.AllLogs())
	require.Len(t, out, 15, "records in == records out")
	want := map[string][2]string{
		"a1": {"one", "a"}, "a2": {"one", "a"}, "a3": {"one", "a"},
		"b1": {"one", "b"}, "b2": {"one", "b"}, "b3": {"one", "b"},
		"c1": {"two", "c"}, "c2": {"two", "c"}, "e1": {"one", "e"},
	}
	for id, w := range want {
		o, ok := out[id]
		require.True(t, ok, id)
		assert.Equal(t, w[0], o.resource, id)
		assert.Equal(t, "https://res/"+w[0], o.rlSchema, id)
		assert.Equal(t, w[1], o.scope, id)
		assert.Equal(t, "https://scope/"+w[1], o.slSchema, id)
		if id == "b2" || id == "c1" {
			assert.True(t, o.lr.TraceID().IsEmpty(), id)
			continue
		}
		assert.Equal(t, traceIDFor(id), o.lr.TraceID(), id)
		assert.Equal(t, spanIDFor(id), o.lr.SpanID(), id)
	}
}

// TestHeldBatchReleasedByShutdownAfterPartialRelease: the rest of a
// partly released batch leaves at Shutdown, once.
func TestHeldBatchReleasedByShutdownAfterPartialRelease(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config), true)
	ctx := context.Background()
	require.NoError(t, h.logs.ConsumeLogs(ctx, logsWithRequestIDs("p1", "p2", "p3", "p4")))
	require.NoError(t, h.traces.ConsumeTraces(ctx, serverSpans("p3")))
	require.NoError(t, h.traces.ConsumeTraces(ctx, serverSpans("p1")))
	require.NoError(t, h.logs.Shutdown(ctx))
	out := outWithContainers(t, h.logOut.AllLogs())
	require.Len(t, out, 4)
	assert.Equal(t, traceIDFor("p1"), out["p1"].lr.TraceID())
	assert.Equal(t, traceIDFor("p3"), out["p3"].lr.TraceID())
	assert.True(t, out["p2"].lr.TraceID().IsEmpty())
	assert.True(t, out["p4"].lr.TraceID().IsEmpty())
	for _, o := range out {
		assert.Equal(t, "shop", o.resource)
	}
}

// TestHeldBatchReleasedConcurrently: the records of one held batch are
// released by several traces pipelines' calls at once (and the rest at
// shutdown); each leaves exactly once, with its own context.
func TestHeldBatchReleasedConcurrently(t *testing.T) {
	for round := range 20 {
		h := newHarness(t, createDefaultConfig().(*Config), true)
		ctx := context.Background()
		var ids []string
		for i := range 64 {
			ids = append(ids, fmt.Sprintf("r%d-%d", round, i))
		}
		require.NoError(t, h.logs.ConsumeLogs(ctx, logsWithRequestIDs(ids...)))
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < 60; i += 4 {
					assert.NoError(t, h.traces.ConsumeTraces(ctx, serverSpans(ids[i])))
				}
			}()
		}
		wg.Wait()
		require.NoError(t, h.logs.Shutdown(ctx))
		out := outWithContainers(t, h.logOut.AllLogs())
		require.Len(t, out, len(ids))
		for i, id := range ids {
			if i < 60 {
				assert.Equal(t, traceIDFor(id), out[id].lr.TraceID(), id)
			} else {
				assert.True(t, out[id].lr.TraceID().IsEmpty(), id)
			}
		}
	}
}
