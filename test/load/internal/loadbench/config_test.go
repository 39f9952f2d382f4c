// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package loadbench

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

var testPorts = Ports{
	OTLP:      "127.0.0.1:14317",
	Health:    "127.0.0.1:13133",
	Metrics:   "127.0.0.1:18888",
	Sink:      "127.0.0.1:24317",
	Honeycomb: "127.0.0.1:28080",
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("generated config is not YAML: %v\n%s", err, s)
	}
	return m
}

// get walks a decoded YAML document by keys.
func get(t *testing.T, m any, path ...string) any {
	t.Helper()
	cur := m
	for _, k := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%v: not a map at %q", path, k)
		}
		cur, ok = mm[k]
		if !ok {
			t.Fatalf("%v: no key %q in %v", path, k, mm)
		}
	}
	return cur
}

func strs(t *testing.T, v any) []string {
	t.Helper()
	l, ok := v.([]any)
	if !ok {
		t.Fatalf("%v is not a list", v)
	}
	var out []string
	for _, e := range l {
		out = append(out, e.(string))
	}
	return out
}

func TestCollectorConfigBaseline(t *testing.T) {
	v := Variant{Name: "baseline", Signal: Traces}
	s, err := CollectorConfig(v, testPorts)
	if err != nil {
		t.Fatal(err)
	}
	m := decode(t, s)
	if got := get(t, m, "receivers", "otlp", "protocols", "grpc", "endpoint"); got != testPorts.OTLP {
		t.Errorf("otlp endpoint %v", got)
	}
	if got := get(t, m, "exporters", "otlp_grpc/sink", "endpoint"); got != testPorts.Sink {
		t.Errorf("sink endpoint %v", got)
	}
	if got := get(t, m, "exporters", "otlp_grpc/sink", "tls", "insecure"); got != true {
		t.Errorf("tls.insecure %v", got)
	}
	if got := get(t, m, "exporters", "otlp_grpc/sink", "sending_queue", "block_on_overflow"); got != true {
		t.Errorf("block_on_overflow %v", got)
	}
	if got := strs(t, get(t, m, "service", "pipelines", "traces", "processors")); strings.Join(got, ",") != "batch" {
		t.Errorf("processors %v, want [batch]", got)
	}
	if got := get(t, m, "extensions", "health_check", "endpoint"); got != testPorts.Health {
		t.Errorf("health %v", got)
	}
	// The Prometheus reader's port must be an int (the collector refuses a string).
	readers := get(t, m, "service", "telemetry", "metrics", "readers").([]any)
	prom := get(t, readers[0], "pull", "exporter", "prometheus")
	if get(t, prom, "port") != 18888 || get(t, prom, "host") != "127.0.0.1" {
		t.Errorf("prometheus reader %v", prom)
	}
	if p := get(t, m, "service", "pipelines").(map[string]any); len(p) != 1 {
		t.Errorf("pipelines %v, want only traces", p)
	}
}

func TestCollectorConfigEveryDefaultVariant(t *testing.T) {
	vs := DefaultVariants([]string{Traces, Logs, Metrics})
	bases := map[string]bool{}
	for _, v := range vs {
		if v.Baseline == "" {
			bases[v.Signal+"/"+v.Name] = true
		}
	}
	for _, v := range vs {
		t.Run(v.Signal+"/"+v.Name, func(t *testing.T) {
			if v.Baseline != "" && !bases[v.Signal+"/"+v.Baseline] {
				t.Fatalf("baseline %q of %s is not a variant of that signal", v.Baseline, v.Signal)
			}
			s, err := CollectorConfig(v, testPorts)
			if err != nil {
				t.Fatal(err)
			}
			m := decode(t, s)
			want := []string{}
			for _, p := range v.Processors {
				want = append(want, p.ID)
				get(t, m, "processors", p.ID)
			}
			want = append(want, "batch")
			got := strs(t, get(t, m, "service", "pipelines", v.Signal, "processors"))
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("processors %v, want %v", got, want)
			}
			exp := strs(t, get(t, m, "service", "pipelines", v.Signal, "exporters"))
			if v.Exporter == ExportHoneycomb {
				if exp[0] != "honeycombevents/sink" {
					t.Errorf("exporters %v", exp)
				}
				if got := get(t, m, "exporters", "honeycombevents/sink", "endpoint"); got != "http://"+testPorts.Honeycomb {
					t.Errorf("honeycomb endpoint %v", got)
				}
			} else if exp[0] != "otlp_grpc/sink" {
				t.Errorf("exporters %v", exp)
			}
			if v.SideTraces > 0 {
				tp := strs(t, get(t, m, "service", "pipelines", Traces, "processors"))
				if strings.Join(tp, ",") != strings.Join(want, ",") {
					t.Errorf("side traces pipeline processors %v, want %v (one shared instance)", tp, want)
				}
			}
			if !strings.Contains(s, "127.0.0.1") {
				t.Error("no loopback address")
			}
		})
	}
}

func TestCollectorConfigOTTLStatements(t *testing.T) {
	var logsT, metricsT Variant
	for _, v := range DefaultVariants(nil) {
		if v.Signal == Logs && strings.HasPrefix(v.Name, "transform") {
			logsT = v
		}
		if v.Signal == Metrics && strings.HasPrefix(v.Name, "transform") {
			metricsT = v
		}
	}
	s, err := CollectorConfig(logsT, testPorts)
	if err != nil {
		t.Fatal(err)
	}
	st := get(t, decode(t, s), "processors", "transform", "log_statements").([]any)[0]
	got := strs(t, get(t, st, "statements"))
	if len(got) != 2 || !strings.HasPrefix(got[0], `set(trace_id.string, attributes["trace_id"])`) {
		t.Errorf("log statements %q", got)
	}
	s, err = CollectorConfig(metricsT, testPorts)
	if err != nil {
		t.Fatal(err)
	}
	st = get(t, decode(t, s), "processors", "transform", "metric_statements").([]any)[0]
	got = strs(t, get(t, st, "statements"))
	if len(got) != 2 || got[0] != `delete_key(attributes, "user_id")` || !strings.HasPrefix(got[1], "limit(attributes, 2,") {
		t.Errorf("metric statements %q", got)
	}
}

func TestDefaultVariantsHoneycombSelection(t *testing.T) {
	count := func(vs []Variant) int {
		n := 0
		for _, v := range vs {
			if v.Exporter == ExportHoneycomb {
				n++
			}
		}
		return n
	}
	if n := count(DefaultVariants(nil)); n != 0 {
		t.Errorf("no signals: %d honeycomb variants", n)
	}
	if n := count(DefaultVariants([]string{Traces})); n != 1 {
		t.Errorf("traces: %d honeycomb variants", n)
	}
	if n := count(DefaultVariants([]string{Traces, Logs, Metrics})); n != 3 {
		t.Errorf("all: %d honeycomb variants", n)
	}
}

func TestCollectorConfigErrors(t *testing.T) {
	cases := map[string]struct {
		v Variant
		p Ports
	}{
		"unknown signal":      {Variant{Name: "x", Signal: "profiles"}, testPorts},
		"batch as processor":  {Variant{Name: "x", Signal: Logs, Processors: []Processor{{ID: "batch"}}}, testPorts},
		"duplicate processor": {Variant{Name: "x", Signal: Logs, Processors: []Processor{{ID: "transform"}, {ID: "transform"}}}, testPorts},
		"unknown exporter":    {Variant{Name: "x", Signal: Logs, Exporter: "kafka"}, testPorts},
		"no honeycomb sink":   {Variant{Name: "x", Signal: Logs, Exporter: ExportHoneycomb}, Ports{OTLP: "127.0.0.1:1", Health: "127.0.0.1:2", Metrics: "127.0.0.1:3", Sink: "127.0.0.1:4"}},
		"bad metrics address": {Variant{Name: "x", Signal: Logs}, Ports{Metrics: "nohost"}},
		"non-numeric port":    {Variant{Name: "x", Signal: Logs}, Ports{Metrics: "127.0.0.1:http"}},
	}
	for name, c := range cases {
		if _, err := CollectorConfig(c.v, c.p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestPprofConfig(t *testing.T) {
	targets := []string{"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"}
	o := PprofOptions{Interval: "3s", CPUDuration: "1s", Types: []string{"heap", "goroutine"}}

	s, err := PprofConfig(PprofScrape, targets, o, testPorts)
	if err != nil {
		t.Fatal(err)
	}
	m := decode(t, s)
	ts := get(t, m, "receivers", "pprofscrape", "targets").([]any)
	if len(ts) != 3 || get(t, ts[1], "endpoint") != "http://127.0.0.1:7002" {
		t.Errorf("targets %v", ts)
	}
	if get(t, m, "receivers", "pprofscrape", "collection_interval") != "3s" || get(t, m, "receivers", "pprofscrape", "cpu_duration") != "1s" {
		t.Error("interval or cpu_duration not set")
	}
	if got := strs(t, get(t, m, "service", "pipelines", "profiles", "receivers")); len(got) != 1 || got[0] != "pprofscrape" {
		t.Errorf("profiles receivers %v", got)
	}
	get(t, m, "service", "pipelines", "metrics")

	s, err = PprofConfig(PprofReceiver, targets, o, testPorts)
	if err != nil {
		t.Fatal(err)
	}
	m = decode(t, s)
	if got := strs(t, get(t, m, "service", "pipelines", "profiles", "receivers")); strings.Join(got, ",") != "pprof/0,pprof/1,pprof/2" {
		t.Errorf("one pprof receiver per target: %v", got)
	}
	if get(t, m, "receivers", "pprof/2", "endpoint") != "http://127.0.0.1:7003" {
		t.Error("pprof/2 endpoint")
	}
	if _, ok := get(t, m, "service", "pipelines").(map[string]any)["metrics"]; ok {
		t.Error("pprofreceiver has no metrics signal")
	}

	s, err = PprofConfig(PprofIdle, nil, o, testPorts)
	if err != nil {
		t.Fatal(err)
	}
	get(t, decode(t, s), "receivers", "otlp")

	for _, mode := range []PprofMode{PprofScrape, PprofReceiver} {
		if _, err := PprofConfig(mode, nil, o, testPorts); err == nil {
			t.Errorf("%s without targets: no error", mode)
		}
	}
	if _, err := PprofConfig("other", targets, o, testPorts); err == nil {
		t.Error("unknown mode: no error")
	}
}

func TestCPUDuration(t *testing.T) {
	for in, want := range map[string]string{"3s": "1s", "1s": "1s", "5s": "2s", "10s": "5s", "500ms": "1s"} {
		d, _ := parseDur(in)
		if got := cpuDuration(d); got != want {
			t.Errorf("cpuDuration(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestTelemetrygenArgs(t *testing.T) {
	got := TelemetrygenArgs(Metrics, "127.0.0.1:4317", "10s", 2500, 4, map[string]string{"user_id": "1234", "a": "x y"})
	want := []string{
		"metrics", "--otlp-endpoint", "127.0.0.1:4317", "--otlp-insecure", "--duration", "10s",
		"--rate", "2500", "--workers", "4", "--allow-export-failures",
		"--metric-type", "Sum", "--aggregation-temporality", "cumulative",
		"--telemetry-attributes", `a="x y"`, "--telemetry-attributes", `user_id="1234"`,
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("args\n got %q\nwant %q", got, want)
	}
	tr := strings.Join(TelemetrygenArgs(Traces, "e", "1s", 0, 1, nil), " ")
	if !strings.Contains(tr, "--rate 0 ") || !strings.Contains(tr, "--child-spans 0") {
		t.Errorf("traces args %q", tr)
	}
	if got := trimFloat(333.3333); got != "333.333" {
		t.Errorf("trimFloat %s", got)
	}
}

func parseDur(s string) (time.Duration, error) { return time.ParseDuration(s) }
