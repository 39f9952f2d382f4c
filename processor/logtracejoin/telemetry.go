// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package logtracejoin // import "github.com/prodscope/prodscope/processor/logtracejoin"

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/prodscope/prodscope/processor/logtracejoin/internal/extract"
	"github.com/prodscope/prodscope/processor/logtracejoin/internal/join"
	"github.com/prodscope/prodscope/processor/logtracejoin/internal/metadata"
)

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

// batchCounts accumulates one batch's telemetry so that each counter is
// updated once per batch, not once per record.
type batchCounts struct {
	record, attribute, body, join int64
	noKey, noSpan                 int64
	invalid                       [extract.NumReasons]int64
	skipped                       [extract.NumSkips]int64
}

func (c *batchCounts) add(t *metadata.TelemetryBuilder, ctx context.Context) {
	addIf(ctx, t.ProcessorLogtracejoinRecordsEnriched, c.record, sourceRecord)
	addIf(ctx, t.ProcessorLogtracejoinRecordsEnriched, c.attribute, sourceAttribute)
	addIf(ctx, t.ProcessorLogtracejoinRecordsEnriched, c.body, sourceBody)
	addIf(ctx, t.ProcessorLogtracejoinRecordsEnriched, c.join, sourceJoin)
	addIf(ctx, t.ProcessorLogtracejoinRecordsUnmatched, c.noKey, unmatchedNoKey)
	addIf(ctx, t.ProcessorLogtracejoinRecordsUnmatched, c.noSpan, unmatchedNoSpan)
	for r, n := range c.invalid {
		addIf(ctx, t.ProcessorLogtracejoinInvalidIds, n, invalidReasons[r])
	}
	for r, n := range c.skipped {
		addIf(ctx, t.ProcessorLogtracejoinNestedSkipped, n, skipReasons[r])
	}
}

// recordReleased counts what a release sent on.
func recordReleased(t *metadata.TelemetryBuilder, ctx context.Context, r *join.Released) {
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
}
