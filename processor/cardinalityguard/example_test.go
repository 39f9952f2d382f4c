// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/prodscope/prodscope/processor/cardinalityguard/internal/metadata"
)

// exampleBatch is the README's worked example: operation_error{operation,
// user_id}, 10,000 users, each failing one of two operations, cumulative.
func exampleBatch(round int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "shop")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("operation_error")
	s := m.SetEmptySum()
	s.SetIsMonotonic(true)
	s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for u := range 10_000 {
		dp := s.DataPoints().AppendEmpty()
		dp.Attributes().PutStr("operation", [2]string{"checkout", "refund"}[u%2])
		dp.Attributes().PutStr("user_id", fmt.Sprintf("user-%05d", u))
		dp.SetStartTimestamp(pcommon.Timestamp(1))
		dp.SetTimestamp(nanos(10 + round))
		dp.SetIntValue(int64(round + 1))
	}
	return md
}

func seriesOut(t *testing.T, md pmetric.Metrics) map[string]int64 {
	out := map[string]int64{}
	dps := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints()
	for i := 0; i < dps.Len(); i++ {
		k := fmt.Sprint(dps.At(i).Attributes().AsRaw())
		_, dup := out[k]
		require.False(t, dup, "duplicate series %s", k)
		out[k] = dps.At(i).IntValue()
	}
	return out
}

func TestWorkedExample(t *testing.T) {
	for _, tc := range []struct {
		action       Action
		first, later int
		laterSeries  map[string]int64
	}{
		// drop_label: the 101st user limits user_id, and every point of the
		// metric loses it, in that batch too: one series per operation,
		// each the sum over all 5,000 users of that operation.
		{ActionDropLabel, 2, 2, map[string]int64{
			"map[operation:checkout]": 5000 * 2,
			"map[operation:refund]":   5000 * 2,
		}},
		// overflow_value: the first 100 users keep their series for good; the
		// other 9,900 go to user_id=__overflow__, one per operation.
		{ActionOverflowValue, 102, 102, nil},
	} {
		t.Run(string(tc.action), func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.Action = tc.action
			sink := new(consumertest.MetricsSink)
			p, err := NewFactory().CreateMetrics(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
			require.NoError(t, err)
			require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
			defer func() { require.NoError(t, p.Shutdown(context.Background())) }()

			for round := range 3 {
				require.NoError(t, p.ConsumeMetrics(context.Background(), exampleBatch(round)))
			}
			out := sink.AllMetrics()
			assert.Len(t, seriesOut(t, out[0]), tc.first, "series after the first batch (10,000 in)")
			later := seriesOut(t, out[1])
			assert.Len(t, later, tc.later, "series after the second batch (10,000 in)")
			if tc.laterSeries != nil {
				assert.Equal(t, tc.laterSeries, later)
			}
			if tc.action == ActionOverflowValue {
				assert.Equal(t, int64(4950*2), later["map[operation:checkout user_id:__overflow__]"])
			}
		})
	}
}
