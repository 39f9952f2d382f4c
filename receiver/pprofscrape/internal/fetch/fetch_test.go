// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package fetch

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/pproftest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func get(t *testing.T, srv *pproftest.Server, path string, maxBytes int64, timeout time.Duration) (Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	return Get(ctx, client, srv.URL+path, maxBytes, nil)
}

func TestGetRealProfile(t *testing.T) {
	srv := pproftest.NewServer(t)
	res, err := get(t, srv, "/debug/pprof/heap", 64<<20, 10*time.Second)
	require.NoError(t, err)
	defer res.Release()
	assert.Positive(t, res.WireBytes)
	require.NotEmpty(t, res.Data)
	assert.Equal(t, byte(0x1f), res.Data[0], "returned as received: net/http/pprof gzips")
	c, err := Decode(context.Background(), &res, generous)
	require.NoError(t, err)
	assert.NotEqual(t, byte(0x1f), res.Data[0], "decoded")
	assert.Greater(t, int64(len(res.Data)), res.WireBytes, "the wire form was gzip")
	assert.Positive(t, c.Samples)
	assert.Positive(t, c.Strings)
}

var generous = Limits{MaxDecompressedBytes: 64 << 20, MaxSamples: 1 << 20, MaxLocations: 1 << 20, MaxStrings: 1 << 20}

func TestGetFaults(t *testing.T) {
	srv := pproftest.NewServer(t)
	tests := []struct {
		prefix  string
		reason  Reason
		timeout time.Duration
	}{
		{pproftest.PrefixBusy, ReasonBusy, 5 * time.Second},
		{pproftest.PrefixHang, ReasonTimeout, 200 * time.Millisecond},
		{pproftest.PrefixHuge, ReasonSize, 10 * time.Second},
		{pproftest.PrefixMissing, ReasonHTTP, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			res, err := get(t, srv, tt.prefix+"/debug/pprof/profile?seconds=1", 1<<20, tt.timeout)
			require.Error(t, err)
			assert.Equal(t, tt.reason, ReasonOf(err), "%v", err)
			assert.LessOrEqual(t, res.WireBytes, int64(1<<20), "never reads past max_body_bytes")
		})
	}
	// The bomb and garbage pass the fetch and fail in Decode: the bomb's zeros are no
	// protobuf (field number 0), refused after the first inflated chunk.
	for prefix, reason := range map[string]Reason{pproftest.PrefixBomb: ReasonNotPprof, pproftest.PrefixGarbage: ReasonNotPprof} {
		res, err := get(t, srv, prefix+"/debug/pprof/heap", 1<<20, time.Minute) // the bomb is built on first use: slow under -race
		require.NoError(t, err)
		_, err = Decode(context.Background(), &res, Limits{MaxDecompressedBytes: 1 << 20, MaxSamples: 10, MaxLocations: 10, MaxStrings: 10})
		assert.Equal(t, reason, ReasonOf(err), "%s: %v", prefix, err)
		res.Release()
	}
}

func TestConnectionRefusedIsHTTP(t *testing.T) {
	ctx := context.Background()
	_, err := Get(ctx, http.DefaultClient, "http://127.0.0.1:1/debug/pprof/heap", 1024, nil)
	require.Error(t, err)
	assert.Equal(t, ReasonHTTP, ReasonOf(err))
}

func TestContentLengthOverCapIsRefusedBeforeReading(t *testing.T) {
	srv := pproftest.NewServer(t)
	_, err := get(t, srv, "/debug/pprof/heap", 16, 5*time.Second)
	require.Error(t, err)
	assert.Equal(t, ReasonSize, ReasonOf(err))
}

func TestGetAsksBeforeReadingTheBody(t *testing.T) {
	srv := pproftest.NewServer(t)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	asked := 0
	_, err := Get(context.Background(), client, srv.URL+"/debug/pprof/heap", 1<<20, func() bool { asked++; return false })
	require.ErrorIs(t, err, ErrNoSlot)
	assert.Equal(t, 1, asked)
	_, err = Get(context.Background(), client, srv.URL+pproftest.PrefixMissing+"/debug/pprof/heap", 1<<20, func() bool { asked++; return false })
	assert.Equal(t, ReasonHTTP, ReasonOf(err), "a 404 needs no slot")
	assert.Equal(t, 1, asked)
	res, err := Get(context.Background(), client, srv.URL+"/debug/pprof/heap", 1<<20, func() bool { asked++; return true })
	require.NoError(t, err)
	assert.NotEmpty(t, res.Data)
	res.Release()
}

// TestKeptConnectionsStaySound: with keep-alive on, a body cut off at max_body_bytes must
// not leave its connection in the pool with the rest of that body in it, and a body read
// to its end must leave its connection reusable. The server counts the connections it
// accepted and every answer is checked byte for byte.
func TestKeptConnectionsStaySound(t *testing.T) {
	const maxBytes = 1024
	small := bytes.Repeat([]byte{0x0a, 0x00}, 100)
	var conns atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/small", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(small) })
	for path, size := range map[string]int{"/over-by-a-little": maxBytes + 100, "/over-by-a-lot": 256 << 10} {
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			w.(http.Flusher).Flush() // no Content-Length: the cap is met while reading
			_, _ = w.Write(bytes.Repeat([]byte{0xff}, size))
		})
	}
	srv := pproftest.Loopback(t, mux, func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 10}}
	defer client.CloseIdleConnections()

	getSmall := func() {
		t.Helper()
		res, gerr := Get(context.Background(), client, srv.URL+"/small", maxBytes, nil)
		require.NoError(t, gerr)
		assert.Equal(t, small, res.Data)
		res.Release()
	}
	getSmall()
	getSmall()
	assert.Equal(t, int64(1), conns.Load(), "a body read to its end leaves its connection for the next request")
	for _, path := range []string{"/over-by-a-lot", "/over-by-a-little"} {
		_, gerr := Get(context.Background(), client, srv.URL+path, maxBytes, nil)
		assert.Equal(t, ReasonSize, ReasonOf(gerr), "%s: %v", path, gerr)
		for range 3 {
			getSmall() // never sees the rest of the refused body
		}
	}
	// The refused bodies: the long one's connection was closed (a new one followed it),
	// the short one's rest was drained and its connection reused.
	assert.Equal(t, int64(2), conns.Load())

	// A body left unread (no slot) closes its connection too.
	res, err := Get(context.Background(), client, srv.URL+"/over-by-a-lot", 1<<20, func() bool { return false })
	require.ErrorIs(t, err, ErrNoSlot)
	assert.Nil(t, res.Data)
	getSmall()
	assert.Equal(t, int64(3), conns.Load())
}
