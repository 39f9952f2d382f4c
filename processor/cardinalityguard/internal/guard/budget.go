// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

// One budget, max_series_total, bounds everything the engine keeps. Its
// unit is an entry of about 64 bytes of heap: a tracked series, a label
// value or a merge member of a sum or gauge is one entry; larger structures
// count as many entries as they take. TestMemoryBudget measures the heap
// against this.
const (
	// A metric's state: its struct with the per-position label cache and
	// four maps.
	weightMetric = 8
	// A label key's state and its value map.
	weightLabel  = 4
	weightValue  = 1
	weightSeries = 1
	// A merged series' state and its member map.
	weightAgg = 4
	// A HyperLogLog sketch of precision 12 takes up to 4 KiB once dense.
	weightSketch = 64
	// entryBytes is the heap an entry stands for, used to weigh members
	// whose size depends on their buckets.
	entryBytes = 64
)

// reserve takes w entries from the budget, or reports that there is no room.
func (e *Engine) reserve(w int) bool {
	if e.total+w > e.set.MaxSeriesTotal {
		return false
	}
	e.total += w
	return true
}

// bytesWeight is the weight of a structure of n bytes.
func bytesWeight(n int) int { return (n + entryBytes - 1) / entryBytes }
