// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package logtracejoin // import "github.com/prodscope/prodscope/processor/logtracejoin"

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

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

	outcomeMatched   = attrSet("outcome", "matched")
	outcomeUnmatched = attrSet("outcome", "unmatched")

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

func (s *joinState) addTracesPipeline() {
	s.mu.Lock()
	s.tracesPipelines++
	s.mu.Unlock()
}

// joinState is the state one component ID shares between its traces and
// logs pipelines: the extractor, the join index and the waiting logs. It is
// the component the sharedcomponent wrapper starts and stops once.
type joinState struct {
	cfg       *Config
	logger    *zap.Logger
	extractor *extract.Extractor
	joiner    *join.Joiner // nil when join is disabled
	telemetry *metadata.TelemetryBuilder
	now       func() time.Time
	tick      time.Duration

	mu sync.Mutex
	// tracesPipelines counts the traces pipelines this component id is in;
	// without one no span is ever indexed and logs are not held.
	tracesPipelines int
	running         bool
	cancel          context.CancelFunc
	done            chan struct{}
	runCtx          context.Context

	releaseWarn rateLimited
}

func newJoinState(set processor.Settings, cfg *Config) (*joinState, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	s := &joinState{
		cfg:    cfg,
		logger: set.Logger,
		extractor: extract.New(extract.Keys{
			TraceID:         cfg.TraceIDKeys,
			SpanID:          cfg.SpanIDKeys,
			TraceFlags:      cfg.TraceFlagsKeys,
			Traceparent:     cfg.TraceparentKeys,
			GoogleTrace:     cfg.GoogleTraceKeys,
			Jaeger:          cfg.JaegerKeys,
			CorrelationKeys: joinKeys(cfg),
		}, cfg.FromBody, cfg.RemoveSourceFields),
		telemetry:   tb,
		now:         time.Now,
		releaseWarn: rateLimited{every: 10 * time.Second},
	}
	if cfg.Join.Enabled {
		s.joiner = join.New(cfg.Join.Wait, cfg.Join.MaxWaitingLogs, cfg.Join.IndexTTL, cfg.Join.MaxIndexEntries)
		s.tick = tickFor(cfg.Join.Wait, cfg.Join.IndexTTL)
		if err := tb.RegisterProcessorLogtracejoinWaitingLogsCallback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(s.joiner.Waiting()))
			return nil
		}); err != nil {
			tb.Shutdown()
			return nil, err
		}
		if err := tb.RegisterProcessorLogtracejoinIndexEntriesCallback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(s.joiner.IndexEntries()))
			return nil
		}); err != nil {
			tb.Shutdown()
			return nil, err
		}
	}
	return s, nil
}

func joinKeys(cfg *Config) []string {
	if !cfg.Join.Enabled {
		return nil
	}
	return cfg.Join.CorrelationKeys
}

// tickFor picks how often waiting logs and the index are checked: a tenth
// of the shortest duration, between 5 ms and 1 s.
func tickFor(wait, ttl time.Duration) time.Duration {
	d := ttl
	if wait > 0 && wait < d {
		d = wait
	}
	return min(max(d/10, 5*time.Millisecond), time.Second)
}

// Start starts the loop that releases logs whose wait is over.
func (s *joinState) Start(context.Context, component.Host) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.joiner == nil || s.running {
		return nil
	}
	if s.tracesPipelines == 0 {
		s.logger.Warn("logtracejoin join is enabled but this component is in no traces pipeline: no span is indexed, "+
			"logs are not held and leave unmatched; add it to a traces pipeline or set join::enabled: false",
			zap.Strings("correlation_keys", s.cfg.Join.CorrelationKeys))
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.runCtx, s.cancel, s.done, s.running = ctx, cancel, make(chan struct{}), true
	go s.releaseLoop(ctx, s.done)
	return nil
}

// Shutdown stops the release loop and sends every waiting log downstream.
// It is safe to call without Start.
func (s *joinState) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	wasRunning := s.running
	s.running = false
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	var err error
	if wasRunning {
		cancel()
		select {
		case <-done:
		case <-ctx.Done():
			// the loop is stuck in a downstream send: give up waiting for
			// it, but still hand the waiting logs over below
			err = ctx.Err()
		}
		s.joiner.ReleaseAll(s.now())
		s.emitReady(ctx)
	}
	s.telemetry.Shutdown()
	return err
}

func (s *joinState) isRunning() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

func (s *joinState) releaseLoop(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(s.tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.releaseTick(ctx)
		}
	}
}

// releaseTick releases the logs whose wait is over and evicts index
// entries past their TTL.
func (s *joinState) releaseTick(ctx context.Context) {
	ev := s.joiner.Expire(s.now())
	addIf(ctx, s.telemetry.ProcessorLogtracejoinIndexEvictions, int64(ev.TTL), evictedTTL)
	s.emitReady(ctx)
}

// emitReady sends the released logs to the logs pipelines they came from,
// one plog.Logs per pipeline, records of one incoming scope kept together.
func (s *joinState) emitReady(ctx context.Context) {
	if s.joiner == nil {
		return
	}
	ready := s.joiner.TakeReady()
	if len(ready) == 0 {
		return
	}
	type scopeOut struct {
		owner *logsProcessor
		lrs   plog.LogRecordSlice
	}
	outs := map[*logsProcessor]plog.Logs{}
	scopes := map[*join.HeldScope]scopeOut{}
	var matched, expired, overflow, shutdown int64
	for _, h := range ready {
		owner := h.Owner.(*logsProcessor)
		so, ok := scopes[h.Scope]
		if !ok || so.owner != owner {
			ld, ok := outs[owner]
			if !ok {
				ld = plog.NewLogs()
				outs[owner] = ld
			}
			rl := ld.ResourceLogs().AppendEmpty()
			h.Scope.Resource.CopyTo(rl.Resource())
			rl.SetSchemaUrl(h.Scope.ResourceSchemaURL)
			sl := rl.ScopeLogs().AppendEmpty()
			h.Scope.Scope.CopyTo(sl.Scope())
			sl.SetSchemaUrl(h.Scope.ScopeSchemaURL)
			so = scopeOut{owner: owner, lrs: sl.LogRecords()}
			scopes[h.Scope] = so
		}
		lr := so.lrs.AppendEmpty()
		h.Record.MoveTo(lr)
		waited := h.Released.Sub(h.Arrived).Seconds()
		if h.Outcome == join.Matched {
			setContext(lr, h.Context.TraceID, h.Context.SpanID, uint32(h.Context.Flags), true, true)
			matched++
			s.telemetry.ProcessorLogtracejoinWaitTime.Record(ctx, waited, outcomeMatched)
			continue
		}
		s.telemetry.ProcessorLogtracejoinWaitTime.Record(ctx, waited, outcomeUnmatched)
		switch h.Outcome {
		case join.Expired:
			expired++
		case join.Overflow:
			overflow++
		case join.Shutdown:
			shutdown++
		}
	}
	t := s.telemetry
	addIf(ctx, t.ProcessorLogtracejoinRecordsEnriched, matched, sourceJoin)
	addIf(ctx, t.ProcessorLogtracejoinRecordsUnmatched, expired, unmatchedExpired)
	addIf(ctx, t.ProcessorLogtracejoinRecordsUnmatched, overflow, unmatchedOverflow)
	addIf(ctx, t.ProcessorLogtracejoinRecordsUnmatched, shutdown, unmatchedShutdown)
	for owner, ld := range outs {
		if err := owner.next.ConsumeLogs(ctx, ld); err != nil {
			s.releaseWarn.do(func(suppressed int) {
				s.logger.Warn("Next consumer refused released log records",
					zap.Int("records", ld.LogRecordCount()), zap.Int("suppressed_warnings", suppressed), zap.Error(err))
			})
		}
	}
}

func addIf(ctx context.Context, c metric.Int64Counter, n int64, opt metric.MeasurementOption) {
	if n > 0 {
		c.Add(ctx, n, opt)
	}
}

func setContext(lr plog.LogRecord, tid [16]byte, sid [8]byte, flags uint32, hasSpan, hasFlags bool) {
	lr.SetTraceID(pcommon.TraceID(tid))
	if hasSpan {
		lr.SetSpanID(pcommon.SpanID(sid))
	}
	if hasFlags {
		lr.SetFlags(plog.LogRecordFlags(flags))
	}
}

// batchCounts accumulates one batch's telemetry so that each counter is
// updated once per batch, not once per record.
type batchCounts struct {
	record, attribute, body, join int64
	noKey, noSpan                 int64
	invalid                       [extract.NumReasons]int64
}

func (s *joinState) record(ctx context.Context, c *batchCounts) {
	t := s.telemetry
	addIf(ctx, t.ProcessorLogtracejoinRecordsEnriched, c.record, sourceRecord)
	addIf(ctx, t.ProcessorLogtracejoinRecordsEnriched, c.attribute, sourceAttribute)
	addIf(ctx, t.ProcessorLogtracejoinRecordsEnriched, c.body, sourceBody)
	addIf(ctx, t.ProcessorLogtracejoinRecordsEnriched, c.join, sourceJoin)
	addIf(ctx, t.ProcessorLogtracejoinRecordsUnmatched, c.noKey, unmatchedNoKey)
	addIf(ctx, t.ProcessorLogtracejoinRecordsUnmatched, c.noSpan, unmatchedNoSpan)
	for r, n := range c.invalid {
		addIf(ctx, t.ProcessorLogtracejoinInvalidIds, n, invalidReasons[r])
	}
}

// processLogs gives each record its trace context; records that must wait
// for their span are moved out of ld into held.
func (s *joinState) processLogs(ld plog.Logs, owner *logsProcessor, counts *batchCounts) []*join.Held {
	var res extract.Result
	var held []*join.Held
	var slab []join.Held
	slabSize := 0
	remaining := ld.LogRecordCount()
	now := s.now()
	canHold := s.joiner != nil && s.joiner.CanHold() && s.isRunning()
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		sls := rl.ScopeLogs()
		for k := 0; k < sls.Len(); k++ {
			sl := sls.At(k)
			var scope *join.HeldScope
			sl.LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
				remaining--
				if !lr.TraceID().IsEmpty() {
					counts.record++
					return false
				}
				s.extractor.Extract(lr, &res)
				for r, n := range res.Invalid {
					counts.invalid[r] += int64(n)
				}
				switch res.Source {
				case extract.SourceAttribute:
					counts.attribute++
				case extract.SourceBody:
					counts.body++
				}
				if res.Source != extract.SourceNone {
					c := &res.Context
					setContext(lr, c.TraceID, c.SpanID, c.Flags, c.HasSpan, c.HasFlags)
					return false
				}
				if s.joiner == nil || res.CorrelationKey == "" {
					counts.noKey++
					return false
				}
				h := join.Hash(res.CorrelationKey)
				sc, rank, found := s.joiner.Lookup(h, now)
				if found && (rank == join.RankEntry || !canHold) {
					// the entry span is known (or a log cannot wait for it)
					setContext(lr, sc.TraceID, sc.SpanID, uint32(sc.Flags), true, true)
					counts.join++
					return false
				}
				if !canHold {
					counts.noSpan++
					return false
				}
				if scope == nil {
					scope = &join.HeldScope{
						Resource:          pcommon.NewResource(),
						ResourceSchemaURL: rl.SchemaUrl(),
						Scope:             pcommon.NewInstrumentationScope(),
						ScopeSchemaURL:    sl.SchemaUrl(),
					}
					rl.Resource().CopyTo(scope.Resource)
					sl.Scope().CopyTo(scope.Scope)
				}
				if len(slab) == 0 {
					// Held structs come in slabs that double from 8 (at
					// most 1024, at most what is left of the batch): few
					// allocations per batch, and a slab kept alive by its
					// last waiting log is at most twice what was held
					slabSize = min(max(2*slabSize, 8), 1024, remaining+1) // +1: this record
					slab = make([]join.Held, slabSize)
				}
				hl := &slab[0]
				slab = slab[1:]
				hl.Init(h, scope, owner, now)
				lr.MoveTo(hl.Record)
				held = append(held, hl)
				return true
			})
		}
	}
	if len(held) > 0 {
		// drop the containers the held records left empty
		rls.RemoveIf(func(rl plog.ResourceLogs) bool {
			rl.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool { return sl.LogRecords().Len() == 0 })
			return rl.ScopeLogs().Len() == 0
		})
	}
	return held
}

// processTraces indexes the spans that carry a correlation key.
func (s *joinState) processTraces(ctx context.Context, td ptrace.Traces) {
	if s.joiner == nil {
		return
	}
	var spans []join.Span
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for k := 0; k < sss.Len(); k++ {
			ss := sss.At(k).Spans()
			for n := 0; n < ss.Len(); n++ {
				sp := ss.At(n)
				key := s.extractor.CorrelationKey(sp.Attributes())
				if key == "" || sp.TraceID().IsEmpty() || sp.SpanID().IsEmpty() {
					continue
				}
				rank := join.RankOther
				switch {
				case sp.Kind() == ptrace.SpanKindServer || sp.Kind() == ptrace.SpanKindConsumer:
					rank = join.RankEntry
				case sp.ParentSpanID().IsEmpty():
					rank = join.RankRoot
				}
				spans = append(spans, join.Span{
					Hash: join.Hash(key),
					Context: join.SpanContext{
						TraceID: sp.TraceID(),
						SpanID:  sp.SpanID(),
						Flags:   uint8(sp.Flags() & 0xff),
					},
					Rank: rank,
				})
			}
		}
	}
	if len(spans) == 0 {
		return
	}
	_, ev := s.joiner.IndexSpans(spans, s.now())
	addIf(ctx, s.telemetry.ProcessorLogtracejoinIndexEvictions, int64(ev.TTL), evictedTTL)
	addIf(ctx, s.telemetry.ProcessorLogtracejoinIndexEvictions, int64(ev.Size), evictedSize)
}

// logsProcessor is the logs pipeline's instance: its own next consumer,
// the shared state.
type logsProcessor struct {
	component.Component // the sharedcomponent wrapper: starts/stops the state once
	state               *joinState
	next                consumer.Logs
}

func (p *logsProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: true}
}

func (p *logsProcessor) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	s := p.state
	var counts batchCounts
	held := s.processLogs(ld, p, &counts)
	s.record(ctx, &counts)
	if len(held) > 0 {
		s.joiner.Hold(held, s.now())
	}
	var err error
	if ld.LogRecordCount() > 0 {
		err = p.next.ConsumeLogs(ctx, ld)
	}
	// logs released by overflow (or matched meanwhile) leave now: the
	// caller's pace bounds the ready list
	s.emitReady(s.releaseCtx())
	return err
}

// releaseCtx is the context released logs are sent with: not the caller's,
// since they belong to other requests.
func (s *joinState) releaseCtx() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return s.runCtx
	}
	// before Start or after Shutdown (a call in flight): the run context
	// is absent or cancelled, and downstream must still take the logs
	return context.Background()
}

// tracesProcessor is the traces pipeline's instance: it indexes spans and
// passes traces on unchanged.
type tracesProcessor struct {
	component.Component
	state *joinState
	next  consumer.Traces
}

func (p *tracesProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

func (p *tracesProcessor) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	p.state.processTraces(ctx, td)
	err := p.next.ConsumeTraces(ctx, td)
	p.state.emitReady(p.state.releaseCtx())
	return err
}

// rateLimited runs a logging function at most once per period and tells it
// how many calls were suppressed in between.
type rateLimited struct {
	every      time.Duration
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (r *rateLimited) do(f func(suppressed int)) {
	r.mu.Lock()
	now := time.Now()
	if !r.last.IsZero() && now.Sub(r.last) < r.every {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	n := r.suppressed
	r.last, r.suppressed = now, 0
	r.mu.Unlock()
	f(n)
}
