// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"cmp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// LabelEstimate is one entry of the cardinality report: a limited (metric,
// label) pair and its estimated distinct values (HyperLogLog), the largest
// over the scopes where it is limited.
type LabelEstimate struct {
	Metric, Label string
	Values        uint64
}

// CardinalityReport returns the n limited (metric, label) pairs with the
// most estimated distinct values, most first (ties by metric, then label).
// Only keys over their value limit have an estimate: always-dropped keys
// are not in it.
func (e *Engine) CardinalityReport(n int) []LabelEstimate {
	if n <= 0 {
		return nil
	}
	e.mu.Lock()
	limited := e.limitedLocked()
	e.mu.Unlock()
	type pair struct{ metric, label string }
	est := map[pair]uint64{}
	for i := range limited {
		l := &limited[i]
		if l.Reason == ReasonValueLimit {
			p := pair{l.Metric, l.Label}
			est[p] = max(est[p], l.Values)
		}
	}
	out := make([]LabelEstimate, 0, len(est))
	for p, v := range est {
		out = append(out, LabelEstimate{Metric: p.metric, Label: p.label, Values: v})
	}
	slices.SortFunc(out, func(a, b LabelEstimate) int {
		return cmp.Or(cmp.Compare(b.Values, a.Values), cmp.Compare(a.Metric, b.Metric), cmp.Compare(a.Label, b.Label))
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// Status is a copy of the engine's state, for the status page. Its lists
// are in no particular order and complete; the caller orders and bounds them.
type Status struct {
	// Limited are the keys limited in some scope: over their value limit,
	// or always dropped (once a point lost them).
	Limited []LimitedKey
	// Series are the output series each metric tracks against its
	// max_series_per_metric, one entry per metric and scope.
	Series []SeriesUse
	// Entries are the entries counted against max_series_total (Budget).
	Entries, Budget int64
	// LimitedKeys is the number of keys over their value limit.
	LimitedKeys int64
}

// LimitedKey is a label key limited on one metric in one scope.
type LimitedKey struct {
	Scope, Metric, Label string
	// Values is the estimated distinct values (HyperLogLog) of a key over
	// its value limit; 0 for an always-dropped key, whose values are not kept.
	Values uint64
	Action Action
	Reason Reason // ReasonValueLimit or ReasonAlwaysDrop
	// Since is when the current limit started (for an always-dropped key:
	// the first point that lost it).
	Since time.Time
	// Points counts the points that lost the key or had it overflowed
	// since then (what would have been, in observe mode).
	Points int64
}

// SeriesUse is one metric's tracked output series against its limit.
type SeriesUse struct {
	Scope, Metric  string
	Tracked, Limit int64
}

// Status copies the engine's state under its lock. It is not on the data
// path: the status page asks for it.
func (e *Engine) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := Status{
		Limited:     e.limitedLocked(),
		Entries:     int64(e.total),
		Budget:      int64(e.set.MaxSeriesTotal),
		LimitedKeys: int64(e.limitedKeys),
	}
	for _, sc := range e.scopes {
		for _, ms := range sc.metrics {
			st.Series = append(st.Series, SeriesUse{
				Scope: sc.name, Metric: ms.name,
				Tracked: int64(len(ms.series)), Limit: int64(ms.lim.MaxSeriesPerMetric),
			})
		}
	}
	return st
}

// limitedLocked lists the limited keys of every scope; e.mu is held.
func (e *Engine) limitedLocked() []LimitedKey {
	var out []LimitedKey
	for _, sc := range e.scopes {
		for _, ms := range sc.metrics {
			for k, ls := range ms.labels {
				if !ls.limited {
					continue
				}
				out = append(out, LimitedKey{
					Scope: sc.name, Metric: ms.name, Label: k,
					Values: ls.estimate(), Action: ms.lim.Action, Reason: ReasonValueLimit,
					Since: e.stampTime(ls.limit.since), Points: ls.limit.points,
				})
			}
			for i, c := range ms.alwaysDropped {
				if c.points == 0 {
					continue
				}
				out = append(out, LimitedKey{
					Scope: sc.name, Metric: ms.name, Label: ms.lim.AlwaysDrop[i],
					Action: DropLabel, Reason: ReasonAlwaysDrop,
					Since: e.stampTime(c.since), Points: c.points,
				})
			}
		}
	}
	return out
}

// stampTime is the time of a stamp, which is at most 2^31 ms old.
func (e *Engine) stampTime(s uint32) time.Time {
	return e.epoch.Add(time.Duration(e.nowMs-int64(e.age(s))) * time.Millisecond)
}

// maxScopeName bounds a scope's name: resource attribute values can be long.
const maxScopeName = 128

// scopeName is how the status page shows a scope: its scope attributes,
// key=value, comma separated, the missing ones left out.
func (e *Engine) scopeName(res pcommon.Map) string {
	var b strings.Builder
	for _, k := range e.set.ScopeAttributes {
		v, ok := res.Get(k)
		if !ok {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v.AsString())
		if b.Len() > maxScopeName {
			break
		}
	}
	s := b.String()
	if len(s) > maxScopeName {
		s = s[:maxScopeName]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return s
}
