// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package honeycombevents

import (
	"path/filepath"
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
	assert.Equal(t, "unknown_service", cfg.UnknownDataset)
	assert.Equal(t, EncodingJSON, cfg.Encoding)
	assert.Equal(t, configcompression.TypeZstd, cfg.ClientConfig.Compression)
	assert.Equal(t, "SampleRate", cfg.SampleRateAttribute)
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
	// The batch URL keeps the endpoint's host and drops the trailing slash.
	e, err := newEventsExporter(cfg, exportertestSettings())
	require.NoError(t, err)
	assert.Equal(t, "https://api.eu1.honeycomb.io/1/batch/", e.batchURL)
}

func TestValidateNamesEveryBadKey(t *testing.T) {
	cfg := loadConfig(t, "invalid")
	err := confmap.Validate(cfg)
	require.Error(t, err)
	for _, key := range []string{"endpoint:", "api_key:", "unknown_dataset:", "encoding:", "compression:", "max_batch_bytes:", "max_event_bytes:", "max_fields:"} {
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
