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
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/prodscope/prodscope/internal/logthrottle"
	"github.com/prodscope/prodscope/processor/logtracejoin/internal/extract"
	"github.com/prodscope/prodscope/processor/logtracejoin/internal/join"
	"github.com/prodscope/prodscope/processor/logtracejoin/internal/metadata"
)

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
	// owners are the logs pipelines of this component id: a held record
	// goes back to the one it came from.
	owners []*logsProcessor

	// warn rate-limits the warnings of the release path.
	warn *logthrottle.Logger
}

// addLogsPipeline registers a logs pipeline and returns its owner id.
func (s *joinState) addLogsPipeline(p *logsProcessor) join.Owner {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.owners = append(s.owners, p)
	return join.Owner(len(s.owners) - 1)
}

func (s *joinState) owner(o join.Owner) *logsProcessor {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owners[o]
}

func newJoinState(set processor.Settings, cfg *Config) (*joinState, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	extractor, err := cfg.extractor()
	if err != nil {
		return nil, err
	}
	s := &joinState{
		cfg:       cfg,
		logger:    set.Logger,
		extractor: extractor,
		telemetry: tb,
		now:       time.Now,
		warn:      logthrottle.New(set.Logger, 10*time.Second, 0),
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

// emitReady sends the released logs to the logs pipelines they came from.
func (s *joinState) emitReady(ctx context.Context) {
	if s.joiner == nil {
		return
	}
	r := join.GetReleased()
	defer join.PutReleased(r)
	s.joiner.TakeReleased(r)
	if len(r.Logs) == 0 {
		return
	}
	recordReleased(s.telemetry, ctx, r)
	for _, o := range r.Logs {
		if err := s.owner(o.Owner).next.ConsumeLogs(ctx, o.Logs); err != nil {
			s.warn.Warn("release_refused", "Next consumer refused released log records",
				zap.Int("records", o.Logs.LogRecordCount()), zap.Error(err))
		}
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

// holdScratch is the reusable memory of one processLogs call.
type holdScratch struct {
	idx    []int32  // positions of the records of one scope that wait
	hashes []uint64 // their correlation key hashes
	// res is the extraction result reused for every record: about 10 KiB of
	// scratch that would otherwise be allocated on every call.
	res extract.Result
}

var holdPool = sync.Pool{New: func() any { return new(holdScratch) }}

// processLogs gives each record its trace context; records that must wait
// for their span are moved out of ld into held batches, one per incoming
// ScopeLogs.
func (s *joinState) processLogs(ld plog.Logs, owner join.Owner, counts *batchCounts) []*join.Batch {
	var batches []*join.Batch
	now := s.now()
	canHold := s.joiner != nil && s.joiner.CanHold() && s.isRunning()
	hs := holdPool.Get().(*holdScratch)
	defer holdPool.Put(hs)
	res := &hs.res
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
				s.extractor.Extract(lr, res)
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
				for r, c := range res.Skipped {
					counts.skipped[r] += int64(c)
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
			b, movedResource := join.HoldScope(rl, sl, sls.Len(), hs.idx, hs.hashes, owner, now)
			batches = append(batches, b)
			if movedResource {
				break // rl is empty now
			}
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

// processTraces indexes the spans that carry a correlation key.
func (s *joinState) processTraces(ctx context.Context, td ptrace.Traces) {
	if s.joiner == nil {
		return
	}
	_, ev := s.joiner.IndexTraces(td, s.extractor.CorrelationKey, s.now())
	addIf(ctx, s.telemetry.ProcessorLogtracejoinIndexEvictions, int64(ev.TTL), evictedTTL)
	addIf(ctx, s.telemetry.ProcessorLogtracejoinIndexEvictions, int64(ev.Size), evictedSize)
}

// logsProcessor is the logs pipeline's instance: its own next consumer,
// the shared state.
type logsProcessor struct {
	component.Component // the sharedcomponent wrapper: starts/stops the state once
	state               *joinState
	next                consumer.Logs
	id                  join.Owner
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
	held := s.processLogs(ld, p.id, &counts)
	counts.add(s.telemetry, ctx)
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
