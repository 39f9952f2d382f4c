// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package guard is the cardinalityguard engine: per-scope value and series
// tracking, the limit decisions, and the re-aggregation of the points that a
// decision merges.
package guard // import "github.com/prodscope/prodscope/processor/cardinalityguard/internal/guard"

import (
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/prodscope/prodscope/processor/cardinalityguard/internal/glob"
)

// OverflowAttribute marks the overflow series of a metric, as in the OTel
// metrics SDK's cardinality limit.
const OverflowAttribute = "otel.metric.overflow"

// MaxLabelKeysPerMetric bounds the label keys tracked for one metric in one
// scope (the OTel SDK's default attribute count limit). Keys beyond it are
// dropped with reason label_keys_limit.
const MaxLabelKeysPerMetric = 128

// Action is what happens to a label key over its value limit.
type Action uint8

const (
	DropLabel Action = iota
	OverflowValue
)

func (a Action) String() string {
	if a == OverflowValue {
		return "overflow_value"
	}
	return "drop_label"
}

// GaugeAggregation combines gauges merged by a drop.
type GaugeAggregation uint8

const (
	GaugeLast GaugeAggregation = iota
	GaugeMax
	GaugeMin
	GaugeSum
)

// Limits apply to one metric.
type Limits struct {
	MaxValuesPerLabel  int
	MaxSeriesPerMetric int
	Action             Action
	OverflowValue      string
	Protected          []string
	AlwaysDrop         []string
	GaugeAggregation   GaugeAggregation
}

func (l *Limits) isProtected(k string) bool {
	for _, p := range l.Protected {
		if p == k {
			return true
		}
	}
	return false
}

// alwaysDropIndex is the index of k in AlwaysDrop, or -1.
func (l *Limits) alwaysDropIndex(k string) int {
	return slices.Index(l.AlwaysDrop, k)
}

// Override applies Limits to the metrics whose name matches any pattern.
type Override struct {
	Patterns []*glob.Pattern
	Limits   Limits
}

// Settings configure an Engine.
type Settings struct {
	// Observe makes Process leave the data unchanged; state and stats are
	// computed as in enforce mode.
	Observe         bool
	ScopeAttributes []string
	MaxSeriesTotal  int
	Window          time.Duration
	Default         Limits
	Overrides       []Override
	// Now is the clock; time.Now when nil.
	Now    func() time.Time
	Logger *zap.Logger
}

func (s *Settings) limitsFor(name string) *Limits {
	for i := range s.Overrides {
		for _, p := range s.Overrides[i].Patterns {
			if p.Match(name) {
				return &s.Overrides[i].Limits
			}
		}
	}
	return &s.Default
}
