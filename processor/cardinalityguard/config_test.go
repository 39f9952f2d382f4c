// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/prodscope/prodscope/processor/cardinalityguard/internal/metadata"
)

func ptr[T any](v T) *T { return &v }

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	custom := createDefaultConfig().(*Config)
	custom.Mode = ModeObserve
	custom.ScopeAttributes = []string{"service.name", "deployment.environment.name"}
	custom.MaxValuesPerLabel = 50
	custom.MaxSeriesPerMetric = 500
	custom.MaxSeriesTotal = 100000
	custom.Window = 30 * time.Minute
	custom.Action = ActionOverflowValue
	custom.OverflowValue = "other"
	custom.ProtectedLabels = []string{"http.route"}
	custom.AlwaysDropLabels = []string{"pod_uid"}
	custom.GaugeAggregation = GaugeMax
	custom.Overrides = []Override{
		{Metrics: []string{"http.server.*", "rpc.server.duration"}, MaxValuesPerLabel: ptr(1000)},
		{Metrics: []string{"operation_error"}, Action: ptr(ActionDropLabel), ProtectedLabels: ptr([]string{}), GaugeAggregation: ptr(GaugeSum)},
	}

	global := createDefaultConfig().(*Config)
	global.ScopeAttributes = []string{}

	for _, tt := range []struct {
		id   component.ID
		want *Config
	}{
		{component.NewID(metadata.Type), createDefaultConfig().(*Config)},
		{component.NewIDWithName(metadata.Type, "custom"), custom},
		{component.NewIDWithName(metadata.Type, "global"), global},
	} {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			require.NoError(t, confmap.Validate(cfg))
			assert.Equal(t, tt.want, cfg)
		})
	}
}

func TestDefaults(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, ModeEnforce, cfg.Mode)
	assert.Equal(t, []string{"service.name"}, cfg.ScopeAttributes)
	assert.Equal(t, 100, cfg.MaxValuesPerLabel)
	assert.Equal(t, 2000, cfg.MaxSeriesPerMetric)
	assert.Equal(t, 1_000_000, cfg.MaxSeriesTotal)
	assert.Equal(t, time.Hour, cfg.Window)
	assert.Equal(t, ActionDropLabel, cfg.Action)
	assert.Equal(t, "__overflow__", cfg.OverflowValue)
	assert.Equal(t, GaugeLast, cfg.GaugeAggregation)
	assert.NoError(t, cfg.Validate())
}

func TestValidateNamesTheKey(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "invalid.yaml"))
	require.NoError(t, err)
	for name, want := range map[string][]string{
		"negative_limits":            {"max_values_per_label: must be positive, got -1", "max_series_per_metric: must be positive, got -5", "max_series_total: must be positive, got -10"},
		"unknown_action":             {`action: must be "drop_label" or "overflow_value", got "drop_everything"`},
		"protected_and_dropped":      {`always_drop_labels[0]: "user_id" is also in protected_labels`},
		"bad_glob":                   {"overrides[0].metrics[0]:", "unclosed character class"},
		"bad_override_value":         {"overrides[0].max_values_per_label: must be positive, got 0", `overrides[0].action: must be "drop_label" or "overflow_value", got "nope"`},
		"bad_mode":                   {`mode: must be "enforce" or "observe", got "audit"`},
		"short_window":               {"window: must be at least 1s, got 10ms"},
		"bad_gauge":                  {`gauge_aggregation: must be one of last, max, min, sum, got "avg"`},
		"empty_override":             {"overrides[0].metrics: at least one pattern is required"},
		"override_series_over_total": {"overrides[0].max_series_per_metric: 6000 is above max_series_total 5000"},
		"long_window":                {"window: must be at most 168h0m0s, got 200h0m0s"},
		"bad_report_top_n":           {"report_top_n: must be between 0 and 10000, got -1"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(name)
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			require.Error(t, err)
			for _, w := range want {
				assert.ErrorContains(t, err, w)
			}
		})
	}
}

func TestValidateOverflowValueRequired(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Action = ActionOverflowValue
	cfg.OverflowValue = ""
	require.ErrorContains(t, cfg.Validate(), "overflow_value: must not be empty")
	cfg = createDefaultConfig().(*Config)
	cfg.MaxSeriesTotal = 10
	assert.ErrorContains(t, cfg.Validate(), "max_series_per_metric: 2000 is above max_series_total 10")
}
