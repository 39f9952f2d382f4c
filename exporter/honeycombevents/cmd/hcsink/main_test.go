// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/prodscope/prodscope/exporter/honeycombevents/internal/hcsink"
)

func startSink(t *testing.T, args ...string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, pw)
		_ = pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	return "http://" + strings.TrimSpace(strings.TrimPrefix(line, "listening on ")), func() error {
		cancel()
		return <-done
	}
}

func post(t *testing.T, url, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewBufferString(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Honeycomb-Team", key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestSinkProgram(t *testing.T) {
	out := filepath.Join(t.TempDir(), "events.jsonl")
	url, stop := startSink(t, "-listen", "127.0.0.1:0", "-api-key", "k", "-request-statuses", "503", "-retry-after", "2", "-event-400-pct", "100", "-out", out)

	code, _ := post(t, url+"/1/batch/ds", "wrong", `[{"data":{"a":1}}]`)
	assert.Equal(t, http.StatusUnauthorized, code)
	code, _ = post(t, url+"/1/batch/ds", "k", `[{"data":{"a":1}}]`)
	assert.Equal(t, http.StatusServiceUnavailable, code, "first request gets the injected status")
	code, body := post(t, url+"/1/batch/ds", "k", `[{"data":{"a":1}},{"data":{"a":2}}]`)
	assert.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `[{"status":400,"error":"injected per-event failure"},{"status":400,"error":"injected per-event failure"}]`, body)

	resp, err := http.Get(url + "/stats")
	require.NoError(t, err)
	var st hcsink.Stats
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	resp.Body.Close()
	assert.Equal(t, int64(2), st.Failed)
	assert.Equal(t, int64(0), st.Accepted)
	require.NoError(t, stop())
	raw, err := os.ReadFile(filepath.Clean(out))
	require.NoError(t, err)
	assert.Empty(t, raw, "no event was accepted")
}

func TestSinkProgramWritesAcceptedEvents(t *testing.T) {
	out := filepath.Join(t.TempDir(), "events.jsonl")
	url, stop := startSink(t, "-out", out)
	code, _ := post(t, url+"/1/batch/my%20ds", "any", `[{"time":"2026-01-02T03:04:05Z","samplerate":3,"data":{"name":"x"}}]`)
	require.Equal(t, http.StatusOK, code)
	require.NoError(t, stop())
	raw, err := os.ReadFile(filepath.Clean(out))
	require.NoError(t, err)
	var line map[string]any
	require.NoError(t, json.Unmarshal(bytes.TrimSpace(raw), &line))
	assert.Equal(t, "my ds", line["dataset"])
	assert.EqualValues(t, 3, line["samplerate"])
	assert.Equal(t, "2026-01-02T03:04:05Z", line["time"])
	assert.Equal(t, map[string]any{"name": "x"}, line["data"])
}

func TestSinkProgramRejectsNonLoopback(t *testing.T) {
	err := run(context.Background(), []string{"-listen", "0.0.0.0:0"}, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "loopback")
	err = run(context.Background(), []string{"-request-statuses", "abc"}, io.Discard)
	require.Error(t, err)
}
