// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package hcsink

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

func batchOf(n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{"data": map[string]any{"i": i}}
	}
	return out
}

func send(t *testing.T, s *Sink, path, ctype, cenc string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("X-Honeycomb-Team", "key")
	if cenc != "" {
		req.Header.Set("Content-Encoding", cenc)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

func TestDecodesEveryEncodingAndCompression(t *testing.T) {
	s := New("key")
	defer s.Close()
	js, _ := json.Marshal(batchOf(3))
	mp, _ := msgpack.Marshal(batchOf(3))
	var gz bytes.Buffer
	gw := gzip.NewWriter(&gz)
	_, _ = gw.Write(mp)
	_ = gw.Close()
	enc, _ := zstd.NewWriter(nil)
	zs := enc.EncodeAll(js, nil)
	_ = enc.Close()

	assert.Equal(t, http.StatusOK, send(t, s, "/1/batch/a", "application/json", "", js).Code)
	assert.Equal(t, http.StatusOK, send(t, s, "/1/batch/b", "application/msgpack", "gzip", gz.Bytes()).Code)
	assert.Equal(t, http.StatusOK, send(t, s, "/1/batch/c", "application/json", "zstd", zs).Code)
	assert.Equal(t, http.StatusBadRequest, send(t, s, "/1/batch/d", "application/json", "zstd", js).Code)
	assert.Equal(t, http.StatusUnsupportedMediaType, send(t, s, "/1/batch/d", "text/plain", "", js).Code)
	st := s.Stats()
	assert.Equal(t, int64(9), st.Accepted)
	assert.Equal(t, map[string]int64{"a": 3, "b": 3, "c": 3}, st.ByDataset)

	rec := send(t, s, "/1/batch/m", "application/msgpack", "", mp)
	assert.Equal(t, "application/msgpack", rec.Header().Get("Content-Type"))
	var statuses []map[string]any
	require.NoError(t, msgpack.Unmarshal(rec.Body.Bytes(), &statuses))
	assert.Len(t, statuses, 3)
}

func TestRejectsWrongKey(t *testing.T) {
	s := New("key")
	defer s.Close()
	req := httptest.NewRequest(http.MethodPost, "/1/batch/a", strings.NewReader("[]"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Honeycomb-Team", "other")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
}

func TestPercentagesAreSeededAndApproximate(t *testing.T) {
	count := func() int64 {
		s := New("")
		defer s.Close()
		s.Discard = true
		s.SetFaults(Faults{Event500Pct: 30, Event429Pct: 10, Seed: 42})
		js, _ := json.Marshal(batchOf(2000))
		require.Equal(t, http.StatusOK, send(t, s, "/1/batch/a", "application/json", "", js).Code)
		return s.Stats().Failed
	}
	first := count()
	assert.Equal(t, first, count(), "same seed, same draw")
	assert.InDelta(t, 800, first, 120)
}

func TestShortByAndRequestStatuses(t *testing.T) {
	s := New("")
	defer s.Close()
	s.SetFaults(Faults{RequestStatuses: []int{429}, RetryAfter: "3", ShortBy: 1})
	js, _ := json.Marshal(batchOf(3))
	rec := send(t, s, "/1/batch/a", "application/json", "", js)
	assert.Equal(t, http.StatusTooManyRequests, rec.Code)
	assert.Equal(t, "3", rec.Header().Get("Retry-After"))
	rec = send(t, s, "/1/batch/a", "application/json", "", js)
	var statuses []map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &statuses))
	assert.Len(t, statuses, 2)
}

func TestCheckMsgpackRejectsOversizedContainers(t *testing.T) {
	_, err := DecodeMsgpack([]byte{0xdd, 0x7f, 0xff, 0xff, 0xff})
	require.Error(t, err)
	_, err = DecodeMsgpack([]byte{0x91, 0xdf, 0x7f, 0xff, 0xff, 0xff})
	require.Error(t, err)
}
