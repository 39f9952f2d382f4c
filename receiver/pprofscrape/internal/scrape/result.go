// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package scrape // import "github.com/prodscope/prodscope/receiver/pprofscrape/internal/scrape"

import (
	"regexp"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pprofile"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/fetch"
)

// Reasons a target scrape was not run.
const (
	// RefusedConcurrencyLimit: every slot the target could take stayed busy until its next scrape was due.
	RefusedConcurrencyLimit = "concurrency_limit"
	// RefusedBackoff: a failing target skipped the interval.
	RefusedBackoff = "backoff"
)

// Result is what one target scrape did. The scheduler hands every Result to
// Settings.Report, which records the self-telemetry and passes the output on; the
// engine counts nothing itself.
type Result struct {
	// Target is the target's self-telemetry name (its configured name, else its endpoint
	// without credentials).
	Target string
	// Refused is set when the scrape did not run (RefusedConcurrencyLimit,
	// RefusedBackoff); then nothing else is.
	Refused string
	// Up: at least one profile arrived, or the target's CPU profiler was busy.
	Up bool
	// Profiles has one entry per profile fetched, in the target's order.
	Profiles []ProfileResult
	// Panicked: processing the scrape hit an internal error and the scrape was dropped;
	// it counts as one parse failure of the target.
	Panicked bool
	// Deltas counts the cumulative profiles turned into deltas; Resets those whose
	// values went backwards (the target restarted): no delta, a new baseline.
	Deltas, Resets int

	// ProfileData is the OTLP profiles of the scrape (HasProfiles), with ProfileSamples
	// samples; built only when Settings.Profiles is set.
	ProfileData    pprofile.Profiles
	ProfileSamples int
	HasProfiles    bool
	// Metrics is the metrics of the scrape (HasMetrics); built only when
	// Settings.NewMetricsBuilder is set.
	Metrics    pmetric.Metrics
	HasMetrics bool

	// For the target's status: the last failure's message (without credentials).
	lastError string
}

// ProfileResult is what happened to one profile of a target scrape.
type ProfileResult struct {
	// Type is the configured profile name.
	Type string
	// WireBytes were read off the network for it.
	WireBytes int64
	// Duration is its fetch, decoding and parsing.
	Duration time.Duration
	// Samples is the number of pprof samples parsed (0 when it failed).
	Samples int
	// Reason says why it failed; empty when it did not.
	Reason fetch.Reason
}

// Status is the scheduler's state, copied by Scheduler.Status.
type Status struct {
	// Targets has one entry per target loop (a target whose profiles have different
	// intervals runs one loop per interval), in configuration order.
	Targets []TargetStatus
	// ScrapeSlots are the max_concurrent_scrapes slots held now, of MaxScrapeSlots.
	ScrapeSlots, MaxScrapeSlots int
	// ParseSlots are the max_concurrent_parses slots held now, of MaxParseSlots.
	ParseSlots, MaxParseSlots int
}

// TargetStatus is one target loop's state.
type TargetStatus struct {
	Name string
	// Endpoint is the target's base URL without credentials.
	Endpoint string
	// Types are the profile names the loop scrapes (shared, read-only).
	Types []string
	// Scraped: the loop has finished at least one scrape; the fields below describe the last one.
	Scraped      bool
	Up           bool
	LastScrape   time.Time
	LastDuration time.Duration
	LastBytes    int64
	// LastError is the reason and message of the last failure (of any scrape so far),
	// without credentials; LastErrorAt when it happened.
	LastError   string
	LastErrorAt time.Time
	// NextScrape is when the loop scrapes next (after its backoff, if any).
	NextScrape time.Time
}

// userinfo matches the credentials of a URL (scheme://user:password@).
var userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s"'<>]*@`)

// Redact removes the credentials of every URL in s: endpoints may carry them
// (http://user:password@host), and so do the errors of requests to them.
func Redact(s string) string {
	return userinfo.ReplaceAllString(s, "$1")
}
