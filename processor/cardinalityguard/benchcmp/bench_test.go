// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package benchcmp compares, in one run, the cost per point of the
// cardinalityguard processor with contrib's transform processor doing
// delete_key(attributes, "user_id") and with a pass-through processor (the
// floor): the same processorhelper pipeline stage, the same batches.
package benchcmp

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/transformprocessor"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/prodscope/prodscope/internal/cputime"
	"github.com/prodscope/prodscope/processor/cardinalityguard"
)

const (
	users     = 10_000
	batchSize = 10_000
)

// steadyBatch is 10,000 series of 5 labels over 5 metrics (2,000 each, the
// default max_series_per_metric), every label within its value limit and no
// user_id: the guard only tracks, transform's delete_key finds nothing.
func steadyBatch(int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "shop")
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	for m := range 5 {
		mt := ms.AppendEmpty()
		mt.SetName("metric_" + strconv.Itoa(m))
		s := mt.SetEmptySum()
		s.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		dps := s.DataPoints()
		dps.EnsureCapacity(2000)
		for i := range 2000 {
			dp := dps.AppendEmpty()
			a := dp.Attributes()
			a.PutStr("http.route", "/api/v"+strconv.Itoa(i%10))
			a.PutStr("http.method", [4]string{"GET", "POST", "PUT", "DELETE"}[(i/10)%4])
			a.PutStr("status", strconv.Itoa(200+(i/40)%50))
			a.PutStr("region", "eu-"+strconv.Itoa(i%3))
			a.PutStr("tier", "gold")
			dp.SetTimestamp(2)
			dp.SetIntValue(1)
		}
	}
	return md
}

// batch is the story's operation_error{operation, route, status, user_id}
// cumulative counter, one point per user.
func batch(round int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "shop")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("operation_error")
	s := m.SetEmptySum()
	s.SetIsMonotonic(true)
	s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	dps := s.DataPoints()
	dps.EnsureCapacity(batchSize)
	ts := pcommon.NewTimestampFromTime(time.Unix(int64(round), 2)) // round seconds + 2 ns
	for u := range batchSize {
		dp := dps.AppendEmpty()
		a := dp.Attributes()
		a.PutStr("operation", [2]string{"checkout", "refund"}[u%2])
		a.PutStr("http.route", "/api/v"+strconv.Itoa(u%5))
		a.PutStr("status", strconv.Itoa(200+u%3))
		a.PutStr("user_id", "user-"+strconv.Itoa(u%users))
		dp.SetStartTimestamp(1)
		dp.SetTimestamp(ts)
		dp.SetIntValue(int64(round + 1))
	}
	return md
}

func settings(t component.Type) processor.Settings { return processortest.NewNopSettings(t) }

func newFloor(b *testing.B, next consumer.Metrics) processor.Metrics {
	p, err := processorhelper.NewMetrics(context.Background(), settings(component.MustNewType("nop")), struct{}{}, next,
		func(_ context.Context, md pmetric.Metrics) (pmetric.Metrics, error) { return md, nil },
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}))
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func newTransform(b *testing.B, next consumer.Metrics) processor.Metrics {
	f := transformprocessor.NewFactory()
	cfg := f.CreateDefaultConfig()
	err := confmap.NewFromStringMap(map[string]any{"metric_statements": []any{map[string]any{
		"context":    "datapoint",
		"statements": []any{`delete_key(attributes, "user_id")`},
	}}}).Unmarshal(cfg)
	if err != nil {
		b.Fatal(err)
	}
	p, err := f.CreateMetrics(context.Background(), settings(f.Type()), cfg, next)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func newGuard(b *testing.B, next consumer.Metrics) processor.Metrics {
	f := cardinalityguard.NewFactory()
	cfg := f.CreateDefaultConfig().(*cardinalityguard.Config)
	cfg.AlwaysDropLabels = []string{"user_id"}
	p, err := f.CreateMetrics(context.Background(), settings(f.Type()), cfg, next)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkDropUserID: every iteration sends the same batch (a fresh copy
// each, made outside the timings) through the floor, transform and the
// guard, in rotating order, and reports each one's ns per point and the
// ratio. merge: every point carries user_id; the guard re-aggregates
// (10,000 cumulative members into 30 output series, per-member state kept),
// transform only deletes the key. steady: no point carries user_id; the
// guard tracks 10,000 known series, transform's delete_key finds nothing.
func BenchmarkDropUserID(b *testing.B) {
	b.Run("merge", func(b *testing.B) { benchDrop(b, batch) })
	b.Run("steady", func(b *testing.B) { benchDrop(b, steadyBatch) })
}

func benchDrop(b *testing.B, batch func(int) pmetric.Metrics) {
	sink := consumertest.NewNop()
	procs := []processor.Metrics{newFloor(b, sink), newTransform(b, sink), newGuard(b, sink)}
	for _, p := range procs {
		if err := p.Start(context.Background(), componenttest.NewNopHost()); err != nil {
			b.Fatal(err)
		}
	}
	defer func() {
		for _, p := range procs {
			_ = p.Shutdown(context.Background())
		}
	}()
	// One untimed round first: the guard learns the series, the first
	// batch of every processor warms up.
	for _, p := range procs {
		if err := p.ConsumeMetrics(context.Background(), batch(0)); err != nil {
			b.Fatal(err)
		}
	}
	// Wall time suffers from the other processes of a shared machine; the
	// calling thread's own CPU time (the processors run synchronously on it)
	// does much less.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var spent, cpu [3]time.Duration
	points := 0
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		src := batch(i + 1)
		var copies [3]pmetric.Metrics
		for j := range copies {
			copies[j] = pmetric.NewMetrics()
			src.CopyTo(copies[j])
		}
		b.StartTimer()
		for k := range 3 {
			j := (i + k) % 3
			t, c := time.Now(), cputime.Thread()
			if err := procs[j].ConsumeMetrics(context.Background(), copies[j]); err != nil {
				b.Fatal(err)
			}
			spent[j] += time.Since(t)
			cpu[j] += cputime.Thread() - c
		}
		points += batchSize
	}
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(points) }
	b.ReportMetric(per(spent[0]), "floor-ns/point")
	b.ReportMetric(per(spent[1]), "transform-ns/point")
	b.ReportMetric(per(spent[2]), "guard-ns/point")
	b.ReportMetric(float64(spent[2])/float64(spent[1]), "guard/transform")
	b.ReportMetric(per(cpu[1]), "transform-cpu-ns/point")
	b.ReportMetric(per(cpu[2]), "guard-cpu-ns/point")
	b.ReportMetric(float64(cpu[2])/float64(cpu[1]), "cpu-guard/transform")
}
