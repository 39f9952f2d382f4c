// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package loadbench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options of a whole benchmark run.
type Options struct {
	Binary       string // the distribution (otelcol-prodscope)
	BenchBinary  string // the bench-only build with pprofreceiver ("" or missing: pprofreceiver row fails)
	Telemetrygen string

	Signals   []string // which signals to run
	Honeycomb []string // signals for which honeycombevents is measured
	Duration  time.Duration
	Rounds    int

	FixedRate    float64 // items/s in total for the "fixed" load
	FixedWorkers int
	MaxWorkers   int // workers for the "max" load (--rate 0) of logs and metrics
	// MaxWorkersTraces: workers for the traces "max" load; telemetrygen's
	// traces generator slows down with more workers on 2 cores (measured:
	// 1 worker ~43k spans/s, 2 ~16k/s, 4 ~8k/s, 8 ~3.5k/s).
	MaxWorkersTraces int
	Loads            []string

	DrainTimeout time.Duration

	Pprof         bool
	PprofTargets  int
	PprofInterval time.Duration
	PprofDuration time.Duration
	PprofTypes    []string

	WorkDir string    // configs and collector logs go here
	Log     io.Writer // progress
}

// Results of a whole benchmark run.
type Results struct {
	Variants []Variant
	Runs     []RunResult
	Pprof    []PprofResult
	Started  time.Time
	Finished time.Time
}

// Run executes the benchmark: rounds of every (signal, load, variant),
// interleaved, then the pprof comparison.
func Run(ctx context.Context, o Options) (*Results, error) {
	if o.Rounds < 1 {
		return nil, errors.New("rounds must be >= 1")
	}
	for _, p := range []string{o.Binary, o.Telemetrygen} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("need %s: %w", p, err)
		}
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	res := &Results{Started: time.Now()}
	sink, err := StartOTLPSink("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer sink.Stop()
	hc, err := StartHoneycombSink("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer hc.Stop(ctx)

	want := map[string]bool{}
	for _, s := range o.Signals {
		want[s] = true
	}
	for _, v := range DefaultVariants(o.Honeycomb) {
		if want[v.Signal] {
			res.Variants = append(res.Variants, v)
		}
	}
	total := o.Rounds * len(o.Loads) * len(res.Variants)
	n := 0
	for round := 1; round <= o.Rounds; round++ {
		for _, signal := range o.Signals {
			for _, load := range o.Loads {
				for _, v := range res.Variants {
					if v.Signal != signal {
						continue
					}
					if err := ctx.Err(); err != nil {
						return res, err
					}
					n++
					fmt.Fprintf(o.Log, "[%d/%d] round %d %s %s %s ... ", n, total, round, signal, load, v.Name)
					r := runVariant(ctx, o, v, load, round, sink, hc)
					res.Runs = append(res.Runs, r)
					if r.Err != "" {
						fmt.Fprintf(o.Log, "error: %s\n", r.Err)
					} else {
						fmt.Fprintf(o.Log, "%d in, %d out, %.0f/s, %.2f CPU s/M, %.0f MiB\n",
							r.In, r.Out, r.OutPerSec(), r.CPUPerMillion(), float64(r.PeakRSS)/(1<<20))
					}
				}
			}
		}
	}
	if o.Pprof {
		pr, err := runPprof(ctx, o, sink)
		res.Pprof = pr
		if err != nil {
			return res, err
		}
	}
	res.Finished = time.Now()
	return res, nil
}

// Baselines maps signal+"/"+variant to the variant's baseline name.
func Baselines(vs []Variant) map[string]string {
	m := map[string]string{}
	for _, v := range vs {
		m[v.Signal+"/"+v.Name] = v.Baseline
	}
	return m
}

func freeAddrs(n int) ([]string, error) {
	// Hold every listener until all are chosen, so the n ports differ.
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []string
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

func slug(s string) string {
	return strings.Trim(regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(strings.ToLower(s), "-"), "-")
}

type sinkLike interface {
	Counts() Counts
	LastArrival() time.Time
	Reset()
}

func runVariant(ctx context.Context, o Options, v Variant, load string, round int, sink *OTLPSink, hc *HoneycombSink) RunResult {
	r := RunResult{Signal: v.Signal, Variant: v.Name, Load: load, Round: round, In: -1, Refused: -1}
	addrs, err := freeAddrs(3)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	p := Ports{OTLP: addrs[0], Health: addrs[1], Metrics: addrs[2], Sink: sink.Addr(), Honeycomb: hc.Addr()}
	cfg, err := CollectorConfig(v, p)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	base := filepath.Join(o.WorkDir, fmt.Sprintf("r%d-%s-%s-%s", round, v.Signal, load, slug(v.Name)))
	if err = os.WriteFile(base+".yaml", []byte(cfg), 0o600); err != nil {
		r.Err = err.Error()
		return r
	}
	col, err := startCollector(ctx, o.Binary, base, p.Health, nil)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer col.stop()

	var s sinkLike = sink
	if v.Exporter == ExportHoneycomb {
		s = hc
	}
	sink.Reset()
	hc.Reset()
	cpu0, err := ProcCPU(col.pid())
	if err != nil {
		r.Err = err.Error()
		return r
	}
	dur := fmt.Sprintf("%ds", int(o.Duration.Round(time.Second)/time.Second))
	var side *exec.Cmd
	var sideOut bytes.Buffer
	if v.SideTraces > 0 {
		//nolint:gosec // G204: running the telemetrygen the operator named (-telemetrygen) is the benchmark's job
		side = exec.CommandContext(ctx, o.Telemetrygen, TelemetrygenArgs(Traces, p.OTLP, dur, v.SideTraces, 1, v.Attributes)...)
		side.Stdout, side.Stderr = &sideOut, &sideOut
		if err := side.Start(); err != nil {
			r.Err = "side telemetrygen: " + err.Error()
			return r
		}
		time.Sleep(500 * time.Millisecond)
	}
	workers, rate := o.MaxWorkers, 0.0
	if v.Signal == Traces && o.MaxWorkersTraces > 0 {
		workers = o.MaxWorkersTraces
	}
	if load == "fixed" {
		workers, rate = o.FixedWorkers, o.FixedRate/float64(o.FixedWorkers)
	}
	t0 := time.Now()
	tctx, cancel := context.WithTimeout(ctx, o.Duration+60*time.Second)
	//nolint:gosec // G204: running the telemetrygen the operator named (-telemetrygen) is the benchmark's job
	out, tgErr := exec.CommandContext(tctx, o.Telemetrygen, TelemetrygenArgs(v.Signal, p.OTLP, dur, rate, workers, v.Attributes)...).CombinedOutput()
	cancel()
	_ = os.WriteFile(base+".telemetrygen.log", out, 0o600)
	if side != nil {
		if err := side.Wait(); err != nil && tgErr == nil {
			tgErr = fmt.Errorf("side telemetrygen: %w: %s", err, tail(sideOut.String()))
		}
	}
	drain(s, v.Signal, v.Exporter == ExportHoneycomb, o.DrainTimeout)

	last := s.LastArrival()
	if last.IsZero() || last.Before(t0) {
		r.ElapsedSec = time.Since(t0).Seconds()
	} else {
		r.ElapsedSec = last.Sub(t0).Seconds()
	}
	c := s.Counts()
	if v.Exporter == ExportHoneycomb {
		r.Out = c.Events
	} else {
		r.Out = c.Of(v.Signal)
	}
	r.Check = CheckNote(v.Signal, v.Exporter, c)
	if cpu1, err := ProcCPU(col.pid()); err == nil {
		r.CPUSec = cpu1 - cpu0
	} else {
		r.Err = err.Error()
	}
	if rss, err := ProcPeakRSS(col.pid()); err == nil {
		r.PeakRSS = rss
	}
	if m, err := scrapeMetrics(p.Metrics); err == nil {
		if a, ok := m[AcceptedMetric(v.Signal)]; ok {
			r.In = int64(a)
		}
		if a, ok := m[RefusedMetric(v.Signal)]; ok {
			r.Refused = int64(a)
		} else if r.In >= 0 {
			r.Refused = 0
		}
	}
	if tgErr != nil && r.Err == "" {
		r.Err = fmt.Sprintf("telemetrygen: %v: %s", tgErr, tail(string(out)))
	}
	if hc.Errors() > 0 && r.Err == "" {
		r.Err = fmt.Sprintf("honeycomb sink answered %d requests with errors", hc.Errors())
	}
	if r.Out == 0 && r.Err == "" {
		r.Err = "nothing reached the sink; collector log: " + tail(col.output())
	}
	return r
}

// drain waits until the sink's count has not moved for one second, or until
// timeout.
func drain(s sinkLike, signal string, events bool, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	get := func() int64 {
		c := s.Counts()
		if events {
			return c.Events
		}
		return c.Of(signal)
	}
	prev, stableSince := get(), time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		cur := get()
		if cur != prev {
			prev, stableSince = cur, time.Now()
			continue
		}
		if time.Since(stableSince) >= time.Second {
			return
		}
	}
}

func scrapeMetrics(addr string) (map[string]float64, error) {
	cl := &http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: HTTP %d", resp.StatusCode)
	}
	return ParsePromSums(string(b)), nil
}

// tailBytes is how much of a tool's output an error message quotes.
const tailBytes = 300

// tail is the last tailBytes of s, trimmed, for an error message.
func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= tailBytes {
		return s
	}
	return "..." + s[len(s)-tailBytes:]
}

// ringBuffer keeps the last max bytes written to it.
type ringBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *ringBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append([]byte(nil), b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

func (b *ringBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

type collector struct {
	cmd     *exec.Cmd
	out     *ringBuffer
	exited  chan struct{}
	waitErr error
	logPath string
}

func (c *collector) pid() int { return c.cmd.Process.Pid }

func (c *collector) output() string { return c.out.String() }

// startCollector starts bin on base+".yaml" and waits (up to 30 s) until its
// health check answers.
func startCollector(ctx context.Context, bin, base, health string, extra []string) (*collector, error) {
	args := append([]string{"--config", base + ".yaml"}, extra...)
	cmd := exec.Command(bin, args...) //nolint:gosec // G204: bin is the collector under test (-binary, -bench-binary)
	c := &collector{cmd: cmd, out: &ringBuffer{max: 64 << 10}, exited: make(chan struct{}), logPath: base + ".collector.log"}
	cmd.Stdout, cmd.Stderr = c.out, c.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	cl := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-c.exited:
			_ = os.WriteFile(c.logPath, []byte(c.output()), 0o600)
			return nil, fmt.Errorf("collector exited at start (%w): %s", c.waitErr, errorLine(c.output()))
		case <-ctx.Done():
			c.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := cl.Get("http://" + health + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
	}
	c.stop()
	return nil, fmt.Errorf("collector not healthy within 30s: %s", tail(c.output()))
}

// stop sends SIGTERM, then SIGKILL to the process group after 10 s.
func (c *collector) stop() {
	select {
	case <-c.exited:
	default:
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-c.exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
			<-c.exited
		}
	}
	_ = os.WriteFile(c.logPath, []byte(c.output()), 0o600)
}

// errorLine condenses a failed collector's output: its last three non-empty
// lines (where the collector prints the cause), joined.
func errorLine(out string) string {
	var keep []string
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0 && len(keep) < 3; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			keep = append([]string{l}, keep...)
		}
	}
	return truncate(strings.Join(keep, " / "), 500)
}

// pprofTargets serves this process's own net/http/pprof on n loopback ports.
type pprofTargets struct {
	srvs  []*http.Server
	addrs []string
	wg    sync.WaitGroup
}

func startPprofTargets(ctx context.Context, n int) (*pprofTargets, error) {
	t := &pprofTargets{}
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.stop(ctx)
			return nil, err
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		t.srvs = append(t.srvs, srv)
		t.addrs = append(t.addrs, l.Addr().String())
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			_ = srv.Serve(l)
		}()
	}
	return t, nil
}

// stop shuts every server down, each given up to 5 s even when ctx is
// already cancelled (an interrupted run still shuts down cleanly).
func (t *pprofTargets) stop(ctx context.Context) {
	for _, s := range t.srvs {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if err := s.Shutdown(sctx); err != nil {
			_ = s.Close()
		}
		cancel()
	}
	t.wg.Wait()
}

func runPprof(ctx context.Context, o Options, sink *OTLPSink) ([]PprofResult, error) {
	targets, err := startPprofTargets(ctx, o.PprofTargets)
	if err != nil {
		return nil, err
	}
	defer targets.stop(ctx)
	// Some steady allocation in this process, so heap and allocs profiles
	// change between scrapes as a real service's do.
	stopChurn := make(chan struct{})
	var churn sync.WaitGroup
	churn.Add(1)
	go func() {
		defer churn.Done()
		var keep [][]byte
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for i := 0; ; i++ {
			select {
			case <-stopChurn:
				return
			case <-tk.C:
				keep = append(keep, make([]byte, 1024+i%4096))
				if len(keep) > 1000 {
					keep = keep[:0]
				}
			}
		}
	}()
	defer func() { close(stopChurn); churn.Wait() }()

	// idle and pprofscrape run on the distribution as shipped; the contrib
	// receiver only exists in the bench-only build.
	benchOK := false
	if o.BenchBinary != "" {
		if _, err := os.Stat(o.BenchBinary); err == nil {
			benchOK = true
		}
	}
	popts := PprofOptions{Interval: o.PprofInterval.String(), CPUDuration: cpuDuration(o.PprofInterval), Types: o.PprofTypes}
	var out []PprofResult
	modes := []PprofMode{PprofIdle, PprofScrape, PprofReceiver}
	for round := 1; round <= o.Rounds; round++ {
		for _, mode := range modes {
			if err := ctx.Err(); err != nil {
				return out, err
			}
			fmt.Fprintf(o.Log, "pprof round %d %s ... ", round, mode)
			r := PprofResult{Mode: string(mode), Round: round, Targets: o.PprofTargets, Interval: o.PprofInterval.String(), Scrapes: -1, ScrapeErrors: -1}
			if mode == PprofIdle {
				r.Targets, r.Interval = 0, "-"
			}
			if mode == PprofReceiver && !benchOK {
				r.Err = fmt.Sprintf("bench binary %q not built (test/load/build-bench.sh)", o.BenchBinary)
			} else {
				bin := o.Binary
				if mode == PprofReceiver {
					bin = o.BenchBinary
				}
				runPprofOnce(ctx, o, bin, mode, targets.addrs, popts, sink, &r)
			}
			if r.Err != "" {
				fmt.Fprintf(o.Log, "error: %s\n", r.Err)
			} else {
				fmt.Fprintf(o.Log, "%.2f CPU s in %.0f s, %.0f MiB, %d profiles, %d points\n", r.CPUSec, r.Seconds, float64(r.PeakRSS)/(1<<20), r.Profiles, r.Points)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func runPprofOnce(ctx context.Context, o Options, bin string, mode PprofMode, targets []string, popts PprofOptions, sink *OTLPSink, r *PprofResult) {
	addrs, err := freeAddrs(3)
	if err != nil {
		r.Err = err.Error()
		return
	}
	p := Ports{OTLP: addrs[0], Health: addrs[1], Metrics: addrs[2], Sink: sink.Addr()}
	cfg, err := PprofConfig(mode, targets, popts, p)
	if err != nil {
		r.Err = err.Error()
		return
	}
	base := filepath.Join(o.WorkDir, fmt.Sprintf("r%d-pprof-%s", r.Round, mode))
	if err = os.WriteFile(base+".yaml", []byte(cfg), 0o600); err != nil {
		r.Err = err.Error()
		return
	}
	col, err := startCollector(ctx, bin, base, p.Health, []string{"--feature-gates=service.profilesSupport"})
	if err != nil {
		r.Err = err.Error()
		return
	}
	defer col.stop()
	sink.Reset()
	cpu0, err := ProcCPU(col.pid())
	if err != nil {
		r.Err = err.Error()
		return
	}
	t0 := time.Now()
	select {
	case <-ctx.Done():
		r.Err = ctx.Err().Error()
		return
	case <-col.exited:
		r.Err = "collector exited: " + errorLine(col.output())
		return
	case <-time.After(o.PprofDuration):
	}
	r.Seconds = time.Since(t0).Seconds()
	cpu1, err := ProcCPU(col.pid())
	if err != nil {
		r.Err = err.Error()
		return
	}
	r.CPUSec = cpu1 - cpu0
	if rss, err := ProcPeakRSS(col.pid()); err == nil {
		r.PeakRSS = rss
	}
	c := sink.Counts()
	r.Profiles, r.Points = c.Profiles, c.Points
	if m, err := scrapeMetrics(p.Metrics); err == nil {
		if n, ok := SumFamilies(m, "otelcol_receiver_pprofscrape_scrape_duration", "_count"); ok {
			r.Scrapes = int64(n)
		}
		if n, ok := SumFamilies(m, "otelcol_receiver_pprofscrape_scrape_errors", ""); ok {
			r.ScrapeErrors = int64(n)
		} else if r.Scrapes >= 0 {
			r.ScrapeErrors = 0
		}
	}
	if mode != PprofIdle && r.Profiles == 0 && r.Points == 0 {
		r.Err = "nothing reached the sink; collector log: " + tail(col.output())
	}
}

// cpuDuration is a pprofscrape cpu_duration valid for interval: whole
// seconds, at least 1s, below the interval when the interval allows it.
func cpuDuration(interval time.Duration) string {
	d := (interval / 2).Truncate(time.Second)
	if d < time.Second {
		d = time.Second
	}
	return d.String()
}
