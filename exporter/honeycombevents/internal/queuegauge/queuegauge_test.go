// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package queuegauge

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// register does what exporterhelper's generated telemetry does for the two
// queue gauges: one instrument and one callback each.
func register(t *testing.T, mp metric.MeterProvider, size, capacity int64) []metric.Registration {
	t.Helper()
	m := mp.Meter("go.opentelemetry.io/collector/exporter/exporterhelper")
	var regs []metric.Registration
	for name, v := range map[string]int64{SizeMetric: size, CapacityMetric: capacity} {
		g, err := m.Int64ObservableGauge(name)
		require.NoError(t, err)
		reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
			o.ObserveInt64(g, v)
			return nil
		}, g)
		require.NoError(t, err)
		regs = append(regs, reg)
	}
	return regs
}

func TestReadTellsTheGaugesApartOnTheNoopProvider(t *testing.T) {
	p := New()
	_, _, ok := p.Read(context.Background())
	assert.False(t, ok, "nothing registered yet")

	regs := register(t, p.Wrap(noop.NewMeterProvider()), 7, 1000)
	size, capacity, ok := p.Read(context.Background())
	require.True(t, ok)
	assert.Equal(t, int64(7), size)
	assert.Equal(t, int64(1000), capacity)

	for _, r := range regs {
		require.NoError(t, r.Unregister())
		require.NoError(t, r.Unregister(), "idempotent")
	}
	_, _, ok = p.Read(context.Background())
	assert.False(t, ok, "unregistered on shutdown")
}

func TestTheRealProviderStillSeesEverything(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { require.NoError(t, mp.Shutdown(context.Background())) }()
	p := New()
	wrapped := p.Wrap(mp)
	register(t, wrapped, 3, 50)
	// An instrument the probe does not watch passes through untouched.
	other, err := wrapped.Meter("x").Int64ObservableGauge("other_gauge")
	require.NoError(t, err)
	_, err = wrapped.Meter("x").RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(other, 42)
		return nil
	}, other)
	require.NoError(t, err)

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			got[m.Name] = m.Data.(metricdata.Gauge[int64]).DataPoints[0].Value
		}
	}
	assert.Equal(t, map[string]int64{SizeMetric: 3, CapacityMetric: 50, "other_gauge": 42}, got)

	size, capacity, ok := p.Read(context.Background())
	require.True(t, ok)
	assert.Equal(t, []int64{3, 50}, []int64{size, capacity})
}

// TestReadsExporterhelpersQueue runs the real exporterhelper: a push that
// blocks holds the requests in the queue (a request leaves the queue's size
// when its push is done), so after 3 requests the size is 3 of the
// configured 10. This fails if exporterhelper stops reporting its queue
// through the settings' MeterProvider.
func TestReadsExporterhelpersQueue(t *testing.T) {
	p := New()
	set := exportertest.NewNopSettings(exportertest.NopType)
	set.MeterProvider = p.Wrap(set.MeterProvider)
	release := make(chan struct{})
	qcfg := exporterhelper.NewDefaultQueueConfig()
	qcfg.QueueSize = 10
	qcfg.NumConsumers = 1
	qcfg.Batch = configoptional.None[exporterhelper.BatchConfig]()
	exp, err := exporterhelper.NewTraces(context.Background(), set, struct{}{},
		func(context.Context, ptrace.Traces) error { <-release; return nil },
		exporterhelper.WithQueue(configoptional.Some(qcfg)))
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))

	for range 3 {
		require.NoError(t, exp.ConsumeTraces(context.Background(), ptrace.NewTraces()))
	}
	size, capacity, ok := p.Read(context.Background())
	require.True(t, ok)
	assert.Equal(t, int64(3), size)
	assert.Equal(t, int64(10), capacity)

	close(release)
	require.Eventually(t, func() bool {
		size, _, _ := p.Read(context.Background())
		return size == 0
	}, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, exp.Shutdown(context.Background()))
	_, _, ok = p.Read(context.Background())
	assert.False(t, ok, "exporterhelper unregisters its gauges on shutdown")
}
