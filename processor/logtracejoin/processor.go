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

	// histogram options as slices: passing a prepared slice to the
	// variadic Record does not allocate one per record
	outcomeMatched   = []metric.RecordOption{attrSet("outcome", "matched")}
	outcomeUnmatched = []metric.RecordOption{attrSet("outcome", "unmatched")}

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
	patterns, err := extract.ParsePatterns(cfg.Patterns)
	if err != nil {
		return nil, err
	}
	s := &joinState{
		cfg:    cfg,
		logger: set.Logger,
		extractor: extract.New(extract.Keys{
			TraceID:           cfg.TraceIDKeys,
			SpanID:            cfg.SpanIDKeys,
			TraceFlags:        cfg.TraceFlagsKeys,
			Traceparent:       cfg.TraceparentKeys,
			GoogleTrace:       cfg.GoogleTraceKeys,
			Jaeger:            cfg.JaegerKeys,
			B3:                cfg.B3Keys,
			XRay:              cfg.XRayKeys,
			CloudTraceContext: cfg.CloudTraceContextKeys,
			CorrelationKeys:   joinKeys(cfg),
		}, cfg.FromBody, cfg.RemoveSourceFields).WithPatterns(patterns),
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

// flushScratch is the reusable memory of one emitReady call.
type flushScratch struct {
	ready  []*join.Held
	order  []*join.Held
	groups []flushGroup
	byB    map[*join.Batch]int32
	outs   []ownerOut
}

// flushGroup is the records of one held batch that leave in one flush.
type flushGroup struct {
	b        *join.Batch
	n, start int
}

type ownerOut struct {
	owner *logsProcessor
	ld    plog.Logs
}

var flushPool = sync.Pool{New: func() any { return &flushScratch{byB: map[*join.Batch]int32{}} }}

// emitReady sends the released logs to the logs pipelines they came from,
// one plog.Logs per pipeline, records of one incoming scope kept together.
// A held batch whose records all leave in this flush is sent as it is
// (its plog.Logs, records in place); otherwise the records leaving are
// moved into a new ResourceLogs/ScopeLogs with the batch's resource and
// scope.
func (s *joinState) emitReady(ctx context.Context) {
	if s.joiner == nil {
		return
	}
	fs := flushPool.Get().(*flushScratch)
	defer s.putFlush(fs)
	fs.ready = s.joiner.TakeReadyInto(fs.ready[:0])
	ready := fs.ready
	if len(ready) == 0 {
		return
	}
	// group the records by batch (counting sort: one pass to count, one
	// to place), so that each batch is locked once
	last := int32(-1)
	for _, h := range ready {
		g := last
		if g < 0 || fs.groups[g].b != h.Batch {
			var ok bool
			if g, ok = fs.byB[h.Batch]; !ok {
				g = int32(len(fs.groups))
				fs.groups = append(fs.groups, flushGroup{b: h.Batch})
				fs.byB[h.Batch] = g
			}
			last = g
		}
		h.Mark = g
		fs.groups[g].n++
	}
	start := 0
	for i := range fs.groups {
		fs.groups[i].start = start
		start += fs.groups[i].n
		fs.groups[i].n = 0
	}
	fs.order = append(fs.order[:0], make([]*join.Held, len(ready))...)
	for _, h := range ready {
		g := &fs.groups[h.Mark]
		fs.order[g.start+g.n] = h
		g.n++
	}

	var matched, expired, overflow, shutdown int64
	for gi := range fs.groups {
		g := &fs.groups[gi]
		b := g.b
		owner := b.Owner.(*logsProcessor)
		out := fs.out(owner)
		members := fs.order[g.start : g.start+g.n]
		b.Mu.Lock()
		whole := b.Sent+g.n == len(b.Held)
		var dst plog.LogRecordSlice
		if !whole {
			src := b.Logs.ResourceLogs().At(0)
			rl := out.ResourceLogs().AppendEmpty()
			src.Resource().CopyTo(rl.Resource())
			rl.SetSchemaUrl(src.SchemaUrl())
			srcSL := src.ScopeLogs().At(0)
			sl := rl.ScopeLogs().AppendEmpty()
			srcSL.Scope().CopyTo(sl.Scope())
			sl.SetSchemaUrl(srcSL.SchemaUrl())
			dst = sl.LogRecords()
			dst.EnsureCapacity(g.n)
		}
		for _, h := range members {
			lr := b.Records.At(int(h.Index))
			if !whole {
				d := dst.AppendEmpty()
				lr.MoveTo(d)
				lr = d
				h.Sent = true
			}
			waited := h.Waited.Seconds()
			if h.Outcome == join.Matched {
				setContext(lr, h.Context.TraceID, h.Context.SpanID, uint32(h.Context.Flags), true, true)
				matched++
				s.telemetry.ProcessorLogtracejoinWaitTime.Record(ctx, waited, outcomeMatched...)
				continue
			}
			s.telemetry.ProcessorLogtracejoinWaitTime.Record(ctx, waited, outcomeUnmatched...)
			switch h.Outcome {
			case join.Expired:
				expired++
			case join.Overflow:
				overflow++
			case join.Shutdown:
				shutdown++
			}
		}
		if whole {
			if b.Sent > 0 {
				// drop the places of the records sent earlier
				i := 0
				b.Records.RemoveIf(func(plog.LogRecord) bool {
					sent := b.Held[i].Sent
					i++
					return sent
				})
			}
			b.Logs.ResourceLogs().MoveAndAppendTo(out.ResourceLogs())
		}
		b.Sent += g.n
		b.Mu.Unlock()
	}
	t := s.telemetry
	addIf(ctx, t.ProcessorLogtracejoinRecordsEnriched, matched, sourceJoin)
	addIf(ctx, t.ProcessorLogtracejoinRecordsUnmatched, expired, unmatchedExpired)
	addIf(ctx, t.ProcessorLogtracejoinRecordsUnmatched, overflow, unmatchedOverflow)
	addIf(ctx, t.ProcessorLogtracejoinRecordsUnmatched, shutdown, unmatchedShutdown)
	for _, o := range fs.outs {
		if err := o.owner.next.ConsumeLogs(ctx, o.ld); err != nil {
			s.releaseWarn.do(func(suppressed int) {
				s.logger.Warn("Next consumer refused released log records",
					zap.Int("records", o.ld.LogRecordCount()), zap.Int("suppressed_warnings", suppressed), zap.Error(err))
			})
		}
	}
}

// out returns the plog.Logs of this flush for owner.
func (fs *flushScratch) out(owner *logsProcessor) plog.Logs {
	for _, o := range fs.outs {
		if o.owner == owner {
			return o.ld
		}
	}
	ld := plog.NewLogs()
	fs.outs = append(fs.outs, ownerOut{owner: owner, ld: ld})
	return ld
}

// maxPooled bounds the slices a flushScratch keeps for the next flush.
const maxPooled = 4096

func (s *joinState) putFlush(fs *flushScratch) {
	if cap(fs.ready) > maxPooled || cap(fs.order) > maxPooled || cap(fs.groups) > maxPooled {
		return
	}
	clear(fs.ready)
	clear(fs.order)
	clear(fs.groups)
	clear(fs.byB)
	clear(fs.outs)
	fs.ready, fs.order, fs.groups, fs.outs = fs.ready[:0], fs.order[:0], fs.groups[:0], fs.outs[:0]
	flushPool.Put(fs)
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

// holdScratch is the reusable memory of one processLogs call.
type holdScratch struct {
	idx    []int32  // positions of the records of one scope that wait
	hashes []uint64 // their correlation key hashes
}

var holdPool = sync.Pool{New: func() any { return new(holdScratch) }}

// processLogs gives each record its trace context; records that must wait
// for their span are moved out of ld into held batches, one per incoming
// ScopeLogs.
func (s *joinState) processLogs(ld plog.Logs, owner *logsProcessor, counts *batchCounts) []*join.Batch {
	var res extract.Result
	var batches []*join.Batch
	now := s.now()
	canHold := s.joiner != nil && s.joiner.CanHold() && s.isRunning()
	hs := holdPool.Get().(*holdScratch)
	defer holdPool.Put(hs)
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		sls := rl.ScopeLogs()
		for k := 0; k < sls.Len(); k++ {
			sl := sls.At(k)
			lrs := sl.LogRecords()
			hs.idx, hs.hashes = hs.idx[:0], hs.hashes[:0]
			for n := 0; n < lrs.Len(); n++ {
				lr := lrs.At(n)
				if !lr.TraceID().IsEmpty() {
					counts.record++
					continue
				}
				s.extractor.Extract(lr, &res)
				for r, c := range res.Invalid {
					counts.invalid[r] += int64(c)
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
					continue
				}
				if s.joiner == nil || res.CorrelationKey == "" {
					counts.noKey++
					continue
				}
				h := join.Hash(res.CorrelationKey)
				sc, rank, found := s.joiner.Lookup(h, now)
				if found && (rank == join.RankEntry || !canHold) {
					// the entry span is known (or a log cannot wait for it)
					setContext(lr, sc.TraceID, sc.SpanID, uint32(sc.Flags), true, true)
					counts.join++
					continue
				}
				if !canHold {
					counts.noSpan++
					continue
				}
				hs.idx = append(hs.idx, int32(n))
				hs.hashes = append(hs.hashes, h)
			}
			if len(hs.idx) == 0 {
				continue
			}
			b := join.NewBatch(hs.hashes, owner, now)
			b.Logs = plog.NewLogs()
			if len(hs.idx) == lrs.Len() && sls.Len() == 1 {
				// every record of the resource waits: move it whole
				rl.MoveTo(b.Logs.ResourceLogs().AppendEmpty())
				b.Records = b.Logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
				batches = append(batches, b)
				break // rl is empty now
			}
			nrl := b.Logs.ResourceLogs().AppendEmpty()
			rl.Resource().CopyTo(nrl.Resource())
			nrl.SetSchemaUrl(rl.SchemaUrl())
			nsl := nrl.ScopeLogs().AppendEmpty()
			switch {
			case len(hs.idx) == lrs.Len():
				// every record of the scope waits: move it whole
				sl.MoveTo(nsl)
			case 2*len(hs.idx) > lrs.Len():
				// most records wait: move the scope whole and the
				// records that pass on back into a scope of their own
				sl.MoveTo(nsl)
				nsl.Scope().CopyTo(sl.Scope())
				sl.SetSchemaUrl(nsl.SchemaUrl())
				kept := sl.LogRecords()
				kept.EnsureCapacity(nsl.LogRecords().Len() - len(hs.idx))
				n, next := 0, 0
				nsl.LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
					wait := next < len(hs.idx) && int(hs.idx[next]) == n
					n++
					if wait {
						next++
						return false
					}
					lr.MoveTo(kept.AppendEmpty())
					return true
				})
			default:
				sl.Scope().CopyTo(nsl.Scope())
				nsl.SetSchemaUrl(sl.SchemaUrl())
				held := nsl.LogRecords()
				held.EnsureCapacity(len(hs.idx))
				n, next := 0, 0
				lrs.RemoveIf(func(lr plog.LogRecord) bool {
					wait := next < len(hs.idx) && int(hs.idx[next]) == n
					n++
					if wait {
						lr.MoveTo(held.AppendEmpty())
						next++
					}
					return wait
				})
			}
			b.Records = nsl.LogRecords()
			batches = append(batches, b)
		}
	}
	if len(batches) > 0 {
		// drop the containers the held records left empty
		rls.RemoveIf(func(rl plog.ResourceLogs) bool {
			rl.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool { return sl.LogRecords().Len() == 0 })
			return rl.ScopeLogs().Len() == 0
		})
	}
	return batches
}

var spansPool = sync.Pool{New: func() any { return new([]join.Span) }}

// processTraces indexes the spans that carry a correlation key.
func (s *joinState) processTraces(ctx context.Context, td ptrace.Traces) {
	if s.joiner == nil {
		return
	}
	sp0 := spansPool.Get().(*[]join.Span)
	spans := (*sp0)[:0]
	defer func() {
		if cap(spans) <= maxPooled {
			*sp0 = spans[:0]
			spansPool.Put(sp0)
		}
	}()
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
	var gen uint64
	if s.joiner != nil {
		gen = s.joiner.EntryGen()
	}
	held := s.processLogs(ld, p, &counts)
	s.record(ctx, &counts)
	if len(held) > 0 {
		s.joiner.Hold(held, gen, s.now())
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
