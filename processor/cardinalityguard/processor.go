// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/prodscope/prodscope/processor/cardinalityguard"

import (
	"context"
	"math"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/prodscope/prodscope/internal/statusregistry"
	"github.com/prodscope/prodscope/processor/cardinalityguard/internal/glob"
	"github.com/prodscope/prodscope/processor/cardinalityguard/internal/guard"
	"github.com/prodscope/prodscope/processor/cardinalityguard/internal/metadata"
)

// guardProcessor is the shell around the engine: the engine returns what
// each call did (guard.Stats), the shell records it, in the telemetry and
// in the cumulative totals of the status snapshot.
type guardProcessor struct {
	id        component.ID
	observe   bool
	engine    *guard.Engine
	telemetry *metadata.TelemetryBuilder
	reasons   [guard.NumReasons]metric.MeasurementOption
	totals    totals

	started    time.Time
	unregister func()
}

// totals are the status snapshot's cumulative counts, added from each
// call's Stats.
type totals struct {
	in, out, merged, sketchesRefused atomic.Int64
	labelDropped, overflowed         [guard.NumReasons]atomic.Int64
	unmergeable, refused             [guard.NumReasons]atomic.Int64
}

func newGuardProcessor(set processor.Settings, cfg *Config) (*guardProcessor, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	es, err := engineSettings(cfg)
	if err != nil {
		tb.Shutdown()
		return nil, err
	}
	es.Logger = set.Logger
	p := &guardProcessor{id: set.ID, observe: cfg.Mode == ModeObserve, engine: guard.New(es), telemetry: tb}
	for r := guard.Reason(0); r < guard.NumReasons; r++ {
		p.reasons[r] = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", r.String())))
	}
	if n := cfg.ReportTopN; n > 0 {
		err = tb.RegisterProcessorCardinalityguardLabelValuesEstimatedCallback(func(_ context.Context, o metric.Int64Observer) error {
			for _, le := range p.engine.CardinalityReport(n) {
				o.Observe(int64(min(le.Values, math.MaxInt64)), metric.WithAttributes(
					attribute.String("metric", le.Metric), attribute.String("label", le.Label)))
			}
			return nil
		})
		if err != nil {
			tb.Shutdown()
			return nil, err
		}
	}
	return p, nil
}

// engineSettings turns a validated Config into engine settings.
func engineSettings(cfg *Config) (guard.Settings, error) {
	s := guard.Settings{
		Observe:         cfg.Mode == ModeObserve,
		ScopeAttributes: cfg.ScopeAttributes,
		MaxSeriesTotal:  cfg.MaxSeriesTotal,
		Window:          cfg.Window,
		Default:         guardLimits(cfg.Limits),
	}
	for i := range cfg.Overrides {
		o := &cfg.Overrides[i]
		ov := guard.Override{Limits: guardLimits(o.apply(cfg.Limits))}
		for _, p := range o.Metrics {
			g, err := glob.Compile(p)
			if err != nil {
				return guard.Settings{}, err
			}
			ov.Patterns = append(ov.Patterns, g)
		}
		s.Overrides = append(s.Overrides, ov)
	}
	return s, nil
}

func guardLimits(l Limits) guard.Limits {
	g := guard.Limits{
		MaxValuesPerLabel:  l.MaxValuesPerLabel,
		MaxSeriesPerMetric: l.MaxSeriesPerMetric,
		OverflowValue:      l.OverflowValue,
		Protected:          append([]string(nil), l.ProtectedLabels...),
		AlwaysDrop:         append([]string(nil), l.AlwaysDropLabels...),
	}
	if l.Action == ActionOverflowValue {
		g.Action = guard.OverflowValue
	}
	switch l.GaugeAggregation {
	case GaugeMax:
		g.GaugeAggregation = guard.GaugeMax
	case GaugeMin:
		g.GaugeAggregation = guard.GaugeMin
	case GaugeSum:
		g.GaugeAggregation = guard.GaugeSum
	}
	return g
}

func (p *guardProcessor) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	st := p.engine.Process(md)
	p.record(ctx, &st)
	return md, nil
}

// record records what one call did: in the telemetry, and in the totals.
func (p *guardProcessor) record(ctx context.Context, st *guard.Stats) {
	tb, t := p.telemetry, &p.totals
	t.in.Add(st.PointsIn)
	t.out.Add(st.PointsOut)
	if st.Merged > 0 {
		t.merged.Add(st.Merged)
	}
	for r := guard.Reason(0); r < guard.NumReasons; r++ {
		if n := st.LabelDropped[r]; n > 0 {
			tb.ProcessorCardinalityguardPointsLabelDropped.Add(ctx, n, p.reasons[r])
			t.labelDropped[r].Add(n)
		}
		if n := st.Overflowed[r]; n > 0 {
			tb.ProcessorCardinalityguardPointsOverflowed.Add(ctx, n, p.reasons[r])
			t.overflowed[r].Add(n)
		}
		if n := st.Unmergeable[r]; n > 0 {
			tb.ProcessorCardinalityguardPointsUnmergeable.Add(ctx, n, p.reasons[r])
			t.unmergeable[r].Add(n)
		}
		if n := st.Refused[r]; n > 0 {
			tb.ProcessorCardinalityguardPointsRefused.Add(ctx, n, p.reasons[r])
			t.refused[r].Add(n)
		}
	}
	if st.SketchesRefused > 0 {
		tb.ProcessorCardinalityguardSketchesRefused.Add(ctx, st.SketchesRefused)
		t.sketchesRefused.Add(st.SketchesRefused)
	}
	tb.ProcessorCardinalityguardSeriesTracked.Record(ctx, st.SeriesTracked)
	tb.ProcessorCardinalityguardLabelKeysLimited.Record(ctx, st.LabelKeysLimited)
}

// start publishes the instance on the status page (no component depends on
// the statusz extension: without it, nobody asks).
func (p *guardProcessor) start(context.Context, component.Host) error {
	p.started = time.Now()
	p.unregister = statusregistry.Register(p.id, component.KindProcessor, p)
	return nil
}

func (p *guardProcessor) shutdown(context.Context) error {
	if p.unregister != nil {
		p.unregister()
	}
	if p.telemetry != nil {
		p.telemetry.Shutdown()
	}
	return nil
}
