// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package scrape

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/prodscope/prodscope/internal/logthrottle"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/fetch"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/pproftest"
)

// servePprof serves body at every path, on 127.0.0.1.
func servePprof(t *testing.T, body []byte) *httptest.Server {
	t.Helper()
	return pproftest.Loopback(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(body)
	}))
}

// TestScrapeResultsAndStatus scrapes a target serving a known profile and one that
// refuses connections (its endpoint carrying credentials), one scrape each, and checks
// the reported Results and the status against numbers worked out from the inputs.
func TestScrapeResultsAndStatus(t *testing.T) {
	body, err := fs.ReadFile(golden, "goroutine_1.pb") // 2 samples
	require.NoError(t, err)
	good := servePprof(t, body)
	closed := httptest.NewServer(http.NotFoundHandler())
	downURL := strings.Replace(closed.URL, "http://", "http://scraper:s3cret@", 1)
	closed.Close()

	s, rep := newTestScheduler(t, Settings{
		Targets: []Target{
			{Name: "good", Endpoint: good.URL, Types: []string{"goroutine"}},
			{Endpoint: downURL, Types: []string{"goroutine", "heap"}},
		},
		Interval: time.Minute, Timeout: 5 * time.Second, MaxBodyBytes: 1 << 20, MaxConcurrent: 2,
		Profiles: true, NewMetricsBuilder: newMetricsBuilder,
	})
	st := s.Status()
	require.Len(t, st.Targets, 2)
	assert.False(t, st.Targets[0].Scraped)
	assert.Equal(t, closed.URL, st.Targets[1].Endpoint, "no credentials")
	assert.Equal(t, closed.URL, st.Targets[1].Name, "the default name is the endpoint without credentials")

	before := time.Now()
	for _, ts := range s.targets {
		_, ran := s.scrapeTarget(context.Background(), ts, time.Now().Add(time.Minute))
		require.True(t, ran)
	}
	got := rep.results()
	require.Len(t, got, 2)

	up := got[0]
	assert.Equal(t, "good", up.Target)
	assert.True(t, up.Up)
	require.Len(t, up.Profiles, 1)
	assert.Equal(t, ProfileResult{Type: "goroutine", WireBytes: int64(len(body)), Duration: up.Profiles[0].Duration, Samples: 2}, up.Profiles[0])
	assert.True(t, up.HasProfiles)
	assert.Equal(t, 2, up.ProfileSamples, "two samples with non-zero values")
	assert.True(t, up.HasMetrics)

	down := got[1]
	assert.Equal(t, closed.URL, down.Target)
	assert.False(t, down.Up)
	require.Len(t, down.Profiles, 2)
	for _, p := range down.Profiles {
		assert.Equal(t, fetch.ReasonHTTP, p.Reason)
		assert.Zero(t, p.Samples)
	}
	assert.False(t, down.HasProfiles)
	assert.False(t, down.HasMetrics)

	st = s.Status()
	g, d := st.Targets[0], st.Targets[1]
	assert.True(t, g.Scraped)
	assert.True(t, g.Up)
	assert.Equal(t, int64(len(body)), g.LastBytes)
	assert.Empty(t, g.LastError)
	assert.False(t, g.LastScrape.Before(before))
	assert.Positive(t, g.LastDuration)
	assert.Equal(t, []string{"goroutine"}, g.Types)

	assert.True(t, d.Scraped)
	assert.False(t, d.Up)
	assert.Zero(t, d.LastBytes)
	assert.True(t, strings.HasPrefix(d.LastError, "http: "), d.LastError)
	assert.True(t, strings.HasSuffix(d.LastError, "(profile goroutine)"), d.LastError)
	assert.NotContains(t, d.LastError, "s3cret")
	assert.NotContains(t, d.LastError, "scraper")
	assert.False(t, d.LastErrorAt.Before(d.LastScrape))
	assert.Equal(t, 0, st.ScrapeSlots)
	assert.Equal(t, 2, st.MaxScrapeSlots)
	assert.Equal(t, 0, st.ParseSlots)

	// The target comes up: it is up, and its last failure stays on show.
	s.targets[1].cfg.Endpoint = good.URL
	_, ran := s.scrapeTarget(context.Background(), s.targets[1], time.Now().Add(time.Minute))
	require.True(t, ran)
	d2 := s.Status().Targets[1]
	assert.True(t, d2.Up)
	assert.Equal(t, int64(2*len(body)), d2.LastBytes, "both profiles read")
	assert.Empty(t, rep.results()[2].Profiles[0].Reason)
	assert.Empty(t, rep.results()[2].Profiles[1].Reason)
	assert.Equal(t, d.LastError, d2.LastError)
	assert.Equal(t, d.LastErrorAt, d2.LastErrorAt)
	assert.True(t, d2.LastScrape.After(d.LastScrape))
}

// TestStatusCountsHeldSlots: the slots held show in the status.
func TestStatusCountsHeldSlots(t *testing.T) {
	s, _ := newTestScheduler(t, Settings{MaxConcurrent: 3, MaxConcurrentParses: 2})
	require.True(t, s.slots.acquire(context.Background(), false, time.Now().Add(time.Second)))
	s.parses <- struct{}{}
	st := s.Status()
	assert.Equal(t, Status{Targets: []TargetStatus{}, ScrapeSlots: 1, MaxScrapeSlots: 3, ParseSlots: 1, MaxParseSlots: 2}, st)
	<-s.parses
	s.slots.release(false)
	assert.Equal(t, 0, s.Status().ScrapeSlots)
}

func TestNextTick(t *testing.T) {
	start := time.Unix(1000, 0)
	assert.Equal(t, start.Add(5*time.Second), nextTick(start, 5*time.Second, start), "right after the first scrape")
	assert.Equal(t, start.Add(5*time.Second), nextTick(start, 5*time.Second, start.Add(4*time.Second)))
	assert.Equal(t, start.Add(15*time.Second), nextTick(start, 5*time.Second, start.Add(12*time.Second)), "a slow scrape missed ticks")
	assert.Equal(t, start, nextTick(start, 0, start.Add(time.Second)))
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{ //nolint:gosec // G101: made-up credentials, what Redact must strip
		"http://user:pw@10.0.0.1:6060":        "http://10.0.0.1:6060",
		"https://deploy-bot@host/debug/pprof": "https://host/debug/pprof",
		`http: Get "http://user:***@127.0.0.1:1/debug/pprof/heap": dial tcp 127.0.0.1:1: connect: connection refused`: `http: Get "http://127.0.0.1:1/debug/pprof/heap": dial tcp 127.0.0.1:1: connect: connection refused`,
		"http://10.0.0.1:6060":     "http://10.0.0.1:6060",
		"mail me at ops@shop.test": "mail me at ops@shop.test",
	} {
		assert.Equal(t, want, Redact(in))
	}
}

// TestFailureLogsRateLimitedPerTargetAndProfile: three failing scrapes of a target with
// two profiles log one line per profile; a second target logs its own.
func TestFailureLogsRateLimitedPerTargetAndProfile(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	core, logs := observer.New(zapcore.WarnLevel)
	s, _ := newTestScheduler(t, Settings{
		Targets: []Target{
			{Name: "a", Endpoint: closed.URL, Types: []string{"goroutine", "heap"}},
			{Name: "b", Endpoint: closed.URL + "/b", Types: []string{"goroutine"}},
		},
		Interval: time.Minute, Timeout: 5 * time.Second, MaxBodyBytes: 1 << 20, MaxConcurrent: 2,
		Logger: zap.New(core),
	})
	assert.Equal(t, 2*logKeysPerProfile+2+logKeysPerProfile+2, logKeys(s.set.Targets))
	for range 3 {
		for _, ts := range s.targets {
			_, ran := s.scrapeTarget(context.Background(), ts, time.Now().Add(time.Minute))
			require.True(t, ran)
		}
	}
	got := map[string]int{}
	for _, e := range logs.FilterMessage("pprof scrape failed").All() {
		m := e.ContextMap()
		got[fmt.Sprint(m["target"], "/", m["profile_type"], "/", m["reason"])]++
		assert.NotContains(t, m, logthrottle.SuppressedField, "nothing suppressed before the first line")
	}
	assert.Equal(t, map[string]int{"a/goroutine/http": 1, "a/heap/http": 1, "b/goroutine/http": 1}, got)
}
