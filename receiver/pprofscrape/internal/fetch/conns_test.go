// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package fetch

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/pproftest"
)

// TestConnsClosesKeptConnections: the connections a client kept are closed by Conns.Close
// (the next request dials anew), Conns forgets connections unused longer than its
// lifetime, and a request after Close does not keep its connection.
func TestConnsClosesKeptConnections(t *testing.T) {
	srv := pproftest.NewServer(t)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	conns := NewConns(time.Hour, 10)
	get := func(c *Conns) {
		t.Helper()
		res, err := Get(c.Trace(context.Background()), client, srv.URL+"/debug/pprof/goroutine", 1<<20, nil)
		require.NoError(t, err)
		res.Release()
	}
	get(conns)
	get(conns)
	assert.Equal(t, 1, conns.Len(), "one connection, kept and reused")
	conns.Close()
	assert.Zero(t, conns.Len())
	_, err := Get(conns.Trace(context.Background()), client, srv.URL+"/debug/pprof/goroutine", 1<<20, nil)
	require.Error(t, err, "a request racing Close loses its connection")
	get(nil) // the closed connections are not handed out again
	assert.Zero(t, conns.Len())

	short := NewConns(50*time.Millisecond, 10)
	get(short)
	assert.Equal(t, 1, short.Len())
	time.Sleep(100 * time.Millisecond)
	client.CloseIdleConnections()
	get(short) // a new connection; the old one is forgotten
	assert.Equal(t, 1, short.Len())
	short.Close()

	// At its limit Conns remembers no more, and counts what it did not remember.
	one := NewConns(time.Hour, 1)
	get(one)
	client.CloseIdleConnections()
	get(one) // a second connection while the first is still remembered
	assert.Equal(t, 1, one.Len())
	assert.Equal(t, int64(1), one.Untracked())
	one.Close()
}
