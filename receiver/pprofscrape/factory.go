// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package pprofscrape // import "github.com/prodscope/prodscope/receiver/pprofscrape"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/xconsumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/xreceiver"

	"github.com/prodscope/prodscope/internal/sharedcomponent"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/convert"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/metadata"
)

const (
	defaultCollectionInterval   = 60 * time.Second
	defaultInitialDelay         = time.Second
	defaultTimeout              = 30 * time.Second
	defaultCPUDuration          = 10 * time.Second
	defaultMaxBodyBytes         = 8 << 20
	defaultMaxDecompressed      = 8 << 20
	defaultMaxSamples           = 100_000
	defaultMaxLocations         = 100_000
	defaultMaxStrings           = 200_000
	defaultMaxConcurrentScrapes = 16
	defaultMaxConcurrentParses  = 2
	defaultTopFunctions         = 10

	// Keep-alive, as Prometheus' scraper keeps it: every target's connections stay open
	// between scrapes. A target's profile types are fetched in parallel, one connection
	// each, so the per-host cap covers every built-in type of a target; the global cap
	// fits 1,000 targets x 10 types (3,333 with the default three), and the idle timeout
	// outlasts intervals up to 5 minutes. confighttp's own defaults (100 idle in all, Go's
	// 2 per host) closed most connections between scrapes past ~33 targets.
	defaultMaxIdleConns        = 10_000
	defaultMaxIdleConnsPerHost = 10
	defaultIdleConnTimeout     = 5 * time.Minute
)

// NewFactory returns the factory of the pprofscrape receiver (profiles and metrics).
func NewFactory() receiver.Factory {
	return xreceiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		xreceiver.WithMetrics(createMetrics, metadata.MetricsStability),
		xreceiver.WithProfiles(createProfiles, metadata.ProfilesStability),
	)
}

func createDefaultConfig() component.Config {
	client := confighttp.NewDefaultClientConfig()
	client.Timeout = defaultTimeout
	keepalive := confighttp.NewDefaultKeepaliveClientConfig()
	keepalive.MaxIdleConns = defaultMaxIdleConns
	keepalive.MaxIdleConnsPerHost = defaultMaxIdleConnsPerHost
	keepalive.IdleConnTimeout = defaultIdleConnTimeout
	client.Keepalive = configoptional.Some(keepalive)
	return &Config{
		ClientConfig:         client,
		MetricsBuilderConfig: metadata.NewDefaultMetricsBuilderConfig(),
		CollectionInterval:   defaultCollectionInterval,
		InitialDelay:         defaultInitialDelay,
		CPUDuration:          defaultCPUDuration,
		MaxBodyBytes:         defaultMaxBodyBytes,
		MaxDecompressedBytes: defaultMaxDecompressed,
		MaxSamples:           defaultMaxSamples,
		MaxLocations:         defaultMaxLocations,
		MaxStrings:           defaultMaxStrings,
		MaxConcurrentScrapes: defaultMaxConcurrentScrapes,
		MaxConcurrentParses:  defaultMaxConcurrentParses,
		Profiles:             []string{"cpu", "heap", "goroutine"},
		TopFunctions:         defaultTopFunctions,
		TraceIDLabel:         convert.DefaultTraceIDLabel,
		SpanIDLabel:          convert.DefaultSpanIDLabel,
	}
}

// receivers shares one instance between the metrics and the profiles pipelines of a
// component ID, so that one scrape feeds both signals.
var receivers = sharedcomponent.NewMap[sharedcomponent.Key, *pprofReceiver]()

func load(set receiver.Settings, cfg *Config) (*sharedcomponent.Component[*pprofReceiver], error) {
	return receivers.LoadOrStore(sharedcomponent.Key{ID: set.ID, Config: cfg}, func() (*pprofReceiver, error) {
		return newReceiver(cfg, set)
	})
}

func createMetrics(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Metrics) (receiver.Metrics, error) {
	r, err := load(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	r.Unwrap().setMetrics(next)
	return r, nil
}

func createProfiles(_ context.Context, set receiver.Settings, cfg component.Config, next xconsumer.Profiles) (xreceiver.Profiles, error) {
	r, err := load(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	r.Unwrap().setProfiles(next)
	return r, nil
}
