// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package logtracejoin // import "github.com/prodscope/prodscope/processor/logtracejoin"

import (
	"sync/atomic"

	"github.com/prodscope/prodscope/internal/statusregistry"
	"github.com/prodscope/prodscope/processor/logtracejoin/internal/extract"
)

// statusCounts are the cumulative counts of the status page, added from the
// engine's results where the telemetry is recorded (telemetry.go).
type statusCounts struct {
	in, out atomic.Int64
	// extracted: records given a context from their own fields, by how it
	// was read and convention.
	extracted [extract.NumVias][extract.NumConventions]atomic.Int64
	// joinHits: records given their span's context (at once, or when it
	// came); joinMisses: records with a correlation key that left without.
	joinHits, joinMisses atomic.Int64
	// releasedUnjoined: held records that left without their span (wait
	// over, max_waiting_logs, shutdown); overflow: those of max_waiting_logs.
	releasedUnjoined, overflow atomic.Int64
	// sizeEvicted: index entries evicted at max_index_entries.
	sizeEvicted atomic.Int64
	invalid     [extract.NumReasons]atomic.Int64
	skipped     [extract.NumSkips]atomic.Int64
}

func addIfPositive(c *atomic.Int64, n int64) {
	if n > 0 {
		c.Add(n)
	}
}

// Where a record's trace context came from, as the status page names it.
const (
	fromAttribute = iota
	fromBodyField
	fromText
	fromJoin
	numFroms
)

var fromNames = [numFroms]string{"attribute", "body field", "text scan", "join"}

func fromOf(v extract.Via) int {
	switch v {
	case extract.ViaAttribute:
		return fromAttribute
	case extract.ViaBodyField:
		return fromBodyField
	}
	return fromText
}

const unit = "log records"

// StatusSnapshot is the instance's status source (statusregistry.Source):
// its counts since it was created and the engine's state now. It reads
// atomics and copies the engine's state under the engine's lock; the data
// path is not touched.
func (s *joinState) StatusSnapshot(limit int) statusregistry.Snapshot {
	st := s.engine.State()
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	c := &s.counts

	var byFrom [numFroms]int64
	var byFromConv [numFroms][extract.NumConventions]int64
	for via := range c.extracted {
		f := fromOf(extract.Via(via))
		for conv := range c.extracted[via] {
			n := c.extracted[via][conv].Load()
			byFrom[f] += n
			byFromConv[f][conv] += n
		}
	}
	hits := c.joinHits.Load()
	byFrom[fromJoin] = hits

	var enriched []statusregistry.Count
	for f := range fromJoin {
		for conv, n := range byFromConv[f] {
			if n > 0 {
				enriched = append(enriched, statusregistry.Count{What: fromNames[f] + ": " + extract.Convention(conv).String(), N: n})
			}
		}
	}
	if hits > 0 {
		enriched = append(enriched, statusregistry.Count{What: fromNames[fromJoin], N: hits})
	}

	var changed []statusregistry.Count
	for f, n := range byFrom {
		if n > 0 {
			changed = append(changed, statusregistry.Count{What: "trace context from " + fromNames[f], N: n})
		}
	}

	var refused []statusregistry.Count
	refuse := func(what string, n int64) {
		if n > 0 {
			refused = append(refused, statusregistry.Count{What: what, N: n})
		}
	}
	refuse("waiting logs released unjoined at max_waiting_logs", c.overflow.Load())
	refuse("index entries evicted at max_index_entries", c.sizeEvicted.Load())
	for r := range c.invalid {
		refuse("invalid id: "+extract.Reason(r).String(), c.invalid[r].Load())
	}
	for r := range c.skipped {
		refuse("nested search skipped: "+extract.Skip(r).String(), c.skipped[r].Load())
	}

	var holding []statusregistry.Gauge
	if st.CanHold {
		holding = append(holding, statusregistry.Gauge{What: "waiting logs", Now: int64(st.Waiting), Limit: int64(st.MaxWaitingLogs)})
	}
	if st.Joins {
		holding = append(holding, statusregistry.Gauge{What: "index entries", Now: int64(st.IndexEntries), Limit: int64(st.MaxIndexEntries)})
	}

	return statusregistry.Snapshot{
		Started:  started,
		ItemsIn:  c.in.Load(),
		ItemsOut: c.out.Load(),
		Unit:     unit,
		Changed:  statusregistry.TopCounts(changed, limit),
		Refused:  statusregistry.TopCounts(refused, limit),
		Holding:  holding,
		LogTraceJoin: &statusregistry.LogTraceJoin{
			Enriched:         statusregistry.TopCounts(enriched, limit),
			JoinHits:         hits,
			JoinMisses:       c.joinMisses.Load(),
			Waiting:          int64(st.Waiting),
			MaxWaiting:       int64(st.MaxWaitingLogs),
			IndexSize:        int64(st.IndexEntries),
			MaxIndex:         int64(st.MaxIndexEntries),
			ReleasedUnjoined: c.releasedUnjoined.Load(),
		},
	}
}
