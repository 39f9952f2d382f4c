// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

type manifest struct {
	Receivers  []struct{ Gomod string } `yaml:"receivers"`
	Processors []struct{ Gomod string } `yaml:"processors"`
	Exporters  []struct{ Gomod string } `yaml:"exporters"`
	Connectors []struct{ Gomod string } `yaml:"connectors"`
	Extensions []struct{ Gomod string } `yaml:"extensions"`
}

type componentsOutput struct {
	Receivers  []componentInfo `yaml:"receivers"`
	Processors []componentInfo `yaml:"processors"`
	Exporters  []componentInfo `yaml:"exporters"`
	Connectors []componentInfo `yaml:"connectors"`
	Extensions []componentInfo `yaml:"extensions"`
}

type componentInfo struct {
	Name   string `yaml:"name"`
	Module string `yaml:"module"`
}

func modulePaths(entries []struct{ Gomod string }) []string {
	var out []string
	for _, e := range entries {
		out = append(out, strings.Fields(e.Gomod)[0])
	}
	sort.Strings(out)
	return out
}

func builtModules(cs []componentInfo) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range cs {
		m := strings.Fields(c.Module)[0]
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}

// The manifest and the binary never drift apart: every module of
// builder-config.yaml is compiled in, and nothing else is.
func TestComponentsMatchManifest(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "builder-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	out := runTool(t, time.Minute, binary, "components")
	var got componentsOutput
	if err := yaml.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("components output: %v\n%s", err, out)
	}
	for _, kind := range []struct {
		name string
		want []string
		got  []componentInfo
	}{
		{"receivers", modulePaths(m.Receivers), got.Receivers},
		{"processors", modulePaths(m.Processors), got.Processors},
		{"exporters", modulePaths(m.Exporters), got.Exporters},
		{"connectors", modulePaths(m.Connectors), got.Connectors},
		{"extensions", modulePaths(m.Extensions), got.Extensions},
	} {
		if len(kind.want) == 0 {
			t.Fatalf("manifest lists no %s", kind.name)
		}
		if g := builtModules(kind.got); strings.Join(g, "\n") != strings.Join(kind.want, "\n") {
			t.Errorf("%s: binary has\n  %s\nmanifest has\n  %s", kind.name, strings.Join(g, "\n  "), strings.Join(kind.want, "\n  "))
		}
	}
}

// A config with a misspelled key fails validate, and the message names the key.
func TestValidateNamesTheWrongKey(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "bad.yaml")
	bad := `
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
processors:
  batch:
    send_batch_sise: 10
exporters:
  debug:
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [debug]
`
	if err := os.WriteFile(cfg, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary, "validate", "--config", cfg).CombinedOutput() //nolint:gosec // G204: the e2e harness runs the programs under test and their tools
	if err == nil {
		t.Fatalf("validate accepted a config with an unknown key:\n%s", out)
	}
	if !strings.Contains(string(out), "send_batch_sise") {
		t.Fatalf("validate error does not name the key send_batch_sise:\n%s", out)
	}
}

// Every config in config/ passes validate of the built binary (make test
// also runs `make validate`; this keeps the check inside go test's report).
func TestShippedConfigsValidate(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(repoRoot, "config", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no configs in config/")
	}
	overlays, _ := filepath.Glob(filepath.Join(repoRoot, "config", "overlays", "*.yaml"))
	var runs [][]string
	for _, f := range files {
		runs = append(runs, []string{f})
	}
	for _, o := range overlays {
		runs = append(runs, []string{filepath.Join(repoRoot, "config", "local.yaml"), o})
	}
	for _, r := range runs {
		args := []string{"validate", "--feature-gates=service.profilesSupport"}
		for _, f := range r {
			args = append(args, "--config", f)
		}
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), "HONEYCOMB_API_KEY=validate-only", "K8S_NODE_NAME=validate-node")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("validate %v: %v\n%s", r, err, out)
		}
	}
}

// telemetrygen sends an exact number of spans, log records and metric data
// points through config/local.yaml; exactly those arrive in the file
// exporters' output.
func TestTelemetrygenExactCounts(t *testing.T) {
	c := newCollectorEnv(t)
	c.start("config/local.yaml")

	const spans, logs, metrics = 300, 250, 200
	common := []string{"--otlp-endpoint", c.otlpGRPC, "--otlp-insecure", "--rate", "0"}
	// --traces N with the default of one child span: 2 spans per trace.
	runTool(t, 2*time.Minute, telemetrygen, append([]string{"traces", "--traces", strconv.Itoa(spans / 2), "--service", "e2e-traces"}, common...)...)
	runTool(t, 2*time.Minute, telemetrygen, append([]string{"logs", "--logs", strconv.Itoa(logs), "--service", "e2e-logs"}, common...)...)
	runTool(t, 2*time.Minute, telemetrygen, append([]string{"metrics", "--metrics", strconv.Itoa(metrics), "--service", "e2e-metrics"}, common...)...)

	count := func() (int, int, int) {
		var s, l, p int
		for _, td := range readTraces(t, filepath.Join(c.dataDir, "traces.jsonl")) {
			s += td.SpanCount()
		}
		for _, ld := range readLogs(t, filepath.Join(c.dataDir, "logs.jsonl")) {
			l += ld.LogRecordCount()
		}
		for _, md := range readMetrics(t, filepath.Join(c.dataDir, "metrics.jsonl")) {
			p += md.DataPointCount()
		}
		return s, l, p
	}
	eventually(t, 30*time.Second, "all telemetrygen items in the file exporters", func() (bool, string) {
		s, l, p := count()
		return s >= spans && l >= logs && p >= metrics, fmt.Sprintf("spans %d/%d logs %d/%d points %d/%d", s, spans, l, logs, p, metrics)
	})
	// Let any extra (duplicated) item surface before the exact comparison.
	time.Sleep(2 * time.Second)
	c.stop()
	s, l, p := count()
	if s != spans || l != logs || p != metrics {
		t.Fatalf("got spans %d logs %d points %d; want exactly %d %d %d", s, l, p, spans, logs, metrics)
	}
}
