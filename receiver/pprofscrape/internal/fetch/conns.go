// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package fetch // import "github.com/prodscope/prodscope/receiver/pprofscrape/internal/fetch"

import (
	"context"
	"net"
	"net/http/httptrace"
	"sync"
	"time"
)

// Conns remembers the connections that requests used, so that the connections kept
// between scrapes can be closed when the receiver stops. http.Client.CloseIdleConnections
// cannot do it: confighttp wraps the transport in round trippers (otelhttp, headers,
// auth) that do not pass it on, and the kept connections (two goroutines and their
// buffers each) would outlive the receiver by up to the idle timeout.
type Conns struct {
	// forget: a connection unused this long has been closed by the transport already.
	forget time.Duration
	// limit bounds the connections remembered.
	limit int
	trace *httptrace.ClientTrace

	mu        sync.Mutex
	used      map[net.Conn]time.Time
	pruned    time.Time
	closed    bool
	untracked int64
}

// NewConns returns a Conns that forgets a connection unused for forget (the client's
// idle timeout plus the longest a request holds its connection) and remembers at most
// limit connections (those the client may keep plus those in flight): past it, a new
// connection is not remembered but counted (Untracked); it then closes with its idle
// timeout rather than on Close.
func NewConns(forget time.Duration, limit int) *Conns {
	c := &Conns{forget: forget, limit: max(limit, 1), used: map[net.Conn]time.Time{}, pruned: time.Now()}
	c.trace = &httptrace.ClientTrace{GotConn: c.got}
	return c
}

// Trace returns ctx with the hook that records the connection its request gets.
func (c *Conns) Trace(ctx context.Context) context.Context {
	if c == nil {
		return ctx
	}
	return httptrace.WithClientTrace(ctx, c.trace)
}

func (c *Conns) got(info httptrace.GotConnInfo) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		_ = info.Conn.Close() // a request that raced Close
		return
	}
	if _, ok := c.used[info.Conn]; !ok && len(c.used) >= c.limit {
		c.prune(now)
		if len(c.used) >= c.limit {
			c.untracked++
			return
		}
	}
	c.used[info.Conn] = now
	if now.Sub(c.pruned) >= c.forget {
		c.prune(now)
	}
}

// prune forgets the connections unused for forget.
func (c *Conns) prune(now time.Time) {
	for conn, last := range c.used {
		if now.Sub(last) >= c.forget {
			delete(c.used, conn)
		}
	}
	c.pruned = now
}

// Untracked is the number of connections not remembered because limit was reached.
func (c *Conns) Untracked() int64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.untracked
}

// Len is the number of connections remembered.
func (c *Conns) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.used)
}

// Close closes every connection remembered, and any a request gets afterwards. Call it
// once no request is in flight any more.
func (c *Conns) Close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for conn := range c.used {
		_ = conn.Close()
	}
	clear(c.used)
}
