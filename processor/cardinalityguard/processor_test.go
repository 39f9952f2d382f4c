// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/prodscope/prodscope/internal/statusregistry"
	"github.com/prodscope/prodscope/processor/cardinalityguard/internal/metadatatest"
)

// nanos is the timestamp n nanoseconds after the epoch.
func nanos(n int) pcommon.Timestamp { return pcommon.NewTimestampFromTime(time.Unix(0, int64(n))) }

// operationErrors builds the story's operation_error{user_id} counter:
// users distinct user ids, cumulative, value = 1 + round.
func operationErrors(users, round int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "shop")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("operation_error")
	s := m.SetEmptySum()
	s.SetIsMonotonic(true)
	s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for u := 0; u < users; u++ {
		dp := s.DataPoints().AppendEmpty()
		dp.Attributes().PutStr("operation", "checkout")
		dp.Attributes().PutStr("user_id", fmt.Sprintf("user-%d", u))
		dp.SetStartTimestamp(1_000)
		dp.SetTimestamp(nanos(2_000 + 1_000*round))
		dp.SetIntValue(int64(1 + round))
	}
	return md
}

func newTestProcessor(t *testing.T, tel *componenttest.Telemetry, cfg *Config, sink *consumertest.MetricsSink, logger *zap.Logger) processor.Metrics {
	t.Helper()
	set := metadatatest.NewSettings(tel)
	if logger != nil {
		set.Logger = logger
	}
	p, err := NewFactory().CreateMetrics(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	return p
}

func reason(r string) attribute.Set { return attribute.NewSet(attribute.String("reason", r)) }

func TestProcessorBoundsOperationError(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	core, logs := observer.New(zap.InfoLevel)
	cfg := createDefaultConfig().(*Config)
	sink := new(consumertest.MetricsSink)
	p := newTestProcessor(t, tel, cfg, sink, zap.New(core))

	// 1,000 users: the first 100 values pass, the rest merge.
	require.NoError(t, p.ConsumeMetrics(context.Background(), operationErrors(1000, 0)))
	require.NoError(t, p.ConsumeMetrics(context.Background(), operationErrors(1000, 1)))
	require.Len(t, sink.AllMetrics(), 2)

	first := sink.AllMetrics()[0]
	assert.Equal(t, 1, first.DataPointCount(), "the 101st user limits user_id for every point of the batch: one merged series")
	second := sink.AllMetrics()[1]
	require.Equal(t, 1, second.DataPointCount(), "from then on user_id is dropped for every point")
	dp := second.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints().At(0)
	assert.Equal(t, map[string]any{"operation": "checkout"}, dp.Attributes().AsRaw())
	assert.Equal(t, int64(2*1000), dp.IntValue(), "sum of every user's latest value")

	metadatatest.AssertEqualProcessorCardinalityguardPointsLabelDropped(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 1000 + 1000, Attributes: reason("value_limit")}},
		metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorCardinalityguardLabelKeysLimited(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
	// Entries against max_series_total: the metric (8), its 2 label keys (4
	// each), their 101 values (operation=checkout and the 100 admitted
	// users), the HyperLogLog sketch of user_id (64), the series
	// {operation=checkout} (the 100 per-user series were retired when
	// user_id was limited), its merge state (4) and its 1000 members (source
	// series kept to re-aggregate the cumulative counter).
	metadatatest.AssertEqualProcessorCardinalityguardSeriesTracked(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 8 + 2*4 + 101 + 64 + 1 + 4 + 1000}}, metricdatatest.IgnoreTimestamp())

	require.Equal(t, 1, logs.Len(), "one line on the first limit")
	f := logs.All()[0].ContextMap()
	assert.Equal(t, "operation_error", f["metric"])
	assert.Equal(t, "user_id", f["label"])
	assert.Equal(t, uint64(101), f["estimated_distinct_values"])
	assert.Equal(t, "drop_label", f["action"])
}

func TestProcessorSeriesOverflowAndSummaryTelemetry(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := createDefaultConfig().(*Config)
	cfg.MaxSeriesPerMetric = 10
	cfg.MaxValuesPerLabel = 1000
	sink := new(consumertest.MetricsSink)
	p := newTestProcessor(t, tel, cfg, sink, nil)

	md := operationErrors(15, 0)
	sm := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().AppendEmpty()
	sm.SetName("latency_summary")
	sdps := sm.SetEmptySummary().DataPoints()
	for u := 0; u < 12; u++ {
		sdps.AppendEmpty().Attributes().PutInt("user", int64(u))
	}
	require.NoError(t, p.ConsumeMetrics(context.Background(), md))
	out := sink.AllMetrics()[0]
	// 10 series + 1 overflow series; the summary's 12 points pass unchanged.
	assert.Equal(t, 11+12, out.DataPointCount())
	metadatatest.AssertEqualProcessorCardinalityguardPointsOverflowed(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 5, Attributes: reason("series_limit")}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorCardinalityguardPointsLabelDropped(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 5, Attributes: reason("series_limit")}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorCardinalityguardPointsUnmergeable(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 2, Attributes: reason("summary")}}, metricdatatest.IgnoreTimestamp())
}

func TestProcessorRefusesOverTotal(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := createDefaultConfig().(*Config)
	cfg.MaxSeriesTotal = 25
	cfg.MaxSeriesPerMetric = 5
	sink := new(consumertest.MetricsSink)
	p := newTestProcessor(t, tel, cfg, sink, nil)
	require.NoError(t, p.ConsumeMetrics(context.Background(), operationErrors(8, 0)))
	// 17 entries for the metric (8), its 2 keys (4 each) and
	// operation=checkout, then 2 per user (value, series): users 0-3 fill
	// the budget. Users 4-7 find
	// no room for anything and pass through unchanged, counted: nothing
	// vanishes.
	out := sink.AllMetrics()[0]
	assert.Equal(t, 8, out.DataPointCount())
	var total int64
	dps := out.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints()
	for i := 0; i < dps.Len(); i++ {
		total += dps.At(i).IntValue()
	}
	assert.Equal(t, int64(8), total, "every point's value is in the output")
	metadatatest.AssertEqualProcessorCardinalityguardPointsRefused(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 4, Attributes: reason("total_limit")}}, metricdatatest.IgnoreTimestamp())
}

func TestProcessorObserveModeIsIdentity(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := createDefaultConfig().(*Config)
	cfg.Mode = ModeObserve
	sink := new(consumertest.MetricsSink)
	p := newTestProcessor(t, tel, cfg, sink, nil)
	assert.False(t, p.Capabilities().MutatesData)

	for round := range 2 {
		in := operationErrors(500, round)
		want := pmetric.NewMetrics()
		in.CopyTo(want)
		// Observe mode declares it does not mutate: the pipeline may hand it
		// shared, read-only data (any write would panic).
		in.MarkReadOnly()
		want.MarkReadOnly()
		require.NoError(t, p.ConsumeMetrics(context.Background(), in))
		assert.Equal(t, want, sink.AllMetrics()[round])
	}
	// What enforce would have done: all 500 points of each batch lose
	// user_id (the 101st value limits it for the whole batch).
	metadatatest.AssertEqualProcessorCardinalityguardPointsLabelDropped(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 1000, Attributes: reason("value_limit")}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorCardinalityguardLabelKeysLimited(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
}

func TestShutdownWithoutStart(t *testing.T) {
	p, err := NewFactory().CreateMetrics(context.Background(), metadatatest.NewSettings(componenttest.NewTelemetry()), createDefaultConfig(), consumertest.NewNop())
	require.NoError(t, err)
	assert.NoError(t, p.Shutdown(context.Background()))
}

func TestProcessorConcurrentConsumers(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	sink := new(consumertest.MetricsSink)
	p := newTestProcessor(t, tel, createDefaultConfig().(*Config), sink, nil)
	var wg sync.WaitGroup
	// The status page asks while the data flows (-race checks the copies).
	stop, polled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(polled)
		for {
			select {
			case <-stop:
				return
			default:
				statusregistry.Default.Snapshots(5)
			}
		}
	}()
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 5 {
				assert.NoError(t, p.ConsumeMetrics(context.Background(), operationErrors(300, g*10+round)))
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-polled
	require.Len(t, sink.AllMetrics(), 20)
	// Whatever the interleaving, user_id ends up limited and the last batches
	// carry only the merged series.
	last := sink.AllMetrics()[19]
	assert.LessOrEqual(t, last.DataPointCount(), 101)
}
