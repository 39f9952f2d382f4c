// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/prodscope/prodscope/internal/statusregistry"
	"github.com/prodscope/prodscope/processor/cardinalityguard/internal/metadata"
	"github.com/prodscope/prodscope/processor/cardinalityguard/internal/metadatatest"
)

// snapshotOf is the snapshot the instance id published in the process-wide
// registry, and whether there is one.
func snapshotOf(t *testing.T, id component.ID, limit int) (statusregistry.Snapshot, bool) {
	t.Helper()
	found := statusregistry.Default.SnapshotsOf(id, limit)
	require.LessOrEqual(t, len(found), 1, "one registration per instance")
	if len(found) == 0 {
		return statusregistry.Snapshot{}, false
	}
	return found[0], true
}

// startWithID creates and starts the processor as instance id.
func startWithID(t *testing.T, tel *componenttest.Telemetry, id component.ID, cfg *Config, sink *consumertest.MetricsSink) processor.Metrics {
	t.Helper()
	set := metadatatest.NewSettings(tel)
	set.ID = id
	p, err := NewFactory().CreateMetrics(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	return p
}

// localConfig is the processor's configuration in config/local.yaml, the
// one make run and the end-to-end test use with the demo service.
func localConfig(t *testing.T) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf("../../config/local.yaml")
	require.NoError(t, err)
	sub, err := cm.Sub("processors::cardinalityguard")
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, cfg.Validate())
	return cfg
}

// The demo's shape through the processor built from config/local.yaml:
// operation_error with 500 user ids, over its override of 20 values. The
// snapshot lists (operation_error, user_id) first, with an estimate of
// about 500, and the numbers below worked out by hand; Shutdown removes it.
func TestStatusSnapshotDemoOperationError(t *testing.T) {
	cfg := localConfig(t)
	require.NotEmpty(t, cfg.Overrides)
	require.Equal(t, []string{"operation_error"}, cfg.Overrides[0].Metrics)
	require.Equal(t, 20, *cfg.Overrides[0].MaxValuesPerLabel)
	require.Equal(t, ActionDropLabel, cfg.Action)

	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	id := component.MustNewIDWithName("cardinalityguard", "demo")
	before := time.Now()
	p := startWithID(t, tel, id, cfg, new(consumertest.MetricsSink))
	for round := range 2 {
		require.NoError(t, p.ConsumeMetrics(context.Background(), operationErrors(500, round)))
	}

	s, ok := snapshotOf(t, id, 10)
	require.True(t, ok, "registered on Start")
	assert.Equal(t, "cardinalityguard", s.Type)
	assert.Equal(t, "Processor", s.Kind)
	assert.False(t, s.Started.Before(before))
	assert.Equal(t, "points", s.Unit)
	// 2 batches of 500 points in; each comes out as one point,
	// {operation=checkout}: the 21st user limits user_id for the whole batch.
	assert.Equal(t, int64(1000), s.ItemsIn)
	assert.Equal(t, int64(2), s.ItemsOut)
	assert.Equal(t, []statusregistry.Count{
		{What: "label dropped (value_limit)", N: 1000},
		{What: "merged", N: 1000},
	}, s.Changed)
	assert.Empty(t, s.Refused)
	// Entries: the metric (8), its 2 keys (4 each), 21 values
	// (operation=checkout and the 20 admitted users), user_id's sketch (64),
	// the series {operation=checkout}, its merge state (4) and its 500
	// members.
	const entries = 8 + 2*4 + 21 + 64 + 1 + 4 + 500
	assert.Equal(t, []statusregistry.Gauge{
		{What: "series tracked", Now: entries, Limit: 1_000_000},
		{What: "label keys limited", Now: 1},
	}, s.Holding)

	cg := s.CardinalityGuard
	require.NotNil(t, cg)
	require.NotEmpty(t, cg.Limited)
	top := cg.Limited[0]
	assert.Equal(t, "service.name=shop", top.Scope)
	assert.Equal(t, "operation_error", top.Metric)
	assert.Equal(t, "user_id", top.Label)
	// HyperLogLog of precision 12: a standard error of 1.6%; three of them.
	assert.InEpsilon(t, 500, float64(top.DistinctValues), 0.05)
	assert.Equal(t, "drop", top.Action)
	assert.Equal(t, "value_limit", top.Reason)
	assert.False(t, top.Since.Before(before))
	assert.False(t, top.Since.After(time.Now()))
	assert.Equal(t, int64(2*500), top.PointsAffected, "every point of both batches lost user_id")
	assert.Len(t, cg.Limited, 1)
	assert.Zero(t, cg.LimitedOmitted)
	assert.Equal(t, []statusregistry.SeriesLimit{
		{Scope: "service.name=shop", Metric: "operation_error", Tracked: 1, Limit: 2000},
	}, cg.Series)
	assert.Equal(t, int64(entries), cg.SeriesTotal)
	assert.Equal(t, int64(1_000_000), cg.SeriesBudget)

	// The telemetry recorded the same Stats.
	metadatatest.AssertEqualProcessorCardinalityguardPointsLabelDropped(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 1000, Attributes: reason("value_limit")}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorCardinalityguardSeriesTracked(t, tel,
		[]metricdata.DataPoint[int64]{{Value: entries}}, metricdatatest.IgnoreTimestamp())

	require.NoError(t, p.Shutdown(context.Background()))
	_, ok = snapshotOf(t, id, 10)
	assert.False(t, ok, "unregistered on Shutdown")
}

// Every list is at most limit long, ordered as the snapshot says, and the
// omitted counts say how many were left out.
func TestStatusSnapshotBounded(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := createDefaultConfig().(*Config)
	cfg.MaxValuesPerLabel = 10
	cfg.MaxSeriesPerMetric = 50
	cfg.AlwaysDropLabels = []string{"session"}
	id := component.MustNewIDWithName("cardinalityguard", "bounded")
	p := startWithID(t, tel, id, cfg, new(consumertest.MetricsSink))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	for _, in := range []pmetric.Metrics{
		deltaLabels("shop", "orders", "user_id", 40),   // limited, 40 values
		deltaLabels("shop", "logins", "session", 30),   // always dropped: no estimate
		deltaLabels("shop", "queries", "query_id", 12), // limited, 12 values
		deltaLabels("shop", "pages", "page", 10),       // at the limit: 10 series
	} {
		require.NoError(t, p.ConsumeMetrics(context.Background(), in))
	}

	s, ok := snapshotOf(t, id, 2)
	require.True(t, ok)
	cg := s.CardinalityGuard
	require.NotNil(t, cg)
	assert.Equal(t, []statusregistry.LimitedLabel{
		{Scope: "service.name=shop", Metric: "orders", Label: "user_id", DistinctValues: 40, Action: "drop", Reason: "value_limit", Since: cg.Limited[0].Since, PointsAffected: 40},
		{Scope: "service.name=shop", Metric: "queries", Label: "query_id", DistinctValues: 12, Action: "drop", Reason: "value_limit", Since: cg.Limited[1].Since, PointsAffected: 12},
	}, cg.Limited)
	assert.Equal(t, 1, cg.LimitedOmitted, "logins/session, always dropped, has no estimate: last")
	// pages tracks 10 of 50; the others one merged series each (ties by metric).
	assert.Equal(t, []statusregistry.SeriesLimit{
		{Scope: "service.name=shop", Metric: "pages", Tracked: 10, Limit: 50},
		{Scope: "service.name=shop", Metric: "logins", Tracked: 1, Limit: 50},
	}, cg.Series)
	assert.Equal(t, 2, cg.SeriesOmitted)
	// Points changed: orders 40 and queries 12 (value_limit), logins 30
	// (always_drop), all merged: 82. The largest first, then what was
	// left out, summed.
	assert.Equal(t, []statusregistry.Count{
		{What: "merged", N: 82},
		{What: "(2 more)", N: 52 + 30},
	}, s.Changed)
	assert.Len(t, s.Holding, 2)

	all, _ := snapshotOf(t, id, 10)
	require.Len(t, all.CardinalityGuard.Limited, 3)
	assert.Equal(t, statusregistry.LimitedLabel{
		Scope: "service.name=shop", Metric: "logins", Label: "session", Action: "drop", Reason: "always_drop",
		Since: all.CardinalityGuard.Limited[2].Since, PointsAffected: 30,
	}, all.CardinalityGuard.Limited[2])
	assert.Equal(t, []statusregistry.Count{
		{What: "merged", N: 82},
		{What: "label dropped (value_limit)", N: 52},
		{What: "label dropped (always_drop)", N: 30},
	}, all.Changed)

	one, _ := snapshotOf(t, id, 1)
	assert.Len(t, one.Holding, 1)
	assert.Equal(t, "series tracked", one.Holding[0].What)
}

// In observe mode the action is observe and every point passes on.
func TestStatusSnapshotObserve(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := createDefaultConfig().(*Config)
	cfg.Mode = ModeObserve
	id := component.MustNewIDWithName("cardinalityguard", "observe")
	p := startWithID(t, tel, id, cfg, new(consumertest.MetricsSink))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	require.NoError(t, p.ConsumeMetrics(context.Background(), operationErrors(300, 0)))

	s, ok := snapshotOf(t, id, 10)
	require.True(t, ok)
	assert.Equal(t, int64(300), s.ItemsIn)
	assert.Equal(t, int64(300), s.ItemsOut)
	require.Len(t, s.CardinalityGuard.Limited, 1)
	assert.Equal(t, "observe", s.CardinalityGuard.Limited[0].Action)
	assert.Equal(t, int64(300), s.CardinalityGuard.Limited[0].PointsAffected, "what enforce would have changed")
	assert.Equal(t, []statusregistry.Count{{What: "label dropped (value_limit)", N: 300}}, s.Changed)
}

// Points with no room in max_series_total are refused, by reason.
func TestStatusSnapshotRefused(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := createDefaultConfig().(*Config)
	cfg.MaxSeriesTotal = 25
	cfg.MaxSeriesPerMetric = 5
	id := component.NewID(metadata.Type)
	p := startWithID(t, tel, id, cfg, new(consumertest.MetricsSink))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	require.NoError(t, p.ConsumeMetrics(context.Background(), operationErrors(8, 0)))
	s, ok := snapshotOf(t, id, 10)
	require.True(t, ok)
	// As in TestProcessorRefusesOverTotal: users 4-7 find no room.
	assert.Equal(t, []statusregistry.Count{{What: "total_limit", N: 4}}, s.Refused)
	assert.Equal(t, []statusregistry.Gauge{{What: "series tracked", Now: 25, Limit: 25}, {What: "label keys limited"}}, s.Holding)
	assert.Equal(t, int64(8), s.ItemsOut)
}
