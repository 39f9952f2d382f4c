// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package logtracejoin // import "github.com/prodscope/prodscope/processor/logtracejoin"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"

	"github.com/prodscope/prodscope/internal/sharedcomponent"
	"github.com/prodscope/prodscope/processor/logtracejoin/internal/extract"
	"github.com/prodscope/prodscope/processor/logtracejoin/internal/metadata"
)

// states holds one joinState per component ID and config, so that the traces
// and the logs pipelines of one `logtracejoin/<name>` (handed the same *Config
// by the collector) share the index and the waiting logs.
var states = sharedcomponent.NewMap[sharedcomponent.Key, *joinState]()

// NewFactory returns the factory of the logtracejoin processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithTraces(createTraces, metadata.TracesStability),
		processor.WithLogs(createLogs, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	k := extract.DefaultKeys()
	return &Config{
		TraceIDKeys:           k.TraceID,
		SpanIDKeys:            k.SpanID,
		TraceFlagsKeys:        k.TraceFlags,
		TraceparentKeys:       k.Traceparent,
		GoogleTraceKeys:       k.GoogleTrace,
		JaegerKeys:            k.Jaeger,
		B3Keys:                k.B3,
		XRayKeys:              k.XRay,
		CloudTraceContextKeys: k.CloudTraceContext,
		Patterns:              []string{},
		FromBody:              true,
		Join: JoinConfig{
			Enabled:         true,
			CorrelationKeys: k.CorrelationKeys,
			Wait:            5 * time.Second,
			MaxWaitingLogs:  100000,
			IndexTTL:        2 * time.Minute,
			MaxIndexEntries: 1000000,
		},
	}
}

func sharedState(set processor.Settings, cfg component.Config) (*sharedcomponent.Component[*joinState], error) {
	return states.LoadOrStore(sharedcomponent.Key{ID: set.ID, Config: cfg}, func() (*joinState, error) {
		return newJoinState(set, cfg.(*Config))
	})
}

func createTraces(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	sc, err := sharedState(set, cfg)
	if err != nil {
		return nil, err
	}
	sc.Unwrap().addTracesPipeline()
	return &tracesProcessor{Component: sc, state: sc.Unwrap(), next: next}, nil
}

func createLogs(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	sc, err := sharedState(set, cfg)
	if err != nil {
		return nil, err
	}
	p := &logsProcessor{Component: sc, state: sc.Unwrap(), next: next}
	p.id = sc.Unwrap().addLogsPipeline(p)
	return p, nil
}
