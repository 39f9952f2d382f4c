package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// buildDemo builds examples/shopdemo once per run.
var demoBinary string

func buildDemoOnce(t *testing.T) string {
	t.Helper()
	if demoBinary != "" {
		return demoBinary
	}
	out := filepath.Join(repoRoot, "_build", "shopdemo")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = filepath.Join(repoRoot, "examples", "shopdemo")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build shopdemo: %v\n%s", err, b)
	}
	demoBinary = out
	return out
}

// runDemo runs the demo service against the collector for d, bounded.
func runDemo(t *testing.T, c *collector, d time.Duration, extra ...string) string {
	t.Helper()
	bin := buildDemoOnce(t)
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	args := append([]string{"-collector", c.otlpGRPC, "-listen", freeAddr(t), "-pprof", c.env["PRODSCOPE_DEMO_PPROF"],
		"-duration", d.String(), "-rate", "40", "-users", "300", "-metric-interval", "1s"}, extra...)
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("shopdemo: %v\n%s", err, out)
	}
	return string(out)
}

func serviceName(r pcommon.Resource) string {
	v, _ := r.Attributes().Get("service.name")
	return v.AsString()
}

// The demo service's traces, logs and metrics all arrive through the
// collector running config/local.yaml.
func TestDemoAllSignalsArrive(t *testing.T) {
	c := newCollectorEnv(t)
	c.start("config/local.yaml")
	runDemo(t, c, 4*time.Second)

	var spans, serverSpans, logs, opErrorPoints int
	eventually(t, 30*time.Second, "demo traces, logs and metrics", func() (bool, string) {
		spans, serverSpans, logs, opErrorPoints = 0, 0, 0, 0
		for _, td := range readTraces(t, filepath.Join(c.dataDir, "traces.jsonl")) {
			for i := 0; i < td.ResourceSpans().Len(); i++ {
				rs := td.ResourceSpans().At(i)
				if serviceName(rs.Resource()) != "shopdemo" {
					continue
				}
				for j := 0; j < rs.ScopeSpans().Len(); j++ {
					ss := rs.ScopeSpans().At(j).Spans()
					for k := 0; k < ss.Len(); k++ {
						spans++
						if _, ok := ss.At(k).Attributes().Get("http.request.header.x-request-id"); ok {
							serverSpans++
						}
					}
				}
			}
		}
		for _, ld := range readLogs(t, filepath.Join(c.dataDir, "logs.jsonl")) {
			for i := 0; i < ld.ResourceLogs().Len(); i++ {
				rl := ld.ResourceLogs().At(i)
				if serviceName(rl.Resource()) != "shopdemo" {
					continue
				}
				for j := 0; j < rl.ScopeLogs().Len(); j++ {
					logs += rl.ScopeLogs().At(j).LogRecords().Len()
				}
			}
		}
		for _, md := range readMetrics(t, filepath.Join(c.dataDir, "metrics.jsonl")) {
			for i := 0; i < md.ResourceMetrics().Len(); i++ {
				rm := md.ResourceMetrics().At(i)
				if serviceName(rm.Resource()) != "shopdemo" {
					continue
				}
				for j := 0; j < rm.ScopeMetrics().Len(); j++ {
					ms := rm.ScopeMetrics().At(j).Metrics()
					for k := 0; k < ms.Len(); k++ {
						if ms.At(k).Name() == "operation_error" {
							opErrorPoints += ms.At(k).Sum().DataPoints().Len()
						}
					}
				}
			}
		}
		return serverSpans > 20 && logs > 40 && opErrorPoints > 0,
			fmt.Sprintf("spans %d (server %d) logs %d operation_error points %d", spans, serverSpans, logs, opErrorPoints)
	})
}
