// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/prodscope/prodscope/processor/cardinalityguard/internal/metadatatest"
)

// deltaLabels builds metric name with n points, label key distinct per point.
func deltaLabels(svc, name, key string, n int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", svc)
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(name)
	s := m.SetEmptySum()
	s.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	for i := range n {
		dp := s.DataPoints().AppendEmpty()
		dp.Attributes().PutStr(key, fmt.Sprintf("%s-%d", key, i))
		dp.SetIntValue(1)
	}
	return md
}

// The cardinality report: estimated distinct values of the limited
// (metric, label) pairs, the top report_top_n only, the largest over scopes.
func TestCardinalityReportTopN(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := createDefaultConfig().(*Config)
	cfg.MaxValuesPerLabel = 10
	cfg.ReportTopN = 2
	sink := new(consumertest.MetricsSink)
	p := newTestProcessor(t, tel, cfg, sink, nil)
	for _, in := range []pmetric.Metrics{
		deltaLabels("shop", "orders", "user_id", 40),   // 40 distinct values
		deltaLabels("cart", "orders", "user_id", 25),   // another scope: 25, the report keeps 40
		deltaLabels("shop", "logins", "session", 30),   // 30
		deltaLabels("shop", "queries", "query_id", 12), // 12: limited, but not in the top 2
		deltaLabels("shop", "pages", "page", 10),       // 10: at the limit, not limited
	} {
		require.NoError(t, p.ConsumeMetrics(context.Background(), in))
	}
	pair := func(m, l string) attribute.Set {
		return attribute.NewSet(attribute.String("metric", m), attribute.String("label", l))
	}
	// The sketches are exact at these sizes (sparse HyperLogLog).
	metadatatest.AssertEqualProcessorCardinalityguardLabelValuesEstimated(t, tel, []metricdata.DataPoint[int64]{
		{Value: 40, Attributes: pair("orders", "user_id")},
		{Value: 30, Attributes: pair("logins", "session")},
	}, metricdatatest.IgnoreTimestamp())
}

// Through the factory: two pods (resources) of one service with the same
// user ids, user_id always dropped. Each pod's merged series is its own
// users' sum: pod a 100 + 20 = 120, pod b 10 + 2 = 12.
func TestProcessorKeepsPodsApart(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.AlwaysDropLabels = []string{"user_id"}
	sink := new(consumertest.MetricsSink)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	p := newTestProcessor(t, tel, cfg, sink, nil)
	md := pmetric.NewMetrics()
	for _, pod := range []struct {
		name   string
		values [2]int64
	}{{"a", [2]int64{100, 20}}, {"b", [2]int64{10, 2}}} {
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", "shop")
		rm.Resource().Attributes().PutStr("k8s.pod.name", pod.name)
		s := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for u, v := range pod.values {
			dp := s.DataPoints().AppendEmpty()
			dp.Attributes().PutStr("user_id", fmt.Sprintf("u%d", u))
			dp.SetStartTimestamp(1)
			dp.SetTimestamp(2)
			dp.SetIntValue(v)
		}
	}
	require.NoError(t, p.ConsumeMetrics(context.Background(), md))
	out := sink.AllMetrics()[0]
	got := map[string]int64{}
	for i := 0; i < out.ResourceMetrics().Len(); i++ {
		rm := out.ResourceMetrics().At(i)
		pod, _ := rm.Resource().Attributes().Get("k8s.pod.name")
		dps := rm.ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints()
		require.Equal(t, 1, dps.Len())
		got[pod.Str()] = dps.At(0).IntValue()
	}
	require.Equal(t, map[string]int64{"a": 120, "b": 12}, got)
}
