// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

var items = []string{"book", "lamp", "chair", "mug", "phone", "desk", "pen"}

// loadGen sends order requests at a steady rate from many users; every
// request carries a fresh X-Request-Id and the W3C traceparent of its client
// span.
//
// Requests in flight are bounded by maxInFlight: a tick that finds them all
// busy (the service or the collector is slow) is skipped and counted, so the
// generator never piles up goroutines.
type loadGen struct {
	base     string
	rate     float64
	users    int
	client   *http.Client
	seq      uint64
	inFlight chan struct{}
	wg       sync.WaitGroup
	skipped  atomic.Int64
}

// maxInFlight bounds the load generator's concurrent requests.
const maxInFlight = 256

func newLoadGen(base string, rate float64, users int, tel *telemetry) *loadGen {
	return &loadGen{
		base:     base,
		rate:     rate,
		users:    users,
		inFlight: make(chan struct{}, maxInFlight),
		client: &http.Client{
			Timeout:   5 * time.Second,
			Transport: otelhttp.NewTransport(http.DefaultTransport, otelhttp.WithTracerProvider(tel.tracerProvider)),
		},
	}
}

// userFor picks a user: about one request in ten is user 1234's.
func (g *loadGen) userFor(r *rand.Rand) int {
	if r.IntN(10) == 0 {
		return failingUser
	}
	return 1 + r.IntN(g.users)
}

// run sends requests until ctx is done, then waits for those in flight.
func (g *loadGen) run(ctx context.Context) {
	t := time.NewTicker(time.Duration(float64(time.Second) / g.rate))
	defer t.Stop()
	defer g.wg.Wait()
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 42))
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.seq++
			select {
			case g.inFlight <- struct{}{}:
			default:
				g.skipped.Add(1)
				continue
			}
			user, item, seq := g.userFor(r), items[r.IntN(len(items))], g.seq
			g.wg.Go(func() {
				defer func() { <-g.inFlight }()
				g.once(ctx, user, item, seq)
			})
		}
	}
}

func (g *loadGen) once(ctx context.Context, user int, item string, seq uint64) {
	q := url.Values{"user_id": {strconv.Itoa(user)}, "item": {item}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.base+"/orders?"+q.Encode(), http.NoBody)
	if err != nil {
		return
	}
	req.Header.Set(requestIDHeader, fmt.Sprintf("req-%08d-%04x", seq, rand.Uint32()&0xffff))
	resp, err := g.client.Do(req)
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
}
