// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package pprofscrape // import "github.com/prodscope/prodscope/receiver/pprofscrape"

import (
	"cmp"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prodscope/prodscope/internal/statusregistry"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/fetch"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/scrape"
)

// refusalReasons are every reason a profile or a target scrape is counted as refused
// or failed: the scrape_errors reasons, then the scrapes_refused ones.
var refusalReasons = []string{
	string(fetch.ReasonBusy), string(fetch.ReasonTimeout), string(fetch.ReasonHTTP), string(fetch.ReasonParse),
	string(fetch.ReasonSize), string(fetch.ReasonLimit), string(fetch.ReasonNotPprof),
	scrape.RefusedConcurrencyLimit, scrape.RefusedBackoff,
}

// counts are the status page's cumulative numbers, kept by the shell from the scheduler's
// Results (the same values the self-telemetry records).
type counts struct {
	started time.Time // set before the source is registered

	samplesIn  atomic.Int64 // pprof samples parsed from scrapes
	samplesOut atomic.Int64 // OTLP samples the profiles pipeline accepted
	points     atomic.Int64 // metric points computed from the scrapes
	deltas     atomic.Int64 // cumulative profiles turned into deltas
	resets     atomic.Int64 // cumulative profiles whose values went backwards
	refused    map[string]*atomic.Int64
}

func newCounts() *counts {
	c := &counts{refused: make(map[string]*atomic.Int64, len(refusalReasons))}
	for _, r := range refusalReasons {
		c.refused[r] = new(atomic.Int64)
	}
	return c
}

// refuse counts one failure or refusal of reason (a reason the scheduler does not know
// of yet is not counted here; the self-telemetry still has it).
func (c *counts) refuse(reason string) {
	if n, ok := c.refused[reason]; ok {
		n.Add(1)
	}
}

// statusSource is the receiver's status page Source: the shell's counts plus the
// scheduler's state, which Scheduler.Status copies under the scheduler's lock.
type statusSource struct {
	counts    *counts
	scheduler *scrape.Scheduler
}

// StatusSnapshot implements statusregistry.Source.
func (s *statusSource) StatusSnapshot(limit int) statusregistry.Snapshot {
	return s.counts.snapshot(s.scheduler.Status(), limit)
}

// snapshot is the status of a receiver with these counts and scheduler state, every
// list at most limit long.
func (c *counts) snapshot(st scrape.Status, limit int) statusregistry.Snapshot {
	snap := statusregistry.Snapshot{
		Started:  c.started,
		ItemsIn:  c.samplesIn.Load(),
		ItemsOut: c.samplesOut.Load(),
		Unit:     "samples",
		Holding: []statusregistry.Gauge{
			{What: "concurrent scrapes (max_concurrent_scrapes)", Now: int64(st.ScrapeSlots), Limit: int64(st.MaxScrapeSlots)},
			{What: "concurrent parses (max_concurrent_parses)", Now: int64(st.ParseSlots), Limit: int64(st.MaxParseSlots)},
		},
	}
	snap.Changed = statusregistry.TopCounts([]statusregistry.Count{
		{What: "cumulative profiles turned into deltas", N: c.deltas.Load()},
		{What: "delta baselines reset (values went backwards)", N: c.resets.Load()},
		{What: "metric points computed from profiles", N: c.points.Load()},
	}, limit)
	var refused []statusregistry.Count
	for _, r := range refusalReasons {
		if n := c.refused[r].Load(); n > 0 {
			refused = append(refused, statusregistry.Count{What: r, N: n})
		}
	}
	snap.Refused = statusregistry.TopCounts(refused, limit)
	asListed := func(statusregistry.Gauge, statusregistry.Gauge) int { return 0 }
	snap.Holding, _ = statusregistry.Top(snap.Holding, limit, asListed)

	targets := mergeTargets(st.Targets)
	ps := &statusregistry.PprofScrape{}
	for _, t := range targets {
		if t.Up {
			ps.TargetsUp++
		} else {
			ps.TargetsDown++
		}
	}
	ps.Targets, ps.TargetsOmitted = statusregistry.Top(targets, limit, func(a, b statusregistry.Target) int {
		if a.Up != b.Up {
			if !a.Up {
				return -1 // down targets first
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Endpoint, b.Endpoint))
	})
	snap.PprofScrape = ps
	return snap
}

// mergeTargets gives one entry per configured target: a target whose profiles have
// different collection intervals runs one loop per interval. A target is up when the
// last scrape of any of its loops got a profile (as target_up says for one loop); a
// target not scraped yet is not up. The last scrape is the latest of its loops', the
// next one the earliest.
func mergeTargets(loops []scrape.TargetStatus) []statusregistry.Target {
	out := make([]statusregistry.Target, 0, len(loops))
	index := make(map[[2]string]int, len(loops))
	for _, l := range loops {
		t := statusregistry.Target{
			Name: l.Name, Endpoint: l.Endpoint, Up: l.Scraped && l.Up,
			LastScrape: l.LastScrape, LastDuration: l.LastDuration, LastBytes: l.LastBytes,
			LastError: l.LastError, LastErrorAt: l.LastErrorAt, NextScrape: l.NextScrape,
			ProfileTypes: slices.Clone(l.Types),
		}
		key := [2]string{l.Name, l.Endpoint}
		i, seen := index[key]
		if !seen {
			index[key] = len(out)
			out = append(out, t)
			continue
		}
		m := &out[i]
		m.Up = m.Up || t.Up
		if t.LastScrape.After(m.LastScrape) {
			m.LastScrape, m.LastDuration, m.LastBytes = t.LastScrape, t.LastDuration, t.LastBytes
		}
		if t.LastErrorAt.After(m.LastErrorAt) {
			m.LastError, m.LastErrorAt = t.LastError, t.LastErrorAt
		}
		if !t.NextScrape.IsZero() && (m.NextScrape.IsZero() || t.NextScrape.Before(m.NextScrape)) {
			m.NextScrape = t.NextScrape
		}
		m.ProfileTypes = append(m.ProfileTypes, t.ProfileTypes...)
	}
	return out
}
