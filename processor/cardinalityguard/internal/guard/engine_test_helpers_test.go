// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

import "go.opentelemetry.io/collector/pdata/pcommon"

// Read-only views of an Engine's state, for tests.

// SeriesTracked returns the entries counted against max_series_total.
func (e *Engine) SeriesTracked() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.total
}

// seriesCount returns the output series tracked (not overflow series).
func (e *Engine) seriesCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, sc := range e.scopes {
		for _, ms := range sc.metrics {
			n += len(ms.series)
		}
	}
	return n
}

// LabelKeysLimited returns the (metric, label) pairs currently over their limit.
func (e *Engine) LabelKeysLimited() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.limitedKeys
}

// MaxValuesTracked returns the largest value set of any label.
func (e *Engine) MaxValuesTracked() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := 0
	for _, sc := range e.scopes {
		for _, ms := range sc.metrics {
			for _, ls := range ms.labels {
				m = max(m, len(ls.values))
			}
		}
	}
	return m
}

// EstimatedValues returns the largest estimate, over all scopes, of the
// distinct values of a limited label of a metric, or 0 when it is not limited.
func (e *Engine) EstimatedValues(metric, label string) uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var est uint64
	for _, sc := range e.scopes {
		for key, ms := range sc.metrics {
			if key.name != metric {
				continue
			}
			if ls := ms.labels[label]; ls != nil && ls.limited {
				est = max(est, ls.estimate())
			}
		}
	}
	return est
}

// scope returns the state of the scope with the given resource attributes
// (nil when it has none).
func (e *Engine) scope(res pcommon.Map) *scopeState {
	if sc := e.scopes[e.scopeKey(res)]; sc != nil {
		return sc
	}
	return &scopeState{}
}

// recount recomputes, from the state itself, the entries counted against
// max_series_total: it must always equal e.total.
func (e *Engine) recount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, sc := range e.scopes {
		for _, ms := range sc.metrics {
			n += weightMetric + len(ms.series)*weightSeries + len(ms.overflow)*weightSeries
			for _, ls := range ms.labels {
				n += weightLabel + len(ls.values)*weightValue
				if ls.sketch != nil {
					n += weightSketch
				}
			}
			for _, a := range ms.aggs {
				n += aggWeight(a)
			}
		}
	}
	return n
}

func aggWeight(a aggState) int {
	switch a := a.(type) {
	case *aggSeries[uint64]:
		return membersWeight(a)
	case *aggSeries[histVal]:
		return membersWeight(a)
	case *aggSeries[expVal]:
		return membersWeight(a)
	}
	panic("unknown merge state")
}

func membersWeight[V any](a *aggSeries[V]) int {
	n := weightAgg
	for _, m := range a.members.list {
		n += a.vals.weight(&m.val)
	}
	return n
}
