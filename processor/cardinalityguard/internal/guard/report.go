// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"cmp"
	"slices"
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
func (e *Engine) CardinalityReport(n int) []LabelEstimate {
	if n <= 0 {
		return nil
	}
	e.mu.Lock()
	type pair struct{ metric, label string }
	est := map[pair]uint64{}
	for _, sc := range e.scopes {
		for _, ms := range sc.metrics {
			for k, ls := range ms.labels {
				if ls.limited {
					p := pair{ms.name, k}
					est[p] = max(est[p], ls.estimate())
				}
			}
		}
	}
	e.mu.Unlock()
	out := make([]LabelEstimate, 0, len(est))
	for p, v := range est {
		out = append(out, LabelEstimate{Metric: p.metric, Label: p.label, Values: v})
	}
	slices.SortFunc(out, func(a, b LabelEstimate) int {
		if c := cmp.Compare(b.Values, a.Values); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Metric, b.Metric); c != 0 {
			return c
		}
		return cmp.Compare(a.Label, b.Label)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}
