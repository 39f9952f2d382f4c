// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package honeycombevents

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/metadata"
)

func loadConfig(t *testing.T, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig()
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg.(*Config)
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg := loadConfig(t, "")
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, "https://api.honeycomb.io", cfg.ClientConfig.Endpoint)
	assert.Equal(t, configopaque.String("default-key"), cfg.APIKey)
	assert.Empty(t, cfg.Dataset)
	assert.Empty(t, cfg.UnknownDataset, "Honeycomb's fallback per signal")
	for sig, want := range map[signal][2]string{
		signalTraces:  {"", "unknown_service"},
		signalLogs:    {"", "unknown_log_source"},
		signalMetrics: {"", "unknown_service"},
	} {
		ds, unknown := cfg.datasets(sig)
		assert.Equal(t, want, [2]string{ds, unknown}, "signal %d", sig)
	}
	assert.False(t, cfg.Metrics.HistogramPercentiles)
	assert.Equal(t, EncodingJSON, cfg.Encoding)
	assert.Equal(t, configcompression.TypeZstd, cfg.ClientConfig.Compression)
	assert.Empty(t, cfg.SampleRateAttribute, "Honeycomb's rule: sampleRate, then SampleRate")
	assert.Equal(t, 5_000_000, cfg.MaxBatchBytes)
	assert.Equal(t, 1_000_000, cfg.MaxEventBytes)
	assert.Equal(t, 2000, cfg.MaxFields)
	assert.Equal(t, 30*time.Second, cfg.ClientConfig.Timeout)
	assert.True(t, cfg.QueueConfig.HasValue())
	assert.True(t, cfg.RetryConfig.Enabled)
}

func TestLoadConfigFull(t *testing.T) {
	cfg := loadConfig(t, "full")
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, "https://api.eu1.honeycomb.io/", cfg.ClientConfig.Endpoint)
	assert.Equal(t, configopaque.String("full-key"), cfg.APIKey)
	assert.Equal(t, "checkout", cfg.Dataset)
	assert.Equal(t, "nameless", cfg.UnknownDataset)
	assert.Equal(t, EncodingMsgpack, cfg.Encoding)
	assert.Equal(t, configcompression.TypeGzip, cfg.ClientConfig.Compression)
	assert.Equal(t, "sampling.rate", cfg.SampleRateAttribute)
	for sig, want := range map[signal][2]string{
		signalTraces:  {"spans", "nameless"},
		signalLogs:    {"checkout", "nameless-logs"},
		signalMetrics: {"metrics", "nameless"},
	} {
		ds, unknown := cfg.datasets(sig)
		assert.Equal(t, want, [2]string{ds, unknown}, "signal %d", sig)
	}
	assert.True(t, cfg.Metrics.HistogramPercentiles)
	assert.Equal(t, 1_000_000, cfg.MaxBatchBytes)
	assert.Equal(t, 100_000, cfg.MaxEventBytes)
	assert.Equal(t, 500, cfg.MaxFields)
	assert.Equal(t, 5*time.Second, cfg.ClientConfig.Timeout)
	v, ok := cfg.ClientConfig.Headers.Get("X-Extra")
	require.True(t, ok)
	assert.Equal(t, configopaque.String("value"), v)
	assert.Equal(t, 50, int(cfg.QueueConfig.Get().QueueSize))
	require.NotNil(t, cfg.QueueConfig.Get().StorageID)
	assert.Equal(t, "file_storage/honeycomb", cfg.QueueConfig.Get().StorageID.String(), "persistent queue via file_storage")
	assert.Equal(t, 60*time.Second, cfg.RetryConfig.MaxElapsedTime)
	e, err := newEventsExporter(cfg, exportertestSettings(), signalTraces)
	require.NoError(t, err)
	assert.Equal(t, "https://api.eu1.honeycomb.io/", e.engineCfg.Endpoint, "the engine drops the trailing slash (internal/sender)")
}

func TestValidateNamesEveryBadKey(t *testing.T) {
	cfg := loadConfig(t, "invalid")
	err := confmap.Validate(cfg)
	require.Error(t, err)
	for _, key := range []string{"endpoint:", "api_key:", "unknown_dataset:", "traces::dataset:", "encoding:", "compression:", "max_batch_bytes:", "max_event_bytes:", "max_fields:"} {
		assert.Contains(t, err.Error(), key)
	}
}

func TestValidateCases(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		errKey string
	}{
		{"no endpoint", func(c *Config) { c.ClientConfig.Endpoint = "" }, "endpoint:"},
		{"endpoint without host", func(c *Config) { c.ClientConfig.Endpoint = "http://" }, "endpoint:"},
		{"endpoint with query", func(c *Config) { c.ClientConfig.Endpoint = "http://h/?a=b" }, "endpoint:"},
		{"blank api key", func(c *Config) { c.APIKey = "  " }, "api_key:"},
		{"event larger than batch", func(c *Config) { c.MaxBatchBytes = 2000; c.MaxEventBytes = 1999 }, "max_event_bytes:"},
		{"negative timeout", func(c *Config) { c.ClientConfig.Timeout = -time.Second }, "timeout:"},
		{"fixed dataset needs no fallback", func(c *Config) { c.Dataset = "d"; c.UnknownDataset = "" }, ""},
		{"blank dataset", func(c *Config) { c.Dataset = "   " }, "dataset: must not be blank"},
		{"padded dataset", func(c *Config) { c.Dataset = " shop" }, "dataset: must not start or end with white space"},
		{"padded unknown_dataset", func(c *Config) { c.UnknownDataset = "fallback\t" }, "unknown_dataset: must not start or end"},
		{"blank logs unknown_dataset", func(c *Config) { c.Logs.UnknownDataset = " " }, "logs::unknown_dataset: must not be blank"},
		{"padded metrics dataset", func(c *Config) { c.Metrics.Dataset = "metrics " }, "metrics::dataset: must not start or end"},
		{"slash in dataset", func(c *Config) { c.Traces.Dataset = "a/b" }, "traces::dataset: must not contain"},
		{"dataset over 255 bytes", func(c *Config) { c.Dataset = strings.Repeat("d", 256) }, "dataset: must be at most 255"},
		{"classic key without dataset", func(c *Config) { c.APIKey = "0123456789abcdef0123456789abcdef" }, "Honeycomb Classic api_key"},
		{"classic ingest key without logs dataset", func(c *Config) {
			c.APIKey = configopaque.String("hcxic_" + strings.Repeat("a1", 29))
			c.Traces.Dataset, c.Metrics.Dataset = "t", "m"
		}, "logs::dataset"},
		{"classic key with dataset", func(c *Config) { c.APIKey = "0123456789abcdef0123456789abcdef"; c.Dataset = "d" }, ""},
		{"environment key without dataset", func(c *Config) { c.APIKey = "hcaik_01hzzzzzzzzzzzzzzzzzzzzz" }, ""},
		{"per-signal datasets", func(c *Config) {
			c.Traces.Dataset, c.Logs.UnknownDataset, c.Metrics.Dataset = "spans", "nameless logs", "otel metrics"
		}, ""},
		{"compression none", func(c *Config) { c.ClientConfig.Compression = "none" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig().(*Config)
			cfg.APIKey = "k"
			tt.mutate(cfg)
			err := cfg.Validate()
			if tt.errKey == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.errKey)
		})
	}
}

func TestLoadConfigGatewayShape(t *testing.T) {
	cfg := loadConfig(t, "gateway")
	require.NoError(t, confmap.Validate(cfg))
	require.True(t, cfg.QueueConfig.HasValue())
	assert.Equal(t, "file_storage/queue", cfg.QueueConfig.Get().StorageID.String())
	assert.Equal(t, 10*time.Minute, cfg.RetryConfig.MaxElapsedTime)
}
