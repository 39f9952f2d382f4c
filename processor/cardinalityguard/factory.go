// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/prodscope/prodscope/processor/cardinalityguard"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/prodscope/prodscope/processor/cardinalityguard/internal/metadata"
)

const (
	defaultMaxValuesPerLabel  = 100
	defaultMaxSeriesPerMetric = 2000
	defaultMaxSeriesTotal     = 1_000_000
	defaultWindow             = time.Hour
	defaultOverflowValue      = "__overflow__"
	defaultReportTopN         = 100
)

// NewFactory returns the factory of the cardinalityguard processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithMetrics(createMetrics, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		Mode:            ModeEnforce,
		ScopeAttributes: []string{"service.name"},
		MaxSeriesTotal:  defaultMaxSeriesTotal,
		Window:          defaultWindow,
		ReportTopN:      defaultReportTopN,
		Limits: Limits{
			MaxValuesPerLabel:  defaultMaxValuesPerLabel,
			MaxSeriesPerMetric: defaultMaxSeriesPerMetric,
			Action:             ActionDropLabel,
			OverflowValue:      defaultOverflowValue,
			ProtectedLabels:    []string{},
			AlwaysDropLabels:   []string{},
			GaugeAggregation:   GaugeLast,
		},
	}
}

func createMetrics(
	ctx context.Context,
	set processor.Settings,
	cfg component.Config,
	next consumer.Metrics,
) (processor.Metrics, error) {
	p, err := newGuardProcessor(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	return processorhelper.NewMetrics(ctx, set, cfg, next, p.processMetrics,
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: cfg.(*Config).Mode == ModeEnforce}),
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdown),
	)
}
