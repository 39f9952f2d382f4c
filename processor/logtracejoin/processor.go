// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package logtracejoin // import "github.com/prodscope/prodscope/processor/logtracejoin"

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/prodscope/prodscope/internal/logthrottle"
	"github.com/prodscope/prodscope/processor/logtracejoin/internal/engine"
	"github.com/prodscope/prodscope/processor/logtracejoin/internal/join"
	"github.com/prodscope/prodscope/processor/logtracejoin/internal/metadata"
)

// joinState is the state one component instance shares between its traces
// and logs pipelines: the engine (extractor, join index, waiting logs), and
// what the instance records of the engine's results (telemetry, status
// counts). It is the component the sharedcomponent wrapper starts and stops
// once.
type joinState struct {
	id        component.ID
	cfg       *Config
	logger    *zap.Logger
	engine    *engine.Engine
	telemetry *metadata.TelemetryBuilder
	counts    statusCounts
	now       func() time.Time
	tick      time.Duration
	// warn rate-limits the warnings of the release path.
	warn *logthrottle.Logger

	mu sync.Mutex
	// tracesPipelines counts the traces pipelines this component id is in;
	// without one no span is ever indexed and logs are not held.
	tracesPipelines int
	running         bool
	started         time.Time
	unregister      func() // the status source's registration
	cancel          context.CancelFunc
	done            chan struct{}
	runCtx          context.Context
	// owners are the logs pipelines of this component id: a held record
	// goes back to the one it came from.
	owners []*logsProcessor
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
	var jc *engine.JoinConfig
	if cfg.Join.Enabled {
		jc = &engine.JoinConfig{
			Wait:            cfg.Join.Wait,
			MaxWaitingLogs:  cfg.Join.MaxWaitingLogs,
			IndexTTL:        cfg.Join.IndexTTL,
			MaxIndexEntries: cfg.Join.MaxIndexEntries,
		}
	}
	s := &joinState{
		id:        set.ID,
		cfg:       cfg,
		logger:    set.Logger,
		engine:    engine.New(extractor, jc),
		telemetry: tb,
		now:       time.Now,
		warn:      logthrottle.New(set.Logger, 10*time.Second, 0),
	}
	if cfg.Join.Enabled {
		s.tick = tickFor(cfg.Join.Wait, cfg.Join.IndexTTL)
		if err := tb.RegisterProcessorLogtracejoinWaitingLogsCallback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(s.engine.State().Waiting))
			return nil
		}); err != nil {
			tb.Shutdown()
			return nil, err
		}
		if err := tb.RegisterProcessorLogtracejoinIndexEntriesCallback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(s.engine.State().IndexEntries))
			return nil
		}); err != nil {
			tb.Shutdown()
			return nil, err
		}
	}
	return s, nil
}

func (s *joinState) addTracesPipeline() {
	s.mu.Lock()
	s.tracesPipelines++
	s.mu.Unlock()
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

// emitReady sends the released logs to the logs pipelines they came from.
func (s *joinState) emitReady(ctx context.Context) {
	if !s.engine.Joins() {
		return
	}
	r := join.GetReleased()
	defer join.PutReleased(r)
	s.engine.TakeReleased(r)
	if len(r.Logs) == 0 {
		return
	}
	s.recordReleased(ctx, r)
	for _, o := range r.Logs {
		if err := s.owner(o.Owner).next.ConsumeLogs(ctx, o.Logs); err != nil {
			s.warn.Warn("release_refused", "Next consumer refused released log records",
				zap.Int("records", o.Logs.LogRecordCount()), zap.Error(err))
		}
	}
}

// logsProcessor is the logs pipeline's instance: its own next consumer,
// the shared state.
type logsProcessor struct {
	component.Component // the sharedcomponent wrapper: starts/stops the state once
	state               *joinState
	next                consumer.Logs
	id                  join.Owner
}

func (*logsProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: true}
}

func (p *logsProcessor) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	s := p.state
	// records that must wait for their span are moved out of ld
	res := s.engine.ProcessLogs(ld, p.id, s.isRunning(), s.now())
	s.recordLogs(ctx, &res)
	var err error
	if res.Passed() > 0 {
		err = p.next.ConsumeLogs(ctx, ld)
	}
	// logs released by overflow (or matched meanwhile) leave now: the
	// caller's pace bounds the ready list
	s.emitReady(s.releaseCtx()) //nolint:contextcheck // released logs belong to other requests: they leave with the run context, not the caller's
	return err
}

// tracesProcessor is the traces pipeline's instance: it indexes spans and
// passes traces on unchanged.
type tracesProcessor struct {
	component.Component
	state *joinState
	next  consumer.Traces
}

func (*tracesProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

func (p *tracesProcessor) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	s := p.state
	if s.engine.Joins() {
		s.recordEvictions(ctx, s.engine.IndexTraces(td, s.now()))
	}
	err := p.next.ConsumeTraces(ctx, td)
	s.emitReady(s.releaseCtx()) //nolint:contextcheck // released logs belong to other requests: they leave with the run context, not the caller's
	return err
}
