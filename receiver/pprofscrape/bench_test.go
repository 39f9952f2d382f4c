// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package pprofscrape

import (
	"bytes"
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	rpprof "runtime/pprof"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/xconsumer"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pprofile"
	"go.opentelemetry.io/collector/receiver/xreceiver"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	nooptrace "go.opentelemetry.io/otel/trace/noop"

	"github.com/prodscope/prodscope/internal/cputime"
	"github.com/prodscope/prodscope/receiver/pprofscrape/internal/metadatatest"
)

var (
	benchSink    [][]byte
	updateCanned = flag.Bool("update-canned", false, "recapture testdata/bench/*.pb.gz from this process")
)

// cannedProfiles returns the profiles the benchmark's targets serve: real cpu, heap and
// goroutine profiles of a Go process (this test binary, captured once with -update-canned
// after a warm run so that its heap profile has a realistic number of allocation sites),
// stored under testdata/bench so that every run serves the same bytes.
func cannedProfiles(b *testing.B) map[string][]byte {
	dir := filepath.Join("testdata", "bench")
	if !*updateCanned {
		out := map[string][]byte{}
		canned := os.DirFS(dir)
		for _, name := range []string{"profile", "heap", "goroutine"} {
			data, err := fs.ReadFile(canned, name+".pb.gz")
			if err != nil {
				b.Fatal(err)
			}
			out[name] = data
		}
		return out
	}
	out := captureProfiles(b)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		b.Fatal(err)
	}
	for name, data := range out {
		if err := os.WriteFile(filepath.Join(dir, name+".pb.gz"), data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

func captureProfiles(b *testing.B) map[string][]byte {
	for i := range 20000 {
		benchSink = append(benchSink, make([]byte, 64+i%4096))
	}
	runtime.GC()
	out := map[string][]byte{}
	var buf bytes.Buffer
	if err := rpprof.StartCPUProfile(&buf); err == nil {
		var h [32]byte
		for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); {
			h = sha256.Sum256(h[:])
		}
		rpprof.StopCPUProfile()
		out["profile"] = bytes.Clone(buf.Bytes())
	} else {
		// The benchmark itself is being CPU-profiled (-cpuprofile): use the golden one.
		data, err := os.ReadFile(filepath.Join("internal", "scrape", "testdata", "golden", "cpu_2.pb"))
		if err != nil {
			b.Fatal(err)
		}
		out["profile"] = data
	}
	for _, name := range []string{"heap", "goroutine"} {
		buf.Reset()
		if err := rpprof.Lookup(name).WriteTo(&buf, 0); err != nil {
			b.Fatal(err)
		}
		out[name] = bytes.Clone(buf.Bytes())
	}
	benchSink = nil // the profiles are captured; do not let runs accumulate garbage
	runtime.GC()
	return out
}

// BenchmarkThousandTargets runs the receiver against 1,000 targets serving canned cpu,
// heap and goroutine profiles at a 5 s interval, both signals into nop consumers, and
// reports the CPU this process (the receiver) used per wall second ("cores") over four
// steady-state intervals. The targets run in a child process, each on its own 127.0.0.1
// port; their CPU is reported apart ("targets-cores"). Self-telemetry metrics go to an
// SDK meter provider; traces are off, as in a collector without trace processors.
func BenchmarkThousandTargets(b *testing.B) {
	targets := 1000
	if testing.Short() {
		targets = 10
	}
	canned := cannedProfiles(b) // with -update-canned, (re)writes the files the child serves
	b.Logf("canned profile sizes (gzip bytes): cpu %d, heap %d, goroutine %d", len(canned["profile"]), len(canned["heap"]), len(canned["goroutine"]))
	child := startBenchTargets(b, targets)

	cfg := createDefaultConfig().(*Config)
	cfg.CollectionInterval = 5 * time.Second
	cfg.InitialDelay = 0
	cfg.CPUDuration = time.Second
	cfg.ClientConfig.Timeout = 4 * time.Second
	for i := range targets {
		cfg.Targets = append(cfg.Targets, TargetConfig{
			Endpoint:           child.endpoints[i],
			ResourceAttributes: map[string]string{"service.name": fmt.Sprintf("svc-%d", i)},
		})
	}
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		// Counting consumers that keep nothing: a sink retaining 4,000 batches would
		// measure the garbage collector, not the receiver.
		var profileSamples, metricPoints, scrapes atomic.Int64
		nextProfiles, _ := xconsumer.NewProfiles(func(_ context.Context, pd pprofile.Profiles) error {
			profileSamples.Add(int64(pd.SampleCount()))
			return nil
		})
		nextMetrics, _ := consumer.NewMetrics(func(_ context.Context, md pmetric.Metrics) error {
			metricPoints.Add(int64(md.DataPointCount()))
			scrapes.Add(1)
			return nil
		})
		// As a collector with the default telemetry configuration (level normal, no trace
		// processors): the HTTP client instrumentation's metrics are dropped by the view the
		// collector's service adds below level detailed, and there is no tracing.
		// componenttest's tracer provider records every span and keeps it, which made the
		// benchmark measure 3,000 retained spans per interval.
		tt := componenttest.NewTelemetry(componenttest.WithMetricOptions(sdkmetric.WithView(sdkmetric.NewView(
			sdkmetric.Instrument{Scope: instrumentation.Scope{Name: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"}},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationDrop{}},
		))))
		set := metadatatest.NewSettings(tt)
		set.TracerProvider = nooptrace.NewTracerProvider()
		f := NewFactory()
		rp, err := f.(xreceiver.Factory).CreateProfiles(context.Background(), set, cfg, nextProfiles)
		if err != nil {
			b.Fatal(err)
		}
		rm, err := f.CreateMetrics(context.Background(), set, cfg, nextMetrics)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range []component.Component{rp, rm} {
			if serr := c.Start(context.Background(), componenttest.NewNopHost()); serr != nil {
				b.Fatal(serr)
			}
		}
		time.Sleep(cfg.CollectionInterval) // every target's first scrape (jitter spreads them)
		profileSamples.Store(0)
		metricPoints.Store(0)
		scrapes.Store(0)
		runtime.GC()
		startTargets, err := child.cpu()
		if err != nil {
			b.Fatal(err)
		}
		startCPU, startWall := cputime.Process(), time.Now()
		time.Sleep(4 * cfg.CollectionInterval)
		usedCPU, wall := (cputime.Process() - startCPU).Seconds(), time.Since(startWall).Seconds()
		endTargets, err := child.cpu()
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range []component.Component{rp, rm} {
			if err := c.Shutdown(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		refused, failed := int64(0), int64(0)
		if m, err := tt.GetMetric("otelcol_receiver_pprofscrape_scrapes_refused"); err == nil {
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				refused += dp.Value
			}
		}
		if m, err := tt.GetMetric("otelcol_receiver_pprofscrape_scrape_errors"); err == nil {
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				failed += dp.Value
			}
		}
		_ = tt.Shutdown(context.Background())
		b.ReportMetric(float64(refused), "refused-total")
		b.ReportMetric(float64(failed), "errors-total")
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "live-heap-MiB-after-shutdown")
		b.ReportMetric(float64(scrapes.Load())/wall, "scrapes/s")
		b.ReportMetric(float64(profileSamples.Load())/wall, "samples/s")
		b.ReportMetric(float64(metricPoints.Load())/wall, "points/s")
		b.ReportMetric(usedCPU/wall, "cores")
		b.ReportMetric(usedCPU, "cpu-s")
		b.ReportMetric((endTargets-startTargets).Seconds()/wall, "targets-cores")
	}
}
