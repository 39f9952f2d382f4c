// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Command loadbench is the end-to-end load benchmark of the built prodscope
// distribution: for each signal it runs the collector with a generated
// otlp -> [processor] -> sink config on loopback ports, drives it with
// telemetrygen at a fixed rate and at its maximum, and reports items/s,
// collector CPU seconds per million items and peak RSS, with the ratios
// against the same pipeline without the component. Variants are interleaved
// inside each round. See docs/bench/load.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/prodscope/prodscope/test/load/internal/loadbench"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

func list(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func run() error {
	var (
		binary       = flag.String("binary", "../../_build/otelcol-prodscope", "the built distribution")
		benchBinary  = flag.String("bench-binary", "../../_build/bench/otelcol-prodscope-bench", "the bench-only build with pprofreceiver (test/load/build-bench.sh); missing: that row reports why")
		telemetrygen = flag.String("telemetrygen", "../../.tools/bin/telemetrygen", "pinned telemetrygen binary")
		out          = flag.String("out", "", "also write the Markdown report to this file")
		workDir      = flag.String("workdir", "", "directory for generated configs and logs (default: a new temporary directory, kept)")
		signals      = flag.String("signals", "traces,logs,metrics", "signals to run")
		honeycomb    = flag.String("honeycomb", "traces,logs", "signals for which the honeycombevents exporter is measured beside otlp_grpc")
		loads        = flag.String("loads", "fixed,max", "loads: fixed (-rate) and/or max (telemetrygen --rate 0)")
		duration     = flag.Duration("duration", 10*time.Second, "telemetrygen duration per run")
		rounds       = flag.Int("rounds", 2, "rounds (each round runs every variant once, interleaved)")
		rate         = flag.Float64("rate", 5000, "fixed load: items per second in total (offered; telemetrygen's limiter undershoots on a loaded machine, the achieved rate is reported)")
		fixedWorkers = flag.Int("fixed-workers", 10, "fixed load: telemetrygen workers (each at rate/workers)")
		maxWorkers   = flag.Int("max-workers", 2, "max load: telemetrygen workers at --rate 0 for logs and metrics")
		maxWorkersTr = flag.Int("max-workers-traces", 1, "max load: telemetrygen workers at --rate 0 for traces (its span generator slows down with more workers on 2 cores)")
		drainTimeout = flag.Duration("drain-timeout", 10*time.Second, "after telemetrygen ends, wait at most this long for the sink to stop growing")
		pprofOn      = flag.Bool("pprof", true, "run the pprofscrape vs pprofreceiver comparison")
		pprofTargets = flag.Int("pprof-targets", 20, "pprof comparison: number of in-process net/http/pprof targets")
		pprofIntv    = flag.Duration("pprof-interval", 3*time.Second, "pprof comparison: scrape interval")
		pprofDur     = flag.Duration("pprof-duration", 15*time.Second, "pprof comparison: measured time per run")
		pprofTypes   = flag.String("pprof-types", "heap,allocs,goroutine", "pprof comparison: pprofscrape profile types (cpu: one CPU profile at a time per process, so the in-process targets would be busy)")
		machine      = flag.String("machine-note", "", "extra text for the report's machine line")
	)
	flag.Parse()
	if *rounds < 2 {
		fmt.Fprintln(os.Stderr, "loadbench: note: fewer than 2 rounds, nothing is interleaved twice")
	}
	for _, l := range list(*loads) {
		if l != "fixed" && l != "max" {
			return fmt.Errorf("-loads: unknown load %q", l)
		}
	}
	for _, s := range append(list(*signals), list(*honeycomb)...) {
		if s != loadbench.Traces && s != loadbench.Logs && s != loadbench.Metrics {
			return fmt.Errorf("unknown signal %q", s)
		}
	}
	abs := func(p string) string {
		if p == "" {
			return p
		}
		a, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		return a
	}
	wd := *workDir
	if wd == "" {
		d, err := os.MkdirTemp("", "loadbench-")
		if err != nil {
			return err
		}
		wd = d
	} else if err := os.MkdirAll(wd, 0o750); err != nil {
		return err
	}
	o := loadbench.Options{
		Binary: abs(*binary), BenchBinary: abs(*benchBinary), Telemetrygen: abs(*telemetrygen),
		Signals: list(*signals), Honeycomb: list(*honeycomb), Loads: list(*loads),
		Duration: *duration, Rounds: *rounds,
		FixedRate: *rate, FixedWorkers: *fixedWorkers, MaxWorkers: *maxWorkers, MaxWorkersTraces: *maxWorkersTr,
		DrainTimeout: *drainTimeout,
		Pprof:        *pprofOn, PprofTargets: *pprofTargets, PprofInterval: *pprofIntv, PprofDuration: *pprofDur,
		PprofTypes: list(*pprofTypes),
		WorkDir:    wd, Log: os.Stderr,
	}
	if o.FixedWorkers < 1 || o.MaxWorkers < 1 || o.MaxWorkersTraces < 1 {
		return errors.New("workers must be >= 1")
	}
	fmt.Fprintf(os.Stderr, "loadbench: configs and logs in %s\n", wd)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := loadbench.Run(ctx, o)
	if res == nil {
		return err
	}
	if res.Finished.IsZero() {
		res.Finished = time.Now()
	}
	meta := loadbench.Meta{
		Command: "cd test/load && GOWORK=off go run ./cmd/loadbench " + strings.Join(os.Args[1:], " "),
		Machine: machineLine(*machine),
		Binary:  binaryLine(o.Binary) + "; bench build: " + binaryLine(o.BenchBinary),
		Options: fmt.Sprintf("%s per run, %d rounds, fixed load %.0f items/s (%d workers), max load --rate 0 with %d workers (traces: %d), drain timeout %s; pprof: %d targets, interval %s, %s per run, types %s",
			o.Duration, o.Rounds, o.FixedRate, o.FixedWorkers, o.MaxWorkers, o.MaxWorkersTraces, o.DrainTimeout, o.PprofTargets, o.PprofInterval, o.PprofDuration, strings.Join(o.PprofTypes, ",")),
	}
	report := loadbench.Report(res, meta)
	fmt.Print(report)
	if *out != "" {
		if werr := os.WriteFile(*out, []byte(report), 0o600); werr != nil {
			return werr
		}
	}
	return err
}

func binaryLine(p string) string {
	st, err := os.Stat(p)
	if err != nil {
		return fmt.Sprintf("%#q (missing)", p)
	}
	return fmt.Sprintf("%#q (%d MB, built %s)", filepath.Base(p), st.Size()>>20, st.ModTime().UTC().Format(time.RFC3339))
}

func machineLine(extra string) string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				if _, v, ok := strings.Cut(l, ":"); ok {
					model = strings.TrimSpace(v)
				}
				break
			}
		}
	}
	s := fmt.Sprintf("%d CPUs (%s), %s/%s, %s", runtime.NumCPU(), model, runtime.GOOS, runtime.GOARCH, runtime.Version())
	if extra != "" {
		s += "; " + extra
	}
	return s
}
