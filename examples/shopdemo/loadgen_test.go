// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// A service that never answers: the generator keeps at most maxInFlight
// requests open, skips and counts the rest, and run returns once they end.
func TestLoadGenBoundsRequestsInFlight(t *testing.T) {
	var open, peak atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		n := open.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-r.Context().Done()
		open.Add(-1)
	}))
	defer srv.Close()

	h := newHarness(t)
	g := newLoadGen(srv.URL, 5000, 10, h.shop.tel)
	// Run until the first skip, at most 4 s (below the client's 5 s timeout,
	// so no request has given up): a fixed 500 ms was not enough to open
	// maxInFlight requests under -race on a loaded machine.
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Second)
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for ctx.Err() == nil && g.skipped.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	g.run(ctx) // returns only after every request in flight has ended
	<-stopped

	if p := peak.Load(); p > maxInFlight || p == 0 {
		t.Fatalf("peak requests open at the service: %d, want 1..%d", p, maxInFlight)
	}
	if g.skipped.Load() == 0 {
		t.Fatalf("no tick was skipped although the service never answered (peak %d)", peak.Load())
	}
	if n := len(g.inFlight); n != 0 {
		t.Fatalf("%d requests still counted in flight after run returned", n)
	}
}
