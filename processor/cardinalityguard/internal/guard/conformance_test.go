// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

// Conformance: OTLP input built the way real producers send it (several
// pods of one service, several SDK instrumentation scopes, Prometheus
// receiver staleness markers, restarts with a new start time), every merged
// point checked against sums worked out by hand in the comments.
//
// Stream identity follows the OTel metrics data model
// (https://opentelemetry.io/docs/specs/otel/metrics/data-model/#opentelemetry-protocol-data-model):
// resource, instrumentation scope, metric name, type, unit, temporality and
// point attributes. Staleness follows the data model's NoRecordedValue flag
// (#no-recorded-value), as the Prometheus receiver sets it.

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// cp is one point of a conformance input: where it comes from and its value.
type cp struct {
	svc, pod, scope string
	attrs           map[string]any
	start, ts       uint64
	v               float64
	stale           bool // NoRecordedValue, as the Prometheus receiver marks staleness
}

// staleNaN is Prometheus' staleness marker value (value.StaleNaN).
var staleNaN = math.Float64frombits(0x7ff0000000000002)

// otlpSums builds one metric "m" (double sum) per (resource, scope), with a
// resource per (service, pod) and a scope per scope name, in input order.
func otlpSums(cumulative, monotonic bool, pts ...cp) pmetric.Metrics {
	md := pmetric.NewMetrics()
	res := map[string]pmetric.ResourceMetrics{}
	scopes := map[string]pmetric.NumberDataPointSlice{}
	for _, p := range pts {
		rk := p.svc + "|" + p.pod
		rm, ok := res[rk]
		if !ok {
			rm = md.ResourceMetrics().AppendEmpty()
			if p.svc != "" {
				rm.Resource().Attributes().PutStr("service.name", p.svc)
			}
			if p.pod != "" {
				rm.Resource().Attributes().PutStr("k8s.pod.name", p.pod)
			}
			res[rk] = rm
		}
		sk := rk + "|" + p.scope
		dps, ok := scopes[sk]
		if !ok {
			sm := rm.ScopeMetrics().AppendEmpty()
			sm.Scope().SetName(p.scope)
			sm.Scope().SetVersion("1.0.0")
			m := sm.Metrics().AppendEmpty()
			m.SetName("m")
			m.SetUnit("{request}")
			s := m.SetEmptySum()
			s.SetIsMonotonic(monotonic)
			if cumulative {
				s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			} else {
				s.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
			}
			dps = s.DataPoints()
			scopes[sk] = dps
		}
		dp := dps.AppendEmpty()
		putAttrs(dp.Attributes(), p.attrs)
		dp.SetStartTimestamp(pcommon.Timestamp(p.start))
		dp.SetTimestamp(pcommon.Timestamp(p.ts))
		if p.stale {
			dp.SetDoubleValue(staleNaN)
			dp.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
		} else {
			dp.SetDoubleValue(p.v)
		}
	}
	return md
}

// outPoints returns the output points of metric m keyed by
// "service|pod|scope|attrs"; it fails on two points of one stream.
func outPoints(t *testing.T, md pmetric.Metrics) map[string]pmetric.NumberDataPoint {
	t.Helper()
	out := map[string]pmetric.NumberDataPoint{}
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		svc, _ := rm.Resource().Attributes().Get("service.name")
		pod, _ := rm.Resource().Attributes().Get("k8s.pod.name")
		for j := 0; j < rm.ScopeMetrics().Len(); j++ {
			sm := rm.ScopeMetrics().At(j)
			for k := 0; k < sm.Metrics().Len(); k++ {
				m := sm.Metrics().At(k)
				dps := m.Sum().DataPoints()
				for l := 0; l < dps.Len(); l++ {
					key := strings.Join([]string{svc.Str(), pod.Str(), sm.Scope().Name(), attrKey(dps.At(l).Attributes())}, "|")
					_, dup := out[key]
					require.False(t, dup, "two points of stream %s", key)
					out[key] = dps.At(l)
				}
			}
		}
	}
	return out
}

func outValues(t *testing.T, md pmetric.Metrics) map[string]float64 {
	t.Helper()
	vals := map[string]float64{}
	for k, dp := range outPoints(t, md) {
		vals[k] = dp.DoubleValue()
	}
	return vals
}

func ua(user, route string) map[string]any {
	return map[string]any{"user_id": user, "route": route}
}

func dropUserEngine(clock *fakeClock, mod func(*Settings)) *Engine {
	return newTestEngine(clock, func(s *Settings) {
		s.Default.AlwaysDrop = []string{"user_id"}
		s.Default.MaxValuesPerLabel = 100
		if mod != nil {
			mod(s)
		}
	})
}

// Identity: members are kept apart by full stream identity; each output
// stream is the sum of its own members only.
func TestConformanceIdentity(t *testing.T) {
	type round struct {
		in   []cp
		want map[string]float64
	}
	for _, tc := range []struct {
		name   string
		global bool
		rounds []round
	}{{
		// Two pods (resources) of one service, different users.
		// Pod a: u1 40 + u2 50 = 90; pod b: u3 30 + u4 60 = 90.
		// Then u1 → 41 (a: 41+50 = 91) and u3 → 35 (b: 35+60 = 95).
		name: "two pods, different users",
		rounds: []round{{
			in: []cp{
				{svc: "shop", pod: "a", attrs: ua("u1", "/a"), start: 1, ts: 10, v: 40},
				{svc: "shop", pod: "a", attrs: ua("u2", "/a"), start: 1, ts: 10, v: 50},
				{svc: "shop", pod: "b", attrs: ua("u3", "/a"), start: 1, ts: 10, v: 30},
				{svc: "shop", pod: "b", attrs: ua("u4", "/a"), start: 1, ts: 10, v: 60},
			},
			want: map[string]float64{"shop|a||route=/a": 90, "shop|b||route=/a": 90},
		}, {
			in: []cp{
				{svc: "shop", pod: "a", attrs: ua("u1", "/a"), start: 1, ts: 20, v: 41},
				{svc: "shop", pod: "b", attrs: ua("u3", "/a"), start: 1, ts: 20, v: 35},
			},
			want: map[string]float64{"shop|a||route=/a": 91, "shop|b||route=/a": 95},
		}},
	}, {
		// Two pods of one service with the same user ids.
		// Pod a: u1 100 + u2 20 = 120; pod b: u1 10 + u2 2 = 12.
		// Then u1 → 101 on a (121) and u1 → 11 on b (13).
		name: "two pods, same users",
		rounds: []round{{
			in: []cp{
				{svc: "shop", pod: "a", attrs: ua("u1", "/a"), start: 1, ts: 10, v: 100},
				{svc: "shop", pod: "a", attrs: ua("u2", "/a"), start: 1, ts: 10, v: 20},
				{svc: "shop", pod: "b", attrs: ua("u1", "/a"), start: 1, ts: 10, v: 10},
				{svc: "shop", pod: "b", attrs: ua("u2", "/a"), start: 1, ts: 10, v: 2},
			},
			want: map[string]float64{"shop|a||route=/a": 120, "shop|b||route=/a": 12},
		}, {
			in: []cp{
				{svc: "shop", pod: "a", attrs: ua("u1", "/a"), start: 1, ts: 20, v: 101},
				{svc: "shop", pod: "b", attrs: ua("u1", "/a"), start: 1, ts: 20, v: 11},
			},
			want: map[string]float64{"shop|a||route=/a": 121, "shop|b||route=/a": 13},
		}},
	}, {
		// scope_attributes: [] (one global scope), two services with the
		// same users: shop 100 + 20 = 120, cart 10 + 2 = 12.
		name:   "global scope, two services",
		global: true,
		rounds: []round{{
			in: []cp{
				{svc: "shop", attrs: ua("u1", "/a"), start: 1, ts: 10, v: 100},
				{svc: "shop", attrs: ua("u2", "/a"), start: 1, ts: 10, v: 20},
				{svc: "cart", attrs: ua("u1", "/a"), start: 1, ts: 10, v: 10},
				{svc: "cart", attrs: ua("u2", "/a"), start: 1, ts: 10, v: 2},
			},
			want: map[string]float64{"shop|||route=/a": 120, "cart|||route=/a": 12},
		}, {
			in: []cp{
				{svc: "shop", attrs: ua("u2", "/a"), start: 1, ts: 20, v: 25},
				{svc: "cart", attrs: ua("u2", "/a"), start: 1, ts: 20, v: 3},
			},
			want: map[string]float64{"shop|||route=/a": 125, "cart|||route=/a": 13},
		}},
	}, {
		// One resource, two instrumentation scopes (two SDK libraries
		// emitting the same metric name): http 100 + 200 = 300, grpc 1 + 2 = 3.
		name: "one resource, two scopes",
		rounds: []round{{
			in: []cp{
				{svc: "shop", scope: "http", attrs: ua("u1", "/a"), start: 1, ts: 10, v: 100},
				{svc: "shop", scope: "http", attrs: ua("u2", "/a"), start: 1, ts: 10, v: 200},
				{svc: "shop", scope: "grpc", attrs: ua("u1", "/a"), start: 1, ts: 10, v: 1},
				{svc: "shop", scope: "grpc", attrs: ua("u2", "/a"), start: 1, ts: 10, v: 2},
			},
			want: map[string]float64{"shop||http|route=/a": 300, "shop||grpc|route=/a": 3},
		}, {
			in: []cp{
				{svc: "shop", scope: "http", attrs: ua("u1", "/a"), start: 1, ts: 20, v: 150},
				{svc: "shop", scope: "grpc", attrs: ua("u1", "/a"), start: 1, ts: 20, v: 4},
			},
			want: map[string]float64{"shop||http|route=/a": 350, "shop||grpc|route=/a": 6},
		}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			e := dropUserEngine(newClock(), func(s *Settings) {
				if tc.global {
					s.ScopeAttributes = nil
				}
			})
			for i, r := range tc.rounds {
				md := otlpSums(true, true, r.in...)
				e.Process(md)
				assert.Equal(t, r.want, outValues(t, md), "round %d", i)
			}
		})
	}
}

// The limits count per configured scope even though merge state is per
// stream: two pods of one service share max_values_per_label.
func TestConformanceLimitsCountPerScope(t *testing.T) {
	e := newTestEngine(newClock(), func(s *Settings) { s.Default.MaxValuesPerLabel = 2 })
	// Pod a's resource comes first: u1 and u3 are the 2 values of user_id
	// in scope "shop" and keep it. u2 on pod b is the third value: user_id
	// is limited for the whole service and u2 is merged into {route=/a} of
	// pod b: 6.
	md := otlpSums(true, true,
		cp{svc: "shop", pod: "a", attrs: ua("u1", "/a"), start: 1, ts: 10, v: 5},
		cp{svc: "shop", pod: "b", attrs: ua("u2", "/a"), start: 1, ts: 10, v: 6},
		cp{svc: "shop", pod: "a", attrs: ua("u3", "/a"), start: 1, ts: 10, v: 7},
	)
	e.Process(md)
	assert.Equal(t, map[string]float64{
		"shop|a||route=/a,user_id=u1": 5,
		"shop|a||route=/a,user_id=u3": 7,
		"shop|b||route=/a":            6,
	}, outValues(t, md))
	// From then on user_id is dropped on both pods; each pod's merged series
	// is its own members: pod a u1 5 + u3 8 = 13, pod b u2 6.
	md = otlpSums(true, true,
		cp{svc: "shop", pod: "a", attrs: ua("u1", "/a"), start: 1, ts: 20, v: 5},
		cp{svc: "shop", pod: "b", attrs: ua("u2", "/a"), start: 1, ts: 20, v: 6},
		cp{svc: "shop", pod: "a", attrs: ua("u3", "/a"), start: 1, ts: 20, v: 8},
	)
	e.Process(md)
	assert.Equal(t, map[string]float64{"shop|a||route=/a": 13, "shop|b||route=/a": 6}, outValues(t, md))
}

// seq runs rounds of one cumulative stream's members through e and returns
// the merged point of each round.
func seq(t *testing.T, e *Engine, clock *fakeClock, every time.Duration, monotonic bool, rounds ...[]cp) []pmetric.NumberDataPoint {
	t.Helper()
	var got []pmetric.NumberDataPoint
	for i, r := range rounds {
		if i > 0 {
			clock.Advance(every)
		}
		md := otlpSums(true, monotonic, r...)
		e.Process(md)
		pts := outPoints(t, md)
		require.Len(t, pts, 1, "round %d: one merged point", i)
		for _, p := range pts {
			got = append(got, p)
		}
	}
	return got
}

func mbr(user string, start, ts uint64, v float64) cp {
	return cp{svc: "shop", attrs: ua(user, "/a"), start: start, ts: ts, v: v}
}

func doubles(pts []pmetric.NumberDataPoint) []float64 {
	out := make([]float64, len(pts))
	for i, p := range pts {
		out[i] = p.DoubleValue()
	}
	return out
}

// NaN in one member's point makes that round's merged value NaN and no
// more: the totals are recomputed, not kept by subtraction.
func TestConformanceNaN(t *testing.T) {
	clock := newClock()
	e := dropUserEngine(clock, nil)
	got := doubles(seq(t, e, clock, time.Second, true,
		[]cp{mbr("A", 1, 10, 10), mbr("B", 1, 10, 20)},          // 10 + 20 = 30
		[]cp{mbr("A", 1, 20, math.NaN()), mbr("B", 1, 20, 22)},  // NaN
		[]cp{mbr("A", 1, 30, 12), mbr("B", 1, 30, 22)},          // 12 + 22 = 34
		[]cp{mbr("A", 1, 40, 13), mbr("B", 1, 40, 23)},          // 36
		[]cp{mbr("A", 1, 50, 14), mbr("B", 1, 50, 24)},          // 38
		[]cp{mbr("A", 1, 60, math.Inf(1)), mbr("B", 1, 60, 24)}, // +Inf
		[]cp{mbr("A", 1, 70, 15), mbr("B", 1, 70, 25)},          // 40
	))
	require.Len(t, got, 7)
	assert.InDelta(t, 30.0, got[0], 0)
	assert.True(t, math.IsNaN(got[1]), "the round with the NaN point is NaN")
	assert.Equal(t, []float64{34, 36, 38}, got[2:5])
	assert.True(t, math.IsInf(got[5], 1))
	assert.InDelta(t, 40.0, got[6], 0)
}

// A Prometheus staleness marker makes its member stale: not a reset; the
// merged point is flagged only when every member is stale.
func TestConformanceStaleness(t *testing.T) {
	clock := newClock()
	e := dropUserEngine(clock, nil)
	stale := func(user string, ts uint64) cp {
		return cp{svc: "shop", attrs: ua(user, "/a"), start: 1, ts: ts, stale: true}
	}
	got := seq(t, e, clock, time.Second, true,
		[]cp{mbr("A", 1, 10, 100), mbr("B", 1, 10, 50)}, // 150
		[]cp{stale("A", 20), mbr("B", 1, 20, 50)},       // A stale, its 100 stays: 150
		[]cp{mbr("A", 1, 30, 103), mbr("B", 1, 30, 50)}, // A back, same start: 103 + 50 = 153
		[]cp{stale("A", 40), stale("B", 40)},            // every member stale: flagged
	)
	assert.Equal(t, []float64{150, 150, 153, 153}, doubles(got))
	for i, flagged := range []bool{false, false, false, true} {
		assert.Equal(t, flagged, got[i].Flags().NoRecordedValue(), "round %d", i)
	}
}

// Non-monotonic cumulative sums (UpDownCounters) are levels: a restarted
// member's new level replaces the old one, and a level may go down.
func TestConformanceUpDownCounter(t *testing.T) {
	clock := newClock()
	e := dropUserEngine(clock, nil)
	got := doubles(seq(t, e, clock, time.Second, false,
		[]cp{mbr("A", 1, 10, 40), mbr("B", 1, 10, 6)}, // 46
		[]cp{mbr("A", 15, 20, 3), mbr("B", 1, 20, 6)}, // A restarted at 3: 3 + 6 = 9
		[]cp{mbr("A", 15, 30, 1), mbr("B", 1, 30, 6)}, // A went down to 1: 7
	))
	assert.Equal(t, []float64{46, 9, 7}, got)
}

// A same-timestamp duplicate or a late point never moves the merged series
// back in time and never fakes a reset.
func TestConformanceDuplicatesAndLatePoints(t *testing.T) {
	clock := newClock()
	e := dropUserEngine(clock, nil)
	got := seq(t, e, clock, time.Second, true,
		[]cp{mbr("A", 1, 100, 10), mbr("B", 1, 100, 5)}, // 15
		[]cp{mbr("A", 1, 100, 10), mbr("A", 1, 90, 8)},  // duplicate and late: 15 at 100
		[]cp{mbr("A", 1, 100, 3)},                       // same timestamp, lower: no reset, 15
		[]cp{mbr("A", 1, 200, 12)},                      // 12 + 5 = 17
	)
	assert.Equal(t, []float64{15, 15, 15, 17}, doubles(got))
	for i, ts := range []uint64{100, 100, 100, 200} {
		assert.Equal(t, pcommon.Timestamp(ts), got[i].Timestamp(), "round %d", i)
		assert.Equal(t, pcommon.Timestamp(1), got[i].StartTimestamp(), "round %d: stable start", i)
	}
}

// Time: members reporting more often than the window are never expired,
// and a member that returns after the window is absorbed exactly.
func TestConformanceWindow(t *testing.T) {
	t.Run("members every 1.3s, 2s window", func(t *testing.T) {
		clock := newClock()
		e := dropUserEngine(clock, func(s *Settings) { s.Window = 2 * time.Second })
		var rounds [][]cp
		for i := range 6 {
			ts := uint64(10 + i)
			rounds = append(rounds, []cp{mbr("A", 1, ts, 50), mbr("B", 1, ts, 5)})
		}
		got := doubles(seq(t, e, clock, 1300*time.Millisecond, true, rounds...))
		assert.Equal(t, []float64{55, 55, 55, 55, 55, 55}, got)
	})
	t.Run("member silent 3.5s returns", func(t *testing.T) {
		clock := newClock()
		e := dropUserEngine(clock, func(s *Settings) { s.Window = 2 * time.Second })
		// t=0: A 50, B 5 = 55. B alone every second until t=3; A is silent
		// for 3.5 s (past the window): its 50 stays in. At t=3.5 A returns
		// with 50 (55), at t=4.5 with 51: 51 + 5 = 56.
		var got []float64
		run := func(pts ...cp) {
			md := otlpSums(true, true, pts...)
			e.Process(md)
			for _, v := range outValues(t, md) {
				got = append(got, v)
			}
		}
		run(mbr("A", 1, 10, 50), mbr("B", 1, 10, 5))
		for i := range 3 {
			clock.Advance(time.Second)
			run(mbr("B", 1, uint64(11+i), 5))
		}
		clock.Advance(500 * time.Millisecond)
		run(mbr("A", 1, 20, 50))
		clock.Advance(time.Second)
		run(mbr("A", 1, 21, 51), mbr("B", 1, 21, 5))
		assert.Equal(t, []float64{55, 55, 55, 55, 55, 56}, got)
	})
	t.Run("exact to the millisecond", func(t *testing.T) {
		clock := newClock()
		e := dropUserEngine(clock, func(s *Settings) { s.Window = 2 * time.Second })
		// UpDownCounter levels leave when their member is forgotten: A
		// silent 1999 ms still counts (40 + 6 = 46); silent 2000 ms it is
		// gone (6), whenever the sweep runs.
		var got []float64
		run := func(pts ...cp) {
			md := otlpSums(true, false, pts...)
			e.Process(md)
			for _, v := range outValues(t, md) {
				got = append(got, v)
			}
		}
		run(mbr("A", 1, 10, 40), mbr("B", 1, 10, 6))
		clock.Advance(1999 * time.Millisecond)
		run(mbr("B", 1, 11, 6))
		clock.Advance(time.Millisecond)
		run(mbr("B", 1, 12, 6))
		assert.Equal(t, []float64{46, 46, 6}, got)
	})
}

// After a key is limited its per-value series are retired at once: the
// merged series keep their remaining labels and fit the series limit.
func TestConformanceRetireAfterLimit(t *testing.T) {
	e := newTestEngine(newClock(), func(s *Settings) {
		s.Default.MaxValuesPerLabel = 10
		s.Default.MaxSeriesPerMetric = 20
	})
	// Round 1: u0..u9 on /a and /b, 1 each: 20 series, the series limit.
	var in []cp
	for _, r := range []string{"/a", "/b"} {
		for u := range 10 {
			in = append(in, cp{svc: "shop", attrs: ua(itoa(u), r), start: 1, ts: 10, v: 1})
		}
	}
	md := otlpSums(false, true, in...)
	e.Process(md)
	require.Len(t, outValues(t, md), 20)
	// Round 2: the same 20 plus u10 on both routes (delta 1 each): the
	// 11th user_id value limits the key; every point of the batch loses
	// user_id: {route=/a} = 11, {route=/b} = 11, no overflow series.
	in = in[:0]
	for _, r := range []string{"/a", "/b"} {
		for u := range 11 {
			in = append(in, cp{svc: "shop", attrs: ua(itoa(u), r), start: 10, ts: 20, v: 1})
		}
	}
	md = otlpSums(false, true, in...)
	e.Process(md)
	assert.Equal(t, map[string]float64{"shop|||route=/a": 11, "shop|||route=/b": 11}, outValues(t, md))
}

// Property: several pods and instrumentation scopes of one service, random
// restarts (new start time, the counter starts again) and NaN points. Every
// merged point equals, for its own stream, what restarted members left
// behind (their last finite value) plus the sum of every member's latest
// value (NaN while a member's latest value is NaN); between NaN rounds the
// merged series never decrease.
func TestPropertyStreamsRestartsNaN(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	clock := newClock()
	e := dropUserEngine(clock, nil)
	pods, scopes, routes := []string{"p1", "p2", "p3"}, []string{"http", "grpc"}, []string{"/a", "/b"}
	type mkey struct {
		pod, scope, user string
	}
	type mstate struct {
		start   uint64
		counter float64 // the producer's counter since start
		latest  float64 // the latest value sent (NaN when that was NaN)
		finite  float64 // the latest finite value sent
	}
	members := map[mkey]*mstate{}
	retired := map[string]float64{} // per stream: what restarts left behind
	routeOf := func(user string) string { return routes[len(user)%2] }
	streamOf := func(k mkey) string { return "shop|" + k.pod + "|" + k.scope + "|route=" + routeOf(k.user) }
	lastOut := map[string]float64{}
	for round := 0; round < 60; round++ {
		ts := uint64(1000 + round)
		var in []cp
		for _, pod := range pods {
			for _, sc := range scopes {
				for u := 0; u < 12; u++ {
					if rng.IntN(3) == 0 {
						continue // this member skips the round
					}
					user := "u" + strings.Repeat("x", u%2) + itoa(u)
					k := mkey{pod, sc, user}
					m := members[k]
					switch {
					case m == nil:
						m = &mstate{start: ts}
						members[k] = m
					case rng.IntN(20) == 0:
						// Restart: the member's last finite value stays in
						// (a NaN point in between changes nothing).
						retired[streamOf(k)] += m.finite
						m.start, m.counter, m.finite = ts, 0, 0
					}
					m.counter += float64(rng.IntN(6))
					m.latest = m.counter
					if rng.IntN(30) == 0 {
						m.latest = math.NaN()
					} else {
						m.finite = m.latest
					}
					in = append(in, cp{svc: "shop", pod: pod, scope: sc, attrs: ua(user, routeOf(user)), start: m.start, ts: ts, v: m.latest})
				}
			}
		}
		md := otlpSums(true, true, in...)
		e.Process(md)
		got := outValues(t, md) // fails on two points of one stream
		want := map[string]float64{}
		for _, p := range in {
			want["shop|"+p.pod+"|"+p.scope+"|route="+p.attrs["route"].(string)] = 0
		}
		for s := range want {
			v := retired[s]
			for k, m := range members {
				if streamOf(k) == s {
					v += m.latest
				}
			}
			want[s] = v
		}
		require.Len(t, got, len(want), "round %d: one point per stream", round)
		for s, w := range want {
			g, ok := got[s]
			require.True(t, ok, "round %d: stream %s missing", round, s)
			if math.IsNaN(w) {
				assert.True(t, math.IsNaN(g), "round %d %s: want NaN, got %v", round, s, g)
				continue
			}
			assert.InDelta(t, w, g, 1e-9, "round %d %s", round, s)
			if prev, ok := lastOut[s]; ok && !math.IsNaN(prev) {
				assert.GreaterOrEqual(t, g, prev, "round %d %s decreased", round, s)
			}
			lastOut[s] = g
		}
		clock.Advance(10 * time.Second)
	}
	assert.Equal(t, e.recount(), e.SeriesTracked(), "the budget's count matches the state")
}

// hp2 is one cumulative histogram point (bounds 10, 100) of a pod.
type hp2 struct {
	pod, user string
	start, ts uint64
	counts    []uint64
	sum       float64
	stale     bool
}

func otlpHistograms(pts ...hp2) pmetric.Metrics {
	md := pmetric.NewMetrics()
	res := map[string]pmetric.HistogramDataPointSlice{}
	for _, p := range pts {
		dps, ok := res[p.pod]
		if !ok {
			rm := md.ResourceMetrics().AppendEmpty()
			rm.Resource().Attributes().PutStr("service.name", "shop")
			rm.Resource().Attributes().PutStr("k8s.pod.name", p.pod)
			m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
			m.SetName("latency")
			m.SetUnit("ms")
			h := m.SetEmptyHistogram()
			h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			dps = h.DataPoints()
			res[p.pod] = dps
		}
		dp := dps.AppendEmpty()
		putAttrs(dp.Attributes(), ua(p.user, "/a"))
		dp.SetStartTimestamp(pcommon.Timestamp(p.start))
		dp.SetTimestamp(pcommon.Timestamp(p.ts))
		dp.ExplicitBounds().FromRaw([]float64{10, 100})
		if p.stale {
			dp.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
			continue
		}
		dp.BucketCounts().FromRaw(p.counts)
		var n uint64
		for _, c := range p.counts {
			n += c
		}
		dp.SetCount(n)
		dp.SetSum(p.sum)
	}
	return md
}

// Cumulative histograms of two pods: kept apart, a stale member keeps its
// counts in, a restarted member leaves its previous counts behind.
func TestConformanceHistogramPods(t *testing.T) {
	e := dropUserEngine(newClock(), nil)
	type hv struct {
		counts []uint64
		count  uint64
		sum    float64
		stale  bool
	}
	run := func(pts ...hp2) map[string]hv {
		md := otlpHistograms(pts...)
		e.Process(md)
		out := map[string]hv{}
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			rm := md.ResourceMetrics().At(i)
			pod, _ := rm.Resource().Attributes().Get("k8s.pod.name")
			dps := rm.ScopeMetrics().At(0).Metrics().At(0).Histogram().DataPoints()
			require.Equal(t, 1, dps.Len(), "one merged point per pod")
			dp := dps.At(0)
			out[pod.Str()+"|"+attrKey(dp.Attributes())] = hv{dp.BucketCounts().AsRaw(), dp.Count(), dp.Sum(), dp.Flags().NoRecordedValue()}
		}
		return out
	}
	// Pod a: u1 [1 2 3] (sum 50) + u2 [0 1 0] (sum 20) = [1 3 3], count 7, sum 70.
	// Pod b: u1 [5 0 0] (sum 5).
	got := run(
		hp2{pod: "a", user: "u1", start: 1, ts: 10, counts: []uint64{1, 2, 3}, sum: 50},
		hp2{pod: "a", user: "u2", start: 1, ts: 10, counts: []uint64{0, 1, 0}, sum: 20},
		hp2{pod: "b", user: "u1", start: 1, ts: 10, counts: []uint64{5, 0, 0}, sum: 5},
	)
	assert.Equal(t, map[string]hv{
		"a|route=/a": {[]uint64{1, 3, 3}, 7, 70, false},
		"b|route=/a": {[]uint64{5, 0, 0}, 5, 5, false},
	}, got)
	// Pod a: u1 stale (its counts stay), u2 [0 2 0] (sum 40): [1 4 3], 8, 90.
	// Pod b: u1 restarted (new start) at [1 0 0] (sum 1): [5 0 0] left
	// behind + [1 0 0] = [6 0 0], 6, 6.
	got = run(
		hp2{pod: "a", user: "u1", start: 1, ts: 20, stale: true},
		hp2{pod: "a", user: "u2", start: 1, ts: 20, counts: []uint64{0, 2, 0}, sum: 40},
		hp2{pod: "b", user: "u1", start: 15, ts: 20, counts: []uint64{1, 0, 0}, sum: 1},
	)
	assert.Equal(t, map[string]hv{
		"a|route=/a": {[]uint64{1, 4, 3}, 8, 90, false},
		"b|route=/a": {[]uint64{6, 0, 0}, 6, 6, false},
	}, got)
}

// Cumulative exponential histograms of two instrumentation scopes of one
// resource: kept apart; a restart leaves the previous counts behind.
func TestConformanceExponentialHistogramScopes(t *testing.T) {
	e := dropUserEngine(newClock(), nil)
	// ehv is a merged point: its count, zero count, positive offset and buckets.
	type ehv struct {
		count, zero uint64
		offset      int32
		buckets     []uint64
	}
	run := func(pts map[string][]func(pmetric.ExponentialHistogramDataPoint)) map[string]ehv {
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", "shop")
		for _, scope := range []string{"http", "grpc"} {
			sm := rm.ScopeMetrics().AppendEmpty()
			sm.Scope().SetName(scope)
			m := sm.Metrics().AppendEmpty()
			m.SetName("e")
			h := m.SetEmptyExponentialHistogram()
			h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			for _, f := range pts[scope] {
				f(h.DataPoints().AppendEmpty())
			}
		}
		e.Process(md)
		out := map[string]ehv{}
		for j := 0; j < rm.ScopeMetrics().Len(); j++ {
			sm := rm.ScopeMetrics().At(j)
			dps := sm.Metrics().At(0).ExponentialHistogram().DataPoints()
			require.Equal(t, 1, dps.Len(), "one merged point per scope")
			dp := dps.At(0)
			out[sm.Scope().Name()] = ehv{dp.Count(), dp.ZeroCount(), dp.Positive().Offset(), dp.Positive().BucketCounts().AsRaw()}
		}
		return out
	}
	// Scale 0, offset 0. http: u1 [1 2] + u2 [3 0] = [4 2], count 6; grpc:
	// u1 [10 10], count 20 (same user ids, another scope).
	got := run(map[string][]func(pmetric.ExponentialHistogramDataPoint){
		"http": {ep(1, 1, 10, 0, 0, []uint64{1, 2}, 0), ep(2, 1, 10, 0, 0, []uint64{3, 0}, 0)},
		"grpc": {ep(1, 1, 10, 0, 0, []uint64{10, 10}, 0)},
	})
	assert.Equal(t, map[string]ehv{"http": {6, 0, 0, []uint64{4, 2}}, "grpc": {20, 0, 0, []uint64{10, 10}}}, got)
	// http: u1 restarts (start 15) at [0 1]: [1 2] stays + [0 1] + u2 [3 0]
	// = [4 3], count 7. grpc: u1 grows to [11 10] with a zero count of 2:
	// count 23.
	got = run(map[string][]func(pmetric.ExponentialHistogramDataPoint){
		"http": {ep(1, 15, 20, 0, 0, []uint64{0, 1}, 0)},
		"grpc": {ep(1, 1, 20, 0, 0, []uint64{11, 10}, 2)},
	})
	assert.Equal(t, map[string]ehv{"http": {7, 0, 0, []uint64{4, 3}}, "grpc": {23, 2, 0, []uint64{11, 10}}}, got)
}

// Gauges summed over the dropped label (gauge_aggregation: sum) are levels:
// per pod, a stale member leaves the sum; every member stale flags the point.
func TestConformanceGaugeSumStaleness(t *testing.T) {
	e := dropUserEngine(newClock(), func(s *Settings) { s.Default.GaugeAggregation = GaugeSum })
	type gp struct {
		pod, user string
		ts        uint64
		v         float64
		stale     bool
	}
	run := func(pts ...gp) map[string]pmetric.NumberDataPoint {
		md := pmetric.NewMetrics()
		res := map[string]pmetric.NumberDataPointSlice{}
		for _, p := range pts {
			dps, ok := res[p.pod]
			if !ok {
				rm := md.ResourceMetrics().AppendEmpty()
				rm.Resource().Attributes().PutStr("service.name", "shop")
				rm.Resource().Attributes().PutStr("k8s.pod.name", p.pod)
				m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
				m.SetName("queue_depth")
				dps = m.SetEmptyGauge().DataPoints()
				res[p.pod] = dps
			}
			dp := dps.AppendEmpty()
			putAttrs(dp.Attributes(), ua(p.user, "/a"))
			dp.SetTimestamp(pcommon.Timestamp(p.ts))
			if p.stale {
				dp.SetDoubleValue(staleNaN)
				dp.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
			} else {
				dp.SetDoubleValue(p.v)
			}
		}
		e.Process(md)
		out := map[string]pmetric.NumberDataPoint{}
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			rm := md.ResourceMetrics().At(i)
			pod, _ := rm.Resource().Attributes().Get("k8s.pod.name")
			dps := rm.ScopeMetrics().At(0).Metrics().At(0).Gauge().DataPoints()
			require.Equal(t, 1, dps.Len())
			out[pod.Str()] = dps.At(0)
		}
		return out
	}
	// Pod a: 5 + 7 = 12; pod b: 1.
	got := run(gp{"a", "u1", 10, 5, false}, gp{"a", "u2", 10, 7, false}, gp{"b", "u1", 10, 1, false})
	assert.InDelta(t, 12.0, got["a"].DoubleValue(), 0)
	assert.InDelta(t, 1.0, got["b"].DoubleValue(), 0)
	// Pod a: u1 stale, leaves the sum: 7. Pod b: 3.
	got = run(gp{"a", "u1", 20, 0, true}, gp{"a", "u2", 20, 7, false}, gp{"b", "u1", 20, 3, false})
	assert.InDelta(t, 7.0, got["a"].DoubleValue(), 0)
	assert.False(t, got["a"].Flags().NoRecordedValue())
	assert.InDelta(t, 3.0, got["b"].DoubleValue(), 0)
	// Pod a: every member stale: the point is flagged.
	got = run(gp{"a", "u2", 30, 0, true})
	assert.True(t, got["a"].Flags().NoRecordedValue())
}
