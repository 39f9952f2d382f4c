// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pprofile"
)

// runDemo runs the demo service against the collector for d, bounded.
func runDemo(t *testing.T, c *collector, d time.Duration, extra ...string) {
	t.Helper()
	bin := buildOnce(t, "shopdemo", "examples/shopdemo", ".")
	args := append([]string{
		"-collector", c.otlpGRPC, "-listen", freeAddr(t), "-pprof", c.env["PRODSCOPE_DEMO_PPROF"],
		"-duration", d.String(), "-rate", "40", "-users", "300", "-metric-interval", "1s",
	}, extra...)
	runTool(t, d+30*time.Second, bin, args...)
}

func serviceName(r pcommon.Resource) string {
	v, _ := r.Attributes().Get("service.name")
	return v.AsString()
}

// The demo service's traces, logs, metrics and profiles all arrive through the
// collector running config/local.yaml, and our components visibly do their
// jobs: every log line carries the trace id of its request (logtracejoin),
// operation_error{user_id} comes out bounded (cardinalityguard), and the
// demo's pprof endpoint arrives as OTLP profiles and metrics (pprofscrape).
func TestDemoThroughLocalConfig(t *testing.T) {
	c := newCollectorEnv(t)
	c.env["PRODSCOPE_PPROF_INTERVAL"] = "3s"
	c.env["PRODSCOPE_PPROF_CPU_DURATION"] = "1s"
	c.start("config/local.yaml")
	runDemo(t, c, 10*time.Second)

	var d demoOutput
	eventually(t, 30*time.Second, "demo traces, logs, metrics and profiles", func() (bool, string) {
		d = readDemoOutput(t, c.dataDir)
		return len(d.requestTrace) > 100 && d.logs > 300 && d.opErrorPoints > 0 && d.profiles > 0 && d.pprofMetrics > 0,
			fmt.Sprintf("requests %d logs %d operation_error points %d profiles %d pprof metric points %d",
				len(d.requestTrace), d.logs, d.opErrorPoints, d.profiles, d.pprofMetrics)
	})
	c.stop()
	d = readDemoOutput(t, c.dataDir)

	// logtracejoin: every demo log with a request id carries the trace id of
	// that request's server span, whether it was written with the context,
	// without it, or shipped as a JSON text line.
	if d.logsWithoutTrace != 0 || d.logsWrongTrace != 0 {
		t.Fatalf("of %d demo logs, %d have no trace id and %d the wrong one", d.logs, d.logsWithoutTrace, d.logsWrongTrace)
	}
	if d.joinedTextLines == 0 || d.joinedNoContext == 0 {
		t.Fatalf("no JSON text lines (%d) or context-less slog records (%d) were checked", d.joinedTextLines, d.joinedNoContext)
	}
	// cardinalityguard: config/local.yaml allows operation_error 20 user ids.
	if n := len(d.opErrorUsers); n > 20 || n == 0 {
		t.Fatalf("operation_error came out with %d distinct user_id values, want 1..20", n)
	}
}

type demoOutput struct {
	requestTrace     map[string]string // request id -> trace id of its server span
	logs             int
	logsWithoutTrace int
	logsWrongTrace   int
	joinedTextLines  int
	joinedNoContext  int
	opErrorPoints    int
	opErrorUsers     map[string]bool
	profiles         int
	pprofMetrics     int
}

func readDemoOutput(t *testing.T, dir string) demoOutput {
	d := demoOutput{requestTrace: map[string]string{}, opErrorUsers: map[string]bool{}}
	for _, td := range readTraces(t, filepath.Join(dir, "traces.jsonl")) {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			rs := td.ResourceSpans().At(i)
			if serviceName(rs.Resource()) != "shopdemo" {
				continue
			}
			for j := 0; j < rs.ScopeSpans().Len(); j++ {
				ss := rs.ScopeSpans().At(j).Spans()
				for k := 0; k < ss.Len(); k++ {
					v, ok := ss.At(k).Attributes().Get("http.request.header.x-request-id")
					if ok && v.Type() == pcommon.ValueTypeSlice && v.Slice().Len() > 0 {
						d.requestTrace[v.Slice().At(0).AsString()] = ss.At(k).TraceID().String()
					}
				}
			}
		}
	}
	for _, ld := range readLogs(t, filepath.Join(dir, "logs.jsonl")) {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			rl := ld.ResourceLogs().At(i)
			if serviceName(rl.Resource()) != "shopdemo" {
				continue
			}
			for j := 0; j < rl.ScopeLogs().Len(); j++ {
				lrs := rl.ScopeLogs().At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					lr := lrs.At(k)
					reqID, textLine := "", false
					if v, ok := lr.Attributes().Get("request_id"); ok {
						reqID = v.AsString()
					} else if body := lr.Body().AsString(); strings.HasPrefix(body, "{") {
						var line map[string]any
						if json.Unmarshal([]byte(body), &line) == nil {
							reqID, _ = line["request_id"].(string)
							textLine = true
						}
					}
					want, known := d.requestTrace[reqID]
					if reqID == "" || !known {
						continue // a request whose span is not in the output (the run's edges)
					}
					d.logs++
					switch got := lr.TraceID(); {
					case got.IsEmpty():
						d.logsWithoutTrace++
					case got.String() != want:
						d.logsWrongTrace++
					case textLine:
						d.joinedTextLines++
					case strings.HasPrefix(lr.Body().AsString(), "checking stock"):
						d.joinedNoContext++
					}
				}
			}
		}
	}
	for _, md := range readMetrics(t, filepath.Join(dir, "metrics.jsonl")) {
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			rm := md.ResourceMetrics().At(i)
			for j := 0; j < rm.ScopeMetrics().Len(); j++ {
				ms := rm.ScopeMetrics().At(j).Metrics()
				for k := 0; k < ms.Len(); k++ {
					m := ms.At(k)
					switch {
					case serviceName(rm.Resource()) == "shopdemo" && m.Name() == "operation_error":
						dps := m.Sum().DataPoints()
						d.opErrorPoints += dps.Len()
						for p := 0; p < dps.Len(); p++ {
							if v, ok := dps.At(p).Attributes().Get("user_id"); ok {
								d.opErrorUsers[v.AsString()] = true
							}
						}
					case serviceName(rm.Resource()) == "shopdemo" && strings.HasPrefix(m.Name(), "pprof."):
						d.pprofMetrics++
					}
				}
			}
		}
	}
	for _, line := range readLines(t, filepath.Join(dir, "profiles.jsonl")) {
		var u pprofile.JSONUnmarshaler
		pd, err := u.UnmarshalProfiles(line)
		if err != nil {
			t.Fatalf("profiles.jsonl: %v", err)
		}
		for i := 0; i < pd.ResourceProfiles().Len(); i++ {
			rp := pd.ResourceProfiles().At(i)
			if serviceName(rp.Resource()) != "shopdemo" {
				continue
			}
			for j := 0; j < rp.ScopeProfiles().Len(); j++ {
				d.profiles += rp.ScopeProfiles().At(j).Profiles().Len()
			}
		}
	}
	return d
}
