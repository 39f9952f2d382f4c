// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

// Package e2e runs the built otelcol-prodscope binary against real peers
// (telemetrygen, the demo service, our own sinks) on 127.0.0.1 and asserts
// what arrives. The binary is built once per run (by `make e2e`, or by
// TestMain when PRODSCOPE_BINARY is not set).
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var (
	repoRoot     string
	binary       string
	telemetrygen string
)

func TestMain(m *testing.M) {
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func setup() error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	binary = os.Getenv("PRODSCOPE_BINARY")
	telemetrygen = os.Getenv("TELEMETRYGEN")
	if binary == "" || telemetrygen == "" {
		// Build once for the whole run, through the Makefile like a user would.
		cmd := exec.Command("make", "-C", repoRoot, "build", "tools") //nolint:gosec // G204: the e2e harness runs the programs under test and their tools
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("make build tools: %w", err)
		}
		binary = filepath.Join(repoRoot, "_build", "otelcol-prodscope")
		telemetrygen = filepath.Join(repoRoot, ".tools", "bin", "telemetrygen")
	}
	for _, p := range []string{binary, telemetrygen} {
		if _, err := os.Stat(p); err != nil {
			return err
		}
	}
	return nil
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// lockedBuffer collects a process's output for failure messages.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 4<<20 { // bounded: keep the first 4 MiB
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// collector is a running otelcol-prodscope on free loopback ports.
type collector struct {
	t        *testing.T
	cmd      *exec.Cmd
	out      *lockedBuffer
	dataDir  string
	otlpGRPC string
	otlpHTTP string
	health   string
	metrics  string
	pprof    string
	statusz  string
	done     chan error
	env      map[string]string
}

// collectorEnv holds the environment variables config/local.yaml reads for
// its addresses, all on free ports.
func newCollectorEnv(t *testing.T) *collector {
	c := &collector{
		t:        t,
		out:      &lockedBuffer{},
		dataDir:  t.TempDir(),
		otlpGRPC: freeAddr(t),
		otlpHTTP: freeAddr(t),
		health:   freeAddr(t),
		metrics:  freeAddr(t),
		pprof:    freeAddr(t),
		statusz:  freeAddr(t),
	}
	c.env = map[string]string{
		"PRODSCOPE_OTLP_GRPC_ENDPOINT": c.otlpGRPC,
		"PRODSCOPE_OTLP_HTTP_ENDPOINT": c.otlpHTTP,
		"PRODSCOPE_HEALTH_ENDPOINT":    c.health,
		"PRODSCOPE_PPROF_ENDPOINT":     c.pprof,
		"PRODSCOPE_ZPAGES_ENDPOINT":    freeAddr(t),
		"PRODSCOPE_STATUSZ_ENDPOINT":   c.statusz,
		"PRODSCOPE_METRICS_PORT":       portOf(c.metrics),
		"PRODSCOPE_DATA_DIR":           c.dataDir,
		"PRODSCOPE_DEMO_PPROF":         freeAddr(t),
	}
	return c
}

// start runs the binary with the given config files (relative to the repo
// root) and waits until its health check answers.
func (c *collector) start(configs ...string) {
	t := c.t
	t.Helper()
	args := []string{"--feature-gates=service.profilesSupport"}
	for _, f := range configs {
		if !filepath.IsAbs(f) {
			f = filepath.Join(repoRoot, f)
		}
		args = append(args, "--config", f)
	}
	c.cmd = exec.Command(binary, args...)
	c.cmd.Dir = repoRoot
	c.cmd.Env = os.Environ()
	for k, v := range c.env {
		c.cmd.Env = append(c.cmd.Env, k+"="+v)
	}
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.done = make(chan error, 1)
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() {
		c.stop()
		if t.Failed() {
			out := c.out.String()
			if len(out) > 6000 {
				out = "...\n" + out[len(out)-6000:]
			}
			t.Logf("collector %v output (tail):\n%s", configs, out)
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-c.done:
			c.done <- err
			t.Fatalf("collector exited during start: %v\n%s", err, c.out.String())
		default:
		}
		resp, err := http.Get("http://" + c.health + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("collector not healthy within 30s\n%s", c.out.String())
}

// stop sends SIGTERM and waits (bounded) for a clean exit, which flushes
// the file exporters.
func (c *collector) stop() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	select {
	case err := <-c.done:
		c.done <- err
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.done:
		c.done <- err
		if err != nil && !strings.Contains(err.Error(), "signal") {
			c.t.Errorf("collector exit: %v\n%s", err, c.out.String())
		}
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		c.t.Errorf("collector did not stop within 30s\n%s", c.out.String())
	}
}

// runTool runs a program to completion, bounded in time.
func runTool(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...) //nolint:gosec // G204: the e2e harness runs the programs under test and their tools
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(name), args, err, out)
	}
	return string(out)
}

// readLines returns the complete JSON lines of a file exporter's output
// (empty if the file does not exist yet). A last line without its newline is
// still being written and is left for the next read.
func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	raw, err := os.ReadFile(path) //nolint:gosec // G304: a file exporter's output in this test's temp dir
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.LastIndexByte(raw, '\n'); i >= 0 {
		raw = raw[:i]
	} else {
		return nil
	}
	var lines [][]byte
	for _, l := range bytes.Split(raw, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			lines = append(lines, l)
		}
	}
	return lines
}

// readAll decodes every complete line of a file exporter's output.
func readAll[T any](t *testing.T, path string, unmarshal func([]byte) (T, error)) []T {
	t.Helper()
	var out []T
	for _, l := range readLines(t, path) {
		v, err := unmarshal(l)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, v)
	}
	return out
}

func readTraces(t *testing.T, path string) []ptrace.Traces {
	return readAll(t, path, (&ptrace.JSONUnmarshaler{}).UnmarshalTraces)
}

func readLogs(t *testing.T, path string) []plog.Logs {
	return readAll(t, path, (&plog.JSONUnmarshaler{}).UnmarshalLogs)
}

func readMetrics(t *testing.T, path string) []pmetric.Metrics {
	return readAll(t, path, (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics)
}

// builtTools caches the helper programs built once per run (the demo, the
// Honeycomb test sink), by output name.
var builtTools = map[string]string{}

// buildOnce builds the package pkg of the module in moduleDir (relative to
// the repository root) into _build/name, once per run.
func buildOnce(t *testing.T, name, moduleDir, pkg string) string {
	t.Helper()
	if p, ok := builtTools[name]; ok {
		return p
	}
	out := filepath.Join(repoRoot, "_build", name)
	cmd := exec.Command("go", "build", "-o", out, pkg) //nolint:gosec // G204: the e2e harness runs the programs under test and their tools
	cmd.Dir = filepath.Join(repoRoot, moduleDir)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, b)
	}
	builtTools[name] = out
	return out
}

// eventually polls cond until it is true or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: not reached within %v; last: %s", what, timeout, last)
}

func readFileString(p string) (string, error) {
	b, err := os.ReadFile(p) //nolint:gosec // G304: a file the test's collector wrote in its temp dir
	return string(b), err
}

// backgroundTool is a program running in the background, bounded by ctx.
type backgroundTool struct {
	cmd  *exec.Cmd
	done chan error
}

func startTool(ctx context.Context, name string, args ...string) *backgroundTool {
	cmd := exec.CommandContext(ctx, name, args...) //nolint:gosec // G204: the e2e harness runs the programs under test and their tools
	b := &backgroundTool{cmd: cmd, done: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		b.done <- err
		return b
	}
	go func() { b.done <- cmd.Wait() }()
	return b
}

// stop interrupts the program, waits for it and returns how it exited
// (normally by the interrupt).
func (b *backgroundTool) stop() error {
	if b.cmd.Process != nil {
		_ = b.cmd.Process.Signal(syscall.SIGINT)
	}
	select {
	case err := <-b.done:
		return err
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		return <-b.done
	}
}
