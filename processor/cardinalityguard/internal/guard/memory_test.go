// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"runtime"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Bytes of heap the README promises per entry of max_series_total, plus a
// fixed allowance for the engine itself and its per-call scratch space
// (which grows with the largest batch, not with state).
const (
	bytesPerEntry  = 128
	fixedAllowance = 1 << 20
)

// floodBatch is one batch of the flood: metrics [m0, m1), pts points each,
// every point with keys k0..k127 and a value per key unique to the point.
func floodBatch(m0, m1, pts, round int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "shop")
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	for m := m0; m < m1; m++ {
		mt := ms.AppendEmpty()
		mt.SetName("metric_" + strconv.Itoa(m))
		s := mt.SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for p := 0; p < pts; p++ {
			dp := s.DataPoints().AppendEmpty()
			attrs := dp.Attributes()
			attrs.EnsureCapacity(128)
			for k := 0; k < 128; k++ {
				attrs.PutStr("k"+strconv.Itoa(k), "v"+strconv.Itoa(round*pts+p))
			}
			dp.SetStartTimestamp(1)
			dp.SetTimestamp(2)
			dp.SetIntValue(int64(1 + p%7))
		}
	}
	return md
}

func sumInts(md pmetric.Metrics) int64 {
	var total int64
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				dps := ms.At(k).Sum().DataPoints()
				for l := 0; l < dps.Len(); l++ {
					total += dps.At(l).IntValue()
				}
			}
		}
	}
	return total
}

// TestMemoryBudget: a flood of 1,024,000 label values (100 metrics × 128
// keys × 80 points, every value distinct) stays within max_series_total,
// measured on the heap with runtime.ReadMemStats; what the budget refuses
// is counted, and every point's value reaches some output series.
func TestMemoryBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 1,000,000 attribute values")
	}
	for _, tc := range []struct {
		total, maxValues int
	}{
		{100_000, 50}, // keys go over 50 values: sketches and merges compete for the budget
		{100_000, 100},
		{200, 100}, // the measurement: 453 MiB before this budget covered everything
	} {
		t.Run(strconv.Itoa(tc.total)+"/"+strconv.Itoa(tc.maxValues), func(t *testing.T) {
			before := heapBytes()
			e := New(Settings{
				ScopeAttributes: []string{"service.name"},
				MaxSeriesTotal:  tc.total,
				Window:          3600e9,
				Default:         Limits{MaxValuesPerLabel: tc.maxValues, MaxSeriesPerMetric: 2000, OverflowValue: "__overflow__"},
			})
			var in, out, refused, budgetDrops, sketches int64
			// 10 batches of 10 metrics × 80 points × 128 keys.
			for m := 0; m < 100; m += 10 {
				md := floodBatch(m, m+10, 80, 0)
				in += sumInts(md)
				st := e.Process(md)
				out += sumInts(md)
				refused += st.Refused[ReasonTotalLimit]
				budgetDrops += st.LabelDropped[ReasonTotalLimit]
				sketches += st.SketchesRefused
			}
			after := heapBytes()
			runtime.KeepAlive(e)
			grown := float64(after) - float64(before)
			t.Logf("max_series_total %d: heap grew %.0f B (%.1f B per entry of the budget), %d entries used; refused %d points (passed through), %d points lost keys for lack of room, %d sketches refused",
				tc.total, grown, grown/float64(tc.total), e.total, refused, budgetDrops, sketches)
			assert.LessOrEqual(t, e.total, tc.total)
			assert.Equal(t, e.recount(), e.total, "the budget's count matches the state")
			assert.LessOrEqual(t, grown, float64(tc.total*bytesPerEntry+fixedAllowance))
			assert.Equal(t, in, out, "every point's value is in some output series")
			require.Positive(t, refused+budgetDrops+sketches, "the budget refused something, counted")
		})
	}
}
