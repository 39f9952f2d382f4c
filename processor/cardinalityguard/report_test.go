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
