// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package pprofscrape

import (
	"context"
	"net"
	"net/http"
	"net/http/httptrace"
	"runtime"
	rpprof "runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/fetch"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/pproftest"
)

// TestDefaultKeepaliveKeepsEveryTargetsConnections scrapes 200 targets on distinct
// 127.0.0.1 ports (a child process), three profile types each in parallel as the
// receiver does, twice, with the default HTTP client: every connection of the first round
// must be reused by the second, and it measures what the idle connections cost this
// process (heap + goroutine stacks, and goroutines), the figure of the README's memory
// budget.
func TestDefaultKeepaliveKeepsEveryTargetsConnections(t *testing.T) {
	const targets = 200
	types := []string{"profile", "heap", "goroutine"}
	child := startBenchTargets(t, targets)
	cfg := createDefaultConfig().(*Config)
	client, err := cfg.ClientConfig.ToClient(context.Background(), nil, componenttest.NewNopTelemetrySettings())
	require.NoError(t, err)
	defer client.CloseIdleConnections()

	round := func() (fresh, reused int64) {
		var nFresh, nReused atomic.Int64
		var wg sync.WaitGroup
		for _, ep := range child.endpoints {
			for _, typ := range types {
				wg.Go(func() {
					ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
						GotConn: func(info httptrace.GotConnInfo) {
							if info.Reused {
								nReused.Add(1)
							} else {
								nFresh.Add(1)
							}
						},
					})
					ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
					defer cancel()
					res, err := fetch.Get(ctx, client, ep+"/debug/pprof/"+typ, cfg.MaxBodyBytes, nil)
					if assert.NoError(t, err) {
						assert.NotEmpty(t, res.Data)
						res.Release()
					}
				})
			}
		}
		wg.Wait()
		return nFresh.Load(), nReused.Load()
	}
	measure := func() (bytes float64, goroutines int) {
		runtime.GC()
		runtime.GC() // and the pools' victim caches
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return float64(ms.HeapAlloc) + float64(ms.StackInuse), runtime.NumGoroutine()
	}

	conns := int64(targets * len(types))
	beforeBytes, beforeG := measure()
	fresh, reused := round()
	assert.Equal(t, conns, fresh+reused)
	// A connection goes back to the pool just after its body's EOF: wait for all of them.
	require.Eventually(t, func() bool { return runtime.NumGoroutine()-beforeG >= int(2*fresh) }, 10*time.Second, 10*time.Millisecond)
	afterBytes, afterG := measure()

	// Each kept connection is two goroutines (its read and write loops). The transport
	// may keep a few more connections than requests got fresh ones: a dial that a freed
	// connection overtook still goes to the pool.
	idle := (afterG - beforeG) / 2
	assert.GreaterOrEqual(t, int64(idle), fresh, "every connection of the first round is kept")
	assert.LessOrEqual(t, int64(idle), conns)

	fresh2, reused2 := round()
	assert.GreaterOrEqual(t, reused2, fresh, "the second round reuses every kept connection")
	assert.LessOrEqual(t, fresh2, conns-fresh, "and dials only where a target had fewer connections than parallel requests")

	perConn := (afterBytes - beforeBytes) / float64(idle)
	t.Logf("%d idle connections: %.0f bytes of heap + goroutine stacks each; second round: %d of %d requests reused a connection", idle, perConn, reused2, conns)
	assert.Less(t, perConn, float64(64<<10), "an idle connection costs buffers and two goroutine stacks, no body")
}

// TestShutdownClosesKeptConnections: the connections kept between scrapes end with the
// receiver, while the target keeps running.
func TestShutdownClosesKeptConnections(t *testing.T) {
	var open atomic.Int64
	srv := pproftest.Loopback(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = rpprof.Lookup("goroutine").WriteTo(w, 0)
	}), func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	})

	cfg := testConfig(TargetConfig{Endpoint: srv.URL, Profiles: []string{"goroutine", "heap"}})
	r := start(t, cfg, receivertestSettings(), true, false)
	require.Eventually(t, func() bool { return len(r.profiles.AllProfiles()) >= 1 }, 30*time.Second, 20*time.Millisecond)
	assert.Positive(t, open.Load(), "the scrape's connections are kept")
	r.stop()
	assert.Eventually(t, func() bool { return open.Load() == 0 }, 5*time.Second, 10*time.Millisecond, "Shutdown closed them")
}
