// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// byKey indexes a status's limited keys by scope|metric|label.
func byKey(st Status) map[string]LimitedKey {
	out := map[string]LimitedKey{}
	for _, l := range st.Limited {
		out[l.Scope+"|"+l.Metric+"|"+l.Label] = l
	}
	return out
}

// Status: the limited keys with their estimate, since when and the points
// they changed, counted by hand; the series per metric; the budget.
func TestStatus(t *testing.T) {
	clock := newClock()
	start := clock.Now()
	e := newTestEngine(clock, func(s *Settings) { s.Default.AlwaysDrop = []string{"session"} })

	// 10 users (limit 3: the 4th limits user_id for the whole batch, all 10
	// points lose it); 4 of the points also carry session, always dropped.
	clock.Advance(5 * time.Second)
	var pts []pt
	for i := range 10 {
		p := delta(i, 1)
		if i < 4 {
			p.attrs["session"] = "s" + itoa(i)
		}
		pts = append(pts, p)
	}
	b := newBatch("shop").sum("operation_error", false, pts...)
	e.Process(b.md)
	limitedAt := clock.Now()

	// A minute later: 5 known users lose user_id again; another service's
	// metric tracks 2 series and limits nothing.
	clock.Advance(time.Minute)
	var again []pt
	for i := range 5 {
		again = append(again, delta(i, 1))
	}
	e.Process(newBatch("shop").sum("operation_error", false, again...).md)
	e.Process(newBatch("cart").sum("logins", false, pt{attrs: map[string]any{"r": "a"}, i: 1}, pt{attrs: map[string]any{"r": "b"}, i: 1}).md)

	st := e.Status()
	limited := byKey(st)
	require.Len(t, limited, 2)
	assert.Equal(t, LimitedKey{
		Scope: "service.name=shop", Metric: "operation_error", Label: "user_id",
		Values: 10, Action: DropLabel, Reason: ReasonValueLimit,
		Since: limitedAt, Points: 10 + 5,
	}, limited["service.name=shop|operation_error|user_id"])
	assert.Equal(t, LimitedKey{
		Scope: "service.name=shop", Metric: "operation_error", Label: "session",
		Action: DropLabel, Reason: ReasonAlwaysDrop,
		Since: limitedAt, Points: 4,
	}, limited["service.name=shop|operation_error|session"])
	assert.Equal(t, limitedAt, start.Add(5*time.Second))

	assert.ElementsMatch(t, []SeriesUse{
		{Scope: "service.name=shop", Metric: "operation_error", Tracked: 1, Limit: 100}, // {route=/checkout}
		{Scope: "service.name=cart", Metric: "logins", Tracked: 2, Limit: 100},
	}, st.Series)
	assert.Equal(t, int64(e.SeriesTracked()), st.Entries)
	assert.Equal(t, int64(e.recount()), st.Entries)
	assert.Equal(t, int64(1_000_000), st.Budget)
	assert.Equal(t, int64(1), st.LimitedKeys)

	// The limit lifts after a quiet window, and a new limit starts afresh.
	clock.Advance(2 * time.Hour)
	relimit := clock.Now()
	var later []pt
	for i := range 6 {
		later = append(later, delta(100+i, 1))
	}
	e.Process(newBatch("shop").sum("operation_error", false, later...).md)
	l := byKey(e.Status())["service.name=shop|operation_error|user_id"]
	assert.Equal(t, relimit, l.Since)
	assert.Equal(t, int64(6), l.Points)
	assert.Equal(t, uint64(6), l.Values, "the new sketch: u100-u102 admitted, u103 over, u104-u105 after")
}

// Overflow_value counts only the points whose value overflowed: the
// admitted values keep theirs.
func TestStatusOverflowCountsOverflowedPoints(t *testing.T) {
	e := newTestEngine(newClock(), func(s *Settings) { s.Default.Action = OverflowValue })
	var pts []pt
	for i := range 10 {
		pts = append(pts, delta(i, 1))
	}
	e.Process(newBatch("shop").sum("operation_error", false, pts...).md)
	st := e.Status()
	require.Len(t, st.Limited, 1)
	assert.Equal(t, OverflowValue, st.Limited[0].Action)
	assert.Equal(t, int64(7), st.Limited[0].Points, "u3-u9 overflowed, u0-u2 kept")
}

func TestScopeName(t *testing.T) {
	e := newTestEngine(newClock(), func(s *Settings) { s.ScopeAttributes = []string{"service.name", "k8s.namespace.name", "pod"} })
	res := pcommon.NewMap()
	res.PutStr("service.name", "shop")
	res.PutInt("pod", 7)
	assert.Equal(t, "service.name=shop,pod=7", e.scopeName(res), "missing attributes are left out")

	res.PutStr("service.name", strings.Repeat("é", 100)) // 200 bytes
	name := e.scopeName(res)
	assert.True(t, strings.HasSuffix(name, "…"))
	assert.LessOrEqual(t, len(name), maxScopeName+len("…"))
	assert.True(t, strings.HasPrefix(name, "service.name=éé"))
	assert.NotContains(t, name, "\uFFFD", "cut on a rune boundary")

	global := newTestEngine(newClock(), func(s *Settings) { s.ScopeAttributes = nil })
	assert.Empty(t, global.scopeName(res))
}
