// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package pprofscrape

import (
	"context"
	"math"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/metadatatest"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/pproftest"
)

func heapObjects() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return int64(min(s[0].Value.Uint64(), math.MaxInt64))
}

// TestHostileBodiesStayWithinTheMemoryBudget runs the hostile bodies of the README's
// limits section (60 MB of empty strings in a few hundred KB of gzip, 10,000,000 empty
// strings, a 1,000,000-sample heap profile, a gzip bomb, an endless body, an HTML page)
// beside two healthy targets, and asserts that the heap never grows past the bound the
// README states for the configuration (RSS <= idle + max_concurrent_scrapes x types x
// max_body_bytes + max_concurrent_parses x 64 x max_decompressed_bytes), that every
// hostile body is refused with its reason, and that Shutdown returns within 1 s.
func TestHostileBodiesStayWithinTheMemoryBudget(t *testing.T) {
	srv := pproftest.NewServer(t)
	for _, p := range []string{pproftest.PrefixEmptyStrings, pproftest.PrefixTenMillionStrings, pproftest.PrefixMillionSamples} {
		require.NotEmpty(t, pproftest.HostileBody(p)) // built before the idle heap is measured
	}
	healthy2 := pproftest.NewServer(t)
	target := func(prefix string) TargetConfig {
		return TargetConfig{Endpoint: srv.URL + prefix, Profiles: []string{"heap", "goroutine"}}
	}
	cfg := testConfig(
		target(""),
		TargetConfig{Endpoint: healthy2.URL, Profiles: []string{"heap", "goroutine"}},
		target(pproftest.PrefixEmptyStrings),
		target(pproftest.PrefixTenMillionStrings),
		target(pproftest.PrefixMillionSamples),
		target(pproftest.PrefixBomb),
		target(pproftest.PrefixEndless),
		target(pproftest.PrefixHuge),
		target(pproftest.PrefixHTML),
		target(pproftest.PrefixHang),
	)
	cfg.CollectionInterval = 1500 * time.Millisecond
	cfg.ClientConfig.Timeout = 1200 * time.Millisecond
	cfg.MaxBodyBytes = 1 << 20
	cfg.MaxDecompressedBytes = 2 << 20
	cfg.MaxSamples = 50_000
	cfg.MaxLocations = 50_000
	cfg.MaxStrings = 50_000
	cfg.MaxConcurrentScrapes = 4
	cfg.MaxConcurrentParses = 1
	const types = 2
	budget := int64(cfg.MaxConcurrentScrapes*types)*cfg.MaxBodyBytes +
		int64(cfg.MaxConcurrentParses)*64*cfg.MaxDecompressedBytes

	runtime.GC()
	idle := heapObjects()
	var peak atomic.Int64
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if h := heapObjects(); h > peak.Load() {
				peak.Store(h)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()

	tt := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tt.Shutdown(context.Background())) }()
	r := start(t, cfg, metadatatest.NewSettings(tt), true, true)
	require.Eventually(t, func() bool {
		errs := errorsByReason(t, tt)
		names := 0
		for _, pd := range r.profiles.AllProfiles() {
			names += pd.ResourceProfiles().Len()
		}
		return names >= 4 && errs["limit"] >= 3 && errs["size"] >= 2 && errs["not_pprof"] >= 2 && errs["timeout"] >= 1
	}, 60*time.Second, 20*time.Millisecond, "errors so far: %v", errorsByReason(t, tt))

	began := time.Now()
	r.stop()
	took := time.Since(began)
	close(stop)
	<-sampled
	assert.Less(t, took, time.Second, "Shutdown with scrapes in flight")
	grew := peak.Load() - min(peak.Load(), idle)
	t.Logf("heap: idle %d MiB, peak %d MiB (+%d MiB), bound +%d MiB", idle>>20, peak.Load()>>20, grew>>20, budget>>20)
	assert.LessOrEqual(t, grew, budget, "heap growth over the configured budget")
}
