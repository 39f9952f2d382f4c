// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package scrape // import "github.com/prodscope/prodscope/receiver/pprofscrape/internal/scrape"

import (
	"context"
	"errors"
	"hash/fnv"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pprofile"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/convert"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/fetch"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/metadata"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/profiletype"
)

// Target is one scraped program.
type Target struct {
	// Name identifies the target in the self-telemetry (`target` attribute); empty: Endpoint.
	Name     string
	Endpoint string
	// PathPrefix goes between the endpoint and every profile's path.
	PathPrefix string
	Resource   map[string]string
	// Types are the profile names scraped: known profile types or custom names.
	Types []string
	// Paths overrides the path (and query) of a profile name; TypeOf gives the profile
	// type of a custom name. Both optional.
	Paths  map[string]string
	TypeOf map[string]string
	// Interval overrides Settings.Interval for this target's profiles (0: the default).
	Interval time.Duration
}

// typeOf is the profile type of profile name n.
func (t Target) typeOf(n string) string {
	if k, ok := t.TypeOf[n]; ok {
		return k
	}
	return n
}

// url is where profile name n is fetched.
func (t Target) url(n string, cpuDuration time.Duration) string {
	kind := t.typeOf(n)
	path, ok := t.Paths[n]
	if !ok {
		path = profiletype.Table[kind].Path
	}
	return t.Endpoint + t.PathPrefix + profiletype.WithCPUSeconds(kind, path, cpuDuration)
}

// Emitter receives the result of one target scrape. Either function may be nil when no
// pipeline of that signal uses the receiver; then that signal is not built at all.
type Emitter struct {
	Profiles func(ctx context.Context, pd pprofile.Profiles, samples int)
	Metrics  func(ctx context.Context, md pmetric.Metrics)
}

// Settings configure a Scheduler.
type Settings struct {
	Targets      []Target
	Interval     time.Duration
	InitialDelay time.Duration
	Timeout      time.Duration
	CPUDuration  time.Duration
	MaxBodyBytes int64
	// Limits bound each profile's decoding (inflated bytes, samples, locations, strings).
	Limits fetch.Limits
	// MaxConcurrent caps the targets scraped at once; MaxConcurrentParses the target
	// scrapes decoded, parsed and converted at once (0: MaxConcurrent).
	MaxConcurrent       int
	MaxConcurrentParses int
	TopN                int
	// Links names the pprof labels that carry a span's trace id and span id.
	Links     convert.LinkLabels
	Client    *http.Client
	Telemetry *metadata.TelemetryBuilder
	Logger    *zap.Logger
	Emit      Emitter
	// ScopeVersion is written as the instrumentation scope version.
	ScopeVersion string
}

// Scheduler runs one scrape loop per target.
type Scheduler struct {
	set     Settings
	slots   *slotPool
	parses  chan struct{}
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	targets []*targetState
}

// New returns a scheduler; nothing runs before Start.
func New(set Settings) *Scheduler {
	if set.MaxConcurrentParses <= 0 {
		set.MaxConcurrentParses = max(1, set.MaxConcurrent)
	}
	s := &Scheduler{set: set, slots: newSlotPool(set.MaxConcurrent), parses: make(chan struct{}, set.MaxConcurrentParses)}
	for _, t := range set.Targets {
		s.targets = append(s.targets, newTargetState(t))
	}
	return s
}

// Start launches the target loops on a context of their own (not the caller's).
func (s *Scheduler) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for _, t := range s.targets {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.loop(ctx, t)
		}()
	}
}

// Shutdown stops every loop and waits for in-flight scrapes (their requests are
// cancelled) or for ctx. Safe without Start and when called twice.
func (s *Scheduler) Shutdown(ctx context.Context) error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Jitter is the target's offset within the interval: stable per endpoint, spread
// uniformly so that many targets do not scrape at the same instant.
func Jitter(endpoint string, interval time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(endpoint))
	return time.Duration(h.Sum64() % uint64(interval))
}

func (s *Scheduler) loop(ctx context.Context, t *targetState) {
	interval := s.set.Interval
	if t.cfg.Interval > 0 {
		interval = t.cfg.Interval
	}
	timer := time.NewTimer(s.set.InitialDelay + Jitter(t.cfg.Endpoint, interval))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return
	case <-timer.C:
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	skip := 0
	for {
		if skip > 0 {
			skip--
			s.set.Telemetry.ReceiverPprofscrapeScrapesRefused.Add(ctx, 1,
				metric.WithAttributes(attribute.String("reason", "backoff")))
		} else if up, ran := s.scrapeTarget(ctx, t, time.Now().Add(interval)); ran {
			switch {
			case up:
				t.failures = 0
			case t.costly:
				t.failures++
				skip = backoffIntervals(t.failures, interval)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// maxBackoff bounds how long a failing target is left alone between two attempts.
const maxBackoff = 5 * time.Minute

// backoffIntervals is how many intervals a target skips after its n-th failed scrape in
// a row: 0, 1, 3, 7, 15... (retried at once after one failure, then exponentially less
// often), at most maxBackoff (and at most 63 intervals) between two attempts.
func backoffIntervals(n int, interval time.Duration) int {
	if n <= 1 {
		return 0
	}
	limit := 63
	if interval > 0 {
		limit = min(limit, max(1, int(maxBackoff/interval)-1))
	}
	if n > 7 {
		return limit
	}
	return min(limit, 1<<(n-1)-1)
}

// scrapeTarget runs one scrape of t. Its concurrency slot is taken when the first body
// starts arriving, so a target that never answers holds no slot while it waits (only
// the timeout bounds it); if no slot frees up before the next scrape is due, the scrape
// is refused and counted. ran says whether it ran (not refused, not cut short by
// shutdown); up whether the target answered at least one profile (or had its CPU
// profiler busy).
func (s *Scheduler) scrapeTarget(ctx context.Context, t *targetState, due time.Time) (up, ran bool) {
	failing := t.failures > 0
	slot := &lazySlot{take: func(sctx context.Context) bool { return s.slots.acquire(sctx, failing, due) }}
	up = s.runScrape(ctx, t, slot)
	if slot.held {
		s.slots.release(failing)
	}
	if ctx.Err() != nil {
		return false, false
	}
	if slot.asked && !slot.held {
		s.set.Telemetry.ReceiverPprofscrapeScrapesRefused.Add(ctx, 1,
			metric.WithAttributes(attribute.String("reason", "concurrency_limit")))
		t.logLimited(s.set.Logger, "concurrency_limit", "Target scrape skipped: max_concurrent_scrapes slots stayed busy until the next scrape was due",
			zap.String("target", t.name))
		return false, false
	}
	return up, true
}

// lazySlot is one target scrape's concurrency slot, taken once by whichever profile's
// body arrives first and shared by the others.
type lazySlot struct {
	take  func(context.Context) bool
	once  sync.Once
	asked bool
	held  bool
}

func (l *lazySlot) get(ctx context.Context) bool {
	l.once.Do(func() {
		l.asked = true
		l.held = l.take(ctx)
	})
	return l.held
}

// fetched is one profile type's fetch outcome.
type fetched struct {
	typ      string
	res      fetch.Result // its Data lives in a pooled buffer until free
	err      error
	duration time.Duration
}

// runScrape fetches every profile type of t, then decodes, parses and converts them
// under one of the max_concurrent_parses slots; all of it within one timeout.
func (s *Scheduler) runScrape(ctx context.Context, t *targetState, slot *lazySlot) (up bool) {
	sctx, cancel := context.WithTimeout(ctx, s.set.Timeout)
	defer cancel()
	results := make([]fetched, len(t.cfg.Types))
	var wg sync.WaitGroup
	for i, typ := range t.cfg.Types {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			res, err := fetch.Get(sctx, s.set.Client, t.cfg.url(typ, s.set.CPUDuration), s.set.MaxBodyBytes, func() bool { return slot.get(sctx) })
			results[i] = fetched{typ: typ, res: res, err: err, duration: time.Since(start)}
		}()
	}
	wg.Wait()
	defer func() {
		for i := range results {
			results[i].free()
		}
	}()
	if ctx.Err() != nil {
		return false // shutting down: the requests were cancelled, nothing to report.
	}
	if slot.asked && !slot.held {
		return false // refused: counted by scrapeTarget
	}
	if slices.ContainsFunc(results, func(r fetched) bool { return r.err == nil }) {
		select {
		case s.parses <- struct{}{}:
			defer func() { <-s.parses }()
		case <-sctx.Done():
			if ctx.Err() != nil {
				return false
			}
			// The target answered, but no parse slot freed up within the timeout.
			for i := range results {
				if results[i].err == nil {
					results[i].err = &fetch.Error{Reason: fetch.ReasonTimeout, Err: errors.New("no max_concurrent_parses slot within timeout")}
				}
			}
		}
	}
	defer func() {
		// A profile that trips a bug in parsing or conversion must not take the
		// collector down: count it as a parse failure and carry on.
		if rec := recover(); rec != nil {
			up, t.costly = false, true
			s.set.Telemetry.ReceiverPprofscrapeScrapeErrors.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", "parse"), attribute.String("target", t.name)))
			t.logLimited(s.set.Logger, "panic", "Internal error while processing a pprof scrape; scrape dropped",
				zap.String("target", t.name), zap.Any("panic", rec), zap.StackSkip("stack", 1))
		}
	}()
	return s.process(sctx, ctx, t, results)
}

// free releases the pooled body once it has been parsed (or was not needed).
func (f *fetched) free() {
	f.res.Release()
}

// logLimited logs msg at most once a minute per target and key, with the number of
// suppressed repetitions.
func (t *targetState) logLimited(logger *zap.Logger, key, msg string, fields ...zap.Field) {
	now := time.Now()
	t.logMu.Lock()
	last, seen := t.lastLog[key]
	if seen && now.Sub(last) < time.Minute {
		t.suppressed[key]++
		t.logMu.Unlock()
		return
	}
	n := t.suppressed[key]
	t.lastLog[key] = now
	t.suppressed[key] = 0
	t.logMu.Unlock()
	if n > 0 {
		fields = append(fields, zap.Int("suppressed_since_last_log", n))
	}
	logger.Warn(msg, fields...)
}

func reasonOf(err error) string {
	return string(fetch.ReasonOf(err))
}

func isBusy(err error) bool {
	var fe *fetch.Error
	return errors.As(err, &fe) && fe.Reason == fetch.ReasonBusy
}

func setResource(res pcommon.Resource, attrs map[string]string) {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		res.Attributes().PutStr(k, attrs[k])
	}
}

func trimEndpoint(e string) string { return strings.TrimRight(e, "/") }
