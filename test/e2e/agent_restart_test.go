// Copyright The prodscope Authors
// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The agent tests run config/agent.yaml as shipped, on loopback. What they
// change is listed in shippedAgentOnLoopback: every listening address moves to
// a free 127.0.0.1 port, the storage directory and the pod log directory move
// into the test's temporary directory, and the gateway is a local sink. The
// components that can only talk to a Kubernetes API server (k8s_observer and
// the pprof receiver_creator on it, the prometheus receiver's pod discovery,
// k8s_attributes, resource_detection's k8s_api) are taken out of the pipelines,
// since there is no API server here; none of them is on the path from a
// receiver to the load-balancing queues that these tests exercise. Everything
// else (file_log with its checkpoints, memory_limiter, logtracejoin,
// cardinalityguard, the load_balancing exporters with their queues, retry and
// DNS resolver, file_storage) runs with the shipped settings.

type agentOnLoopback struct {
	*collector
	config  string // the rewritten config file
	storage string // file_storage directory (kept across restarts)
	podLogs string // stands in for /var/log/pods
}

func shippedAgentOnLoopback(t *testing.T, gatewayAddr string) *agentOnLoopback {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "config", "agent.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err = yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	c := newCollectorEnv(t)
	a := &agentOnLoopback{collector: c, storage: t.TempDir(), podLogs: t.TempDir()}

	at := func(path ...string) map[string]any {
		t.Helper()
		m := cfg
		for _, p := range path {
			next, ok := m[p].(map[string]any)
			if !ok {
				t.Fatalf("config/agent.yaml: no map at %s", strings.Join(path, "."))
			}
			m = next
		}
		return m
	}
	set := func(key string, value any, path ...string) {
		t.Helper()
		m := at(path...)
		if _, ok := m[key]; !ok {
			t.Fatalf("config/agent.yaml: no %s under %s", key, strings.Join(path, "."))
		}
		m[key] = value
	}

	// Addresses.
	set("endpoint", c.health, "extensions", "health_check")
	set("endpoint", c.pprof, "extensions", "pprof")
	set("endpoint", freeAddr(t), "extensions", "zpages")
	set("endpoint", freeAddr(t), "extensions", "statusz")
	set("endpoint", c.otlpGRPC, "receivers", "otlp", "protocols", "grpc")
	set("endpoint", c.otlpHTTP, "receivers", "otlp", "protocols", "http")
	reader := at("service", "telemetry", "metrics")["readers"].([]any)[0].(map[string]any)
	prom := reader["pull"].(map[string]any)["exporter"].(map[string]any)["prometheus"].(map[string]any)
	metricsPort, err := strconv.Atoi(portOf(c.metrics))
	if err != nil {
		t.Fatal(err)
	}
	prom["host"], prom["port"] = "127.0.0.1", metricsPort
	gwHost, gwPort := strings.Split(gatewayAddr, ":")[0], portOf(gatewayAddr)
	for _, signal := range []string{"traces", "metrics", "logs"} {
		set("hostname", gwHost, "exporters", "load_balancing/"+signal, "resolver", "dns")
		set("port", gwPort, "exporters", "load_balancing/"+signal, "resolver", "dns")
	}
	// Paths.
	set("directory", a.storage, "extensions", "file_storage/queue")
	set("include", []any{a.podLogs + "/*/*/*.log"}, "receivers", "file_log")
	set("exclude", []any{a.podLogs + "/prodscope_*/*/*.log"}, "receivers", "file_log")

	// No Kubernetes API server on loopback.
	k8sOnly := []string{"k8s_observer", "receiver_creator/pprof", "prometheus", "k8s_attributes", "resource_detection"}
	for _, section := range []string{"extensions", "receivers", "processors"} {
		for _, id := range k8sOnly {
			delete(at(section), id)
		}
	}
	svc := at("service")
	svc["extensions"] = without(t, svc["extensions"], k8sOnly)
	for name, p := range at("service", "pipelines") {
		pl := p.(map[string]any)
		pl["receivers"] = without(t, pl["receivers"], k8sOnly)
		pl["processors"] = without(t, pl["processors"], k8sOnly)
		_ = name
	}

	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.config = filepath.Join(t.TempDir(), "agent-loopback.yaml")
	if err := os.WriteFile(a.config, out, 0o600); err != nil {
		t.Fatal(err)
	}
	c.env["K8S_POD_IP"] = "127.0.0.1"
	c.env["K8S_NODE_NAME"] = "e2e-node"
	c.env["K8S_NAMESPACE"] = "prodscope"
	return a
}

func without(t *testing.T, list any, drop []string) []any {
	t.Helper()
	in, ok := list.([]any)
	if !ok {
		t.Fatalf("not a list: %v", list)
	}
	var out []any
	for _, v := range in {
		if !slices.Contains(drop, fmt.Sprint(v)) {
			out = append(out, v)
		}
	}
	return out
}

// restart stops the agent with SIGTERM (what the kubelet sends on a rollout)
// and starts a new process on the same storage directory.
func (a *agentOnLoopback) restart(t *testing.T) {
	t.Helper()
	a.stop()
	a.start(a.config)
}

// Gateway down, 100 spans sent to the agent, the agent restarted, the gateway
// up again: every span arrives. The spans sit in the agent's disk queue across
// the restart (the shipped exporter settings keep them there until a gateway
// accepted them). Duplicates are allowed and counted.
func TestAgentRestartWhileGatewayDownLosesNoSpans(t *testing.T) {
	gatewayAddr := freeAddr(t) // nothing listens here yet
	agent := shippedAgentOnLoopback(t, gatewayAddr)
	agent.start(agent.config)

	const spans = 100 // 50 traces, each a parent and one child span
	runTool(t, 2*time.Minute, telemetrygen, "traces", "--otlp-endpoint", agent.otlpGRPC, "--otlp-insecure",
		"--rate", "0", "--traces", strconv.Itoa(spans/2), "--service", "agent-restart")
	eventually(t, 20*time.Second, "spans accepted into the agent's disk queue", func() (bool, string) {
		v, _ := agent.scrapeMetricLabel(t, "otelcol_exporter_queue_size", `exporter="load_balancing/traces"`)
		return v >= spans, fmt.Sprintf("queue size %v", v)
	})
	// On SIGTERM the exporter logs "Exporting failed. Dropping data. ...
	// interrupted due to shutdown" for the batch it was retrying; with the
	// persistent queue at the exporter's level that batch stays on disk (the
	// queue keeps what was interrupted by shutdown), which the delivery
	// below proves. The log line alone says nothing either way.
	agent.restart(t)

	gateway := newCollectorEnv(t)
	gateway.otlpGRPC = gatewayAddr
	gateway.env["PRODSCOPE_OTLP_GRPC_ENDPOINT"] = gatewayAddr
	gateway.start("test/e2e/testdata/sink.yaml")

	var unique map[string]int
	var total int
	eventually(t, 90*time.Second, "every span at the gateway", func() (bool, string) {
		unique, total = spanIDs(t, filepath.Join(gateway.dataDir, "traces.jsonl"))
		return len(unique) >= spans, fmt.Sprintf("%d/%d distinct spans (%d in all)", len(unique), spans, total)
	})
	if len(unique) != spans {
		t.Fatalf("%d distinct spans at the gateway, sent %d", len(unique), spans)
	}
	t.Logf("agent restart with the gateway down: %d spans sent, %d distinct delivered, %d duplicates", spans, len(unique), total-len(unique))
}

// A pod's log lines written before, during and after an agent restart all
// arrive, each exactly once: file_log resumes from its checkpoint in
// file_storage instead of from the end of the file.
func TestAgentRestartPodLogsExactlyOnce(t *testing.T) {
	gateway := newCollectorEnv(t)
	gateway.start("test/e2e/testdata/sink.yaml")
	agent := shippedAgentOnLoopback(t, gateway.otlpGRPC)

	// /var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log, CRI format.
	dir := filepath.Join(agent.podLogs, "shop_checkout-7d9f_0a1b2c3d-e4f5-4a6b-8c7d-9e0f1a2b3c4d", "checkout")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "0.log")
	if err := os.WriteFile(logFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// The agent's own namespace is excluded: these must never arrive.
	own := filepath.Join(agent.podLogs, "prodscope_prodscope-agent-x1_11111111-2222-3333-4444-555555555555", "otelcol-prodscope")
	if err := os.MkdirAll(own, 0o750); err != nil {
		t.Fatal(err)
	}
	write := func(path, phase string, n int) {
		t.Helper()
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600) //nolint:gosec // G304: path is one of this test's pod log files in its temp dir
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for i := 1; i <= n; i++ {
			ts := time.Now().UTC().Format(time.RFC3339Nano)
			if _, err := fmt.Fprintf(f, "%s stdout F checkout %s-%d\n", ts, phase, i); err != nil {
				t.Fatal(err)
			}
		}
	}
	bodies := func() map[string]int {
		got := map[string]int{}
		for _, ld := range readLogs(t, filepath.Join(gateway.dataDir, "logs.jsonl")) {
			for i := 0; i < ld.ResourceLogs().Len(); i++ {
				sl := ld.ResourceLogs().At(i).ScopeLogs()
				for j := 0; j < sl.Len(); j++ {
					lr := sl.At(j).LogRecords()
					for k := 0; k < lr.Len(); k++ {
						got[lr.At(k).Body().AsString()]++
					}
				}
			}
		}
		return got
	}
	waitFor := func(what string, want int) {
		t.Helper()
		eventually(t, 60*time.Second, what, func() (bool, string) {
			got := bodies()
			return len(got) >= want, fmt.Sprintf("%d/%d distinct lines: %v", len(got), want, got)
		})
	}

	agent.start(agent.config)
	time.Sleep(time.Second) // file_log's first poll (200ms) has found the file at its end
	write(logFile, "before", 5)
	write(filepath.Join(own, "0.log"), "own", 5)
	waitFor("the lines written before the restart", 5)

	agent.stop()
	write(logFile, "during", 5)
	agent.start(agent.config)
	write(logFile, "after", 5)
	waitFor("every line", 15)
	time.Sleep(2 * time.Second) // let a duplicate, if any, land

	got := bodies()
	for _, phase := range []string{"before", "during", "after"} {
		for i := 1; i <= 5; i++ {
			body := fmt.Sprintf("checkout %s-%d", phase, i)
			if got[body] != 1 {
				t.Errorf("%q arrived %d times, want exactly once", body, got[body])
			}
		}
	}
	if len(got) != 15 {
		t.Errorf("the gateway has %d distinct lines, want the 15 written (the agent's own namespace excluded): %v", len(got), got)
	}
}
