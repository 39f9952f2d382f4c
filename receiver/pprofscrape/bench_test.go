// Copyright prodscope authors
// SPDX-License-Identifier: Apache-2.0

package pprofscrape

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	rpprof "runtime/pprof"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/collector/receiver/xreceiver"

	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/metadata"
)

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

var benchSink [][]byte

// cannedProfiles captures this process's real cpu, heap and goroutine profiles once.
func cannedProfiles(b *testing.B) map[string][]byte {
	for i := range 20000 {
		benchSink = append(benchSink, make([]byte, 64+i%4096))
	}
	runtime.GC()
	out := map[string][]byte{}
	var buf bytes.Buffer
	if err := rpprof.StartCPUProfile(&buf); err != nil {
		b.Fatal(err)
	}
	var h [32]byte
	for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); {
		h = sha256.Sum256(h[:])
	}
	rpprof.StopCPUProfile()
	out["profile"] = bytes.Clone(buf.Bytes())
	for _, name := range []string{"heap", "goroutine"} {
		buf.Reset()
		if err := rpprof.Lookup(name).WriteTo(&buf, 0); err != nil {
			b.Fatal(err)
		}
		out[name] = bytes.Clone(buf.Bytes())
	}
	return out
}

// BenchmarkThousandTargets runs the receiver against 1,000 in-process targets serving
// canned cpu, heap and goroutine profiles at a 5 s interval, both signals into nop
// consumers, and reports the CPU the whole process used per wall second ("cores") over
// four steady-state intervals. The figure includes the in-process HTTP servers.
func BenchmarkThousandTargets(b *testing.B) {
	targets := 1000
	if testing.Short() {
		targets = 10
	}
	canned := cannedProfiles(b)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		data, ok := canned[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(data)
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv.Listener = ln
	srv.Start()
	defer srv.Close()

	cfg := createDefaultConfig().(*Config)
	cfg.CollectionInterval = 5 * time.Second
	cfg.InitialDelay = 0
	cfg.CPUDuration = time.Second
	cfg.ClientConfig.Timeout = 4 * time.Second
	for i := range targets {
		cfg.Targets = append(cfg.Targets, TargetConfig{
			Endpoint:           fmt.Sprintf("%s/t%04d", srv.URL, i),
			ResourceAttributes: map[string]string{"service.name": fmt.Sprintf("svc-%d", i)},
		})
	}
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	var profileSamples, metricPoints int
	for b.Loop() {
		profiles, metrics := new(consumertest.ProfilesSink), new(consumertest.MetricsSink)
		set := receivertest.NewNopSettings(metadata.Type)
		f := NewFactory()
		rp, err := f.(xreceiver.Factory).CreateProfiles(context.Background(), set, cfg, profiles)
		if err != nil {
			b.Fatal(err)
		}
		rm, err := f.CreateMetrics(context.Background(), set, cfg, metrics)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range []component.Component{rp, rm} {
			if err := c.Start(context.Background(), componenttest.NewNopHost()); err != nil {
				b.Fatal(err)
			}
		}
		time.Sleep(cfg.CollectionInterval) // every target's first scrape (jitter spreads them)
		profiles.Reset()
		metrics.Reset()
		startCPU, startWall := cpuSeconds(), time.Now()
		time.Sleep(4 * cfg.CollectionInterval)
		usedCPU, wall := cpuSeconds()-startCPU, time.Since(startWall).Seconds()
		profileSamples, metricPoints = profiles.SampleCount(), metrics.DataPointCount()
		scrapes := len(metrics.AllMetrics())
		b.Logf("profiles batches %d metrics batches %d", len(profiles.AllProfiles()), scrapes)
		for _, c := range []component.Component{rp, rm} {
			if err := c.Shutdown(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(usedCPU/wall, "cores")
		b.ReportMetric(usedCPU, "cpu-s")
		b.ReportMetric(float64(scrapes)/wall, "scrapes/s")
		b.ReportMetric(float64(profileSamples)/wall, "samples/s")
		b.ReportMetric(float64(metricPoints)/wall, "points/s")
	}
}
