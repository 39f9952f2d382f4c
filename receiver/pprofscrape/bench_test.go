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
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	rpprof "runtime/pprof"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/pprof/profile"
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
// port; their CPU is reported apart ("targets-cores"). "parse-only-cores" is the same-run
// reference: profile.Parse alone of what was scraped, on this machine, now; the runtime's
// GC estimates and the bytes allocated per target scrape say how much of "cores" is the
// garbage collector. Self-telemetry metrics go to an SDK meter provider; traces are off,
// as in a collector without trace processors.
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
		startCPU, startWall, startRT := cputime.Process(), time.Now(), readRuntimeCPU()
		time.Sleep(4 * cfg.CollectionInterval)
		usedCPU, wall, rt := (cputime.Process() - startCPU).Seconds(), time.Since(startWall).Seconds(), readRuntimeCPU().sub(startRT)
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
				reason, _ := dp.Attributes.Value("reason")
				typ, _ := dp.Attributes.Value("profile.type")
				b.Logf("%d errors: reason %s, profile type %s", dp.Value, reason.String(), typ.String())
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
		// The same-run reference: what parsing the scraped profiles alone costs on this
		// machine now (profile.Parse of the three canned bodies once per target scrape at
		// the rate measured, without its garbage collection), so that figures from
		// machines of different speed, or from one machine at different times, compare.
		if ref := parseOnlyCPU(b, canned) * time.Duration(scrapes.Load()); ref > 0 {
			refCores := ref.Seconds() / wall
			b.ReportMetric(refCores, "parse-only-cores")
			b.ReportMetric(usedCPU/wall/refCores, "cores/parse-only")
		}
		b.ReportMetric(usedCPU, "cpu-s")
		b.ReportMetric((endTargets-startTargets).Seconds()/wall, "targets-cores")
		// Where the runtime says the CPU went (its estimate, in P-seconds): all of the
		// garbage collector's work, and of it the marking done by idle-priority workers on
		// Ps that had nothing else to run (on a busy node, or with GOMAXPROCS=1, there are
		// few such Ps). And the bytes allocated per target scrape, which drive the GC.
		b.ReportMetric(rt.gc/wall, "gc-cores")
		b.ReportMetric(rt.idleMark/wall, "gc-idle-mark-cores")
		if n := scrapes.Load(); n > 0 {
			b.ReportMetric(rt.allocBytes/float64(n)/1024, "alloc-KiB/scrape")
		}
	}
}

// parseOnlyCPU is the CPU one profile.Parse of each canned profile takes, the garbage
// collector left out (it is off while parsing, so that the figure does not depend on the
// heap the receiver left behind): the fastest of three rounds of 100, with the receiver
// stopped. It measures the machine's speed at the work the receiver cannot avoid.
func parseOnlyCPU(b *testing.B, canned map[string][]byte) time.Duration {
	const batches, rounds = 3, 100
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	best := time.Duration(math.MaxInt64)
	for range batches {
		start := cputime.Process()
		for range rounds {
			for _, data := range canned {
				if _, err := profile.Parse(bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		}
		best = min(best, (cputime.Process()-start)/rounds)
		runtime.GC()
	}
	return best
}

// runtimeCPU is a reading of the runtime's CPU estimates (P-seconds) and allocated bytes.
type runtimeCPU struct{ gc, idleMark, allocBytes float64 }

var runtimeCPUMetrics = []string{"/cpu/classes/gc/total:cpu-seconds", "/cpu/classes/gc/mark/idle:cpu-seconds", "/gc/heap/allocs:bytes"}

func readRuntimeCPU() runtimeCPU {
	samples := make([]metrics.Sample, len(runtimeCPUMetrics))
	for i, name := range runtimeCPUMetrics {
		samples[i].Name = name
	}
	metrics.Read(samples)
	value := func(s metrics.Sample) float64 {
		switch s.Value.Kind() {
		case metrics.KindFloat64:
			return s.Value.Float64()
		case metrics.KindUint64:
			return float64(s.Value.Uint64())
		default:
			return 0
		}
	}
	return runtimeCPU{gc: value(samples[0]), idleMark: value(samples[1]), allocBytes: value(samples[2])}
}

func (r runtimeCPU) sub(o runtimeCPU) runtimeCPU {
	return runtimeCPU{gc: r.gc - o.gc, idleMark: r.idleMark - o.idleMark, allocBytes: r.allocBytes - o.allocBytes}
}
