// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package statusregistry

import "time"

// Snapshot is one component instance's state, as the status page shows it and
// as /statusz/api serves it (the JSON names are the API). Every list is at most
// the requested limit long, and an *Omitted field says how many were left out;
// a list of Counts says it in its last entry instead (TopCounts).
type Snapshot struct {
	Type string `json:"type"` // component type, e.g. cardinalityguard (set by the registry)
	ID   string `json:"id"`   // component ID, e.g. cardinalityguard/agent (set by the registry)
	Kind string `json:"kind"` // Receiver, Processor, Exporter (set by the registry)

	// Pipelines the instance runs in; the extension fills these from the
	// collector's component status events.
	Pipelines []string `json:"pipelines"`

	Started  time.Time `json:"started"`
	ItemsIn  int64     `json:"items_in"`  // items the component received (points, records, spans, samples)
	ItemsOut int64     `json:"items_out"` // items it passed on or sent
	Unit     string    `json:"unit"`      // what an item is: points, log records, events, profiles

	// Changed: what the component did to the data, by what (e.g. "label dropped", "trace id from traceparent").
	Changed []Count `json:"changed"`
	// Refused: what it refused, by reason.
	Refused []Count `json:"refused"`
	// Holding: what it holds now against its bound (e.g. waiting logs, queued events).
	Holding []Gauge `json:"holding"`

	// One of these, by Type.
	CardinalityGuard *CardinalityGuard `json:"cardinalityguard,omitempty"`
	LogTraceJoin     *LogTraceJoin     `json:"logtracejoin,omitempty"`
	PprofScrape      *PprofScrape      `json:"pprofscrape,omitempty"`
	HoneycombEvents  *HoneycombEvents  `json:"honeycombevents,omitempty"`
}

// Count is a number of items by what happened to them.
type Count struct {
	What string `json:"what"`
	N    int64  `json:"n"`
}

// Gauge is what a component holds now against its configured bound (0: unbounded).
type Gauge struct {
	What  string `json:"what"`
	Now   int64  `json:"now"`
	Limit int64  `json:"limit"`
}

// CardinalityGuard is cardinalityguard's state: which labels it limits.
type CardinalityGuard struct {
	// Limited (scope, metric, label) pairs, the most distinct values first.
	Limited        []LimitedLabel `json:"limited"`
	LimitedOmitted int            `json:"limited_omitted"`
	// Series tracked against each per-metric limit, the fullest first.
	Series        []SeriesLimit `json:"series"`
	SeriesOmitted int           `json:"series_omitted"`
	SeriesTotal   int64         `json:"series_total"`
	SeriesBudget  int64         `json:"series_budget"` // max_series_total
}

// LimitedLabel is a label the guard limits on one metric.
type LimitedLabel struct {
	Scope          string    `json:"scope"`
	Metric         string    `json:"metric"`
	Label          string    `json:"label"`
	DistinctValues uint64    `json:"distinct_values"` // HyperLogLog estimate
	Action         string    `json:"action"`          // drop, overflow, observe
	Reason         string    `json:"reason"`          // value_limit, always_drop, ...
	Since          time.Time `json:"since"`
	PointsAffected int64     `json:"points_affected"`
}

// SeriesLimit is one metric's tracked series against its limit.
type SeriesLimit struct {
	Scope   string `json:"scope"`
	Metric  string `json:"metric"`
	Tracked int64  `json:"tracked"`
	Limit   int64  `json:"limit"`
}

// LogTraceJoin is logtracejoin's state.
type LogTraceJoin struct {
	// Records enriched, by source (attribute, body field, text scan, join) and convention.
	Enriched         []Count `json:"enriched"`
	JoinHits         int64   `json:"join_hits"`
	JoinMisses       int64   `json:"join_misses"`
	Waiting          int64   `json:"waiting"`
	MaxWaiting       int64   `json:"max_waiting"`
	IndexSize        int64   `json:"index_size"`
	MaxIndex         int64   `json:"max_index"`
	ReleasedUnjoined int64   `json:"released_unjoined"`
}

// PprofScrape is pprofscrape's state: its targets.
type PprofScrape struct {
	Targets        []Target `json:"targets"` // down targets first, then by name
	TargetsOmitted int      `json:"targets_omitted"`
	TargetsUp      int      `json:"targets_up"`
	TargetsDown    int      `json:"targets_down"`
}

// Target is one scraped endpoint.
type Target struct {
	Name         string        `json:"name"`     // configured name, or the endpoint
	Endpoint     string        `json:"endpoint"` // base URL, without credentials
	Up           bool          `json:"up"`
	LastScrape   time.Time     `json:"last_scrape"`
	LastDuration time.Duration `json:"last_duration_ns"`
	LastBytes    int64         `json:"last_bytes"`
	LastError    string        `json:"last_error,omitempty"` // reason and message of the last failure
	LastErrorAt  time.Time     `json:"last_error_at,omitzero"`
	NextScrape   time.Time     `json:"next_scrape"`
	ProfileTypes []string      `json:"profile_types"`
}

// HoneycombEvents is honeycombevents' state: deliveries and refusals.
type HoneycombEvents struct {
	Sent           int64            `json:"sent"`
	Retried        int64            `json:"retried"`
	Refused        []DatasetRefusal `json:"refused"`
	RefusedOmitted int              `json:"refused_omitted"`
	QueueSize      int64            `json:"queue_size"`
	QueueCapacity  int64            `json:"queue_capacity"`
	LastError      string           `json:"last_error,omitempty"` // never carries the API key
	LastErrorAt    time.Time        `json:"last_error_at,omitzero"`
}

// DatasetRefusal counts events refused for one dataset and reason.
type DatasetRefusal struct {
	Dataset string `json:"dataset"`
	Reason  string `json:"reason"`
	N       int64  `json:"n"`
}
