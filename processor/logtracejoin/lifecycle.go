// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package logtracejoin // import "github.com/prodscope/prodscope/processor/logtracejoin"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"

	"github.com/prodscope/prodscope/internal/statusregistry"
)

// The lifecycle of the shared state: one status source and one release loop
// per component instance, started with the first pipeline and stopped with
// the last (the sharedcomponent wrapper calls Start and Shutdown once).

// tickFor picks how often waiting logs and the index are checked: a tenth
// of the shortest duration, between 5 ms and 1 s.
func tickFor(wait, ttl time.Duration) time.Duration {
	d := ttl
	if wait > 0 && wait < d {
		d = wait
	}
	return min(max(d/10, 5*time.Millisecond), time.Second)
}

// Start registers the status source and starts the loop that releases logs
// whose wait is over.
func (s *joinState) Start(ctx context.Context, _ component.Host) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unregister == nil {
		s.started = s.now()
		s.unregister = statusregistry.Register(s.id, component.KindProcessor, s)
	}
	if !s.engine.Joins() || s.running {
		return nil
	}
	if s.tracesPipelines == 0 {
		s.logger.Warn("logtracejoin join is enabled but this component is in no traces pipeline: no span is indexed, "+
			"logs are not held and leave unmatched; add it to a traces pipeline or set join::enabled: false",
			zap.Strings("correlation_keys", s.cfg.Join.CorrelationKeys))
		return nil
	}
	// the loop outlives Start: it keeps ctx's values, not its cancellation
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.runCtx, s.cancel, s.done, s.running = runCtx, cancel, make(chan struct{}), true
	go s.releaseLoop(runCtx, s.done)
	return nil
}

// Shutdown stops the release loop, sends every waiting log downstream and
// unregisters the status source. It is safe to call without Start.
func (s *joinState) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	wasRunning := s.running
	s.running = false
	cancel, done, unregister := s.cancel, s.done, s.unregister
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
		s.engine.ReleaseAll(s.now())
		s.emitReady(ctx)
	}
	if unregister != nil {
		unregister()
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
	s.recordEvictions(ctx, s.engine.Expire(s.now()))
	s.emitReady(ctx)
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
