// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package cardinalityguard // import "github.com/prodscope/prodscope/processor/cardinalityguard"

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/prodscope/prodscope/processor/cardinalityguard/internal/glob"
	"github.com/prodscope/prodscope/processor/cardinalityguard/internal/guard"
)

// Mode says whether the processor changes data.
type Mode string

const (
	// ModeEnforce applies the limits.
	ModeEnforce Mode = "enforce"
	// ModeObserve passes data through unchanged and only reports what enforce would do.
	ModeObserve Mode = "observe"
)

// Action is what happens to a label key that went over its value limit.
type Action string

const (
	// ActionDropLabel removes the key from the metric's points and re-aggregates.
	ActionDropLabel Action = "drop_label"
	// ActionOverflowValue keeps the first values and maps every other value to OverflowValue.
	ActionOverflowValue Action = "overflow_value"
)

// GaugeAggregation is how gauges merged by a drop are combined.
type GaugeAggregation string

const (
	GaugeLast GaugeAggregation = "last"
	GaugeMax  GaugeAggregation = "max"
	GaugeMin  GaugeAggregation = "min"
	GaugeSum  GaugeAggregation = "sum"
)

// Config is the configuration of the cardinalityguard processor.
type Config struct {
	// Mode is enforce (apply the limits) or observe (report only).
	Mode Mode `mapstructure:"mode"`
	// ScopeAttributes are the resource attributes whose values partition every limit.
	// An empty list means one global scope.
	ScopeAttributes []string `mapstructure:"scope_attributes"`
	// MaxSeriesTotal bounds all tracked series, all scopes together.
	MaxSeriesTotal int `mapstructure:"max_series_total"`
	// Window is how long an unseen value or series is remembered.
	Window time.Duration `mapstructure:"window"`

	// Limits are the defaults for every metric.
	Limits `mapstructure:",squash"`

	// ReportTopN bounds the cardinality report: the estimated distinct
	// values of the N limited (metric, label) pairs with the most. 0 turns
	// the report off.
	ReportTopN int `mapstructure:"report_top_n"`

	// Overrides change limits for the metrics whose names match; the first match wins.
	Overrides []Override `mapstructure:"overrides"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Limits are the settings an override can change.
type Limits struct {
	MaxValuesPerLabel  int              `mapstructure:"max_values_per_label"`
	MaxSeriesPerMetric int              `mapstructure:"max_series_per_metric"`
	Action             Action           `mapstructure:"action"`
	OverflowValue      string           `mapstructure:"overflow_value"`
	ProtectedLabels    []string         `mapstructure:"protected_labels"`
	AlwaysDropLabels   []string         `mapstructure:"always_drop_labels"`
	GaugeAggregation   GaugeAggregation `mapstructure:"gauge_aggregation"`
}

// Override sets limits for the metrics matching any of its patterns. Keys
// left out inherit the top-level value.
type Override struct {
	// Metrics are glob patterns on the metric name (`*`, `?`, `[a-z]`, `\` escapes).
	Metrics            []string          `mapstructure:"metrics"`
	MaxValuesPerLabel  *int              `mapstructure:"max_values_per_label"`
	MaxSeriesPerMetric *int              `mapstructure:"max_series_per_metric"`
	Action             *Action           `mapstructure:"action"`
	OverflowValue      *string           `mapstructure:"overflow_value"`
	ProtectedLabels    *[]string         `mapstructure:"protected_labels"`
	AlwaysDropLabels   *[]string         `mapstructure:"always_drop_labels"`
	GaugeAggregation   *GaugeAggregation `mapstructure:"gauge_aggregation"`
}

var _ component.Config = (*Config)(nil)

// maxReportTopN bounds report_top_n: each reported pair is one gauge point
// per collection of the processor's telemetry.
const maxReportTopN = 10_000

// Validate checks the configuration; every error names its YAML key.
func (cfg *Config) Validate() error {
	var errs []error
	switch cfg.Mode {
	case ModeEnforce, ModeObserve:
	default:
		errs = append(errs, fmt.Errorf("mode: must be %q or %q, got %q", ModeEnforce, ModeObserve, cfg.Mode))
	}
	for i, a := range cfg.ScopeAttributes {
		if a == "" {
			errs = append(errs, fmt.Errorf("scope_attributes[%d]: must not be empty", i))
		}
	}
	if cfg.MaxSeriesTotal <= 0 {
		errs = append(errs, fmt.Errorf("max_series_total: must be positive, got %d", cfg.MaxSeriesTotal))
	}
	if cfg.Window < time.Second {
		errs = append(errs, fmt.Errorf("window: must be at least 1s, got %s", cfg.Window))
	}
	if cfg.Window > guard.MaxWindow {
		errs = append(errs, fmt.Errorf("window: must be at most %s, got %s", guard.MaxWindow, cfg.Window))
	}
	if cfg.ReportTopN < 0 || cfg.ReportTopN > maxReportTopN {
		errs = append(errs, fmt.Errorf("report_top_n: must be between 0 and %d, got %d", maxReportTopN, cfg.ReportTopN))
	}
	errs = append(errs, cfg.validate("")...) // the top-level Limits
	if cfg.MaxSeriesPerMetric > 0 && cfg.MaxSeriesTotal > 0 && cfg.MaxSeriesPerMetric > cfg.MaxSeriesTotal {
		errs = append(errs, fmt.Errorf("max_series_per_metric: %d is above max_series_total %d", cfg.MaxSeriesPerMetric, cfg.MaxSeriesTotal))
	}
	for i := range cfg.Overrides {
		o := &cfg.Overrides[i]
		prefix := fmt.Sprintf("overrides[%d].", i)
		if len(o.Metrics) == 0 {
			errs = append(errs, fmt.Errorf("%smetrics: at least one pattern is required", prefix))
		}
		for j, p := range o.Metrics {
			if _, err := glob.Compile(p); err != nil {
				errs = append(errs, fmt.Errorf("%smetrics[%d]: %w", prefix, j, err))
			}
		}
		eff := o.apply(cfg.Limits)
		errs = append(errs, eff.validate(prefix)...)
		if o.MaxSeriesPerMetric != nil && cfg.MaxSeriesTotal > 0 && *o.MaxSeriesPerMetric > cfg.MaxSeriesTotal {
			errs = append(errs, fmt.Errorf("%smax_series_per_metric: %d is above max_series_total %d", prefix, *o.MaxSeriesPerMetric, cfg.MaxSeriesTotal))
		}
	}
	return errors.Join(errs...)
}

func (l *Limits) validate(prefix string) []error {
	var errs []error
	if l.MaxValuesPerLabel <= 0 {
		errs = append(errs, fmt.Errorf("%smax_values_per_label: must be positive, got %d", prefix, l.MaxValuesPerLabel))
	}
	if l.MaxSeriesPerMetric <= 0 {
		errs = append(errs, fmt.Errorf("%smax_series_per_metric: must be positive, got %d", prefix, l.MaxSeriesPerMetric))
	}
	switch l.Action {
	case ActionDropLabel, ActionOverflowValue:
	default:
		errs = append(errs, fmt.Errorf("%saction: must be %q or %q, got %q", prefix, ActionDropLabel, ActionOverflowValue, l.Action))
	}
	if l.Action == ActionOverflowValue && l.OverflowValue == "" {
		errs = append(errs, fmt.Errorf("%soverflow_value: must not be empty when action is %q", prefix, ActionOverflowValue))
	}
	switch l.GaugeAggregation {
	case GaugeLast, GaugeMax, GaugeMin, GaugeSum:
	default:
		errs = append(errs, fmt.Errorf("%sgauge_aggregation: must be one of last, max, min, sum, got %q", prefix, l.GaugeAggregation))
	}
	protected := make(map[string]struct{}, len(l.ProtectedLabels))
	for i, k := range l.ProtectedLabels {
		if k == "" {
			errs = append(errs, fmt.Errorf("%sprotected_labels[%d]: must not be empty", prefix, i))
		}
		protected[k] = struct{}{}
	}
	for i, k := range l.AlwaysDropLabels {
		if k == "" {
			errs = append(errs, fmt.Errorf("%salways_drop_labels[%d]: must not be empty", prefix, i))
		}
		if _, ok := protected[k]; ok {
			errs = append(errs, fmt.Errorf("%salways_drop_labels[%d]: %q is also in protected_labels", prefix, i, k))
		}
	}
	return errs
}

// apply returns base with the override's keys applied.
func (o *Override) apply(base Limits) Limits {
	out := base
	if o.MaxValuesPerLabel != nil {
		out.MaxValuesPerLabel = *o.MaxValuesPerLabel
	}
	if o.MaxSeriesPerMetric != nil {
		out.MaxSeriesPerMetric = *o.MaxSeriesPerMetric
	}
	if o.Action != nil {
		out.Action = *o.Action
	}
	if o.OverflowValue != nil {
		out.OverflowValue = *o.OverflowValue
	}
	if o.ProtectedLabels != nil {
		out.ProtectedLabels = *o.ProtectedLabels
	}
	if o.AlwaysDropLabels != nil {
		out.AlwaysDropLabels = *o.AlwaysDropLabels
	}
	if o.GaugeAggregation != nil {
		out.GaugeAggregation = *o.GaugeAggregation
	}
	return out
}
