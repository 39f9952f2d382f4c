// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package honeycombevents // import "github.com/prodscope/prodscope/exporter/honeycombevents"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/metadata"
)

const (
	defaultEndpoint = "https://api.honeycomb.io"
	defaultTimeout  = 30 * time.Second
)

// NewFactory creates the factory of the honeycombevents exporter.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithTraces(createTraces, metadata.TracesStability),
		exporter.WithLogs(createLogs, metadata.LogsStability),
		exporter.WithMetrics(createMetrics, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config {
	client := confighttp.NewDefaultClientConfig()
	client.Endpoint = defaultEndpoint
	client.Timeout = defaultTimeout
	client.Compression = configcompression.TypeZstd
	return &Config{
		ClientConfig:  client,
		QueueConfig:   configoptional.Some(exporterhelper.NewDefaultQueueConfig()),
		RetryConfig:   configretry.NewDefaultBackOffConfig(),
		Encoding:      EncodingJSON,
		MaxBatchBytes: apiMaxBatchBytes,
		MaxEventBytes: apiMaxEventBytes,
		MaxFields:     apiMaxFields,
	}
}

func helperOptions(cfg *Config, e *eventsExporter) []exporterhelper.Option {
	return []exporterhelper.Option{
		exporterhelper.WithStart(e.start),
		exporterhelper.WithShutdown(e.shutdown),
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		// The HTTP client's timeout (the timeout key) bounds each request.
		exporterhelper.WithTimeout(exporterhelper.TimeoutConfig{Timeout: 0}),
		exporterhelper.WithRetry(cfg.RetryConfig),
		exporterhelper.WithQueue(cfg.QueueConfig),
	}
}

func createTraces(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	c := cfg.(*Config)
	e, err := newEventsExporter(c, set, signalTraces)
	if err != nil {
		return nil, err
	}
	exp, err := exporterhelper.NewTraces(ctx, e.helperSettings(set), cfg, e.pushTraces, helperOptions(c, e)...)
	if err != nil {
		_ = e.shutdown(ctx)
		return nil, err
	}
	return exp, nil
}

func createLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	c := cfg.(*Config)
	e, err := newEventsExporter(c, set, signalLogs)
	if err != nil {
		return nil, err
	}
	exp, err := exporterhelper.NewLogs(ctx, e.helperSettings(set), cfg, e.pushLogs, helperOptions(c, e)...)
	if err != nil {
		_ = e.shutdown(ctx)
		return nil, err
	}
	return exp, nil
}

func createMetrics(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Metrics, error) {
	c := cfg.(*Config)
	e, err := newEventsExporter(c, set, signalMetrics)
	if err != nil {
		return nil, err
	}
	exp, err := exporterhelper.NewMetrics(ctx, e.helperSettings(set), cfg, e.pushMetrics, helperOptions(c, e)...)
	if err != nil {
		_ = e.shutdown(ctx)
		return nil, err
	}
	return exp, nil
}
