// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// requestLog records when each target was asked for its heap profile.
type requestLog struct {
	mu    sync.Mutex
	times map[int][]time.Time
}

func (l *requestLog) add(target int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.times[target] = append(l.times[target], time.Now())
}

func (l *requestLog) get(target int) []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Time(nil), l.times[target]...)
}

// hostileTarget returns a handler that misbehaves in one of four ways.
func hostileTarget(kind int, bomb []byte, stop <-chan struct{}) http.Handler {
	chunk := bytes.Repeat([]byte("not a profile "), 1<<16) // ~900 KiB
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch kind {
		case 0: // slow: never answers
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		case 1: // huge: 100 MB of bytes
			for sent := 0; sent < 100<<20; sent += len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		case 2: // gzip bomb: a small body that inflates far past max_body_bytes
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(bomb)
		default: // garbage
			b := make([]byte, 64<<10)
			for i := range b {
				b[i] = byte(rand.Uint32() & 0xff)
			}
			_, _ = w.Write(b)
		}
	})
}

// 100 hostile pprof targets (slow, huge, gzip bomb, garbage) beside 10
// healthy ones: the healthy ones are scraped on time, every interval, and the
// hostile ones fail alone, counted by reason.
func TestFaultHostilePprofTargets(t *testing.T) {
	const healthy, hostile = 10, 100
	const interval = 3 * time.Second
	stop := make(chan struct{})
	defer close(stop)

	var bombBuf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bombBuf, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for i := 0; i < 256; i++ { // 256 MiB inflated, ~250 KiB on the wire
		_, _ = zw.Write(zeros)
	}
	_ = zw.Close()

	log := &requestLog{times: map[int][]time.Time{}}
	var targets []string
	for i := 0; i < healthy; i++ {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/heap", func(w http.ResponseWriter, r *http.Request) {
			log.add(i)
			pprof.Handler("heap").ServeHTTP(w, r)
		})
		mux.Handle("/debug/pprof/goroutine", pprof.Handler("goroutine"))
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		targets = append(targets, fmt.Sprintf("      - endpoint: %s\n        resource_attributes: {service.name: healthy-%d}", srv.URL, i))
	}
	for i := 0; i < hostile; i++ {
		srv := httptest.NewServer(hostileTarget(i%4, bombBuf.Bytes(), stop))
		t.Cleanup(srv.Close)
		targets = append(targets, fmt.Sprintf("      - endpoint: %s\n        resource_attributes: {service.name: hostile-%d}", srv.URL, i))
	}
	cfg := fmt.Sprintf(`
extensions:
  health_check:
    endpoint: ${env:PRODSCOPE_HEALTH_ENDPOINT}
receivers:
  pprofscrape:
    collection_interval: %s
    initial_delay: 0s
    timeout: 2s
    cpu_duration: 1s
    max_body_bytes: 16777216
    profiles: [heap, goroutine]
    targets:
%s
exporters:
  file/metrics:
    path: ${env:PRODSCOPE_DATA_DIR}/metrics.jsonl
    flush_interval: 500ms
service:
  extensions: [health_check]
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: ${env:PRODSCOPE_METRICS_PORT}
  pipelines:
    metrics:
      receivers: [pprofscrape]
      exporters: [file/metrics]
`, interval, strings.Join(targets, "\n"))
	cfgPath := filepath.Join(t.TempDir(), "hostile.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	c := newCollectorEnv(t)
	c.start(cfgPath)
	time.Sleep(5*interval + interval/2)

	// On time: after its first scrape (the per-target jitter places it within
	// the first interval), every healthy target is scraped every interval.
	for i := 0; i < healthy; i++ {
		times := log.get(i)
		if len(times) < 4 {
			t.Fatalf("healthy target %d scraped %d times in %v (interval %v): %v", i, len(times), 5*interval, interval, times)
		}
		var gaps []time.Duration
		for j := 1; j < len(times); j++ {
			gaps = append(gaps, times[j].Sub(times[j-1]))
		}
		sort.Slice(gaps, func(a, b int) bool { return gaps[a] > gaps[b] })
		if gaps[0] > interval+interval/2 {
			t.Fatalf("healthy target %d: a gap of %v between scrapes (interval %v); gaps %v", i, gaps[0], interval, gaps)
		}
	}
	// The hostile ones failed, each counted by its reason (the bomb's zeros are no
	// protobuf: not_pprof after the first inflated chunk).
	for _, reason := range []string{`reason="timeout"`, `reason="size"`, `reason="not_pprof"`} {
		if v, _ := c.scrapeMetricLabel(t, "otelcol_receiver_pprofscrape_scrape_errors", reason); v == 0 {
			t.Errorf("no scrape errors counted with %s", reason)
		}
	}
}
