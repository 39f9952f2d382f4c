// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package statusz

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

func loadConfig(t *testing.T, id component.ID) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(id.String())
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig()
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg.(*Config)
}

func TestConfigDefaults(t *testing.T) {
	cfg := loadConfig(t, component.MustNewID("statusz"))
	assert.Equal(t, "127.0.0.1:55680", cfg.ServerConfig.NetAddr.Endpoint, "loopback by default")
	assert.Equal(t, 5*time.Second, cfg.Refresh)
	assert.Equal(t, 50, cfg.MaxItems)
	assert.Equal(t, 10*time.Second, cfg.ServerConfig.ReadTimeout)
	assert.Equal(t, 10*time.Second, cfg.ServerConfig.WriteTimeout)
	require.NoError(t, confmap.Validate(cfg))
}

func TestConfigCustom(t *testing.T) {
	cfg := loadConfig(t, component.MustNewIDWithName("statusz", "custom"))
	assert.Equal(t, "127.0.0.1:18080", cfg.ServerConfig.NetAddr.Endpoint)
	assert.Equal(t, 10*time.Second, cfg.Refresh)
	assert.Equal(t, 20, cfg.MaxItems)
	require.NoError(t, confmap.Validate(cfg))

	off := loadConfig(t, component.MustNewIDWithName("statusz", "norefresh"))
	assert.Zero(t, off.Refresh)
	assert.NoError(t, confmap.Validate(off))
}

func TestConfigValidateNamesEveryBadKey(t *testing.T) {
	cfg := loadConfig(t, component.MustNewIDWithName("statusz", "bad"))
	err := confmap.Validate(cfg)
	require.Error(t, err)
	for _, want := range []string{
		"endpoint: must be set",
		"refresh: must be at least 1s (or 0 to turn it off), got 100ms",
		"max_items: must be between 1 and 10000, got 0",
	} {
		require.ErrorContains(t, err, want)
	}

	neg := NewFactory().CreateDefaultConfig().(*Config)
	neg.Refresh = -time.Second
	neg.MaxItems = 10001
	err = confmap.Validate(neg)
	require.ErrorContains(t, err, "refresh: must not be negative")
	assert.ErrorContains(t, err, "max_items: must be between 1 and 10000, got 10001")
}
