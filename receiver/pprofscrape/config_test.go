// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package pprofscrape

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/metadata"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/metadatatest"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/pproftest"
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
	assert.Equal(t, 60*time.Second, cfg.CollectionInterval)
	assert.Equal(t, time.Second, cfg.InitialDelay)
	assert.Equal(t, 30*time.Second, cfg.ClientConfig.Timeout)
	assert.Equal(t, 10*time.Second, cfg.CPUDuration)
	assert.Equal(t, int64(8<<20), cfg.MaxBodyBytes)
	assert.Equal(t, int64(8<<20), cfg.MaxDecompressedBytes)
	assert.Equal(t, int64(100_000), cfg.MaxSamples)
	assert.Equal(t, int64(100_000), cfg.MaxLocations)
	assert.Equal(t, int64(200_000), cfg.MaxStrings)
	assert.Equal(t, 2, cfg.MaxConcurrentParses)
	assert.Equal(t, 16, cfg.MaxConcurrentScrapes)
	assert.Equal(t, []string{"cpu", "heap", "goroutine"}, cfg.Profiles)
	assert.Equal(t, 10, cfg.TopFunctions)
	assert.Equal(t, "trace_id", cfg.TraceIDLabel)
	assert.Equal(t, "span_id", cfg.SpanIDLabel)
	require.Len(t, cfg.Targets, 1)
	assert.Equal(t, "http://127.0.0.1:6060", cfg.Targets[0].Endpoint)
	ka := cfg.ClientConfig.Keepalive.Get()
	require.NotNil(t, ka, "connections are kept between scrapes by default")
	assert.Equal(t, 10_000, ka.MaxIdleConns)
	assert.Equal(t, 10, ka.MaxIdleConnsPerHost)
	assert.Equal(t, 5*time.Minute, ka.IdleConnTimeout)
}

func TestLoadConfigKeepalive(t *testing.T) {
	cfg := loadConfig(t, "keepalive")
	require.NoError(t, confmap.Validate(cfg))
	ka := cfg.ClientConfig.Keepalive.Get()
	require.NotNil(t, ka)
	assert.Equal(t, 4, ka.MaxIdleConnsPerHost, "overridden")
	assert.Equal(t, 10_000, ka.MaxIdleConns, "the other bounds keep their defaults")
	assert.Equal(t, 5*time.Minute, ka.IdleConnTimeout)

	cfg = loadConfig(t, "no_keepalive")
	require.NoError(t, confmap.Validate(cfg))
	assert.False(t, cfg.ClientConfig.Keepalive.HasValue(), "keepalive: {enabled: false} turns keep-alive off")
}

func TestLoadConfigFull(t *testing.T) {
	cfg := loadConfig(t, "full")
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, 30*time.Second, cfg.CollectionInterval)
	assert.Equal(t, 2*time.Second, cfg.InitialDelay)
	assert.Equal(t, 20*time.Second, cfg.ClientConfig.Timeout)
	assert.Equal(t, 5*time.Second, cfg.CPUDuration)
	assert.Equal(t, int64(1048576), cfg.MaxBodyBytes)
	assert.Equal(t, 4, cfg.MaxConcurrentScrapes)
	assert.Equal(t, 5, cfg.TopFunctions)
	assert.Equal(t, []string{"cpu", "heap", "goroutine", "allocs"}, cfg.Profiles)
	v, ok := cfg.ClientConfig.Headers.Get("X-Scope")
	require.True(t, ok)
	assert.Equal(t, "prod", string(v))
	require.Len(t, cfg.Targets, 2)
	assert.Equal(t, map[string]string{"service.name": "checkout"}, cfg.Targets[0].ResourceAttributes)
	assert.Equal(t, []string{"cpu", "heap"}, cfg.Targets[0].Profiles)
	assert.Equal(t, "https://127.0.0.1:6061/", cfg.Targets[1].Endpoint)
	assert.Empty(t, cfg.Targets[1].Profiles)

	r, err := newReceiver(cfg, receivertestSettings())
	require.NoError(t, err)
	targets := r.targets()
	require.Len(t, targets, 2)
	assert.Equal(t, []string{"cpu", "heap"}, targets[0].Types)
	assert.Equal(t, cfg.Profiles, targets[1].Types, "a target without profiles takes the receiver's list")
}

// TestLoadConfigMetrics: every computed metric is enabled by default; `metrics:` disables one.
func TestLoadConfigMetrics(t *testing.T) {
	def := loadConfig(t, "")
	assert.Equal(t, metadata.NewDefaultMetricsBuilderConfig(), def.MetricsBuilderConfig)
	assert.True(t, def.Metrics.PprofFunctionCum.Enabled)
	cfg := loadConfig(t, "metrics")
	require.NoError(t, confmap.Validate(cfg))
	assert.False(t, cfg.Metrics.PprofFunctionCum.Enabled)
	assert.False(t, cfg.Metrics.PprofGoroutines.Enabled)
	assert.True(t, cfg.Metrics.PprofFunctionFlat.Enabled)
	assert.True(t, cfg.Metrics.PprofCPUTime.Enabled)
}

func TestLoadConfigTopLevelEndpoint(t *testing.T) {
	cfg := loadConfig(t, "endpoint")
	require.NoError(t, confmap.Validate(cfg))
	r, err := newReceiver(cfg, receivertestSettings())
	require.NoError(t, err)
	targets := r.targets()
	require.Len(t, targets, 1)
	assert.Equal(t, "http://10.1.2.3:6060", targets[0].Endpoint, "receiver_creator's host:port gets the http scheme")
	assert.Equal(t, map[string]string{"k8s.pod.name": "shop-1"}, targets[0].Resource)
	assert.Equal(t, []string{"cpu", "heap", "goroutine"}, targets[0].Types)
}

func TestLoadConfigEndpoints(t *testing.T) {
	cfg := loadConfig(t, "endpoints")
	require.NoError(t, confmap.Validate(cfg))
	r, err := newReceiver(cfg, receivertestSettings())
	require.NoError(t, err)
	targets := r.targets()
	type got struct {
		name, endpoint, prefix string
		interval               time.Duration
		types                  []string
		paths, typeOf          map[string]string
	}
	var all []got
	for _, tg := range targets {
		all = append(all, got{tg.Name, tg.Endpoint, tg.PathPrefix, tg.Interval, tg.Types, tg.Paths, tg.TypeOf})
	}
	assert.Equal(t, []got{
		{"checkout", "http://127.0.0.1:6060", "/internal", time.Minute, []string{"cpu", "fgprof"}, map[string]string{"fgprof": "/debug/fgprof?format=pprof"}, map[string]string{"fgprof": "cpu"}},
		{"checkout", "http://127.0.0.1:6060", "/internal", 15 * time.Second, []string{"goroutine"}, map[string]string{}, map[string]string{}},
		{"checkout", "http://127.0.0.1:6060", "/internal", 30 * time.Second, []string{"delta_heap"}, map[string]string{"delta_heap": "/debug/pprof/delta_heap"}, map[string]string{}},
		{"", "http://127.0.0.1:6061", "", 15 * time.Second, []string{"goroutine"}, map[string]string{}, map[string]string{}},
	}, all)
}

func TestValidateNamesTheKey(t *testing.T) {
	tests := []struct {
		name string
		want []string
	}{
		{"cpu_vs_interval", []string{"cpu_duration (10s) must be less than collection_interval (10s)"}},
		{"cpu_vs_timeout", []string{"cpu_duration (10s) must be less than timeout (5s)"}},
		{"unknown_type", []string{`profiles[1]: unknown profile "trace"`, `targets[0].profiles[0]: unknown profile "cmdline"`}},
		{"bad_url", []string{
			`targets[0].endpoint: invalid URL "127.0.0.1:6060"`,
			`targets[1].endpoint: URL "http://" has no host`,
			`targets[2].endpoint: URL "http://127.0.0.1:6060/?debug=2" must be a base URL without query or fragment`,
		}},
		{"bad_endpoints", []string{
			`path_prefix: "internal/" must start with /`,
			`targets[0].path_prefix: "/a?b" must start with /`,
			`profile_settings::cpu.type: "heap" is a profile type itself`,
			`profile_settings::cpu.collection_interval (5s) must be greater than cpu_duration (10s)`,
			`profile_settings::custom1.type: a custom profile needs the profile type`,
			`profile_settings::custom2.type: unknown profile type "nope"`,
			`profile_settings::custom3.path: "http://evil/" must be an absolute path`,
		}},
		{"limits", []string{
			"max_body_bytes must be positive",
			"max_decompressed_bytes must be positive",
			"max_samples must be positive",
			"max_locations must be positive",
			"max_strings must be positive",
			"max_concurrent_parses must be positive",
			"max_concurrent_scrapes must be positive",
			"top_functions must be between 0 and 1000",
			"targets must list at least one target",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := confmap.Validate(loadConfig(t, tt.name))
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestValidateMore(t *testing.T) {
	base := func() *Config {
		cfg := createDefaultConfig().(*Config)
		cfg.Targets = []TargetConfig{{Endpoint: "http://127.0.0.1:6060"}}
		return cfg
	}
	cases := map[string]func(*Config){
		"collection_interval must be positive":     func(c *Config) { c.CollectionInterval = 0 },
		"initial_delay must not be negative":       func(c *Config) { c.InitialDelay = -time.Second },
		"timeout must be positive":                 func(c *Config) { c.ClientConfig.Timeout = 0 },
		"cpu_duration must be a whole number":      func(c *Config) { c.CPUDuration = 1500 * time.Millisecond },
		"profiles must list at least one":          func(c *Config) { c.Profiles = nil },
		`profiles[1]: profile "heap" listed twice`: func(c *Config) { c.Profiles = []string{"heap", "heap"} },
		`targets[1].endpoint: "http://127.0.0.1:6060" repeats targets[0].endpoint`: func(c *Config) {
			c.Targets = append(c.Targets, TargetConfig{Endpoint: "http://127.0.0.1:6060"})
		},
		"endpoint: invalid URL": func(c *Config) { c.ClientConfig.Endpoint = "http://[::1" },
		`trace_id_label ("trace_id") and span_id_label ("") must both be set`: func(c *Config) { c.SpanIDLabel = "" },
		`profile_settings::x.path: "/debug/pprof/cmdline": the receiver never requests /cmdline or /trace`: func(c *Config) {
			c.ProfileSettings = map[string]ProfileSettings{"x": {Type: "cpu", Path: "/debug/pprof/cmdline"}}
		},
		`trace_id_label and span_id_label must differ`: func(c *Config) { c.SpanIDLabel = "trace_id" },
		`targets[1].name: "shop" repeats targets[0].name`: func(c *Config) {
			c.Targets[0].Name = "shop"
			c.Targets = append(c.Targets, TargetConfig{Endpoint: "http://127.0.0.1:6061", Name: "shop"})
		},
	}
	for want, mutate := range cases {
		t.Run(want, func(t *testing.T) {
			cfg := base()
			require.NoError(t, confmap.Validate(cfg))
			mutate(cfg)
			err := confmap.Validate(cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), want)
		})
	}
}

// TestEndpointsAreRequestedWhereConfigured: the prefix, a per-profile path and a custom
// profile end up in the requested URLs, and the custom profile is delivered.
func TestEndpointsAreRequestedWhereConfigured(t *testing.T) {
	srv := pproftest.NewServer(t)
	missing := pproftest.PrefixMissing
	cfg := testConfig(
		TargetConfig{Endpoint: srv.URL, Profiles: []string{"goroutine", "mine"}},
		TargetConfig{Endpoint: srv.URL + "/", PathPrefix: &missing, Profiles: []string{"heap"}},
	)
	cfg.ProfileSettings = map[string]ProfileSettings{
		"goroutine": {Path: "/debug/pprof/goroutine?debug=0"},
		"mine":      {Path: "/debug/pprof/allocs", Type: "heap"},
	}
	tt := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tt.Shutdown(context.Background())) }()
	r := start(t, cfg, metadatatest.NewSettings(tt), true, false)
	require.Eventually(t, func() bool {
		return srv.Count("/debug/pprof/goroutine?debug=0") >= 1 && srv.Count("/debug/pprof/allocs") >= 1 &&
			srv.Count(pproftest.PrefixMissing+"/debug/pprof/heap") >= 1 && len(r.profiles.AllProfiles()) >= 1
	}, 30*time.Second, 20*time.Millisecond, "requests: %v", srv.Requests())
	r.stop()
	types := profileTypes(r.profiles.AllProfiles()[0])
	assert.Contains(t, types, "mine", "the custom profile is delivered under its name")
	assert.Contains(t, types, "goroutine")
}
