// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package logtracejoin // import "github.com/prodscope/prodscope/processor/logtracejoin"

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/prodscope/prodscope/processor/logtracejoin/internal/engine"
	"github.com/prodscope/prodscope/processor/logtracejoin/internal/extract"
	"github.com/prodscope/prodscope/processor/logtracejoin/internal/join"
)

// The engine returns what each call did; the functions here record it, once
// per call, as telemetry (through the TelemetryBuilder) and as the status
// page's cumulative counts.

// Values of the `source`, `reason` and `outcome` telemetry attributes.
var (
	sourceRecord    = attrSet("source", "record")
	sourceAttribute = attrSet("source", "attribute")
	sourceBody      = attrSet("source", "body")
	sourceJoin      = attrSet("source", "join")

	unmatchedNoKey    = attrSet("reason", "no_key")
	unmatchedNoSpan   = attrSet("reason", "no_span")
	unmatchedExpired  = attrSet("reason", "wait_expired")
	unmatchedOverflow = attrSet("reason", "overflow")
	unmatchedShutdown = attrSet("reason", "shutdown")

	evictedTTL  = attrSet("reason", "ttl")
	evictedSize = attrSet("reason", "size")

	// histogram options as slices: passing a prepared slice to the
	// variadic Record does not allocate one per record
	outcomeMatched   = []metric.RecordOption{attrSet("outcome", "matched")}
	outcomeUnmatched = []metric.RecordOption{attrSet("outcome", "unmatched")}

	skipReasons = func() (r [extract.NumSkips]metric.MeasurementOption) {
		for i := range r {
			r[i] = attrSet("reason", extract.Skip(i).String())
		}
		return r
	}()

	invalidReasons = func() (r [extract.NumReasons]metric.MeasurementOption) {
		for i := range r {
			r[i] = attrSet("reason", extract.Reason(i).String())
		}
		return r
	}()
)

func attrSet(k, v string) metric.MeasurementOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String(k, v)))
}

func addIf(ctx context.Context, c metric.Int64Counter, n int64, opt metric.MeasurementOption) {
	if n > 0 {
		c.Add(ctx, n, opt)
	}
}

// recordLogs records what ProcessLogs did to one batch.
func (s *joinState) recordLogs(ctx context.Context, r *engine.LogsResult) {
	t, c := s.telemetry, &s.counts
	var attr, body int64
	for via := range r.Extracted {
		for conv, n := range r.Extracted[via] {
			if n == 0 {
				continue
			}
			c.extracted[via][conv].Add(n)
			if extract.Via(via).Source() == extract.SourceAttribute {
				attr += n
			} else {
				body += n
			}
		}
	}
	addIf(ctx, t.ProcessorLogtracejoinRecordsEnriched, r.HadContext, sourceRecord)
	addIf(ctx, t.ProcessorLogtracejoinRecordsEnriched, attr, sourceAttribute)
	addIf(ctx, t.ProcessorLogtracejoinRecordsEnriched, body, sourceBody)
	addIf(ctx, t.ProcessorLogtracejoinRecordsEnriched, r.Joined, sourceJoin)
	addIf(ctx, t.ProcessorLogtracejoinRecordsUnmatched, r.NoKey, unmatchedNoKey)
	addIf(ctx, t.ProcessorLogtracejoinRecordsUnmatched, r.NoSpan, unmatchedNoSpan)
	for reason, n := range r.Invalid {
		addIf(ctx, t.ProcessorLogtracejoinInvalidIds, n, invalidReasons[reason])
		addIfPositive(&c.invalid[reason], n)
	}
	for reason, n := range r.Skipped {
		addIf(ctx, t.ProcessorLogtracejoinNestedSkipped, n, skipReasons[reason])
		addIfPositive(&c.skipped[reason], n)
	}
	addIfPositive(&c.in, r.Records)
	addIfPositive(&c.out, r.Passed())
	addIfPositive(&c.joinHits, r.Joined)
	addIfPositive(&c.joinMisses, r.NoSpan)
}

// recordReleased records what one release sent on.
func (s *joinState) recordReleased(ctx context.Context, r *join.Released) {
	t, c := s.telemetry, &s.counts
	for _, w := range r.MatchedWaits {
		t.ProcessorLogtracejoinWaitTime.Record(ctx, w.Seconds(), outcomeMatched...)
	}
	for _, w := range r.UnmatchedWaits {
		t.ProcessorLogtracejoinWaitTime.Record(ctx, w.Seconds(), outcomeUnmatched...)
	}
	addIf(ctx, t.ProcessorLogtracejoinRecordsEnriched, r.Matched, sourceJoin)
	addIf(ctx, t.ProcessorLogtracejoinRecordsUnmatched, r.Expired, unmatchedExpired)
	addIf(ctx, t.ProcessorLogtracejoinRecordsUnmatched, r.Overflow, unmatchedOverflow)
	addIf(ctx, t.ProcessorLogtracejoinRecordsUnmatched, r.Shutdown, unmatchedShutdown)
	unjoined := r.Expired + r.Overflow + r.Shutdown
	addIfPositive(&c.out, r.Matched+unjoined)
	addIfPositive(&c.joinHits, r.Matched)
	addIfPositive(&c.joinMisses, unjoined)
	addIfPositive(&c.releasedUnjoined, unjoined)
	addIfPositive(&c.overflow, r.Overflow)
}

// recordEvictions records index entries evicted for their TTL or the size bound.
func (s *joinState) recordEvictions(ctx context.Context, ev join.Evictions) {
	addIf(ctx, s.telemetry.ProcessorLogtracejoinIndexEvictions, int64(ev.TTL), evictedTTL)
	addIf(ctx, s.telemetry.ProcessorLogtracejoinIndexEvictions, int64(ev.Size), evictedSize)
	addIfPositive(&s.counts.sizeEvicted, int64(ev.Size))
}
