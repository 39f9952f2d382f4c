// Copyright prodscope authors
// SPDX-License-Identifier: Apache-2.0

package fetch

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
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
	return Get(ctx, client, srv.URL+path, maxBytes)
}

func TestGetRealProfile(t *testing.T) {
	srv := pproftest.NewServer(t)
	res, err := get(t, srv, "/debug/pprof/heap", 64<<20, 10*time.Second)
	require.NoError(t, err)
	assert.Positive(t, res.WireBytes)
	require.NotEmpty(t, res.Data)
	assert.NotEqual(t, byte(0x1f), res.Data[0], "returned uncompressed")
	assert.Greater(t, int64(len(res.Data)), res.WireBytes, "the wire form was gzip")
}

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
		{pproftest.PrefixBomb, ReasonSize, 10 * time.Second},
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
	// Garbage passes the fetch (it is not gzip) and fails in parsing (tested in scrape).
	res, err := get(t, srv, pproftest.PrefixGarbage+"/debug/pprof/heap", 1<<20, 5*time.Second)
	require.NoError(t, err)
	assert.Len(t, res.Data, 4096)
}

func TestConnectionRefusedIsHTTP(t *testing.T) {
	ctx := context.Background()
	_, err := Get(ctx, http.DefaultClient, "http://127.0.0.1:1/debug/pprof/heap", 1024)
	require.Error(t, err)
	assert.Equal(t, ReasonHTTP, ReasonOf(err))
}

func TestContentLengthOverCapIsRefusedBeforeReading(t *testing.T) {
	srv := pproftest.NewServer(t)
	_, err := get(t, srv, "/debug/pprof/heap", 16, 5*time.Second)
	require.Error(t, err)
	assert.Equal(t, ReasonSize, ReasonOf(err))
}

func TestDecompress(t *testing.T) {
	plain := []byte("not gzip at all")
	out, err := Decompress(plain, 4)
	require.NoError(t, err, "non-gzip data is returned as is (the body cap applied already)")
	assert.Equal(t, plain, out)

	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(bytes.Repeat([]byte("a"), 1000))
	require.NoError(t, zw.Close())
	out, err = Decompress(buf.Bytes(), 1000)
	require.NoError(t, err)
	assert.Len(t, out, 1000)
	_, err = Decompress(buf.Bytes(), 999)
	assert.Equal(t, ReasonSize, ReasonOf(err))

	_, err = Decompress(buf.Bytes()[:20], 1000)
	assert.Equal(t, ReasonParse, ReasonOf(err), "truncated gzip")
	_, err = Decompress([]byte{0x1f, 0x8b, 0, 0}, 1000)
	assert.Equal(t, ReasonParse, ReasonOf(err), "bad gzip header")
}

func FuzzDecompress(f *testing.F) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte("hello pprof"))
	_ = zw.Close()
	f.Add(buf.Bytes(), int64(100))
	f.Add([]byte{0x1f, 0x8b}, int64(10))
	f.Add([]byte("plain"), int64(1))
	f.Fuzz(func(t *testing.T, data []byte, maxBytes int64) {
		if maxBytes <= 0 || maxBytes > 1<<20 {
			maxBytes = 1 << 20
		}
		out, err := Decompress(data, maxBytes)
		if err != nil {
			r := ReasonOf(err)
			if r != ReasonParse && r != ReasonSize {
				t.Fatalf("unexpected reason %q", r)
			}
			return
		}
		if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b && int64(len(out)) > maxBytes {
			t.Fatalf("decompressed %d bytes past the cap %d", len(out), maxBytes)
		}
	})
}
