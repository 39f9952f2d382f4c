// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package scrape

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSlotPoolFailingTargetsHoldAtMostAQuarter(t *testing.T) {
	ctx := context.Background()
	p := newSlotPool(8) // failing targets: at most 8/4 = 2 slots
	soon := func() time.Time { return time.Now().Add(20 * time.Millisecond) }
	require.True(t, p.acquire(ctx, true, soon()))
	require.True(t, p.acquire(ctx, true, soon()))
	assert.False(t, p.acquire(ctx, true, soon()), "a third failing target waits past its deadline")
	for i := range 6 {
		require.True(t, p.acquire(ctx, false, soon()), "healthy target %d still finds a slot", i)
	}
	assert.False(t, p.acquire(ctx, false, soon()), "all 8 slots held")

	p.release(true)
	require.True(t, p.acquire(ctx, false, soon()), "a slot freed by a failing target serves a healthy one")
	assert.False(t, p.acquire(ctx, true, soon()), "no slot free")
	assert.Equal(t, 0, p.free)
	assert.Equal(t, 1, p.failingFree)
	assert.Empty(t, p.healthy)
	assert.Empty(t, p.failing)

	assert.Equal(t, 1, newSlotPool(1).failingFree, "one slot: failing targets may still use it")
}

func TestSlotPoolServesHealthyWaitersFirst(t *testing.T) {
	ctx := context.Background()
	p := newSlotPool(4)
	far := time.Now().Add(time.Minute)
	for range 4 {
		require.True(t, p.acquire(ctx, false, far))
	}
	got := make(chan string, 2)
	go func() {
		if p.acquire(ctx, true, far) {
			got <- "failing"
		}
	}()
	require.Eventually(t, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.failing) == 1 }, 5*time.Second, time.Millisecond)
	go func() {
		if p.acquire(ctx, false, far) {
			got <- "healthy"
		}
	}()
	require.Eventually(t, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.healthy) == 1 }, 5*time.Second, time.Millisecond)

	p.release(false)
	assert.Equal(t, "healthy", <-got, "the healthy waiter came second and is served first")
	p.release(false)
	assert.Equal(t, "failing", <-got)
}

func TestSlotPoolGivesUpOnDeadlineAndShutdown(t *testing.T) {
	p := newSlotPool(1)
	require.True(t, p.acquire(context.Background(), false, time.Now().Add(time.Minute)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool)
	go func() { done <- p.acquire(ctx, false, time.Now().Add(time.Minute)) }()
	require.Eventually(t, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.healthy) == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	assert.False(t, <-done)
	p.mu.Lock()
	assert.Empty(t, p.healthy, "the abandoned waiter left the queue")
	p.mu.Unlock()
	p.release(false)
	assert.Equal(t, 1, p.free)
}

func TestBackoffIntervals(t *testing.T) {
	// Worked out from the rule: 2^(n-1)-1 intervals skipped, at most 5 min between attempts.
	for n, want := range map[int]int{0: 0, 1: 0, 2: 1, 3: 3, 4: 7, 5: 15, 6: 31, 7: 63, 8: 63, 1000: 63} {
		assert.Equal(t, want, backoffIntervals(n, time.Second), "n=%d at 1s", n)
	}
	// 60 s interval: at most 5 intervals apart, so at most 4 skipped.
	for n, want := range map[int]int{1: 0, 2: 1, 3: 3, 4: 4, 9: 4} {
		assert.Equal(t, want, backoffIntervals(n, time.Minute), "n=%d at 60s", n)
	}
	// An interval beyond the cap still skips one: a failing target never runs at full rate.
	assert.Equal(t, 1, backoffIntervals(5, 10*time.Minute))
}

// TestHealthyTargetsKeepTheirIntervalBesideHangingOnes: 12 targets that never answer
// (each holds a slot for the whole timeout) beside 2 healthy ones, with 4 slots. Without
// priority and backoff the hanging ones need 12 x 0.9 s of slot time per 1 s interval
// against 4 s available; with them, after the first interval every healthy target is
// scraped every interval, no gap over 1.5 intervals.
func TestHealthyTargetsKeepTheirIntervalBesideHangingOnes(t *testing.T) {
	const interval = time.Second
	stop := make(chan struct{})
	var mu sync.Mutex
	seen := map[string][]time.Time{}
	var targets []Target
	for i := range 2 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen[r.Host] = append(seen[r.Host], time.Now())
			mu.Unlock()
			pprof.Handler("goroutine").ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		targets = append(targets, Target{Endpoint: srv.URL, Types: []string{"goroutine"}})
		_ = i
	}
	hang := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(hang.Close)
	defer close(stop)
	for i := range 12 {
		targets = append(targets, Target{Endpoint: hang.URL + "/h" + strconv.Itoa(i), Types: []string{"goroutine"}})
	}
	s, rep := newTestScheduler(t, Settings{
		Targets: targets, Interval: interval, Timeout: 900 * time.Millisecond,
		MaxBodyBytes: 1 << 20, MaxConcurrent: 4,
	})
	start := time.Now()
	s.Start(context.Background())
	time.Sleep(7 * interval)
	require.NoError(t, s.Shutdown(context.Background()))

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, 2)
	for host, times := range seen {
		// From the second interval on (the first one is shared with the hanging
		// targets' first attempts, when nothing is known about them yet).
		var after []time.Time
		for _, at := range times {
			if at.Sub(start) >= interval {
				after = append(after, at)
			}
		}
		require.GreaterOrEqual(t, len(after), 5, "%s scraped at %v", host, times)
		for j := 1; j < len(after); j++ {
			assert.LessOrEqual(t, after[j].Sub(after[j-1]), interval+interval/2, "%s: gap between scrapes %d and %d", host, j-1, j)
		}
	}
	assert.Positive(t, rep.refused(RefusedBackoff), "the hanging targets' skipped intervals are reported")
}

// TestDownTargetIsNotBackedOff: a target that refuses connections (not started yet, say)
// costs nothing and is retried every interval, while a target whose answers are refused
// after reading (HTML) backs off.
func TestDownTargetIsNotBackedOff(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	down := closed.URL
	closed.Close()
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("<html>shop</html>"))
	}))
	t.Cleanup(html.Close)
	s, rep := newTestScheduler(t, Settings{
		Targets:  []Target{{Endpoint: down, Types: []string{"heap"}}},
		Interval: 100 * time.Millisecond, Timeout: time.Second, MaxBodyBytes: 1 << 20, MaxConcurrent: 2,
	})
	s.Start(context.Background())
	time.Sleep(time.Second)
	require.NoError(t, s.Shutdown(context.Background()))
	assert.Zero(t, rep.refused(RefusedBackoff), "no interval skipped for a target that refuses connections")
	assert.GreaterOrEqual(t, len(rep.results()), 5, "retried every interval")

	s2, rep2 := newTestScheduler(t, Settings{
		Targets:  []Target{{Endpoint: html.URL, Types: []string{"heap"}}},
		Interval: 100 * time.Millisecond, Timeout: time.Second, MaxBodyBytes: 1 << 20, MaxConcurrent: 2,
	})
	s2.Start(context.Background())
	require.Eventually(t, func() bool { return rep2.refused(RefusedBackoff) >= 1 }, 10*time.Second, 10*time.Millisecond,
		"the not_pprof target skips intervals")
	require.NoError(t, s2.Shutdown(context.Background()))
}
