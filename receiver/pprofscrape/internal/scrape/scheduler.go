// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package scrape // import "github.com/prodscope/prodscope/receiver/pprofscrape/internal/scrape"

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/prodscope/prodscope/internal/logthrottle"
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
	Links  convert.LinkLabels
	Client *http.Client
	// Conns, when set, records the connections the requests use (to close them on stop).
	Conns  *fetch.Conns
	Logger *zap.Logger
	// Profiles says whether to build the profiles output; NewMetricsBuilder, when set,
	// returns a builder for the metrics output (a signal no pipeline uses is not built).
	Profiles          bool
	NewMetricsBuilder func() *metadata.MetricsBuilder
	// Report receives the Result of every target scrape, refused ones included. It is
	// called on the target's loop, for a parsed scrape while it still holds its
	// max_concurrent_parses slot (so that the output it passes on is within the memory
	// bound); ctx is cancelled on Shutdown.
	Report func(ctx context.Context, r *Result)
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
	// logs rate-limits the failure logs: one line per target, reason and profile a minute.
	logs *logthrottle.Logger
	// builders keeps MetricsBuilders for reuse: metrics are built under a
	// max_concurrent_parses slot, so that many are ever in use at once. (Not a sync.Pool:
	// the runtime's pool list would keep the scheduler, and its delta baselines, alive
	// for two collections after Shutdown.)
	builders chan *metadata.MetricsBuilder

	// statusMu guards every target's status.
	statusMu sync.Mutex

	// beforeProcess, when set (tests), runs once a scrape's bodies are in, before they
	// are decoded.
	beforeProcess func()
}

// New returns a scheduler; nothing runs before Start.
func New(set Settings) *Scheduler {
	if set.MaxConcurrentParses <= 0 {
		set.MaxConcurrentParses = max(1, set.MaxConcurrent)
	}
	if set.Logger == nil {
		set.Logger = zap.NewNop()
	}
	s := &Scheduler{
		set: set, slots: newSlotPool(set.MaxConcurrent), parses: make(chan struct{}, set.MaxConcurrentParses),
		logs: logthrottle.New(set.Logger, logEvery, logKeys(set.Targets)),
	}
	if set.NewMetricsBuilder != nil {
		s.builders = make(chan *metadata.MetricsBuilder, set.MaxConcurrentParses)
	}
	for _, t := range set.Targets {
		s.targets = append(s.targets, newTargetState(t))
	}
	return s
}

// Start launches the target loops. They run until Shutdown: they keep ctx's values, not
// its cancellation (a component's Start context ends when Start returns).
func (s *Scheduler) Start(ctx context.Context) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
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
	return time.Duration(min(h.Sum64()%uint64(interval), math.MaxInt64))
}

func (s *Scheduler) loop(ctx context.Context, t *targetState) {
	interval := s.set.Interval
	if t.cfg.Interval > 0 {
		interval = t.cfg.Interval
	}
	first := s.set.InitialDelay + Jitter(t.cfg.Endpoint, interval)
	s.setNext(t, time.Now().Add(first))
	timer := time.NewTimer(first)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return
	case <-timer.C:
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	ticks := time.Now() // the ticker fires at ticks + k x interval
	skip := 0
	for {
		if skip > 0 {
			skip--
			s.deliver(ctx, &Result{Target: t.name, Refused: RefusedBackoff})
		} else {
			res, ran := s.scrapeTarget(ctx, t, time.Now().Add(interval))
			if !ran {
				return // shutting down
			}
			if res.Refused == "" {
				switch {
				case res.Up:
					t.failures = 0
				case t.costly:
					t.failures++
					skip = backoffIntervals(t.failures, interval)
				}
			}
		}
		s.setNext(t, nextTick(ticks, interval, time.Now()).Add(time.Duration(skip)*interval))
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// nextTick is the first tick after now of a ticker started at start (the ticker drops
// the ticks a slow scrape missed).
func nextTick(start time.Time, interval time.Duration, now time.Time) time.Time {
	if interval <= 0 || now.Before(start) {
		return start
	}
	return start.Add((now.Sub(start)/interval + 1) * interval)
}

// logEvery is how often one failure line of a target may repeat.
const logEvery = time.Minute

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
// is refused (Result.Refused). The Result has been delivered when scrapeTarget returns;
// ran is false when shutdown cut the scrape short (nothing was delivered).
func (s *Scheduler) scrapeTarget(ctx context.Context, t *targetState, due time.Time) (res Result, ran bool) {
	failing := t.failures > 0
	slot := &lazySlot{take: func(sctx context.Context) bool { return s.slots.acquire(sctx, failing, due) }}
	res, ran = s.runScrape(ctx, t, slot)
	if slot.held {
		s.slots.release(failing)
	}
	if !ran {
		return res, false
	}
	if res.Refused != "" {
		s.logWarn(t, RefusedConcurrencyLimit, "Target scrape skipped: max_concurrent_scrapes slots stayed busy until the next scrape was due",
			zap.String("target", t.name))
		s.deliver(ctx, &res)
	}
	return res, true
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
// under one of the max_concurrent_parses slots, all of it within one timeout, and
// delivers the Result while it still holds that slot. ran is false when ctx ended (the
// requests, or the decoding, were cancelled: nothing to report); a scrape refused for want
// of a concurrency slot is returned undelivered.
func (s *Scheduler) runScrape(ctx context.Context, t *targetState, slot *lazySlot) (res Result, ran bool) {
	started := time.Now()
	sctx, cancel := context.WithTimeout(ctx, s.set.Timeout)
	defer cancel()
	results := make([]fetched, len(t.cfg.Types))
	var wg sync.WaitGroup
	for i, typ := range t.cfg.Types {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			res, err := fetch.Get(s.set.Conns.Trace(sctx), s.set.Client, t.cfg.url(typ, s.set.CPUDuration), s.set.MaxBodyBytes, func() bool { return slot.get(sctx) })
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
		return Result{}, false // shutting down: the requests were cancelled, nothing to report.
	}
	if slot.asked && !slot.held {
		return Result{Target: t.name, Refused: RefusedConcurrencyLimit}, true
	}
	if slices.ContainsFunc(results, func(r fetched) bool { return r.err == nil }) {
		select {
		case s.parses <- struct{}{}:
			defer func() { <-s.parses }()
		case <-sctx.Done():
			if ctx.Err() != nil {
				return Result{}, false
			}
			// The target answered, but no parse slot freed up within the timeout.
			for i := range results {
				if results[i].err == nil {
					results[i].err = &fetch.Error{Reason: fetch.ReasonTimeout, Err: errors.New("no max_concurrent_parses slot within timeout")}
				}
			}
		}
	}
	if s.beforeProcess != nil {
		s.beforeProcess()
	}
	res = s.processSafely(sctx, t, results)
	if ctx.Err() != nil {
		// Shutdown began while the scrape was decoded, parsed or converted: what it cut
		// short is not the target's failure, and nothing more goes out.
		return Result{}, false
	}
	s.record(t, &res, started, time.Since(started))
	s.deliver(ctx, &res)
	return res, true
}

// processSafely is process, except that a profile that trips a bug in parsing or
// conversion does not take the collector down: the scrape is dropped and counts as a
// parse failure (Result.Panicked).
func (s *Scheduler) processSafely(sctx context.Context, t *targetState, results []fetched) (res Result) {
	res = Result{Target: t.name}
	defer func() {
		if rec := recover(); rec != nil {
			t.costly = true
			res = Result{
				Target: t.name, Profiles: res.Profiles, Panicked: true,
				lastError: Redact(fmt.Sprintf("%s: internal error while processing the scrape: %v", fetch.ReasonParse, rec)),
			}
			s.logWarn(t, "panic", "Internal error while processing a pprof scrape; scrape dropped",
				zap.String("target", t.name), zap.String("panic", Redact(fmt.Sprint(rec))), zap.StackSkip("stack", 1))
		}
	}()
	s.process(sctx, t, results, &res)
	return res
}

// deliver hands r to Settings.Report.
func (s *Scheduler) deliver(ctx context.Context, r *Result) {
	if s.set.Report != nil {
		s.set.Report(ctx, r)
	}
}

// record keeps the outcome of a scrape that ran as t's status.
func (s *Scheduler) record(t *targetState, r *Result, started time.Time, took time.Duration) {
	var bytes int64
	for _, p := range r.Profiles {
		bytes += p.WireBytes
	}
	s.statusMu.Lock()
	defer s.statusMu.Unlock()
	st := &t.status
	st.Scraped, st.Up = true, r.Up
	st.LastScrape, st.LastDuration, st.LastBytes = started, took, bytes
	if r.lastError != "" {
		st.LastError, st.LastErrorAt = r.lastError, started.Add(took)
	}
}

// setNext records when t's loop scrapes next.
func (s *Scheduler) setNext(t *targetState, next time.Time) {
	s.statusMu.Lock()
	t.status.NextScrape = next
	s.statusMu.Unlock()
}

// Status copies the scheduler's state: every target loop's status and the slots held.
func (s *Scheduler) Status() Status {
	st := Status{
		ScrapeSlots: s.slots.held(), MaxScrapeSlots: s.slots.size,
		ParseSlots: len(s.parses), MaxParseSlots: cap(s.parses),
	}
	s.statusMu.Lock()
	defer s.statusMu.Unlock()
	st.Targets = make([]TargetStatus, len(s.targets))
	for i, t := range s.targets {
		st.Targets[i] = t.status
	}
	return st
}

// free releases the pooled body once it has been parsed (or was not needed).
func (f *fetched) free() {
	f.res.Release()
}

// logKeysPerProfile are the log lines one profile of a target can repeat: one per
// failure reason, and a delta reset.
const logKeysPerProfile = 8

// logKeys bounds the keys of the scheduler's rate-limited logger: every (target, reason,
// profile) line, plus a target's concurrency_limit and panic lines.
func logKeys(targets []Target) int {
	n := 0
	for _, t := range targets {
		n += len(t.Types)*logKeysPerProfile + 2
	}
	return n
}

// logWarn writes a warning for key of target t at most once a minute, with the number of
// repetitions left out since the last one.
func (s *Scheduler) logWarn(t *targetState, key, msg string, fields ...zap.Field) {
	s.logs.Warn(t.name+"\x00"+key, msg, fields...)
}

func trimEndpoint(e string) string { return strings.TrimRight(e, "/") }
