// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/prodscope/prodscope/processor/cardinalityguard"

import (
	"cmp"

	"github.com/prodscope/prodscope/internal/statusregistry"
	"github.com/prodscope/prodscope/processor/cardinalityguard/internal/guard"
)

var _ statusregistry.Source = (*guardProcessor)(nil)

// StatusSnapshot is the instance's state for the status page: the totals
// the shell kept from each call's Stats, and the engine's state as
// guard.Status copied it under the engine's lock. Every list is at most
// limit long (the counts' last entry then sums the ones left out). In
// observe mode the counts are what enforce would have done.
func (p *guardProcessor) StatusSnapshot(limit int) statusregistry.Snapshot {
	st := p.engine.Status()
	t := &p.totals
	s := statusregistry.Snapshot{
		Started:  p.started,
		ItemsIn:  t.in.Load(),
		ItemsOut: t.out.Load(),
		Unit:     "points",
	}
	s.Changed = statusregistry.TopCounts(p.changed(), limit)
	s.Refused = statusregistry.TopCounts(p.refused(), limit)
	s.Holding = []statusregistry.Gauge{
		{What: "series tracked", Now: st.Entries, Limit: st.Budget},
		{What: "label keys limited", Now: st.LimitedKeys},
	}
	s.Holding = s.Holding[:min(len(s.Holding), max(limit, 1))]

	limited := make([]statusregistry.LimitedLabel, 0, len(st.Limited))
	for i := range st.Limited {
		l := &st.Limited[i]
		limited = append(limited, statusregistry.LimitedLabel{
			Scope: l.Scope, Metric: l.Metric, Label: l.Label,
			DistinctValues: l.Values,
			Action:         p.action(l.Action),
			Reason:         l.Reason.String(),
			Since:          l.Since,
			PointsAffected: l.Points,
		})
	}
	series := make([]statusregistry.SeriesLimit, 0, len(st.Series))
	for _, u := range st.Series {
		series = append(series, statusregistry.SeriesLimit{Scope: u.Scope, Metric: u.Metric, Tracked: u.Tracked, Limit: u.Limit})
	}
	cg := &statusregistry.CardinalityGuard{SeriesTotal: st.Entries, SeriesBudget: st.Budget}
	cg.Limited, cg.LimitedOmitted = statusregistry.Top(limited, limit, mostValuesFirst)
	cg.Series, cg.SeriesOmitted = statusregistry.Top(series, limit, fullestFirst)
	s.CardinalityGuard = cg
	return s
}

// changed is what the guard did to points, by what and reason: a point
// that lost labels for two reasons is in both.
func (p *guardProcessor) changed() []statusregistry.Count {
	t := &p.totals
	var out []statusregistry.Count
	add := func(what string, n int64) {
		if n > 0 {
			out = append(out, statusregistry.Count{What: what, N: n})
		}
	}
	for r := guard.Reason(0); r < guard.NumReasons; r++ {
		if r == guard.ReasonSeriesLimit {
			// A point sent to the overflow series is counted both as
			// dropped and overflowed with this reason: once here.
			add("sent to overflow series (series_limit)", t.overflowed[r].Load())
			continue
		}
		add("label dropped ("+r.String()+")", t.labelDropped[r].Load())
		add("label overflowed ("+r.String()+")", t.overflowed[r].Load())
	}
	add("merged", t.merged.Load())
	return out
}

// refused is what the guard left as it came, by reason: points with no
// room in max_series_total (total_limit) or that could not be merged
// (summary, bounds_mismatch, ...), and limited keys that got no sketch.
func (p *guardProcessor) refused() []statusregistry.Count {
	t := &p.totals
	var out []statusregistry.Count
	for r := guard.Reason(0); r < guard.NumReasons; r++ {
		if n := t.refused[r].Load() + t.unmergeable[r].Load(); n > 0 {
			out = append(out, statusregistry.Count{What: r.String(), N: n})
		}
	}
	if n := t.sketchesRefused.Load(); n > 0 {
		out = append(out, statusregistry.Count{What: "sketches_refused", N: n})
	}
	return out
}

func (p *guardProcessor) action(a guard.Action) string {
	switch {
	case p.observe:
		return "observe"
	case a == guard.OverflowValue:
		return "overflow"
	default:
		return "drop"
	}
}

// mostValuesFirst: the top offenders first, then the most points affected.
func mostValuesFirst(a, b statusregistry.LimitedLabel) int {
	return cmp.Or(
		cmp.Compare(b.DistinctValues, a.DistinctValues),
		cmp.Compare(b.PointsAffected, a.PointsAffected),
		cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Metric, b.Metric), cmp.Compare(a.Label, b.Label))
}

// fullestFirst: the largest share of the limit first, then the most series.
func fullestFirst(a, b statusregistry.SeriesLimit) int {
	// Tracked and Limit are at most max_series_total: the products fit.
	return cmp.Or(
		cmp.Compare(b.Tracked*a.Limit, a.Tracked*b.Limit),
		cmp.Compare(b.Tracked, a.Tracked),
		cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Metric, b.Metric))
}
